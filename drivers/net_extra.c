/* net_extra: see net_extra.h. ovs-vsctl is run as in net_apply.c (--timeout=5, OVS_RUNDIR). */
#include "net_extra.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net.h"

/* Runs ovs-vsctl args (NULL-terminated, at most 8): its exit status, or -errno. stderr's
 * first line goes to msg. argv is built before fork(): the caller is multithreaded. */
static int vsctl(const char *const *args, char *msg, size_t msglen)
{
    const char *argv[16], *rundir = getenv("OVS_RUNDIR");
    char db[300];
    int ep[2], n = 0, st;
    size_t len = 0;
    ssize_t r;
    pid_t pid;

    argv[n++] = "ovs-vsctl";
    argv[n++] = "--timeout=5";
    if (rundir && rundir[0]) {
        snprintf(db, sizeof db, "--db=unix:%s/db.sock", rundir);
        argv[n++] = db;
    }
    while (*args && n < 15)
        argv[n++] = *args++;
    argv[n] = NULL;
    msg[0] = 0;
    if (pipe2(ep, O_CLOEXEC))
        return -errno;
    if ((pid = fork()) < 0) {
        st = -errno;
        close(ep[0]);
        close(ep[1]);
        return st;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
        }
        dup2(ep[1], 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(ep[1]);
    while ((r = read(ep[0], msg + len, msglen - 1 - len)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0 && (len += (size_t)r) >= msglen - 1)
            break;
    msg[len] = 0;
    msg[strcspn(msg, "\n")] = 0;
    close(ep[0]);
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (WIFSIGNALED(st))
        return -ETIMEDOUT;
    return WEXITSTATUS(st);
}

static int vsctl_err(const char *what, const char *name, int rc, const char *msg, char *err,
                     size_t errlen)
{
    if (rc == 127)
        return net_err(err, errlen, -ENOENT,
                       "OVS bridge %s: ovs-vsctl is not installed (install openvswitch-switch)",
                       name);
    if (rc == -ETIMEDOUT)
        return net_err(err, errlen, rc,
                       "OVS bridge %s: %s: no answer within 5 s: is ovs-vswitchd running?", name,
                       what);
    if (rc < 0)
        return net_err(err, errlen, rc, "OVS bridge %s: %s: cannot run ovs-vsctl: %s", name, what,
                       strerror(-rc));
    if (strstr(msg, "database connection failed"))
        return net_err(err, errlen, -ENOENT, "OVS bridge %s: %s: cannot reach the OVS database: %s",
                       name, what, msg);
    return net_err(err, errlen, -EIO, "OVS bridge %s: %s: ovs-vsctl failed (exit %d): %s", name,
                   what, rc, msg[0] ? msg : "no message");
}

int net_ovs_bridge_delete(const char *name, int *changed, char *err, size_t errlen)
{
    const char *exists[] = {"br-exists", name, NULL};
    const char *del[] = {"--if-exists", "del-br", name, NULL};
    char msg[256];
    int rc;

    if (changed)
        *changed = 0;
    if ((rc = net_name_check("OVS bridge", name, err, errlen)))
        return rc;
    rc = vsctl(exists, msg, sizeof msg);
    if (rc == 2)
        return 0; /* br-exists: no such bridge */
    if (rc != 0)
        return vsctl_err("br-exists", name, rc, msg, err, errlen);
    if ((rc = vsctl(del, msg, sizeof msg)) != 0)
        return vsctl_err("del-br", name, rc, msg, err, errlen);
    if (changed)
        *changed = 1;
    return 0;
}

int net_ovs_bridge_mtu(const char *name, unsigned mtu, char *err, size_t errlen)
{
    char arg[32], msg[256];
    const char *set[] = {"set", "interface", name, arg, NULL};
    int rc;

    if ((rc = net_name_check("OVS bridge", name, err, errlen)))
        return rc;
    snprintf(arg, sizeof arg, "mtu_request=%u", mtu);
    if ((rc = vsctl(set, msg, sizeof msg)) != 0)
        return vsctl_err("set mtu_request", name, rc, msg, err, errlen);
    return 0;
}
