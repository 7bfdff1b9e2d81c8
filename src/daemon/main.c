/* src/daemon/main.c — the dromos binary: picks a subcommand and runs it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"

static const dr_cmd *const commands[] = {
    &dr_cmd_master, &dr_cmd_agent,    &dr_cmd_local,      &dr_cmd_run,     &dr_cmd_sim,
    &dr_cmd_executor, &dr_cmd_fetch, &dr_cmd_test_agent, &dr_cmd_counter,
};

int dr_cmd_usage_error(const char *cmd, const char *fmt, ...)
{
    fprintf(stderr, "dromos %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'dromos %s --help')\n", cmd);
    return 2;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: dromos COMMAND [flags]\n\nA cluster manager in the class of Apache "
                 "Mesos 1.x.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\n'dromos COMMAND --help' describes a command's flags.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("dromos %s\n", DROMOS_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i]->run(argc - 1, argv + 1);
    fprintf(stderr, "dromos: unknown command '%s' (see 'dromos --help')\n", name);
    return 2;
}
