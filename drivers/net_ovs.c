/* net_ovs: Open vSwitch bridges and ports, through ovs-vsctl (run with an argv, no shell;
 * OVS_RUNDIR is honoured), with the same contract as net_apply.c: read first, change only
 * what differs, *changed set on a change, -errno with a message. */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void set_changed(int *changed)
{
    if (changed)
        *changed = 1;
}

/* ---- Open vSwitch, through ovs-vsctl ---- */

struct vsctl {
    int status;    /* exit status */
    char out[256]; /* first bytes of stdout, trailing newline removed */
    char msg[512]; /* first bytes of stderr, trailing newline removed */
};

/* Read both pipes until both close: a full pipe must never block the child we wait for. */
static void drain(int fds[2], char *bufs[2], const size_t caps[2])
{
    size_t len[2] = {0, 0};

    while (fds[0] >= 0 || fds[1] >= 0) {
        struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        char tmp[512];

        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            ssize_t n;

            if (fds[i] < 0 || !p[i].revents)
                continue;
            if ((n = read(fds[i], tmp, sizeof tmp)) < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(fds[i]);
                fds[i] = -1;
                continue;
            }
            size_t k = (size_t)n < caps[i] - 1 - len[i] ? (size_t)n : caps[i] - 1 - len[i];
            memcpy(bufs[i] + len[i], tmp, k);
            bufs[i][len[i] += k] = 0;
        }
    }
    for (int i = 0; i < 2; i++) /* ovs-vsctl quotes strings: compare bare values */
        while (len[i] && strchr("\n\"", bufs[i][len[i] - 1]))
            bufs[i][--len[i]] = 0;
}

/* Run ovs-vsctl with args (NULL-terminated): 0 with r filled in, or -errno when it could not
 * run, -ETIMEDOUT when its --timeout fired. argv is built before fork() so the child only
 * makes async-signal-safe calls: the caller may be multithreaded. */
