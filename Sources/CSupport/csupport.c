#define _GNU_SOURCE
#include "csupport.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <sys/syscall.h>

extern char **environ;

int sv_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int sv_epoll_add(int epfd, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev = { .events = events, .data.u64 = token };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int sv_epoll_mod(int epfd, int fd, uint32_t events, uint64_t token) {
    struct epoll_event ev = { .events = events, .data.u64 = token };
    return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

int sv_epoll_del(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

int sv_epoll_wait(int epfd, uint64_t *tokens, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event evs[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) { tokens[i] = evs[i].data.u64; events[i] = evs[i].events; }
    return n;
}

uint32_t sv_epollin(void) { return EPOLLIN; }
uint32_t sv_epollhup(void) { return EPOLLHUP; }

int sv_signalfd(const sigset_t *mask) { return signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK); }

int sv_signalfd_read(int fd, int *signals, int max) {
    struct signalfd_siginfo info[16];
    if (max > 16) max = 16;
    ssize_t r = read(fd, info, sizeof info[0] * (size_t)max);
    if (r < 0) return errno == EAGAIN ? 0 : -1;
    int n = (int)(r / (ssize_t)sizeof info[0]);
    for (int i = 0; i < n; i++) signals[i] = (int)info[i].ssi_signo;
    return n;
}

int sv_timerfd_create(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK); }

int sv_timerfd_set(int fd, int64_t deadline_ns) {
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    if (deadline_ns > 0) {
        spec.it_value.tv_sec = deadline_ns / 1000000000;
        spec.it_value.tv_nsec = deadline_ns % 1000000000;
    }
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

int sv_timerfd_create_realtime(void) { return timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK); }

int sv_timerfd_set_realtime(int fd, int64_t at_ns) {
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    int flags = TFD_TIMER_ABSTIME;
    if (at_ns > 0) {
        spec.it_value.tv_sec = at_ns / 1000000000;
        spec.it_value.tv_nsec = at_ns % 1000000000;
        flags |= TFD_TIMER_CANCEL_ON_SET;
    }
    return timerfd_settime(fd, flags, &spec, NULL);
}

int sv_timerfd_read(int fd) {
    uint64_t expirations;
    return read(fd, &expirations, sizeof expirations) < 0 ? errno : 0;
}

void sv_timerfd_drain(int fd) {
    uint64_t expirations;
    (void)!read(fd, &expirations, sizeof expirations);
}

static int64_t clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
int64_t sv_monotonic_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
int64_t sv_realtime_ns(void) { return clock_ns(CLOCK_REALTIME); }

int sv_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int sv_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

long sv_raise_nofile_limit(void) {
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return -1;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) return -1;
    }
    return (long)lim.rlim_cur;
}

char **sv_environ(void) { return environ; }

int sv_cloexec_from(int first) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) == 0) return 0;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = first; fd < max && fd < 65536; fd++) {
        int flags = fcntl((int)fd, F_GETFD);
        if (flags >= 0) fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
    }
    return 0;
}

int sv_spawn_mapped(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                    const char *cwd, const int *fds, int count, int new_session) {
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    sigset_t empty, all;
    int rc;

    sigemptyset(&empty);
    sigfillset(&all);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, (new_session ? POSIX_SPAWN_SETSID : 0)
                             | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &all);

    posix_spawn_file_actions_init(&actions);
    if (cwd) posix_spawn_file_actions_addchdir_np(&actions, cwd);
    for (int i = 0; i < count; i++) {
        if (fds[i] == -2) posix_spawn_file_actions_addopen(&actions, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
        else if (fds[i] >= 0) posix_spawn_file_actions_adddup2(&actions, fds[i], i);
    }

    rc = posix_spawn(pid, path, &actions, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return rc;
}

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
struct sv_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
             set_tid_size, cgroup;
};

/* What the child of sv_spawn_cloned needs, and where it leaves why it could not exec. */
struct sv_child_plan {
    const char *path, *cwd;
    char *const *argv, *const *envp;
    const int *fds;
    int count;
    long uid, gid;
    volatile int error;
};

/* The child: only async-signal-safe calls until exec; returns the errno of what failed. */
static int sv_child_exec(struct sv_child_plan *plan) {
    sigset_t empty;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < 65; sig++) sigaction(sig, &dfl, NULL);
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    setsid();
    if (plan->cwd && chdir(plan->cwd) != 0) return errno;
    for (int i = 0; i < plan->count; i++) {
        int fd = plan->fds[i];
        if (fd == -2) {
            int null = open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
            if (null < 0 || (null != i && (dup2(null, i) < 0 || close(null) < 0))) return errno;
        } else if (fd == i) {
            fcntl(i, F_SETFD, 0);
        } else if (fd >= 0 && dup2(fd, i) < 0) {
            return errno;
        }
    }
    if (plan->uid >= 0) {
        // Raw system calls: glibc's wrappers would try to reach the parent's other threads.
        gid_t group = (gid_t)plan->gid;
        if (syscall(SYS_setgroups, 1, &group) != 0) return errno;
        if (syscall(SYS_setresgid, group, group, group) != 0) return errno;
        if (syscall(SYS_setresuid, (uid_t)plan->uid, (uid_t)plan->uid, (uid_t)plan->uid) != 0) return errno;
        // Ambient capabilities (a root svtree run with some) survive a change between
        // non-zero uids: the client gets none.
        (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    }
    execve(plan->path, plan->argv, plan->envp);
    return errno ? errno : ENOEXEC;
}

