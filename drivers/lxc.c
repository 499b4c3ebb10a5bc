/*
 * lxc: container lifecycle and live figures. Lifecycle calls go to the worker
 * (lxc_worker.c); state and figures are read from cgroups, /proc and this node's
 * /proc/net/dev, by a stats thread once a second, so status reads are table reads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../fs/conf.h"
#include "lxc.h"
#include "stor.h"
#include "drv.h"

#define MAX_CT 1024

struct ct {
    char id[16];
    struct lxc_stats s;
    uint64_t last_cpu_ns;
    double last_t;
    int busy;          /* a lifecycle call is under way: a stop is not a crash */
    unsigned long seq; /* of the newest sample stored */
};

static struct {
    pthread_mutex_t lock;
    pthread_t thread;
    int running, ready;
    struct lxc_env env;
    char node[64], lxcpath[1024], cgroup[256];
    struct lxc_cg_layout cg;
    struct ct ct[MAX_CT];
    int n;
    unsigned long seq; /* samples begun */
} L = {.lock = PTHREAD_MUTEX_INITIALIZER};

int lxc_ready(void)
{
    return L.ready;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cg_dir(const char *ctid, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", L.cgroup, ctid);
}

static struct ct *ct_get(const char *id, int add)
{
    for (int i = 0; i < L.n; i++)
        if (strcmp(L.ct[i].id, id) == 0)
            return &L.ct[i];
    if (!add || L.n >= MAX_CT)
        return NULL;
    memset(&L.ct[L.n], 0, sizeof(L.ct[0]));
    snprintf(L.ct[L.n].id, sizeof(L.ct[0].id), "%s", id);
    return &L.ct[L.n++];
}

static const char *state_of(const struct lxc_cg_figures *f)
{
    if (!f->exists || !f->populated)
        return "stopped";
    return f->frozen ? "paused" : "running";
}

int lxc_state(const char *ctid, char *buf, size_t len)
{
    struct lxc_cg_figures f;
    char dir[300];

    cg_dir(ctid, dir, sizeof(dir));
    lxc_cg_read(&L.cg, dir, &f);
    snprintf(buf, len, "%s", state_of(&f));
    return 0;
}

static void read_figures(const char *id, struct lxc_stats *s, struct lxc_cg_figures *f);

int lxc_stats(const char *ctid, struct lxc_stats *s)
{
    struct lxc_cg_figures f;
    struct ct *c;
    char live[16];
    int rc = -ENOENT, stale = 0;

    lxc_state(ctid, live, sizeof(live));
    pthread_mutex_lock(&L.lock);
    if ((c = ct_get(ctid, 0)) && c->s.known) {
        *s = c->s;
        stale = strcmp(c->s.state, live) != 0;
        rc = 0;
    }
    pthread_mutex_unlock(&L.lock);
    /* status agrees with state (a start under way has no sample yet): a fresh reading,
     * not stored, so a change is still told once, by the stats thread, never from here */
    if (rc || stale) {
        memset(s, 0, sizeof(*s));
        s->known = 1;
        read_figures(ctid, s, &f);
        rc = 0;
    }
    return rc;
}

/* Seconds since pid started. */
static uint64_t uptime_of(int pid)
{
    char p[64], b[1024], *r;
    unsigned long long start = 0;
    double up = 0;
    FILE *f;
    int i;

    snprintf(p, sizeof(p), "/proc/%d/stat", pid);
    if (!(f = fopen(p, "r")))
        return 0;
    r = fgets(b, sizeof(b), f) ? strrchr(b, ')') : NULL;
    fclose(f);
    if (!r)
        return 0;
    /* field 22 (starttime); r++ is the space before field 3 */
    for (i = 3, r++; i < 22 && r; i++)
        r = strchr(r + 1, ' ');
    if (!r)
        return 0;
    start = strtoull(r + 1, NULL, 10);
    if (!(f = fopen("/proc/uptime", "r")))
        return 0;
    if (fscanf(f, "%lf", &up) != 1)
        up = 0;
    fclose(f);
    up -= (double)start / (double)sysconf(_SC_CLK_TCK);
    return up > 0 ? (uint64_t)up : 0;
}

/* The container's own addresses: LOCAL host entries of its fib_trie, and global IPv6. */
static void ips_of(int pid, char *out, size_t len)
{
    char p[64], line[256], last[64] = "";
    size_t used = 0;
    FILE *f;

    out[0] = 0;
    snprintf(p, sizeof(p), "/proc/%d/net/fib_trie", pid);
    if ((f = fopen(p, "r"))) {
        while (fgets(line, sizeof(line), f)) {
            char *d = strstr(line, "|-- ");
            if (d) {
                snprintf(last, sizeof(last), "%s", d + 4);
                last[strcspn(last, "\n ")] = 0;
            } else if (strstr(line, "/32 host LOCAL") && last[0] && strncmp(last, "127.", 4) != 0 &&
                       !strstr(out, last) && used + strlen(last) + 2 < len) {
                used += (size_t)snprintf(out + used, len - used, "%s%s", used ? " " : "", last);
            }
        }
        fclose(f);
    }
    snprintf(p, sizeof(p), "/proc/%d/net/if_inet6", pid);
    if ((f = fopen(p, "r"))) {
        char hex[40], dev[32];
        unsigned idx, plen, scope, fl;
        while (fscanf(f, "%32s %x %x %x %x %31s", hex, &idx, &plen, &scope, &fl, dev) == 6) {
            char a[48];
            if (scope != 0 || used + 42 >= len) /* global scope only */
                continue;
            snprintf(a, sizeof(a), "%.4s:%.4s:%.4s:%.4s:%.4s:%.4s:%.4s:%.4s", hex, hex + 4, hex + 8,
                     hex + 12, hex + 16, hex + 20, hex + 24, hex + 28);
            used += (size_t)snprintf(out + used, len - used, "%s%s", used ? " " : "", a);
        }
        fclose(f);
    }
}

/* Bytes through the container's veths, from this node's side: its tx is their rx. */
static void net_of(const char *ctid, uint64_t *in, uint64_t *out)
{
    char pre[32], line[512];
    FILE *f = fopen("/proc/net/dev", "r");

    *in = *out = 0;
    if (!f)
        return;
    snprintf(pre, sizeof(pre), "veth%.8si", ctid);
    while (fgets(line, sizeof(line), f)) {
        char *n = line + strspn(line, " "), *c = strchr(n, ':');
        unsigned long long v[16];
        if (!c || strncmp(n, pre, strlen(pre)) != 0)
            continue;
        if (sscanf(c + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) == 9) {
            *out += v[0]; /* host rx = what the container sent */
            *in += v[8];
        }
    }
    fclose(f);
}

static void event(const char *ctid, const char *state, const char *why)
{
    if (L.env.on_event)
        L.env.on_event(L.env.event_arg, ctid, state, why);
}

/* The figures of container id now (cpu, a rate, stays 0). */
static void read_figures(const char *id, struct lxc_stats *s, struct lxc_cg_figures *f)
{
    char dir[300];

    cg_dir(id, dir, sizeof(dir));
    lxc_cg_read(&L.cg, dir, f);
    snprintf(s->state, sizeof(s->state), "%s", state_of(f));
    if (f->populated) {
        s->pid = f->init_pid;
        s->uptime_s = uptime_of(f->init_pid);
        s->mem = f->mem;
        s->swap = f->swap;
        s->pids = f->pids;
        ips_of(f->init_pid, s->ips, sizeof(s->ips));
        net_of(id, &s->netin, &s->netout);
    }
}

/* One sample of container id; reports a state change nobody asked for. */
static void sample(const char *id)
{
    struct lxc_cg_figures f;
    struct lxc_stats s = {.known = 1};
    char why[96] = "";
    double t = now_s();
    unsigned long seq;
    struct ct *c;

    pthread_mutex_lock(&L.lock);
    seq = ++L.seq;
    pthread_mutex_unlock(&L.lock);
    read_figures(id, &s, &f);
    pthread_mutex_lock(&L.lock);
    /* a sample begun before a newer one was stored (the stats thread racing a start) is
     * stale: dropped */
    if ((c = ct_get(id, 1)) && seq > c->seq) {
        c->seq = seq;
        if (c->s.known && f.populated && c->last_cpu_ns && f.cpu_ns >= c->last_cpu_ns &&
            t > c->last_t)
            s.cpu = (double)(f.cpu_ns - c->last_cpu_ns) / 1e9 / (t - c->last_t);
        if (c->s.known && strcmp(c->s.state, s.state) != 0 && !c->busy)
            snprintf(why, sizeof(why), "%s",
                     strcmp(s.state, "stopped") == 0 ? "its init exited" : "changed outside pvefs");
        c->last_cpu_ns = f.populated ? f.cpu_ns : 0;
        c->last_t = t;
        c->s = s;
    }
    pthread_mutex_unlock(&L.lock);
    if (why[0])
        event(id, s.state, why);
}

static void *stats_main(void *arg)
{
    (void)arg;
    while (__atomic_load_n(&L.running, __ATOMIC_ACQUIRE)) {
        DIR *d;
        struct dirent *e;
        drv_bg_enter();
        d = opendir(L.lxcpath);
        while (d && (e = readdir(d)))
            if (e->d_name[0] != '.' && strlen(e->d_name) < 16)
                sample(e->d_name);
        if (d)
            closedir(d);
        drv_bg_leave();
        for (int i = 0; i < 10 && __atomic_load_n(&L.running, __ATOMIC_ACQUIRE); i++)
            usleep(100 * 1000);
    }
    return NULL;
}

int lxc_open(const struct lxc_env *env, char *err, size_t errlen)
{
    L.env = *env;
    snprintf(L.node, sizeof(L.node), "%s", env->node);
    snprintf(L.lxcpath, sizeof(L.lxcpath), "%s", env->lxcpath);
    snprintf(L.cgroup, sizeof(L.cgroup), "%s", env->cgroup && *env->cgroup ? env->cgroup : "lxc");
    L.env.node = L.node;
    L.env.lxcpath = L.lxcpath;
    L.env.cgroup = L.cgroup;
    lxc_cg_detect(&L.cg);
    if (mkdir(L.lxcpath, 0755) && errno != EEXIST)
        return snprintf(err, errlen, "mkdir %s: %s", L.lxcpath, strerror(errno)), -errno;
    if (!lxc_worker_ready())
        return snprintf(err, errlen, "the LXC worker did not start"), -ENOTSUP;
    __atomic_store_n(&L.running, 1, __ATOMIC_RELEASE);
    if (pthread_create(&L.thread, NULL, stats_main, NULL)) {
        L.running = 0;
        return snprintf(err, errlen, "cannot start the LXC stats thread"), -EAGAIN;
    }
    L.ready = 1;
    return 0;
}

void lxc_close(void)
{
    if (!L.ready)
        return;
    __atomic_store_n(&L.running, 0, __ATOMIC_RELEASE);
    pthread_join(L.thread, NULL);
    L.ready = 0;
}

static void set_busy(const char *ctid, int busy)
{
    struct ct *c;

    pthread_mutex_lock(&L.lock);
    if ((c = ct_get(ctid, 1)))
        c->busy += busy ? 1 : -1;
    pthread_mutex_unlock(&L.lock);
}

/* Runs a worker call with the container marked busy, then samples it at once. */
static int call(enum lxc_op op, const char *ctid, int arg, int *pid, char *err, size_t errlen)
{
    int rc;

    set_busy(ctid, 1);
    rc = lxc_worker_call(op, ctid, arg, NULL, pid, NULL, 0, err, errlen);
    sample(ctid);
    set_busy(ctid, 0);
    return rc;
}

/*
 * Writes file under root (the container's rootfs) without following anything out of
 * it: the rootfs belongs to the guest, and a symlink there must not reach the host.
 */
static void rootfs_write(const char *root, const char *file, const char *text)
{
    struct open_how how = {.flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                           .mode = 0644,
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), fd;

    if (rfd < 0)
        return;
    fd = (int)syscall(SYS_openat2, rfd, file, &how, sizeof(how));
    if (fd >= 0) {
        ssize_t w = write(fd, text, strlen(text)); /* best effort: the guest owns the file */
        (void)w;
        close(fd);
    }
    close(rfd);
}

/* What the rootfs's init takes as power off and reboot. */
static void init_signals(const char *root, const char **halt, const char **reboot)
{
    char p[1300], t[256] = "";
    ssize_t n;

    snprintf(p, sizeof(p), "%s/sbin/init", root);
    if ((n = readlink(p, t, sizeof(t) - 1)) < 0) {
        snprintf(p, sizeof(p), "%s/usr/sbin/init", root);
        n = readlink(p, t, sizeof(t) - 1);
    }
    t[n > 0 ? n : 0] = 0;
    *halt = "SIGPWR";
    *reboot = "SIGINT";
    if (strstr(t, "busybox")) {
        *halt = "SIGUSR2"; /* busybox init: USR2 powers off, TERM reboots */
        *reboot = "SIGTERM";
    } else if (strstr(t, "systemd")) {
        *halt = "SIGRTMIN+3";
    }
}

/* Builds and writes <lxcpath>/<ctid>/config; fills root with the rootfs path. */
static int write_config(const char *ctid, const char *config, size_t len, char *root,
                        size_t rootlen, char *err, size_t errlen)
{
    struct lxc_conf_opts o = {.ctid = ctid,
                              .cgroup = L.cgroup,
                              .cgroup2_memory = L.cg.v2_memory,
                              .memsw = L.cg.memsw,
                              .apparmor = access("/sys/kernel/security/apparmor", F_OK) == 0,
                              .host_cpus = (int)sysconf(_SC_NPROCESSORS_ONLN),
                              .resolve = L.env.resolve,
                              .arg = L.env.resolve_arg,
                              .bridge = L.env.bridge,
                              .bridge_arg = L.env.bridge_arg};
    char vol[512] = "", path[1200];
    const char *reboot = "SIGINT";
    struct qemu_disk d;
    struct pv_buf b = {0};
    FILE *f;
    int rc;

    conf_get(config, len, "rootfs", vol, sizeof(vol));
    vol[strcspn(vol, ",")] = 0;
    if (vol[0] && L.env.resolve && L.env.resolve(L.env.resolve_arg, vol, &d, err, errlen) == 0)
        snprintf(root, rootlen, "%s", d.path);
    init_signals(root, &o.halt_signal, &reboot);
    if ((rc = lxc_conf_build(config, len, &o, &b, err, errlen))) {
        char why[LXC_ERRLEN];
        /* lxc_conf_build names the key ("net0: ..."); the reader needs the container too */
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, errlen, "ct %s: %s", ctid, why);
        pv_buf_free(&b);
        return rc;
    }
    pv_buf_printf(&b, "lxc.signal.reboot = %s\nlxc.log.file = %s/%s/log\nlxc.log.level = WARN\n",
                  reboot, L.lxcpath, ctid);
    snprintf(path, sizeof(path), "%s/%s", L.lxcpath, ctid);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/config", L.lxcpath, ctid);
    if (b.oom || !(f = fopen(path, "w")) || fwrite(b.p, 1, b.len, f) != b.len || fclose(f)) {
        pv_buf_free(&b);
        return snprintf(err, errlen, "cannot write %s", path), -EIO;
    }
    pv_buf_free(&b);
    return 0;
}

