/*
 * qemu_stats: the stats thread. Once a cycle it asks libvirt for every domain's figures
 * in one call (virConnectGetAllDomainStats), derives cpu from cpu.time deltas, reads
 * the QEMU pid from libvirt's pid file and the uptime from /proc, and stores it all in
 * the status table. It also reconnects after the connection was lost.
 *
 * A state it sees that no event announced is taken only when two cycles agree, so an
 * event still in flight does not make it notify twice.
 */
#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qemu_int.h"
#include "drv.h"

struct sample {
    char vmid[16];
    const char *state;
    int active;
    uint64_t cpu_ns, mem, maxmem, rd, wr, rx, tx;
    int pid;
    uint64_t uptime_s;
    char migration[64];
};

static uint64_t get_ull(virDomainStatsRecordPtr r, const char *name)
{
    unsigned long long v = 0;

    if (virTypedParamsGetULLong(r->params, r->nparams, name, &v) != 1)
        return 0;
    return v;
}

/* Sums "<group>.<n>.<suffix>" over all n, e.g. net.0.rx.bytes + net.1.rx.bytes. */
static uint64_t sum_idx(virDomainStatsRecordPtr r, const char *group, const char *suffix)
{
    size_t gl = strlen(group), sl = strlen(suffix);
    uint64_t sum = 0;

    for (int i = 0; i < r->nparams; i++) {
        const virTypedParameter *p = &r->params[i];
        size_t nl = strlen(p->field);
        const char *dot;

        if (p->type != VIR_TYPED_PARAM_ULLONG || nl <= gl + sl ||
            strncmp(p->field, group, gl) != 0 || strcmp(p->field + nl - sl, suffix) != 0)
            continue;
        dot = strchr(p->field + gl, '.'); /* exactly one index between group and suffix */
        if (dot == p->field + nl - sl)
            sum += p->value.ul;
    }
    return sum;
}

static ino_t netns_of(const char *pid)
{
    char path[64];
    struct stat st;

    snprintf(path, sizeof(path), "/proc/%.20s/ns/net", pid);
    return stat(path, &st) == 0 ? st.st_ino : 0;
}

/*
 * A libvirtd whose run directory this process cannot see (another mount namespace, a
 * remote URI to the local host): find its QEMU by the name libvirt gives it on the
 * command line ("-name guest=vm100,..."), in this network namespace.
 */
static int scan_pid(const char *name)
{
    char needle[64], path[64], buf[4096];
    ino_t self = netns_of("self");
    struct dirent *de;
    DIR *d = opendir("/proc");
    int pid = 0;

    snprintf(needle, sizeof(needle), "guest=%.40s,", name);
    while (d && !pid && (de = readdir(d))) {
        ssize_t n;
        int fd;
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%.20s/cmdline", de->d_name);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            continue;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0 || !strstr(buf, "qemu-system"))
            continue;
        for (ssize_t i = 0; i < n; i++)
            if (!buf[i])
                buf[i] = ' ';
        buf[n] = 0;
        if (strstr(buf, needle) && netns_of(de->d_name) == self)
            pid = atoi(de->d_name);
    }
    if (d)
        closedir(d);
    return pid;
}

/* Pids found by scanning, kept while the process lives (the stats thread's own). */
static struct {
    char name[24];
    int pid;
} scanned[64];

int qemu_pid_file(const char *name)
{
    char path[1300], buf[32];
    FILE *f;
    int pid = 0;

    if (!qg.piddir[0])
        return 0;
    snprintf(path, sizeof(path), "%s/%s.pid", qg.piddir, name);
    if ((f = fopen(path, "re"))) {
        if (fgets(buf, sizeof(buf), f))
            pid = atoi(buf);
        fclose(f);
    }
    return pid > 0 ? pid : 0;
}

static int read_pid(const char *name)
{
    int known = 0, slot = -1;
    char path[64];
    int pid = qemu_pid_file(name);

    if (pid > 0)
        return pid;
    for (int i = 0; i < 64; i++) {
        if (strcmp(scanned[i].name, name) == 0) {
            slot = i;
            known = scanned[i].pid;
        } else if (slot < 0 && !scanned[i].name[0]) {
            slot = i;
        }
    }
    snprintf(path, sizeof(path), "/proc/%d", known);
    if (known > 0 && access(path, F_OK) == 0)
        return known;
    pid = scan_pid(name);
    if (slot >= 0) {
        snprintf(scanned[slot].name, sizeof(scanned[slot].name), "%.23s", name);
        scanned[slot].pid = pid;
    }
    return pid;
}