#if defined(__x86_64__)
/* clone3 with CLONE_VM | CLONE_VFORK, as glibc's posix_spawn clones: the child runs
   `fn(argument)` on its own stack in the parent's memory and exits with the result, and the
   parent resumes once it has exec'd or exited. Nothing of the parent is copied: a fork of
   svtree copied its page tables only for exec to throw them away (dup_mmap and exit_mmap were
   a tenth of the CPU of a thousand clients starting). glibc exports no clone3, and a child on
   a new stack cannot return into its caller's frames: hence the few instructions here. */
static long sv_clone3_vfork(struct sv_clone_args *args, int (*fn)(void *), void *argument) {
    register long number asm("rax") = SYS_clone3;
    register struct sv_clone_args *first asm("rdi") = args;
    register long second asm("rsi") = sizeof *args;
    register int (*function)(void *) asm("r12") = fn;
    register void *context asm("r13") = argument;
    asm volatile(
        "syscall\n\t"
        "test %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        "xor %%ebp, %%ebp\n\t"
        "mov %%r13, %%rdi\n\t"
        "call *%%r12\n\t"
        "mov %%eax, %%edi\n\t"
        "mov %[exit], %%eax\n\t"
        "syscall\n\t"
        "hlt\n\t"
        "1:\n\t"
        : "+r"(number)
        : "r"(first), "r"(second), "r"(function), "r"(context), [exit] "i"(SYS_exit)
        : "rcx", "r11", "memory");
    return number;
}

static int sv_child_trampoline(void *argument) {
    struct sv_child_plan *plan = argument;
    plan->error = sv_child_exec(plan);
    return 127;
}
#endif

/* clone3 and exec: into the cgroup `cgroup_fd` (-1: ours) and, with uid >= 0, as that user
   and group with no supplementary groups and no capabilities left (posix_spawn does neither). */
int sv_spawn_cloned(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                    const char *cwd, const int *fds, int count, int cgroup_fd, long uid, long gid) {
    struct sv_child_plan plan = { path, cwd, argv, envp, fds, count, uid, gid, 0 };
    struct sv_clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0;
    args.exit_signal = SIGCHLD;
    args.cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0;
#if defined(__x86_64__)
    // No handler of ours may run in the child, which shares our memory until it execs: every
    // signal blocked across the clone (the child sets default dispositions, then unblocks).
    // glibc's own two (cancellation, setxid) too, as its posix_spawn does: raw, since its
    // sigprocmask leaves them out.
    sigset_t all, previous;
    memset(&all, 0xff, sizeof all);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &previous, (size_t)(_NSIG / 8));
    // A child that changes its ids makes the kernel mark the memory it shares with us not
    // dumpable (suid_dumpable), and that stays ours after its exec: put back after.
    int dumpable = uid >= 0 ? prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) : -1;
    // The child's stack, in this frame: per call (any thread may spawn, svctl's tests run
    // several at once), and the parent is suspended while the child runs on it.
    char stack[32 * 1024] __attribute__((aligned(64)));
    args.flags |= CLONE_VM | CLONE_VFORK;
    args.stack = (uint64_t)(uintptr_t)stack;
    args.stack_size = sizeof stack;
    long child = sv_clone3_vfork(&args, sv_child_trampoline, &plan);
    // The clone's failure, or the exec's (the child has exited by now).
    int error = child < 0 ? (int)-child : plan.error;
    if (dumpable >= 0 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != dumpable) (void)prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &previous, NULL, (size_t)(_NSIG / 8));
#else
    // Elsewhere a plain fork of the address space; the exec's failure comes through a pipe.
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    long child = syscall(SYS_clone3, &args, sizeof args);
    int error = child < 0 ? errno : 0;
    if (child == 0) {
        int failed = sv_child_exec(&plan);
        (void)!write(report[1], &failed, sizeof failed);
        _exit(127);
    }
    close(report[1]);
    if (child > 0) {
        int failed = 0;
        ssize_t got;
        do { got = read(report[0], &failed, sizeof failed); } while (got < 0 && errno == EINTR);
        if (got == (ssize_t)sizeof failed) error = failed;
    }
    close(report[0]);
#endif
    if (error != 0) {
        if (child > 0) {
            int status;
            waitpid((pid_t)child, &status, 0);
        }
        return error;
    }
    *pid = (pid_t)child;
    return 0;
}

int sv_spawn_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

long sv_tee_nonblock(int in, int out, size_t len) {
    return (long)tee(in, out, len, SPLICE_F_NONBLOCK);
}

long sv_discard(int in, int devnull, size_t len) {
    long done = (long)splice(in, NULL, devnull, NULL, len, 0);
    if (done >= 0 || errno != EINVAL) return done;
    char scratch[65536];  // where /dev/null cannot splice: read and drop
    long total = 0;
    while ((size_t)total < len) {
        size_t want = len - (size_t)total > sizeof scratch ? sizeof scratch : len - (size_t)total;
        ssize_t r = read(in, scratch, want);
        if (r <= 0) return total ? total : r;
        total += r;
    }
    return total;
}

int sv_pipe_size(int fd) { return fcntl(fd, F_GETPIPE_SZ); }
int sv_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }
int sv_pipe_nonblock_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC | O_NONBLOCK); }

int sv_rename_exchange(const char *from, const char *to) {
    return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_EXCHANGE) == 0 ? 0 : errno;
}

static volatile sig_atomic_t termination_signal = 0;
static volatile pid_t current_child = 0;

static void forward_termination(int signo) {
    termination_signal = signo;
    pid_t child = current_child;
    if (child > 0) kill(child, signo);
}

void sv_forward_termination(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = forward_termination;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
}

void sv_set_current_child(pid_t pid) { current_child = pid; }
int sv_termination_signal(void) { return termination_signal; }

int sv_clear_ambient_capabilities(void) { return prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); }

long sv_last_newline(const void *buf, size_t len) {
    const char *found = memrchr(buf, '\n', len);
    return found ? (long)(found - (const char *)buf) : -1;
}
