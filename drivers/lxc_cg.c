/*
 * lxc_cg: a container's cgroups, read straight from /sys/fs/cgroup. Figures come
 * from the v2 hierarchy when it has the controller and from v1 otherwise (a hybrid
 * host like this one has v1 memory/cpuacct/pids and a v2 tree with no controllers;
 * cpu.stat is in v2 either way). Freezing uses the freezer LXC itself uses: v1's
 * where it is mounted, else v2's cgroup.freeze, so lxc-info agrees with pvefs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lxc.h"

#define CG "/sys/fs/cgroup"

static int read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -errno;
    n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -EIO;
    buf[n] = 0;
    return (int)n;
}

static int has_word(const char *list, const char *w)
{
    size_t n = strlen(w);

    for (const char *p = list; (p = strstr(p, w)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
            return 1;
    return 0;
}

static int exists(const char *p)
{
    return access(p, F_OK) == 0;
}

void lxc_cg_detect(struct lxc_cg_layout *l)
{
    char ctl[256] = "";

    memset(l, 0, sizeof(*l));
    if (exists(CG "/cgroup.controllers"))
        snprintf(l->v2root, sizeof(l->v2root), CG);
    else if (exists(CG "/unified/cgroup.controllers"))
        snprintf(l->v2root, sizeof(l->v2root), CG "/unified");
    if (l->v2root[0]) {
        char p[128];
        snprintf(p, sizeof(p), "%s/cgroup.controllers", l->v2root);
        if (read_small(p, ctl, sizeof(ctl)) > 0) {
            l->v2_memory = has_word(ctl, "memory");
            l->v2_cpu = has_word(ctl, "cpu");
            l->v2_pids = has_word(ctl, "pids");
        }
    }
    l->v1_freezer = exists(CG "/freezer/freezer.state") || exists(CG "/freezer/cgroup.procs");
    l->v1_memory = exists(CG "/memory/memory.usage_in_bytes");
    l->v1_cpuacct = exists(CG "/cpuacct/cpuacct.usage");
    l->v1_pids = exists(CG "/pids/cgroup.procs");
    l->memsw = exists(CG "/memory/memory.memsw.limit_in_bytes");
}

static uint64_t num_at(const char *path)
{
    char b[64];

    return read_small(path, b, sizeof(b)) > 0 ? strtoull(b, NULL, 10) : 0;
}

/* Value of "key N" in a flat-keyed file (cpu.stat, cgroup.events). */
static int keyed(const char *path, const char *key, uint64_t *v)
{
    char b[2048] = "";
    size_t n = strlen(key);

    if (read_small(path, b, sizeof(b)) <= 0)
        return -ENOENT;
    for (char *p = b; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, key, n) == 0 && p[n] == ' ') {
            *v = strtoull(p + n + 1, NULL, 10);
            return 0;
        }
    return -ENOENT;
}

static int ppid_of(int pid)
{
    char p[64], b[512], *r;

    snprintf(p, sizeof(p), "/proc/%d/stat", pid);
    if (read_small(p, b, sizeof(b)) <= 0 || !(r = strrchr(b, ')')))
        return -1;
    return atoi(r + 4); /* ") S ppid" */
}

/* The container's init: the member of cgroup.procs whose parent is not a member. */
static int find_init(const char *procs)
{
    char buf[16384] = "";
    int pids[1024], n = 0;

    if (read_small(procs, buf, sizeof(buf)) <= 0)
        return 0;
    for (char *p = buf; *p && n < 1024;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        pids[n++] = (int)v;
        p = end + (*end == '\n');
    }
    for (int i = 0; i < n; i++) {
        int pp = ppid_of(pids[i]), inside = 0;
        for (int j = 0; j < n && !inside; j++)
            inside = pids[j] == pp;
        if (pp > 0 && !inside)
            return pids[i];
    }
    return n ? pids[0] : 0;
}

