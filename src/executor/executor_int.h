/* src/executor/executor_int.h — what command.c, default.c and health.c share:
 * the executor and its tasks. */
#ifndef DR_EXECUTOR_INT_H
#define DR_EXECUTOR_INT_H

#include "executor.h"

typedef struct dr__exec_health dr__exec_health;

typedef struct dr__exec_task {
    struct dr__exec_task *next; /* launch order */
    dr_executor *ex;
    Mesos__TaskInfo *info; /* owned (malloc-decoded copy) */
    char id[256];
    char *dir;              /* owned: the task's working directory (its sandbox) */
    uint64_t group;         /* 0: a LAUNCH task; else its LAUNCH_GROUP number */
    dr_pid pid;             /* 0 once it ended (or before it started) */
    bool started;           /* the process was spawned */
    bool kill_requested;    /* KILL or SHUTDOWN (TASK_KILLED on a non-zero end) */
    bool killed_by_group;   /* a sibling failed: not a reason to kill the group again */
    bool killed_by_health;  /* too many failed health checks */
    bool terminal;          /* a terminal update was sent */
    Mesos__TaskState state; /* the last state sent */
    dr_timer_id kill_timer; /* SIGKILL after the grace period */
    uint64_t kill_deadline_ns; /* when kill_timer fires */
    int healthy;            /* -1 unknown, 0 unhealthy, 1 healthy */
    dr__exec_health *health;
} dr__exec_task;

struct dr_executor {
    dr_env *env;
    dr_executor_opts opts; /* sandbox and task_env point into the fields below */
    char *sandbox;
    char **task_env; /* owned, NULL-terminated */
    size_t task_env_count;
    dr_executor_done_fn *done;
    void *ctx;
    dr_exec_client *client;
    dr__exec_task *tasks;
    uint64_t group_count;
    bool task_killing; /* send TASK_KILLING before killing */
    bool shutting_down;
    bool finished;     /* done scheduled or fired */
    int exit_code;
    dr_timer_id done_timer;
    dr_timer_id ack_timer;
};

/* command.c */
dr__exec_task *dr__exec_task_find(const dr_executor *ex, const char *task_id);
/* Adds a task (info borrowed, copied) and starts it: STARTING, spawn,
 * RUNNING (or FAILED when it cannot start). */
dr__exec_task *dr__exec_task_launch(dr_executor *ex, const Mesos__TaskInfo *info, uint64_t group);
/* Adds a task that is never started: TASK_KILLED at once (its group failed). */
dr__exec_task *dr__exec_task_launch_killed(dr_executor *ex, const Mesos__TaskInfo *info,
                                           uint64_t group);
/* Spawns cmd (shell or argv form) with the tasks' environment plus
 * MESOS_SANDBOX=dir and cmd's variables, in dir, in a new session; output:
 * stdout and stderr appended to dir/stdout and dir/stderr (else /dev/null).
 * Returns false with why filled when it cannot. */
bool dr__exec_spawn_command(dr_executor *ex, const Mesos__CommandInfo *cmd, const char *dir,
                            bool output, dr_exit_fn *fn, void *ctx, dr_pid *pid_out, char *why,
                            size_t why_size);
/* Kills a running task: TASK_KILLING if wanted, SIGTERM to its group, SIGKILL
 * after grace_ns. No-op for a task already ending or ended. */
void dr__exec_task_kill(dr_executor *ex, dr__exec_task *t, uint64_t grace_ns);
/* Sends a status update for t (message may be NULL). */
void dr__exec_task_update(dr_executor *ex, dr__exec_task *t, Mesos__TaskState state,
                          const char *message, int reason, int healthy);
/* The grace period for killing t: from kill_policy (may be NULL), else the
 * task's, else the default. */
uint64_t dr__exec_kill_grace_ns(const dr_executor *ex, const dr__exec_task *t,
                                const Mesos__KillPolicy *kill_policy);

/* default.c */
void dr__exec_launch_group(dr_executor *ex, const Mesos__TaskGroupInfo *group);
/* A task of a group ended (terminal sent): kill its siblings when due. */
void dr__exec_group_task_ended(dr_executor *ex, dr__exec_task *t);
/* KILL for a task of a group: the whole group goes. */
void dr__exec_group_kill(dr_executor *ex, dr__exec_task *t, uint64_t grace_ns);

/* health.c */
/* Starts t's health checks (t->info->health_check must be set). */
void dr__exec_health_start(dr_executor *ex, dr__exec_task *t);
void dr__exec_health_stop(dr__exec_task *t);

#endif /* DR_EXECUTOR_INT_H */
