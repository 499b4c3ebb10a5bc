/* files_node: nodes/<node>/status (live host figures from /proc) and nodes/<node>/ctl. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "../cluster/clog.h"
#include "../drivers/drv.h"
#include "../cluster/kvs.h"
#include "files.h"
#include "storage.h"
#include "network.h"
#include "../drivers/qemu.h"
#include "fs.h"

static struct {
    pthread_mutex_t lock;
    unsigned long long busy, total; /* last /proc/stat sample */
    double cpu;                     /* busy share between the last two samples */
} cpu = {.lock = PTHREAD_MUTEX_INITIALIZER};

void node_sample_cpu(void)
{
    unsigned long long v[10] = {0}, busy, total = 0;
    FILE *f = fopen("/proc/stat", "re");
    int n;

    if (!f)
        return;
    n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
               &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    fclose(f);
    if (n < 4)
        return;
    /* guest times are already part of user and nice */
    for (int i = 0; i < 8; i++)
        total += v[i];
    busy = total - v[3] - v[4];
    pthread_mutex_lock(&cpu.lock);
    if (cpu.total && total > cpu.total)
        cpu.cpu = (double)(busy - cpu.busy) / (double)(total - cpu.total);
    cpu.busy = busy;
    cpu.total = total;
    pthread_mutex_unlock(&cpu.lock);
}

static unsigned long long meminfo(const char *buf, const char *key)
{
    const char *p = strstr(buf, key);

    return p ? strtoull(p + strlen(key), NULL, 10) * 1024 : 0;
}

#define FIG_TTL_NS 100000000LL /* a stat and the open that follows see the same figures */

static struct {
    pthread_mutex_t lock;
    int64_t at; /* CLOCK_MONOTONIC ns of the sample, 0 if none */
    struct node_fig fig;
} figs = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void read_figures(struct node_fig *f);

void node_figures(struct node_fig *f)
{
    int64_t now = mono_ns();

    pthread_mutex_lock(&figs.lock);
    if (figs.at && now - figs.at < FIG_TTL_NS) {
        *f = figs.fig;
        pthread_mutex_unlock(&figs.lock);
        return;
    }
    pthread_mutex_unlock(&figs.lock);
    read_figures(f);
    pthread_mutex_lock(&figs.lock);
    figs.fig = *f;
    figs.at = now;
    pthread_mutex_unlock(&figs.lock);
}

static void read_figures(struct node_fig *f)
{
    char buf[8192];
    struct utsname u;
    struct statvfs sv;
    FILE *fp;
    size_t n;

    memset(f, 0, sizeof(*f));
    if ((fp = fopen("/proc/uptime", "re"))) {
        if (fscanf(fp, "%lf", &f->uptime) != 1)
            f->uptime = 0;
        fclose(fp);
    }
    if ((fp = fopen("/proc/loadavg", "re"))) {
        if (fscanf(fp, "%lf %lf %lf", &f->load[0], &f->load[1], &f->load[2]) != 3)
            f->load[0] = f->load[1] = f->load[2] = 0;
        fclose(fp);
    }
    if ((fp = fopen("/proc/meminfo", "re"))) {
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = 0;
        fclose(fp);
        f->memtotal = meminfo(buf, "MemTotal:");
        f->memfree = meminfo(buf, "MemFree:");
        f->memused = f->memtotal - meminfo(buf, "MemAvailable:");
        f->swaptotal = meminfo(buf, "SwapTotal:");
        f->swapused = f->swaptotal - meminfo(buf, "SwapFree:");
    }
    if (statvfs("/", &sv) == 0) {
        f->roottotal = (unsigned long long)sv.f_blocks * sv.f_frsize;
        f->rootused = (unsigned long long)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
    }
    if (uname(&u) == 0)
        snprintf(f->kernel, sizeof(f->kernel), "%s", u.release);
    f->cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    pthread_mutex_lock(&cpu.lock);
    f->cpu = cpu.cpu;
    pthread_mutex_unlock(&cpu.lock);
}

/* Lines of another node's own report that this node states for itself. */
static const char *const remote_keys[] = {"node:", "online:", "last_seen:"};

static int remote_key(const char *line, size_t n)
{
    for (size_t i = 0; i < sizeof(remote_keys) / sizeof(remote_keys[0]); i++) {
        size_t kl = strlen(remote_keys[i]);
        if (n >= kl && memcmp(line, remote_keys[i], kl) == 0)
            return 1;
    }
    return 0;
}

/*
 * Another node, as its last report over the status channel tells. Whether it is
 * online is decided here (a member with a fresh report), not by the report; the
 * figures of a node that went down stay, marked by how old they are.
 */
