// Thin, non-variadic wrappers over Linux calls that Swift's Glibc module lacks.
// The header avoids _GNU_SOURCE (it clashes with the Glibc module); csupport.c defines it.
#ifndef SVTREE_CSUPPORT_H
#define SVTREE_CSUPPORT_H

#include <stdint.h>
#include <sys/types.h>
#include <signal.h>

// epoll, with the packed epoll_event kept on the C side.
int sv_epoll_create(void);
int sv_epoll_add(int epfd, int fd, uint32_t events, uint64_t token);
int sv_epoll_del(int epfd, int fd);
int sv_epoll_mod(int epfd, int fd, uint32_t events, uint64_t token);
// Waits for events; fills tokens[i] and events[i]; returns the count or -1.
int sv_epoll_wait(int epfd, uint64_t *tokens, uint32_t *events, int max, int timeout_ms);
uint32_t sv_epollin(void);
uint32_t sv_epollhup(void);

// signalfd over the given signals (which the caller blocks); close-on-exec, non-blocking.
int sv_signalfd(const sigset_t *mask);
// Reads up to `max` (at most 16) pending signals into `signals` in one read; returns how many,
// 0 when none is pending, -1 on error. Fewer than `max`: none is left.
int sv_signalfd_read(int fd, int *signals, int max);

// timerfd on CLOCK_MONOTONIC; arm at an absolute time in ns, or disarm with 0.
int sv_timerfd_create(void);
int sv_timerfd_set(int fd, int64_t deadline_ns);
void sv_timerfd_drain(int fd);
// A CLOCK_REALTIME timer at an absolute time, cancelled (read gives ECANCELED) when the clock
// is set; 0 disarms. sv_timerfd_read returns 0 or the errno of the read.
int sv_timerfd_create_realtime(void);
int sv_timerfd_set_realtime(int fd, int64_t at_ns);
int sv_timerfd_read(int fd);

int64_t sv_monotonic_ns(void);
int64_t sv_realtime_ns(void);

// renameat2(RENAME_EXCHANGE): swaps two files atomically. Returns 0 or errno.
int sv_rename_exchange(const char *from, const char *to);

int sv_set_child_subreaper(void);
int sv_pipe_cloexec(int fds[2]);
// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
long sv_raise_nofile_limit(void);

char **sv_environ(void);

// Marks every descriptor from `first` up close-on-exec, so nothing svtree inherited leaks
// into services. Returns 0 or -1.
int sv_cloexec_from(int first);

// posix_spawn with an empty signal mask, default dispositions and descriptors mapped: for
// i < count, fds[i] >= 0 is dup2'd onto i, -2 opens /dev/null there, -1 leaves i as it is.
// new_session: setsid in the child. Returns 0 or errno (exec failures included: glibc reports them).
int sv_spawn_mapped(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                    const char *cwd, const int *fds, int count, int new_session);

// clone3 and exec (vfork-like on x86_64: nothing of the parent copied): with cgroup_fd >= 0 (CLONE_INTO_CGROUP) the child starts inside that
// cgroup, so nothing it forks can be left outside; with uid >= 0 it runs as uid:gid, no
// supplementary groups, no ambient capabilities. Same descriptor map and session rule as
// sv_spawn_mapped, with default dispositions and an empty mask. Returns 0 or errno.
int sv_spawn_cloned(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                    const char *cwd, const int *fds, int count, int cgroup_fd, long uid, long gid);

// Pipes: tee copies what `in` holds into `out` without consuming it; splice_discard drops
// `len` bytes from the head of `in`. Both return a count or -1 (errno set).
long sv_tee_nonblock(int in, int out, size_t len);
long sv_discard(int in, int devnull, size_t len);
int sv_pipe_size(int fd);
int sv_set_pipe_size(int fd, int size);
int sv_pipe_nonblock_cloexec(int fds[2]);

#include <spawn.h>
// posix_spawn_file_actions_addchdir_np, which needs _GNU_SOURCE.
int sv_spawn_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);

// For a command-line program that runs helpers: TERM, INT and HUP set a flag and are passed on
// to the helper running now, so the program can remove its temporary files and exit.
void sv_forward_termination(void);
void sv_set_current_child(pid_t pid);
int sv_termination_signal(void);

// Ambient capabilities (a unit's AmbientCapabilities=) stop at this process: its children
// (a hook) do not get them.
int sv_clear_ambient_capabilities(void);


// Offset of the last newline in buf[0..<len], -1 without one (glibc's memrchr, which Swift's
// Glibc module does not show).
long sv_last_newline(const void *buf, size_t len);

#endif