/*
 * After a start here the container's MACs live behind its veths; a bridge that learned
 * them on another port (the VXLAN port, while the container ran on another node) would
 * drop its traffic until the entries age out. Moving the entries is what QEMU's
 * self-announce achieves for VMs. Best effort: a failure only delays reachability.
 */
static void announce(const char *ctid, const char *config, size_t len)
{
    for (int n = 0; n < 32; n++) {
        char key[16], val[1024], veth[32], *mac;
        snprintf(key, sizeof(key), "net%d", n);
        if (conf_get(config, len, key, val, sizeof(val)) <= 0 || !(mac = strstr(val, "hwaddr=")))
            continue;
        mac += 7;
        mac[strcspn(mac, ",")] = 0;
        lxc_veth_name(ctid, n, veth, sizeof(veth));
        char *av[] = {"bridge", "fdb", "replace", mac, "dev", veth, "master", "dynamic", NULL};
        char e[256];
        stor_run("bridge", "move the container's MAC to its veth", av, e, sizeof(e));
    }
}

int lxc_start(const char *ctid, const char *config, size_t len, char *err, size_t errlen)
{
    char root[1200] = "", host[128] = "", ns[256] = "", text[600];
    char st[16];
    int rc, pid = 0;

    lxc_state(ctid, st, sizeof(st));
    if (strcmp(st, "stopped") != 0)
        return snprintf(err, errlen, "ct %s is %s already", ctid, st), -EALREADY;
    if ((rc = write_config(ctid, config, len, root, sizeof(root), err, errlen)))
        return rc;
    snprintf(text, sizeof(text), "%s/%s", L.cgroup, ctid);
    lxc_cg_prune(text);
    snprintf(text, sizeof(text), "%s.monitor/%s", L.cgroup, ctid);
    lxc_cg_prune(text);
    /* as Proxmox does at each start: the guest learns its name and resolvers */
    if (conf_get(config, len, "hostname", host, sizeof(host)) <= 0)
        snprintf(host, sizeof(host), "ct%s", ctid);
    snprintf(text, sizeof(text), "%s\n", host);
    rootfs_write(root, "etc/hostname", text);
    if (conf_get(config, len, "nameserver", ns, sizeof(ns)) > 0) {
        struct pv_buf b = {0};
        char sd[256] = "";
        if (conf_get(config, len, "searchdomain", sd, sizeof(sd)) > 0)
            pv_buf_printf(&b, "search %s\n", sd);
        for (char *save = NULL, *t = strtok_r(ns, " ", &save); t; t = strtok_r(NULL, " ", &save))
            pv_buf_printf(&b, "nameserver %s\n", t);
        if (b.p)
            rootfs_write(root, "etc/resolv.conf", b.p);
        pv_buf_free(&b);
    }
    if ((rc = call(LXC_OP_START, ctid, 10, &pid, err, errlen)))
        return rc;
    announce(ctid, config, len);
    return 0;
}

