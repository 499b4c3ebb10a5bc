/*
 * ha_watchdog: what makes recovery on another node safe. The LRM pets after
 * every lease renewal; if no pet comes within self_fence_ms, this node's HA
 * guests must be dead before the manager may claim the lease (ha_sm.h).
 *
 * Two layers:
 *  - /dev/watchdog, where the host has one (hardware or softdog): opened when
 *    armed, a write per pet, the magic 'V' before close when disarmed. If the
 *    daemon dies armed, the kernel resets the node.
 *  - always, a watchdog process forked at start-up, before any thread exists.
 *    Each pet tells it the deadline and the pids (with their start times, so a
 *    reused pid is never hit) of this node's running HA guests. When a deadline
 *    passes, or the daemon dies armed and the deadline passes, it SIGKILLs those
 *    guests and the daemon. It outlives a kill -9 of pvefsd, so a host without
 *    a watchdog device still keeps the guarantee as long as that process lives.
 *
 * Pipe protocol, one line a message: "arm <ms> <pid>:<start> ...", "disarm".
 */
#include <errno.h>
#include <linux/watchdog.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "../cluster/clog.h"
#include "../drivers/drv.h"
#include "ha.h"

#define WD_MAX_PIDS 64

static int wd_fd = -1;   /* write end of the pipe to the watchdog process */
static int dev_fd = -1;  /* /dev/watchdog while armed */
static pid_t wd_pid = 0; /* the watchdog process */

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
static unsigned long long start_time(int pid)
{
    char path[64], buf[1024], *p;
    unsigned long long v = 0;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    p = strrchr(buf, ')'); /* the command name may hold spaces */
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (p)
        v = strtoull(p + 1, NULL, 10);
    return v;
}

/* ---- the watchdog process ---- */

struct wd_state {
    int armed, n;
    uint64_t deadline;
    int pid[WD_MAX_PIDS];
    unsigned long long start[WD_MAX_PIDS];
};

static void wd_line(struct wd_state *s, char *line)
{
    char *save = NULL, *tok = strtok_r(line, " ", &save);

    if (!tok)
        return;
    if (!strcmp(tok, "disarm")) {
        s->armed = 0;
        return;
    }
    if (strcmp(tok, "arm") != 0 || !(tok = strtok_r(NULL, " ", &save)))
        return;
    s->armed = 1;
    s->deadline = mono_ms() + strtoull(tok, NULL, 10);
    s->n = 0;
    while ((tok = strtok_r(NULL, " ", &save)) && s->n < WD_MAX_PIDS) {
        char *colon = strchr(tok, ':');
        if (!colon)
            continue;
        s->pid[s->n] = atoi(tok);
        s->start[s->n++] = strtoull(colon + 1, NULL, 10);
    }
}

static void wd_fence(struct wd_state *s, pid_t daemon)
{
    for (int i = 0; i < s->n; i++)
        if (s->pid[i] > 1 && start_time(s->pid[i]) == s->start[i])
            kill(s->pid[i], SIGKILL);
    fprintf(stderr, "pvefsd watchdog: not petted in time: killed %d HA guest process(es)%s\n", s->n,
            getppid() == daemon ? " and pvefsd" : "");
    if (getppid() == daemon)
        kill(daemon, SIGKILL);
    _exit(0);
}

static void wd_main(int fd, pid_t daemon)
{
    struct wd_state s = {0};
    char buf[8192];
    size_t have = 0;
    int eof = 0;

    prctl(PR_SET_NAME, "pvefsd-wd");
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;
        char *nl;

        if (s.armed && mono_ms() >= s.deadline)
            wd_fence(&s, daemon);
        if (eof) {
            if (!s.armed)
                _exit(0);
            usleep(50000);
            continue;
        }
        if (poll(&p, 1, 50) <= 0)
            continue;
        n = read(fd, buf + have, sizeof(buf) - 1 - have);
        if (n <= 0) {
            eof = n == 0 || errno != EINTR;
            continue;
        }
        have += (size_t)n;
        buf[have] = 0;
        while ((nl = memchr(buf, '\n', have))) {
            *nl = 0;
            wd_line(&s, buf);
            have -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, have);
        }
        if (have == sizeof(buf) - 1)
            have = 0; /* a line longer than the buffer is garbage */
    }
}