static int remote_status_render(const struct pv_obj *o, struct pv_buf *out)
{
    struct kvs *k = fs_cluster_kvs(o->fs);
    int64_t age = 0;
    int online = 0;
    char *text = NULL;
    size_t len = 0;

    if (!k || kvs_status(k, o->name, &text, &len, &online, &age)) {
        /* Never heard of (or local mode, where only this node is known). */
        return pv_buf_printf(out, "node: %s\nonline: 0\n", o->name);
    }
    pv_buf_printf(out, "node: %s\nonline: %d\n", o->name, online);
    if (!online)
        pv_buf_printf(out, "last_seen: %lld\n", (long long)(age / 1000));
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        if (!remote_key(p, n))
            pv_buf_add(out, p, n);
        p += n;
    }
    if (len && text[len - 1] != '\n')
        pv_buf_add(out, "\n", 1);
    free(text);
    return out->oom ? -ENOMEM : 0;
}

/* Counts this node's guests and those its drivers report running. */
static void guest_counts(const struct pv_obj *o, unsigned *total, unsigned *running)
{
    static const struct {
        const char *dir, *kind;
    } kinds[] = {{"qemu", "qemu"}, {"lxc", "lxc"}};
    const struct memdb_entry *d;
    char st[32];

    *total = *running = 0;
    memdb_rdlock(o->fs->mem);
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        if (!(d = memdb_lookup(o->fs->mem, o->dir, kinds[k].dir)))
            continue;
        for (uint32_t i = 0; i < d->nkids; i++) {
            struct drv_guest g = {.kind = kinds[k].kind, .node = o->name, .id = d->kids[i]->name};
            (*total)++;
            if (drv_guest(g.kind)->state(&g, st, sizeof(st)) == 0 && strcmp(st, "running") == 0)
                (*running)++;
        }
    }
    memdb_unlock(o->fs->mem);
}

int node_status_render(const struct pv_obj *o, struct pv_buf *out)
{
    unsigned guests, running;
    struct node_fig f;

    if (strcmp(o->name, o->fs->node) != 0)
        return remote_status_render(o, out);
    node_figures(&f);
    pv_buf_printf(out,
                  "node: %s\nonline: 1\nuptime: %.0f\nkernel: %s\ncpus: %d\ncpu: %.4f\n"
                  "loadavg: %.2f %.2f %.2f\nmemtotal: %llu\nmemused: %llu\nmemfree: %llu\n"
                  "swaptotal: %llu\nswapused: %llu\nrootfs_total: %llu\nrootfs_used: %llu\n",
                  o->name, f.uptime, f.kernel, f.cpus, f.cpu, f.load[0], f.load[1], f.load[2],
                  f.memtotal, f.memused, f.memfree, f.swaptotal, f.swapused, f.roottotal,
                  f.rootused);
    guest_counts(o, &guests, &running);
    pv_buf_printf(out, "guests: %u\nguests_running: %u\n", guests, running);
    stor_mon_publish_lines(out);
    net_mon_publish_lines(out);
    sdn_mon_publish_lines(out);
    if (qemu_ready())
        pv_buf_printf(out, "libvirt: %s\n", qemu_uri());
    guest_publish_lines(o->fs, out);
    return 0;
}

int pv_split(char *line, char **argv, int max)
{
    int n = 0;
    char *save = NULL;

    for (char *w = strtok_r(line, " \t\n", &save); w && n < max; w = strtok_r(NULL, " \t\n", &save))
        argv[n++] = w;
    return n;
}

int pv_cmdline(const char *in, size_t len, char *line, size_t cap, struct pv_err *e)
{
    if (len >= cap)
        return pv_fail(e, EINVAL, "command too long");
    memcpy(line, in, len);
    line[len] = 0;
    if (strchr(line, '\n'))
        return pv_fail(e, EINVAL, "one command per write");
    return 0;
}

static int ctl_ping(const struct pv_obj *o, const char *rest, struct pv_err *e)
{
    (void)e;
    (void)rest;
    clog_append("ctl", "ping on node %s", o->name);
    return 0;
}

static int ctl_log(const struct pv_obj *o, const char *rest, struct pv_err *e)
{
    (void)o;
    if (!*rest)
        return pv_fail(e, EINVAL, "usage: log <text>");
    clog_append("user", "%s", rest);
    return 0;
}

static const struct {
    const char *verb;
    int (*run)(const struct pv_obj *o, const char *rest, struct pv_err *e);
} node_verbs[] = {
    {"ping", ctl_ping},
    {"log", ctl_log},
    {"import-volume", vol_xfer_import}, /* a migration's copy, sent by the source node */
};

int node_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e)
{
    char line[4096], *rest;
    size_t vl;

    if (pv_cmdline(in, len, line, sizeof(line), e))
        return -e->err;
    vl = strcspn(line, " \t");
    rest = line + vl + strspn(line + vl, " \t");
    line[vl] = 0;
    for (size_t i = 0; i < sizeof(node_verbs) / sizeof(node_verbs[0]); i++) {
        /* Runs on its own node: write_cmd forwarded it here if it came from elsewhere. */
        if (strcmp(node_verbs[i].verb, line) == 0)
            return node_verbs[i].run(o, rest, e);
    }
    return pv_fail(e, EINVAL,
                   "unknown command '%.64s' (known: ping, log <text>, import-volume ...)", line);
}