/* Seconds since pid started, from /proc (survives a daemon restart); 0 unknown. */
static uint64_t proc_uptime(int pid)
{
    char path[64], buf[1024];
    unsigned long long start = 0;
    double up = 0;
    long hz = sysconf(_SC_CLK_TCK);
    FILE *f;
    char *p;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (!(f = fopen(path, "r")))
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (!(p = strrchr(buf, ')'))) /* comm may hold spaces */
        return 0;
    /* after ')': field 3 (state) ... field 22 (starttime, in clock ticks after boot) */
    for (int field = 3; field <= 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p + 1, "%llu", &start) != 1 || hz <= 0)
        return 0;
    if (!(f = fopen("/proc/uptime", "r")))
        return 0;
    if (fscanf(f, "%lf", &up) != 1)
        up = 0;
    fclose(f);
    return up > (double)start / hz ? (uint64_t)(up - (double)start / hz) : 0;
}

/* "running 42%" while a migration job runs; one cheap query per active domain. */
static void migration(virDomainPtr d, char *out, size_t len)
{
    virTypedParameterPtr p = NULL;
    int type = VIR_DOMAIN_JOB_NONE, np = 0, op = 0;
    unsigned long long total = 0, done = 0;

    out[0] = '\0';
    if (virDomainGetJobStats(d, &type, &p, &np, 0) < 0) {
        virResetLastError();
        return;
    }
    if (type != VIR_DOMAIN_JOB_NONE &&
        virTypedParamsGetInt(p, np, VIR_DOMAIN_JOB_OPERATION, &op) == 1 &&
        (op == VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT ||
         op == VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN)) {
        virTypedParamsGetULLong(p, np, VIR_DOMAIN_JOB_DATA_TOTAL, &total);
        virTypedParamsGetULLong(p, np, VIR_DOMAIN_JOB_DATA_PROCESSED, &done);
        snprintf(out, len, "running %llu%%", total ? done * 100 / total : 0ULL);
    }
    virTypedParamsFree(p, np);
}

static void take(virDomainStatsRecordPtr r, struct sample *s)
{
    int st = VIR_DOMAIN_SHUTOFF;
    uint64_t rss;

    virTypedParamsGetInt(r->params, r->nparams, "state.state", &st);
    s->state = qemu_state_name(st);
    s->active = virDomainIsActive(r->dom) == 1;
    s->cpu_ns = get_ull(r, "cpu.time");
    s->maxmem = get_ull(r, "balloon.maximum") * 1024;
    rss = get_ull(r, "balloon.rss") * 1024;
    s->mem = rss ? rss : s->maxmem;
    s->rd = sum_idx(r, "block.", ".rd.bytes");
    s->wr = sum_idx(r, "block.", ".wr.bytes");
    s->rx = sum_idx(r, "net.", ".rx.bytes");
    s->tx = sum_idx(r, "net.", ".tx.bytes");
    if (s->active) {
        s->pid = read_pid(virDomainGetName(r->dom));
        s->uptime_s = s->pid ? proc_uptime(s->pid) : 0;
        migration(r->dom, s->migration, sizeof(s->migration));
    }
}

/*
 * Stores one sample. The state is taken at once the first time, ignored when an event
 * or action changed it after the sample was begun (seq0), and otherwise taken when two
 * cycles agree. Returns 1 when the caller should notify the change.
 */
static int store(struct qemu_vm *vm, const struct sample *s, unsigned long seq0, int64_t now_ns)
{
    int changed = 0;

    if (!vm->st.known) {
        vm->st.known = 1;
        snprintf(vm->st.state, sizeof(vm->st.state), "%s", s->state);
    } else if (vm->evgen > seq0) {
        /* an event is newer than this sample: nothing in it is current */
        return 0;
    } else if (strcmp(vm->st.state, s->state) == 0) {
        vm->pending[0] = '\0';
    } else if (strcmp(vm->pending, s->state) == 0) {
        snprintf(vm->st.state, sizeof(vm->st.state), "%s", s->state);
        vm->pending[0] = '\0';
        vm->evgen = ++qg.evseq;
        changed = 1;
    } else {
        snprintf(vm->pending, sizeof(vm->pending), "%s", s->state);
    }
    if (strcmp(vm->st.state, "stopped") == 0 || !s->active) {
        qemu_clear_live(vm);
        if (s->maxmem)
            vm->st.maxmem = s->maxmem;
        return changed;
    }
    if (vm->cpu_at && s->cpu_ns >= vm->cpu_ns && now_ns > vm->cpu_at)
        vm->st.cpu = (double)(s->cpu_ns - vm->cpu_ns) / (double)(now_ns - vm->cpu_at);
    vm->cpu_ns = s->cpu_ns;
    vm->cpu_at = now_ns;
    vm->st.pid = s->pid;
    if (s->uptime_s)
        vm->st.uptime_s = s->uptime_s;
    else if (vm->started)
        vm->st.uptime_s = (uint64_t)(qemu_mono_ms() / 1000 - vm->started);
    vm->st.mem = s->mem;
    vm->st.maxmem = s->maxmem;
    vm->st.diskread = s->rd;
    vm->st.diskwrite = s->wr;
    vm->st.netin = s->rx;
    vm->st.netout = s->tx;
    snprintf(vm->st.migration, sizeof(vm->st.migration), "%s", s->migration);
    return changed;
}

