/* src/executor/sim_program.h — Dromos's executors as a simulator program
 * (sim.h's dr_sim_program), so the agent's scenarios and tests run the real
 * command and default executors over simulated processes:
 *
 *   argv: executor [--default] --env=MESOS_FRAMEWORK_ID=... --env=...
 *
 * The MESOS_* environment comes as "--env=K=V" arguments (the agent's
 * env_in_argv; simulated programs have no environment) and is also the
 * tasks' base environment. Tasks (`/bin/sh -c ...`) are the simulator's
 * generic programs (seeded run time and exit status). When the executor is
 * done the process ends itself (SIGTERM to its own pid, taken from its node
 * name "host:pidN"), exit status 0. SIGTERM from outside stops it at once.
 */
#ifndef DR_EXECUTOR_SIM_PROGRAM_H
#define DR_EXECUTOR_SIM_PROGRAM_H

#include "sim/sim.h"

extern const dr_sim_program dr_executor_sim_program; /* name "executor" */

#endif /* DR_EXECUTOR_SIM_PROGRAM_H */
