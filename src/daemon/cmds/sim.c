/* src/daemon/cmds/sim.c — placeholder until its module lands. */
#include <stdio.h>

#include "../cmds.h"

static int run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "dromos sim: not built yet\n");
    return 1;
}

const dr_cmd dr_cmd_sim = {"sim", "(not built yet)", run};
