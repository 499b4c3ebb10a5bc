/*
 * sdn_mon: this node's SDN agent. Once a second it looks at sdn/running and at the
 * cluster's membership; when either changed (or a VNet failed and 10 s passed) it
 * reconciles this node (drivers/sdn_apply.c) and keeps the result per VNet, which
 * goes out with the node's status ("sdn: <generation>", "sdn.<vnet>: <result>").
 * Membership matters because VXLAN peers follow it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../cluster/clog.h"
#include "../cluster/quorum.h"
#include "../drivers/sdn.h"
#include "files.h"
#include "fs.h"
#include "notify.h"
#include "../drivers/drv.h"

#define RETRY_S 10

static struct {
    pthread_mutex_t lock;
    pthread_t thread;
    int running, started;
    struct fs *fs;
    uint64_t applied; /* generation */
    struct sdn_vresult res[SDN_MAX_VNETS];
    int nres;
} M = {.lock = PTHREAD_MUTEX_INITIALIZER};

void sdn_mon_publish_lines(struct pv_buf *out)
{
    static const char *const words[] = {"applied", "error", "skipped"};

    pthread_mutex_lock(&M.lock);
    if (M.applied) {
        pv_buf_printf(out, "sdn: %llu\n", (unsigned long long)M.applied);
        for (int i = 0; i < M.nres; i++)
            pv_buf_printf(out, "sdn.%s: %s%s%s\n", M.res[i].vnet, words[M.res[i].state],
                          M.res[i].state == SDN_ERROR ? " " : "",
                          M.res[i].state == SDN_ERROR ? M.res[i].msg : "");
    }
    pthread_mutex_unlock(&M.lock);
}

/* The cluster's nodes as the SDN sees them; a standalone node is alone, with no address. */
static int members(struct fs *fs, struct sdn_member *out, int max, char *self_addr, size_t alen,
                   uint64_t *sig)
{
    struct qrm *q = fs_cluster_qrm(fs);
    struct qrm_node qn[QRM_MAX_NODES];
    size_t n = q ? qrm_members(q, qn, QRM_MAX_NODES) : 0;
    int m = 0;

    self_addr[0] = 0;
    *sig = 1469598103934665603ULL;
    for (size_t i = 0; i < n && m < max; i++) {
        snprintf(out[m].name, sizeof(out[m].name), "%s", qn[i].name);
        snprintf(out[m].addr, sizeof(out[m].addr), "%s", qn[i].addr);
        out[m].online = qn[i].online;
        if (strcmp(qn[i].name, fs->node) == 0)
            snprintf(self_addr, alen, "%s", qn[i].addr);
        for (const char *p = qn[i].name; *p; p++)
            *sig = (*sig ^ (unsigned char)*p) * 1099511628211ULL;
        *sig = (*sig ^ (uint64_t)(qn[i].online + 1)) * 1099511628211ULL;
        m++;
    }
    if (!m) {
        snprintf(out[0].name, sizeof(out[0].name), "%s", fs->node);
        out[0].online = 1;
        m = 1;
    }
    return m;
}

static void reconcile(struct fs *fs, const char *text, uint64_t gen, struct sdn_member *mem,
                      int nmem, const char *addr)
{
    static struct sdn_cfg c; /* big; this thread only */
    static struct sdn_vresult res[SDN_MAX_VNETS];
    char err[SDN_ERRLEN], state[1100], frr[1100];
    struct sdn_node n = {.name = fs->node, .addr = addr, .members = mem, .nmembers = nmem};
    int nres = 0, changes = 0, errors = 0, same;

    snprintf(state, sizeof(state), "%s/sdn", fs->datadir);
    mkdir(state, 0700);
    snprintf(state, sizeof(state), "%s/sdn/made", fs->datadir);
    snprintf(frr, sizeof(frr), "%s/sdn/frr.conf", fs->datadir);
    n.state_path = state;
    n.frr_path = frr;
    if (sdn_parse(text, strlen(text), &c, err, sizeof(err))) {
        clog_append("sdn", "%s: the running config does not parse: %s", fs->node, err);
        return;
    }
    sdn_apply(&c, &n, res, &nres, &changes);
    for (int i = 0; i < nres; i++)
        errors += res[i].state == SDN_ERROR;
    pthread_mutex_lock(&M.lock);
    /* a retry that changes nothing and fails as before is no news for the log */
    same = M.applied == gen && M.nres == nres &&
           memcmp(M.res, res, sizeof(res[0]) * (size_t)nres) == 0;
    M.applied = gen;
    memcpy(M.res, res, sizeof(res[0]) * (size_t)nres);
    M.nres = nres;
    pthread_mutex_unlock(&M.lock);
    if (changes || (errors && !same))
        clog_append("sdn", "%s applied generation %llu: %d change%s, %d VNet%s failed", fs->node,
                    (unsigned long long)gen, changes, changes == 1 ? "" : "s", errors,
                    errors == 1 ? "" : "s");
    notify_kick(fs);
}

/* The version of sdn/running, 0 if there is none. */
static uint64_t running_version(struct fs *fs)
{
    const struct memdb_entry *sdn, *r;
    uint64_t v = 0;

    memdb_rdlock(fs->mem);
    sdn = memdb_lookup(fs->mem, MEMDB_ROOT, "sdn");
    if (sdn && (r = memdb_lookup(fs->mem, sdn->inode, "running")) && r->size)
        v = r->version;
    memdb_unlock(fs->mem);
    return v;
}

static void *mon_main(void *arg)
{
    struct fs *fs = arg;
    static struct sdn_member mem[QRM_MAX_NODES];
    uint64_t last_gen = 0, last_sig = 0, last_ver = 0;
    time_t last_try = 0;

    while (__atomic_load_n(&M.running, __ATOMIC_ACQUIRE)) {
        char addr[64];
        uint64_t gen = 0, sig, ver = running_version(fs);
        int nmem = members(fs, mem, QRM_MAX_NODES, addr, sizeof(addr), &sig), failed = 0;
        int retry;
        char *text = NULL;

        drv_bg_enter();
        pthread_mutex_lock(&M.lock);
        for (int i = 0; i < M.nres; i++)
            failed |= M.res[i].state == SDN_ERROR;
        pthread_mutex_unlock(&M.lock);
        retry = failed && time(NULL) - last_try >= RETRY_S;
        /* copied only when something moved: this loop runs ten times a second */
        if (ver && (ver != last_ver || sig != last_sig || retry))
            text = sdn_running(fs, &gen);
        if (text && gen && (gen != last_gen || sig != last_sig || retry)) {
            reconcile(fs, text, gen, mem, nmem, addr);
            last_gen = gen;
            last_sig = sig;
            last_try = time(NULL);
        }
        last_ver = ver;
        free(text);
        drv_bg_leave();
        /* a look at the tree and the membership is cheap: an apply starts within 0.1 s */
        usleep(100 * 1000);
    }
    return NULL;
}

int sdn_mon_start(struct fs *fs)
{
    M.fs = fs;
    __atomic_store_n(&M.running, 1, __ATOMIC_RELEASE);
    if (pthread_create(&M.thread, NULL, mon_main, fs)) {
        M.running = 0;
        return -EAGAIN;
    }
    M.started = 1;
    return 0;
}

void sdn_mon_stop(void)
{
    if (!M.started)
        return;
    __atomic_store_n(&M.running, 0, __ATOMIC_RELEASE);
    pthread_join(M.thread, NULL);
    M.started = 0;
}