static void cycle(unsigned cyc)
{
    const unsigned stats = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
                           VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU |
                           VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK;
    virDomainStatsRecordPtr *recs = NULL;
    struct sample *smp = NULL;
    char err[QEMU_ERRLEN], gone[16][16];
    virConnectPtr c = qemu_conn(err, sizeof(err));
    unsigned long seq0;
    int n, ns = 0, ngone = 0;
    struct timespec t;
    int64_t now_ns;

    if (!c)
        return;
    pthread_mutex_lock(&qg.lock);
    seq0 = qg.evseq;
    pthread_mutex_unlock(&qg.lock);
    /* NOWAIT: a domain busy in a long job (snapshot, migration) must not stall the cycle */
    n = virConnectGetAllDomainStats(c, stats, &recs, VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
    if (n < 0) {
        virResetLastError();
        virConnectClose(c);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &t);
    now_ns = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
    smp = calloc(n ? (size_t)n : 1, sizeof(*smp));
    for (int i = 0; smp && i < n; i++) {
        if (!qemu_vmid_of(virDomainGetName(recs[i]->dom), smp[ns].vmid, sizeof(smp[ns].vmid)))
            continue;
        take(recs[i], &smp[ns++]);
    }
    virDomainStatsRecordListFree(recs);
    virConnectClose(c);
    if (!smp)
        return;

    for (int i = 0; i < ns; i++) {
        struct qemu_vm *vm = qemu_vm(smp[i].vmid);
        int changed;

        if (!vm)
            continue;
        pthread_mutex_lock(&qg.lock);
        vm->cycle = cyc;
        changed = store(vm, &smp[i], seq0, now_ns);
        pthread_mutex_unlock(&qg.lock);
        if (changed)
            qemu_notify(smp[i].vmid, smp[i].state, "sync");
    }
    /* a guest libvirt no longer lists was undefined: it is stopped */
    pthread_mutex_lock(&qg.lock);
    for (size_t i = 0; i < qg.nvms; i++) {
        struct qemu_vm *vm = qg.vms[i];
        struct sample s = {.state = "stopped"};

        if (vm->cycle != cyc && vm->st.known && store(vm, &s, seq0, now_ns) &&
            ngone < (int)(sizeof(gone) / sizeof(gone[0])))
            snprintf(gone[ngone++], sizeof(gone[0]), "%s", vm->vmid);
    }
    pthread_mutex_unlock(&qg.lock);
    for (int i = 0; i < ngone; i++)
        qemu_notify(gone[i], "stopped", "sync");
    free(smp);
}

void *qemu_stats_main(void *arg)
{
    unsigned cyc = 0;

    (void)arg;
    pthread_mutex_lock(&qg.lock);
    while (!qg.stopping) {
        int lost = qg.lost || !qg.conn;
        struct timespec until;

        pthread_mutex_unlock(&qg.lock);
        if (lost) {
            char err[QEMU_ERRLEN];

            qemu_disconnect();
            if (qemu_connect(err, sizeof(err)) < 0)
                virResetLastError(); /* actions report "reconnecting" meanwhile */
        } else {
            drv_bg_enter();
            cycle(++cyc);
            drv_bg_leave();
        }
        pthread_mutex_lock(&qg.lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += QEMU_STATS_MS / 1000;
        until.tv_nsec += (long)(QEMU_STATS_MS % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        if (!qg.stopping)
            pthread_cond_timedwait(&qg.stats_cv, &qg.lock, &until);
    }
    pthread_mutex_unlock(&qg.lock);
    return NULL;
}