int lxc_stop(const char *ctid, char *err, size_t errlen)
{
    char st[16];

    lxc_state(ctid, st, sizeof(st));
    if (strcmp(st, "paused") == 0) /* a frozen init cannot die */
        lxc_resume(ctid, err, errlen);
    return call(LXC_OP_STOP, ctid, 10, NULL, err, errlen);
}

int lxc_shutdown(const char *ctid, int timeout_s, int force, char *err, size_t errlen)
{
    int rc = call(LXC_OP_SHUTDOWN, ctid, timeout_s, NULL, err, errlen);

    if (rc == -ETIMEDOUT && force)
        rc = call(LXC_OP_STOP, ctid, 10, NULL, err, errlen);
    return rc;
}

int lxc_reboot(const char *ctid, char *err, size_t errlen)
{
    return call(LXC_OP_REBOOT, ctid, 60, NULL, err, errlen);
}

static int freeze(const char *ctid, int on, char *err, size_t errlen)
{
    char dir[300], st[16];
    int rc;

    lxc_state(ctid, st, sizeof(st));
    if (strcmp(st, on ? "running" : "paused") != 0)
        return snprintf(err, errlen, "ct %s is %s, not %s", ctid, st, on ? "running" : "paused"),
               -EINVAL;
    cg_dir(ctid, dir, sizeof(dir));
    set_busy(ctid, 1);
    rc = lxc_cg_freeze(&L.cg, dir, on, 10000, err, errlen);
    sample(ctid);
    set_busy(ctid, 0);
    return rc;
}