int ha_wd_spawn(char *err, size_t errlen)
{
    pid_t daemon = getpid();
    int p[2];

    if (pipe2(p, O_CLOEXEC))
        return snprintf(err, errlen, "pipe: %s", strerror(errno)), -errno;
    wd_pid = fork();
    if (wd_pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return snprintf(err, errlen, "fork: %s", strerror(e)), -e;
    }
    if (wd_pid == 0) {
        close(p[1]);
        wd_main(p[0], daemon);
    }
    close(p[0]);
    wd_fd = p[1];
    return 0;
}

/* ---- the daemon's side ---- */

size_t ha_guest_pids(struct fs *fs, int *pids, unsigned long long *starts, size_t max)
{
    struct ha_config *cfg = calloc(1, sizeof(*cfg));
    size_t n = 0;

    if (!cfg)
        return 0;
    ha_config_load(fs, cfg);
    for (size_t i = 0; i < cfg->nres && n < max; i++) {
        const struct ha_resource *r = &cfg->res[i];
        struct drv_guest g = {.kind = !strncmp(r->sid, "ct:", 3) ? "lxc" : "qemu",
                              .node = fs->node,
                              .id = r->sid + 3};
        const struct drv_guest_ops *d = drv_guest(g.kind);
        struct pv_buf st = {0};
        const char *p;

        if (strcmp(r->node, fs->node) != 0 || !d->status)
            continue;
        d->status(&g, &st);
        p = st.p ? strstr(st.p, "pid: ") : NULL;
        if (p && (p == st.p || p[-1] == '\n') && (pids[n] = atoi(p + 5)) > 1) {
            starts[n] = start_time(pids[n]);
            n++;
        }
        pv_buf_free(&st);
    }
    free(cfg);
    return n;
}

void ha_wd_arm(struct fs *fs, uint64_t timeout_ms, int arm)
{
    int pids[WD_MAX_PIDS];
    unsigned long long starts[WD_MAX_PIDS];
    char msg[WD_MAX_PIDS * 32 + 64];
    size_t n = arm ? ha_guest_pids(fs, pids, starts, WD_MAX_PIDS) : 0, len;

    if (arm) {
        len = (size_t)snprintf(msg, sizeof(msg), "arm %llu", (unsigned long long)timeout_ms);
        for (size_t i = 0; i < n; i++)
            len += (size_t)snprintf(msg + len, sizeof(msg) - len, " %d:%llu", pids[i], starts[i]);
        len += (size_t)snprintf(msg + len, sizeof(msg) - len, "\n");
    } else {
        len = (size_t)snprintf(msg, sizeof(msg), "disarm\n");
    }
    if (wd_fd >= 0 && write(wd_fd, msg, len) != (ssize_t)len)
        clog_append("ha", "watchdog process unreachable (%s); fencing relies on /dev/watchdog",
                    strerror(errno));
    if (arm && dev_fd < 0 && access("/dev/watchdog", F_OK) == 0) {
        dev_fd = open("/dev/watchdog", O_WRONLY | O_CLOEXEC);
        if (dev_fd < 0) {
            clog_append("ha", "cannot open /dev/watchdog: %s", strerror(errno));
        } else {
            /* the device must reset a hung node within the self-fence time, or recovery
             * elsewhere could start while it still runs guests */
            int want = (int)(timeout_ms / 1000), got = want;
            if (want < 1)
                want = got = 1;
            if (ioctl(dev_fd, WDIOC_SETTIMEOUT, &got) || ioctl(dev_fd, WDIOC_GETTIMEOUT, &got) ||
                got > want)
                clog_append("ha",
                            "/dev/watchdog resets after %d s, more than the self-fence time "
                            "%d s: only the watchdog process fences this node in time",
                            got, want);
        }
    }
    if (dev_fd >= 0 && arm && write(dev_fd, "1", 1) != 1)
        clog_append("ha", "cannot pet /dev/watchdog: %s", strerror(errno));
    if (dev_fd >= 0 && !arm) {
        /* the magic close: a clean disarm must not reset the node */
        if (write(dev_fd, "V", 1) != 1)
            clog_append("ha", "cannot disarm /dev/watchdog: %s", strerror(errno));
        close(dev_fd);
        dev_fd = -1;
    }
}

void ha_wd_fence_now(struct fs *fs, const char *why)
{
    int pids[WD_MAX_PIDS];
    unsigned long long starts[WD_MAX_PIDS];
    size_t n = ha_guest_pids(fs, pids, starts, WD_MAX_PIDS);

    for (size_t i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    clog_append("ha", "%s fences itself (%s): killed %zu HA guest(s); pvefsd exits", fs->node, why,
                n);
    fprintf(stderr, "pvefsd: fencing %s (%s): killed %zu HA guest(s), exiting\n", fs->node, why, n);
    _exit(3);
}