int lxc_cg_read(const struct lxc_cg_layout *l, const char *dir, struct lxc_cg_figures *f)
{
    char p[512], b[64];
    uint64_t v = 0;

    memset(f, 0, sizeof(*f));
    snprintf(p, sizeof(p), "%s/%s/cgroup.procs", l->v2root, dir);
    if (!l->v2root[0] || !exists(p))
        snprintf(p, sizeof(p), CG "/memory/%s/cgroup.procs", dir);
    if (!exists(p))
        return 0;
    f->exists = 1;
    f->init_pid = find_init(p);
    f->populated = f->init_pid > 0;
    /* cpu: v2 cpu.stat usage_usec is kept even without the cpu controller */
    snprintf(p, sizeof(p), "%s/%s/cpu.stat", l->v2root, dir);
    if (l->v2root[0] && keyed(p, "usage_usec", &v) == 0) {
        f->cpu_ns = v * 1000;
    } else if (l->v1_cpuacct) {
        snprintf(p, sizeof(p), CG "/cpuacct/%s/cpuacct.usage", dir);
        f->cpu_ns = num_at(p);
    }
    if (l->v2_memory) {
        snprintf(p, sizeof(p), "%s/%s/memory.current", l->v2root, dir);
        f->mem = num_at(p);
        snprintf(p, sizeof(p), "%s/%s/memory.swap.current", l->v2root, dir);
        f->swap = num_at(p);
    } else if (l->v1_memory) {
        snprintf(p, sizeof(p), CG "/memory/%s/memory.usage_in_bytes", dir);
        f->mem = num_at(p);
        snprintf(p, sizeof(p), CG "/memory/%s/memory.memsw.usage_in_bytes", dir);
        v = num_at(p);
        f->swap = v > f->mem ? v - f->mem : 0;
    }
    if (l->v2_pids)
        snprintf(p, sizeof(p), "%s/%s/pids.current", l->v2root, dir);
    else
        snprintf(p, sizeof(p), CG "/pids/%s/pids.current", dir);
    f->pids = num_at(p);
    if (l->v1_freezer) {
        snprintf(p, sizeof(p), CG "/freezer/%s/freezer.state", dir);
        f->frozen = read_small(p, b, sizeof(b)) > 0 && strncmp(b, "FROZEN", 6) == 0;
    } else if (l->v2root[0]) {
        snprintf(p, sizeof(p), "%s/%s/cgroup.events", l->v2root, dir);
        f->frozen = keyed(p, "frozen", &v) == 0 && v == 1;
    }
    return 0;
}

static int write_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return -errno;
    if (write(fd, s, strlen(s)) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

int lxc_cg_freeze(const struct lxc_cg_layout *l, const char *dir, int on, int timeout_ms, char *err,
                  size_t errlen)
{
    char p[512];
    int rc;

    if (l->v1_freezer) {
        snprintf(p, sizeof(p), CG "/freezer/%s/freezer.state", dir);
        rc = write_str(p, on ? "FROZEN" : "THAWED");
    } else if (l->v2root[0]) {
        snprintf(p, sizeof(p), "%s/%s/cgroup.freeze", l->v2root, dir);
        rc = write_str(p, on ? "1" : "0");
    } else {
        return snprintf(err, errlen, "this host has no cgroup freezer"), -EOPNOTSUPP;
    }
    if (rc)
        return snprintf(err, errlen, "%s: %s", p, strerror(-rc)), rc;
    /* v1 reports FREEZING until every task stopped; poll briefly instead of LXC's 1 s */
    for (int waited = 0; waited <= timeout_ms; waited += 5) {
        struct lxc_cg_figures f;
        lxc_cg_read(l, dir, &f);
        if (!f.exists)
            return snprintf(err, errlen, "the container stopped"), -ESRCH;
        if (f.frozen == on)
            return 0;
        struct timespec ts = {0, 5L * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return snprintf(err, errlen, "the cgroup did not %s within %d ms", on ? "freeze" : "thaw",
                    timeout_ms),
           -ETIMEDOUT;
}

void lxc_cg_prune(const char *dir)
{
    char p[600];
    struct dirent *e;
    DIR *d = opendir(CG);

    /* only empty cgroups go: rmdir fails on one that still has processes */
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), CG "/%s/%s", e->d_name, dir);
        rmdir(p);
    }
    if (d)
        closedir(d);
    snprintf(p, sizeof(p), CG "/%s", dir);
    rmdir(p);
}
