/*
 * lxc_worker: where liblxc runs. The daemon forks it before any thread exists (so it
 * holds no FUSE device, no cluster handle, no lock). It then gives itself the node's
 * view: a private mount namespace with a sysfs of this network namespace (LXC looks
 * up bridges under /sys/class/net) and the host's cgroup tree moved back in (a fresh
 * sysfs would hide it, and LXC would then start containers with no cgroups at all).
 *
 * Each request carries its own reply socket. The worker forks a child per request:
 * liblxc's start() moves its caller into the container's monitor cgroup, and a slow
 * clean shutdown must not hold up other containers.
 */
#include <errno.h>
#include <sched.h>
#include <lxc/lxccontainer.h>
#include <lxc/attach_options.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lxc.h"

/* Requests and replies stay on this host, between two processes of one binary. */
struct lxc_req {
    int op, arg;
    char ctid[16];
    char cmd[1024];
};

struct lxc_rep {
    int rc, pid;
    char err[LXC_ERRLEN];
    char out[4096];
};

static int ctl_fd = -1;
static char lxc_dir[1024];

int lxc_worker_ready(void)
{
    return ctl_fd >= 0;
}

/* A sysfs of this network namespace, with the host's cgroup mounts kept. */
static int node_view(char *err, size_t errlen)
{
    char keep[] = "/run/pvefs-cgkeep.XXXXXX";

    if (unshare(CLONE_NEWNS))
        return snprintf(err, errlen, "unshare(mount): %s", strerror(errno)), -errno;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
        return snprintf(err, errlen, "make mounts private: %s", strerror(errno)), -errno;
    if (!mkdtemp(keep))
        return snprintf(err, errlen, "mkdtemp %s: %s", keep, strerror(errno)), -errno;
    if (mount("/sys/fs/cgroup", keep, NULL, MS_BIND | MS_REC, NULL) ||
        umount2("/sys", MNT_DETACH) || mount("sysfs", "/sys", "sysfs", 0, NULL) ||
        mount(keep, "/sys/fs/cgroup", NULL, MS_MOVE, NULL)) {
        int e = errno;
        rmdir(keep);
        return snprintf(err, errlen, "remount /sys for this network namespace: %s", strerror(e)),
               -e;
    }
    rmdir(keep);
    return 0;
}

/* The first ERROR line of a container's LXC log (emptied before each start), to say why
 * a start failed: the first error is the cause, the later ones its consequences. */
static void log_reason(const char *ctid, char *out, size_t len)
{
    char path[1200], line[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s/log", lxc_dir, ctid);
    if (!(f = fopen(path, "r")))
        return;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, " ERROR ")) {
            char *m = strrchr(line, '-'); /* "... file.c:func:123 - message" */
            line[strcspn(line, "\n")] = 0;
            snprintf(out, len, "%s", m && m[1] == ' ' ? m + 2 : strstr(line, " ERROR ") + 7);
            break;
        }
    fclose(f);
}

static int op_attach(struct lxc_container *c, const char *cmd, struct lxc_rep *r)
{
    lxc_attach_options_t opts = LXC_ATTACH_OPTIONS_DEFAULT;
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    int pfd[2], st;
    size_t got = 0;
    ssize_t n;
    pid_t pid;

    if (pipe(pfd))
        return -errno;
    opts.stdout_fd = pfd[1];
    opts.stderr_fd = pfd[1];
    if (c->attach(c, lxc_attach_run_command, &(lxc_attach_command_t){"/bin/sh", (char **)argv},
                  &opts, &pid) < 0) {
        close(pfd[0]);
        close(pfd[1]);
        snprintf(r->err, sizeof(r->err), "attach to %s failed", c->name);
        return -EIO;
    }
    close(pfd[1]);
    while (got + 1 < sizeof(r->out) &&
           (n = read(pfd[0], r->out + got, sizeof(r->out) - 1 - got)) > 0)
        got += (size_t)n;
    r->out[got] = 0;
    close(pfd[0]);
    if (waitpid(pid, &st, 0) < 0)
        return -errno;
    r->pid = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return 0;
}

static int op_run(const struct lxc_req *q, struct lxc_rep *r)
{
    struct lxc_container *c = lxc_container_new(q->ctid, lxc_dir);
    int rc = 0;

    if (!c)
        return snprintf(r->err, sizeof(r->err), "liblxc cannot open %s", q->ctid), -ENOMEM;
    switch (q->op) {
    case LXC_OP_START:
        if (c->is_running(c))
            break;
        snprintf(r->out, sizeof(r->out), "%s/%s/log", lxc_dir, q->ctid);
        truncate(r->out, 0);
        r->out[0] = 0;
        c->want_daemonize(c, true);
        c->want_close_all_fds(c, true);
        if (!c->start(c, 0, NULL) || !c->wait(c, "RUNNING", 10)) {
            char why[400] = "see its LXC log";
            log_reason(q->ctid, why, sizeof(why));
            snprintf(r->err, sizeof(r->err), "lxc start of %s failed: %s", q->ctid, why);
            rc = -EIO;
        }
        break;
    case LXC_OP_STOP:
        if (c->is_running(c) && !c->stop(c))
            rc = (snprintf(r->err, sizeof(r->err), "lxc stop of %s failed", q->ctid), -EIO);
        break;
    case LXC_OP_SHUTDOWN:
        if (c->is_running(c) && !c->shutdown(c, q->arg))
            rc = (snprintf(r->err, sizeof(r->err), "ct %s still running after %d s", q->ctid,
                           q->arg),
                  -ETIMEDOUT);
        break;
    case LXC_OP_REBOOT:
        if (!c->is_running(c))
            rc = (snprintf(r->err, sizeof(r->err), "ct %s is not running", q->ctid), -EINVAL);
        else if (!c->reboot2(c, q->arg))
            rc = (snprintf(r->err, sizeof(r->err), "ct %s did not reboot within %d s", q->ctid,
                           q->arg),
                  -ETIMEDOUT);
        break;
    case LXC_OP_ATTACH:
        if (!c->is_running(c))
            rc = (snprintf(r->err, sizeof(r->err), "ct %s is not running", q->ctid), -EINVAL);
        else
            rc = op_attach(c, q->cmd, r);
        break;
    default:
        rc = (snprintf(r->err, sizeof(r->err), "unknown request %d", q->op), -EINVAL);
    }
    if (rc == 0 && q->op == LXC_OP_START)
        r->pid = c->init_pid(c);
    lxc_container_put(c);
    return rc;
}