int lxc_suspend(const char *ctid, char *err, size_t errlen)
{
    return freeze(ctid, 1, err, errlen);
}

int lxc_resume(const char *ctid, char *err, size_t errlen)
{
    return freeze(ctid, 0, err, errlen);
}

int lxc_exec(const char *ctid, const char *cmd, int *status, char *out, size_t outlen, char *err,
             size_t errlen)
{
    return lxc_worker_call(LXC_OP_ATTACH, ctid, 30, cmd, status, out, outlen, err, errlen);
}

int lxc_forget(const char *ctid, char *err, size_t errlen)
{
    char p[1200], st[16];

    lxc_state(ctid, st, sizeof(st));
    if (strcmp(st, "stopped") != 0)
        return snprintf(err, errlen, "ct %s is %s", ctid, st), -EBUSY;
    snprintf(p, sizeof(p), "%s/%s/config", L.lxcpath, ctid);
    unlink(p);
    snprintf(p, sizeof(p), "%s/%s/log", L.lxcpath, ctid);
    unlink(p);
    snprintf(p, sizeof(p), "%s/%s", L.lxcpath, ctid);
    rmdir(p);
    pthread_mutex_lock(&L.lock);
    for (int i = 0; i < L.n; i++)
        if (strcmp(L.ct[i].id, ctid) == 0) {
            L.ct[i] = L.ct[--L.n];
            break;
        }
    pthread_mutex_unlock(&L.lock);
    return 0;
}
