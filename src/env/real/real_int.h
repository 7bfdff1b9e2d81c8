/* src/env/real/real_int.h — what the files of the real env share: the env
 * struct, errno mapping and the operations each file implements (real.c:
 * loop, time, timers, randomness, host facts, logging; net.c: streams and
 * listeners; fs.c: files and directories; proc.c: processes).
 */
#ifndef DR_ENV_REAL_INT_H
#define DR_ENV_REAL_INT_H

#include <event2/event.h>

#include "real.h"

typedef struct dr__real_timer dr__real_timer;
typedef struct dr__real_proc dr__real_proc;
typedef struct dr__real_sighandler dr__real_sighandler;

typedef struct dr__real {
    dr_env env; /* handed to every callback; env.self points back here */
    struct event_base *base;
    char node_name[DR_NODE_NAME_SIZE_MAX];
    uint64_t seed;
    dr_rng rng;
    dr_log_level log_level;
    FILE *log_file; /* kept */
    uint64_t connect_timeout_ns;

    /* Loop state. */
    int loop_depth;      /* > 0 while run or run_once is on the stack */
    bool stop_requested; /* set by dr_env_real_stop, cleared by run */
    struct event *wake_ev;

    /* Timers: slots, a (due_ns, seq) min-heap of slot indices, one libevent
     * timer armed for the heap's top. See real.c. */
    dr__real_timer *timers;
    uint32_t timer_slot_count;
    uint32_t timer_free_head; /* UINT32_MAX: none */
    uint32_t *heap;
    uint32_t heap_count;
    uint64_t timer_seq; /* the next seq handed out */
    struct event *timer_ev;

    /* Streams and listeners (net.c), every one this env still holds, in
     * creation order; processes (proc.c); signal handlers (real.c). */
    dr_stream *stream_head, *stream_tail;
    dr_listener *listener_head, *listener_tail;
    dr__real_proc *proc_head, *proc_tail;
    dr__real_sighandler *signals;
    uint8_t *read_buf; /* DR_STREAM_READ_CHUNK_SIZE bytes, shared by all reads */
    bool have_pidfd;
    bool subreaper; /* the process is a child subreaper: reap what it adopts */
} dr__real;

/* Maps an errno value to the closest dr_code (EDQUOT -> DR_ENOSPC, EPERM ->
 * DR_EACCES, unknown -> DR_EIO). */
dr_code dr__real_code_of_errno(int errno_value);

/* dr_err_set(err, code_of(errno_value), "<op> '<path>': <strerror>"). */
dr_code dr__real_sys_fail(dr_err *err, int errno_value, const char *op, const char *path);

/* Checks a path argument: non-NULL, 1 to DR_PATH_SIZE_MAX - 1 bytes. */
dr_code dr__real_check_path(const char *op, const char *path, dr_err *err);

/* Frees what net.c and proc.c hold (from dr_env_real_destroy). */
void dr__real_net_destroy_all(dr__real *r);
void dr__real_proc_destroy_all(dr__real *r);

/* A libevent timeval of at least delay_ns (rounded up to a microsecond). */
struct timeval dr__real_timeval(uint64_t delay_ns);

/* net.c */
dr_code dr__real_listen(void *self, const char *host, uint16_t port, dr_accept_fn *fn, void *ctx,
                        dr_listener **out, dr_err *err);
uint16_t dr__real_listener_port(void *self, dr_listener *listener);
void dr__real_listener_close(void *self, dr_listener *listener);
dr_code dr__real_connect(void *self, const char *host, uint16_t port, const dr_stream_cbs *cbs,
                         void *ctx, dr_stream **out, dr_err *err);
void dr__real_stream_set_cbs(void *self, dr_stream *stream, const dr_stream_cbs *cbs, void *ctx);
dr_code dr__real_stream_write(void *self, dr_stream *stream, const void *data, size_t size,
                              dr_err *err);
size_t dr__real_stream_queued(void *self, dr_stream *stream);
void dr__real_stream_pause(void *self, dr_stream *stream, bool paused);
void dr__real_stream_close(void *self, dr_stream *stream);
void dr__real_stream_abort(void *self, dr_stream *stream);
void dr__real_stream_peer(void *self, dr_stream *stream, char *out, size_t out_size);
dr_code dr__real_resolve(void *self, const char *name, char *ip_out, size_t ip_size, dr_err *err);

/* fs.c */
dr_code dr__real_open(void *self, const char *path, int flags, dr_file **out, dr_err *err);
void dr__real_close(void *self, dr_file *file);
dr_code dr__real_pread(void *self, dr_file *file, uint64_t offset, void *buf, size_t size,
                       size_t *read_size, dr_err *err);
dr_code dr__real_pwrite(void *self, dr_file *file, uint64_t offset, const void *data, size_t size,
                        dr_err *err);
dr_code dr__real_append(void *self, dr_file *file, const void *data, size_t size, dr_err *err);
dr_code dr__real_fsync(void *self, dr_file *file, dr_err *err);
dr_code dr__real_truncate(void *self, dr_file *file, uint64_t size, dr_err *err);
dr_code dr__real_file_size(void *self, dr_file *file, uint64_t *size, dr_err *err);
dr_code dr__real_lock(void *self, dr_file *file, dr_err *err);
dr_code dr__real_rename(void *self, const char *from, const char *to, dr_err *err);
dr_code dr__real_unlink(void *self, const char *path, dr_err *err);
dr_code dr__real_mkdir(void *self, const char *path, dr_err *err);
dr_code dr__real_rmdir(void *self, const char *path, dr_err *err);
dr_code dr__real_list_dir(void *self, const char *path, dr_dir_list *out, dr_err *err);
dr_code dr__real_fsync_dir(void *self, const char *path, dr_err *err);
dr_code dr__real_stat(void *self, const char *path, bool follow_links, dr_file_stat *out,
                      dr_err *err);
dr_code dr__real_symlink(void *self, const char *target, const char *link_path, dr_err *err);
dr_code dr__real_readlink(void *self, const char *path, char *out, size_t out_size, dr_err *err);
dr_code dr__real_disk_space(void *self, const char *path, uint64_t *free_bytes,
                            uint64_t *total_bytes, dr_err *err);

/* proc.c */
bool dr__real_probe_pidfd(void);
bool dr__real_probe_subreaper(void);
dr_code dr__real_spawn(void *self, const dr_spawn_opts *opts, dr_exit_fn *fn, void *ctx,
                       dr_pid *out, dr_err *err);
dr_code dr__real_watch(void *self, dr_pid pid, dr_exit_fn *fn, void *ctx, dr_err *err);
dr_code dr__real_signal(void *self, dr_pid pid, int signo, bool group, dr_err *err);
dr_code dr__real_signal_tree(void *self, dr_pid pid, int signo, dr_err *err);
dr_code dr__real_user_lookup(void *self, const char *name, dr_user_info *out, dr_err *err);
dr_code dr__real_chown(void *self, const char *path, uint32_t uid, uint32_t gid, dr_err *err);

#endif /* DR_ENV_REAL_INT_H */