static int recv_req(int fd, struct lxc_req *q, int *reply)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {q, sizeof(*q)};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *c;
    ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);

    if (n <= 0)
        return n == 0 || errno != EINTR ? -1 : 0;
    *reply = -1;
    for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            memcpy(reply, CMSG_DATA(c), sizeof(int));
    return n == (ssize_t)sizeof(*q) && *reply >= 0 ? 1 : 0;
}

static void worker_main(int fd)
{
    char err[LXC_ERRLEN];

    /* no parent-death signal: fuse_daemonize's parent exits, the daemon goes on; the
     * worker ends when the daemon's end of the socket closes */
    prctl(PR_SET_NAME, "pvefs-lxc");
    if (node_view(err, sizeof(err)))
        fprintf(stderr, "pvefs-lxc: %s; containers may miss bridges or cgroups\n", err);
    signal(SIGCHLD, SIG_IGN); /* request children reap themselves */
    for (;;) {
        struct lxc_req q = {0};
        int reply = -1, got = recv_req(fd, &q, &reply);
        if (got < 0)
            _exit(0); /* the daemon is gone */
        if (!got) {
            if (reply >= 0)
                close(reply);
            continue;
        }
        if (fork() == 0) {
            struct lxc_rep *r = calloc(1, sizeof(*r));
            close(fd);
            signal(SIGCHLD, SIG_DFL);
            if (r) {
                q.ctid[sizeof(q.ctid) - 1] = q.cmd[sizeof(q.cmd) - 1] = 0;
                r->rc = op_run(&q, r);
                if (send(reply, r, sizeof(*r), MSG_NOSIGNAL) < 0)
                    _exit(1);
            }
            _exit(0);
        }
        close(reply);
    }
}

int lxc_worker_spawn(const char *lxcpath, char *err, size_t errlen)
{
    int sv[2];
    pid_t pid;

    snprintf(lxc_dir, sizeof(lxc_dir), "%s", lxcpath);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
        return snprintf(err, errlen, "socketpair: %s", strerror(errno)), -errno;
    if ((pid = fork()) < 0) {
        close(sv[0]);
        close(sv[1]);
        return snprintf(err, errlen, "fork: %s", strerror(errno)), -errno;
    }
    if (pid == 0) {
        close(sv[0]);
        worker_main(sv[1]);
        _exit(0);
    }
    close(sv[1]);
    ctl_fd = sv[0];
    return 0;
}

int lxc_worker_call(enum lxc_op op, const char *ctid, int arg, const char *cmd, int *pid, char *out,
                    size_t outlen, char *err, size_t errlen)
{
    struct lxc_req q = {.op = (int)op, .arg = arg};
    char cbuf[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {&q, sizeof(q)};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    struct lxc_rep *r;
    struct pollfd pf;
    int sv[2], rc;

    if (ctl_fd < 0)
        return snprintf(err, errlen, "the LXC worker is not running"), -ENOTSUP;
    snprintf(q.ctid, sizeof(q.ctid), "%s", ctid);
    snprintf(q.cmd, sizeof(q.cmd), "%s", cmd ? cmd : "");
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
        return snprintf(err, errlen, "socketpair: %s", strerror(errno)), -errno;
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
    if (sendmsg(ctl_fd, &m, MSG_NOSIGNAL) != (ssize_t)sizeof(q)) {
        rc = -errno;
        close(sv[0]);
        close(sv[1]);
        return snprintf(err, errlen, "the LXC worker is gone: %s", strerror(-rc)), -EIO;
    }
    close(sv[1]);
    pf.fd = sv[0];
    pf.events = POLLIN;
    /* liblxc bounds each call itself; this only catches a worker that died */
    rc = poll(&pf, 1, (arg + 60) * 1000);
    if (!(r = calloc(1, sizeof(*r)))) {
        close(sv[0]);
        return snprintf(err, errlen, "out of memory"), -ENOMEM;
    }
    if (rc <= 0 || recv(sv[0], r, sizeof(*r), 0) != (ssize_t)sizeof(*r)) {
        rc = (snprintf(err, errlen, "the LXC worker gave no answer for %s", ctid), -EIO);
    } else {
        rc = r->rc;
        if (rc)
            snprintf(err, errlen, "%s", r->err);
        if (pid)
            *pid = r->pid;
        if (out && outlen)
            snprintf(out, outlen, "%s", r->out);
    }
    free(r);
    close(sv[0]);
    return rc;
}
