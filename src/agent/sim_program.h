/* src/agent/sim_program.h — the agent as a simulator program (sim.h's
 * dr_sim_program), so scenarios and tests run it unchanged over simulated
 * processes:
 *
 *   argv: agent --master=HOST:PORT --work_dir=DIR [--port=5051] [--ip=IP]
 *         [--resources=...] [--attributes=...] [--recover=reconnect|cleanup]
 *         [--strict=true|false] [--executor=PROGRAM] [--fetcher=PROGRAM]
 *         [--executor_registration_timeout_ms=N] [--executor_reregistration_timeout_ms=N]
 *         [--executor_shutdown_grace_period_ms=N] [--gc_delay_ms=N]
 *         [--registration_backoff_factor_ms=N]
 *
 * Executors get their environment as "--env=K=V" arguments (simulated
 * programs have no environment). A crash drops the agent's memory without
 * touching the env (the process's streams and files are already gone).
 */
#ifndef DR_AGENT_SIM_PROGRAM_H
#define DR_AGENT_SIM_PROGRAM_H

#include "sim/sim.h"

extern const dr_sim_program dr_agent_sim_program; /* name "agent" */

#endif /* DR_AGENT_SIM_PROGRAM_H */