static int vsctl_run(const char *const *args, struct vsctl *r, char *err, size_t errlen)
{
    const char *argv[24], *rundir = getenv("OVS_RUNDIR");
    char db[300];
    int out[2] = {-1, -1}, ep[2] = {-1, -1}, n = 0, first, st;
    pid_t pid = -1;

    memset(r, 0, sizeof *r);
    argv[n++] = "ovs-vsctl";
    argv[n++] = "--timeout=5";
    if (rundir && rundir[0]) {
        snprintf(db, sizeof db, "--db=unix:%s/db.sock", rundir);
        argv[n++] = db;
    }
    first = n;
    while (*args && n < (int)(sizeof argv / sizeof argv[0]) - 1)
        argv[n++] = *args++;
    argv[n] = NULL;
    if (pipe2(out, O_CLOEXEC) || pipe2(ep, O_CLOEXEC) || (pid = fork()) < 0) {
        st = -errno;
        for (int i = 0; i < 2; i++) {
            if (out[i] >= 0)
                close(out[i]);
            if (ep[i] >= 0)
                close(ep[i]);
        }
        return net_err(err, errlen, st, "cannot run ovs-vsctl: %s", strerrordesc_np(-st));
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);

        if (nul >= 0)
            dup2(nul, 0);
        dup2(out[1], 1);
        dup2(ep[1], 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127); /* the shell's "command not found"; ovs-vsctl never exits so itself */
    }
    close(out[1]);
    close(ep[1]);
    drain((int[2]){out[0], ep[0]}, (char *[2]){r->out, r->msg},
          (const size_t[2]){sizeof r->out, sizeof r->msg});
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return net_err(err, errlen, -errno, "ovs-vsctl: lost the child: %s",
                           strerrordesc_np(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return net_err(err, errlen, -ENOENT,
                       "ovs-vsctl is not installed (not in PATH): install openvswitch-switch");
    if (WIFSIGNALED(st))
        return net_err(err, errlen, -ETIMEDOUT,
                       "ovs-vsctl %s: no answer within 5 s (%s): is ovs-vswitchd running?",
                       argv[first], sigdescr_np(WTERMSIG(st)));
    r->status = WEXITSTATUS(st);
    if (r->status && strstr(r->msg, "database connection failed"))
        return net_err(err, errlen, -ENOENT,
                       "cannot reach the OVS database (%s; is ovsdb-server running, is "
                       "OVS_RUNDIR right?): %s",
                       rundir ? "OVS_RUNDIR set" : "default rundir", r->msg);
    return 0;
}

/* A command that must succeed (exit 0). */
static int vsctl_ok(const char *what, const char *const *args, struct vsctl *r, char *err,
                    size_t errlen)
{
    int rc = vsctl_run(args, r, err, errlen);

    if (rc < 0)
        return rc;
    if (r->status)
        return net_err(err, errlen, -EIO, "%s: ovs-vsctl failed (exit %d): %s", what, r->status,
                       r->msg[0] ? r->msg : "no message");
    return 0;
}

/* 1 if the bridge exists, 0 if not (br-exists exits 2 for that), or -errno. */
static int ovs_bridge_exists(const char *name, char *err, size_t errlen)
{
    const char *args[] = {"br-exists", name, NULL};
    struct vsctl r;
    int rc = vsctl_run(args, &r, err, errlen);

    if (rc < 0)
        return rc;
    if (r.status == 0 || r.status == 2)
        return r.status == 0;
    return net_err(err, errlen, -EIO, "OVS bridge %s: br-exists failed (exit %d): %s", name,
                   r.status, r.msg);
}

static int word_ok(const char *s)
{
    return s && s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(s);
}

int net_ovs_bridge_ensure(const char *name, const char *datapath_type, int *changed, char *err,
                          size_t errlen)
{
    char what[64], dp[64];
    struct vsctl r;
    int rc;

    if (changed)
        *changed = 0;
    if ((rc = net_name_check("OVS bridge", name, err, errlen)))
        return rc;
    if (datapath_type && !word_ok(datapath_type))
        return net_err(err, errlen, -EINVAL, "OVS bridge %s: bad datapath type \"%s\"", name,
                       datapath_type);
    snprintf(what, sizeof what, "OVS bridge %s", name);
    snprintf(dp, sizeof dp, "datapath_type=%s", datapath_type ? datapath_type : "");
    if ((rc = ovs_bridge_exists(name, err, errlen)) < 0)
        return rc;
    if (!rc) {
        /* datapath_type in the same transaction: vswitchd must never try the other one. */
        const char *add[] = {"--may-exist", "add-br", name, "--", "set", "bridge", name, dp, NULL};
        if (!datapath_type)
            add[3] = NULL;
        if ((rc = vsctl_ok(what, add, &r, err, errlen)) == 0)
            set_changed(changed);
        return rc;
    }
    if (!datapath_type)
        return 0;
    const char *get[] = {"get", "bridge", name, "datapath_type", NULL};
    if ((rc = vsctl_ok(what, get, &r, err, errlen)) < 0)
        return rc;
    if (!strcmp(r.out + (r.out[0] == '"'), datapath_type))
        return 0;
    const char *set[] = {"set", "bridge", name, dp, NULL};
    if ((rc = vsctl_ok(what, set, &r, err, errlen)) == 0)
        set_changed(changed);
    return rc;
}

int net_ovs_port_ensure(const char *bridge, const char *port, int tag, int *changed, char *err,
                        size_t errlen)
{
    char what[64], tagarg[16], want[16];
    struct vsctl r;
    int rc;

    if (changed)
        *changed = 0;
    if ((rc = net_name_check("OVS bridge", bridge, err, errlen)) ||
        (rc = net_name_check("OVS port", port, err, errlen)))
        return rc;
    if (tag < 0 || tag > 4094)
        return net_err(err, errlen, -EINVAL, "OVS port %s: VLAN tag %d is out of range 0..4094",
                       port, tag);
    snprintf(what, sizeof what, "OVS port %s", port);
    snprintf(tagarg, sizeof tagarg, "tag=%d", tag);
    snprintf(want, sizeof want, tag ? "%d" : "[]", tag);
    if ((rc = ovs_bridge_exists(bridge, err, errlen)) <= 0)
        return rc ? rc
                  : net_err(err, errlen, -ENODEV, "%s: OVS bridge %s does not exist", what, bridge);
    const char *where[] = {"port-to-br", port, NULL};
    if ((rc = vsctl_run(where, &r, err, errlen)) < 0)
        return rc;
    if (r.status || strcmp(r.out, bridge) != 0) {
        /* Missing, or on another bridge: one transaction moves it, so it is never lost. */
        const char *add[] = {"--if-exists", "del-port", port,   "--", "add-port",
                             bridge,        port,       tagarg, NULL};
        if (!tag)
            add[7] = NULL;
        if ((rc = vsctl_ok(what, add, &r, err, errlen)) < 0)
            return rc;
        set_changed(changed);
    } else {
        const char *get[] = {"get", "port", port, "tag", NULL};
        if ((rc = vsctl_ok(what, get, &r, err, errlen)) < 0)
            return rc;
        if (strcmp(r.out, want) != 0) {
            const char *set[] = {"set", "port", port, tagarg, NULL};
            const char *clear[] = {"clear", "port", port, "tag", NULL};
            if ((rc = vsctl_ok(what, tag ? set : clear, &r, err, errlen)) < 0)
                return rc;
            set_changed(changed);
        }
    }
    /* vswitchd records why it could not attach the device; an attached port has none. */
    const char *iferr[] = {"get", "interface", port, "error", NULL};
    if ((rc = vsctl_ok(what, iferr, &r, err, errlen)) < 0)
        return rc;
    if (strcmp(r.out, "[]") != 0)
        return net_err(err, errlen, -ENODEV, "%s: ovs-vswitchd cannot use it: %s", what,
                       r.out + (r.out[0] == '"'));
    return 0;
}

int net_ovs_port_delete(const char *port, int *changed, char *err, size_t errlen)
{
    char what[64];
    const char *where[] = {"port-to-br", port, NULL};
    const char *del[] = {"--if-exists", "del-port", port, NULL};
    struct vsctl r;
    int rc;

    if (changed)
        *changed = 0;
    if ((rc = net_name_check("OVS port", port, err, errlen)))
        return rc;
    snprintf(what, sizeof what, "OVS port %s", port);
    if ((rc = vsctl_run(where, &r, err, errlen)) < 0 || r.status)
        return rc; /* absent is not an error */
    if ((rc = vsctl_ok(what, del, &r, err, errlen)) == 0)
        set_changed(changed);
    return rc;
}
