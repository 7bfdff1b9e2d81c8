/* src/daemon/cmds/counter.c — placeholder until its module lands. */
#include <stdio.h>

#include "../cmds.h"

static int run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "dromos counter: not built yet\n");
    return 1;
}

const dr_cmd dr_cmd_counter = {"counter", "(not built yet)", run};
