/*
 * stor_mon: the storage monitor thread. About every two seconds it asks each
 * storage meant for this node for its capacity, asks Ceph for its status, pools
 * and OSDs, and keeps the figures in memory for the status files and the status
 * channel. So a status read never waits for a backend, and a dead backend only
 * slows this thread (every Ceph call has a timeout).
 *
 * It also keeps the catalog in step with what exists: nodes/<self>/storage/<id>
 * for the storages this node serves, and ceph/pools, ceph/osds for what Ceph
 * has (done by one node: the first online one by name).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../cluster/clog.h"
#include "../cluster/kvs.h"
#include "storage.h"
#include "../drivers/drv.h"

#define MON_PERIOD_S 2
#define MAX_STOR     64
#define MAX_POOLS    128
#define MAX_OSDS     256

static struct {
    pthread_mutex_t lock;      /* guards the figures below */
    pthread_mutex_t ceph_lock; /* one Ceph refresh at a time */
    pthread_cond_t cond;
    pthread_t thread;
    int running, stop, kicked;
    struct fs *fs;
    struct {
        char id[64];
        struct stor_fig f;
    } stor[MAX_STOR];
    size_t nstor;
    struct pv_buf ceph; /* status text, or why there is none */
    int ceph_ok;
    struct ceph_pool pools[MAX_POOLS];
    size_t npools;
    struct ceph_osd osds[MAX_OSDS];
    size_t nosds;
} mon = {.lock = PTHREAD_MUTEX_INITIALIZER,
         .ceph_lock = PTHREAD_MUTEX_INITIALIZER,
         .cond = PTHREAD_COND_INITIALIZER};

void stor_mon_fig(const char *id, struct stor_fig *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_lock(&mon.lock);
    for (size_t i = 0; i < mon.nstor; i++)
        if (strcmp(mon.stor[i].id, id) == 0)
            *f = mon.stor[i].f;
    pthread_mutex_unlock(&mon.lock);
}

void stor_mon_publish_lines(struct pv_buf *out)
{
    pthread_mutex_lock(&mon.lock);
    for (size_t i = 0; i < mon.nstor; i++) {
        const struct stor_fig *f = &mon.stor[i].f;
        pv_buf_printf(out, "storage.%s: %d %llu %llu %llu\n", mon.stor[i].id, f->active,
                      (unsigned long long)f->u.total, (unsigned long long)f->u.used,
                      (unsigned long long)f->u.avail);
    }
    pthread_mutex_unlock(&mon.lock);
}

void stor_fig_of(struct fs *fs, const char *node, const char *id, struct stor_fig *f)
{
    struct kvs *k = fs_cluster_kvs(fs);
    char key[128], *text = NULL;
    unsigned long long t, u, a;
    size_t len = 0, kl;
    int64_t age = 0;
    int online = 0, act;

    if (strcmp(node, fs->node) == 0) {
        stor_mon_fig(id, f);
        return;
    }
    memset(f, 0, sizeof(*f));
    if (!k || kvs_status(k, node, &text, &len, &online, &age))
        return;
    kl = (size_t)snprintf(key, sizeof(key), "storage.%s: ", id);
    for (const char *p = text; p && p < text + len;) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        if ((size_t)(text + len - p) > kl && memcmp(p, key, kl) == 0 &&
            sscanf(p + kl, "%d %llu %llu %llu", &act, &t, &u, &a) == 4) {
            f->known = 1;
            f->active = act && online;
            f->u.total = t;
            f->u.used = u;
            f->u.avail = a;
            if (!online)
                snprintf(f->err, sizeof(f->err), "node %s is offline", node);
        }
        p = nl ? nl + 1 : NULL;
    }
    free(text);
}

int stor_mon_ceph_status(struct pv_buf *out)
{
    int ok;

    pthread_mutex_lock(&mon.lock);
    if (mon.ceph.len)
        pv_buf_add(out, mon.ceph.p, mon.ceph.len);
    else
        pv_buf_printf(out, "health: unknown\nerror: no figures yet\n");
    ok = mon.ceph_ok;
    pthread_mutex_unlock(&mon.lock);
    return ok ? 0 : -EIO;
}

int stor_mon_pool(const char *name, struct ceph_pool *p)
{
    int rc = -ENOENT;

    pthread_mutex_lock(&mon.lock);
    for (size_t i = 0; i < mon.npools; i++)
        if (strcmp(mon.pools[i].name, name) == 0) {
            *p = mon.pools[i];
            rc = 0;
        }
    pthread_mutex_unlock(&mon.lock);
    return rc;
}

int stor_mon_osd(int id, struct ceph_osd *o)
{
    int rc = -ENOENT;

    pthread_mutex_lock(&mon.lock);
    for (size_t i = 0; i < mon.nosds; i++)
        if (mon.osds[i].id == id) {
            *o = mon.osds[i];
            rc = 0;
        }
    pthread_mutex_unlock(&mon.lock);
    return rc;
}

/* ---- storages ------------------------------------------------------------ */

static size_t list_storages(struct fs *fs, uint64_t *dirs, size_t max)
{
    const struct memdb_entry *s;
    size_t n = 0;

    memdb_rdlock(fs->mem);
    s = memdb_lookup(fs->mem, MEMDB_ROOT, "storage");
    for (uint32_t i = 0; s && i < s->nkids && n < max; i++)
        if (s->kids[i]->objtype == T_STORAGE)
            dirs[n++] = s->kids[i]->inode;
    memdb_unlock(fs->mem);
    return n;
}

/* Makes catalog directory dir hold exactly the objects names (of type tid). */
static void mirror_dir(struct fs *fs, uint64_t dir, uint16_t tid, char names[][128], size_t n)
{
    static char add[MAX_OSDS][128];
    const struct memdb_entry *d;
    uint64_t drop[MAX_OSDS];
    size_t ndrop = 0, nadd = 0;
    struct pv_err e = {0};

    memdb_rdlock(fs->mem);
    if ((d = memdb_get(fs->mem, dir))) {
        for (size_t i = 0; i < n; i++)
            if (!memdb_lookup(fs->mem, dir, names[i]) && nadd < MAX_OSDS)
                snprintf(add[nadd++], sizeof(add[0]), "%s", names[i]);
        for (uint32_t k = 0; k < d->nkids && ndrop < MAX_OSDS; k++) {
            size_t i;
            for (i = 0; i < n && strcmp(names[i], d->kids[k]->name) != 0; i++)
                ;
            if (i == n)
                drop[ndrop++] = d->kids[k]->inode;
        }
    }
    memdb_unlock(fs->mem);
    for (size_t i = 0; i < nadd; i++)
        fs_catalog_create(fs, dir, add[i], tid, NULL, NULL, &e);
    for (size_t i = 0; i < ndrop; i++)
        fs_catalog_remove(fs, drop[i], &e);
}

static void cycle_storages(struct fs *fs)
{
    static char ids[MAX_STOR][128];
    static struct stor_fig figs[MAX_STOR];
    uint64_t dirs[MAX_STOR];
    size_t n = list_storages(fs, dirs, MAX_STOR), m = 0;

    for (size_t i = 0; i < n; i++) {
        struct storage_def d;
        struct pv_err e = {0};
        struct stor_fig *f = &figs[m];
        int rc;

        if (storage_load(fs, dirs[i], &d, &e) || !storage_on_node(&d, fs->node))
            continue;
        memset(f, 0, sizeof(*f));
        snprintf(ids[m], sizeof(ids[0]), "%s", d.cfg.id);
        f->known = 1;
        rc = stor_ops(d.cfg.type)->usage(&d.cfg, &f->u, f->err, sizeof(f->err));
        f->active = rc == 0;
        m++;
    }
    pthread_mutex_lock(&mon.lock);
    for (size_t i = 0; i < m; i++) {
        snprintf(mon.stor[i].id, sizeof(mon.stor[i].id), "%.63s", ids[i]);
        mon.stor[i].f = figs[i];
    }
    mon.nstor = m;
    pthread_mutex_unlock(&mon.lock);
    mirror_dir(fs, fs_child(fs, fs->node_dir, "storage"), T_NODE_STOR, ids, m);
}

/* ---- Ceph ------------------------------------------------------------------ */

static int ceph_configured(const struct ceph_target *t)
{
    const char *env = getenv("CEPH_CONF");

    return t->conf[0] || t->monhost[0] || (env && *env) || access("/etc/ceph/ceph.conf", R_OK) == 0;
}

/* Is this node the one that mirrors Ceph's pools and OSDs into the catalog? */
static int ceph_mirror_here(struct fs *fs)
{
    struct kvs *k = fs_cluster_kvs(fs);
    struct kvs_peer peers[64];
    size_t n;

    if (!k)
        return 1;
    n = kvs_peers(k, peers, 64);
    for (size_t i = 0; i < n; i++)
        if (peers[i].online && strcmp(peers[i].name, fs->node) < 0)
            return 0;
    return 1;
}

/* Collected outside mon.lock (Ceph calls may take seconds), then swapped in. */
static struct {
    struct ceph_pool pools[MAX_POOLS];
    size_t npools;
    struct ceph_osd osds[MAX_OSDS];
    size_t nosds;
} fresh;

static int pool_fn(void *arg, const struct ceph_pool *p)
{
    (void)arg;
    if (fresh.npools < MAX_POOLS)
        fresh.pools[fresh.npools++] = *p;
    return 0;
}

static int osd_fn(void *arg, const struct ceph_osd *o)
{
    (void)arg;
    if (fresh.nosds < MAX_OSDS)
        fresh.osds[fresh.nosds++] = *o;
    return 0;
}

void stor_mon_ceph_lock(void)
{
    pthread_mutex_lock(&mon.ceph_lock);
}

void stor_mon_ceph_unlock(void)
{
    pthread_mutex_unlock(&mon.ceph_lock);
}

void stor_mon_ceph_refresh(struct fs *fs)
{
    static char names[MAX_OSDS][128];
    char err[512] = "";
    struct pv_buf st = {0};
    struct ceph_target t;
    rados_t c;
    int rc, lists = 0;
    size_t n;

    storage_ceph_target(fs, &t);
    pthread_mutex_lock(&mon.ceph_lock);
    if (!ceph_configured(&t)) {
        pthread_mutex_lock(&mon.lock);
        mon.ceph.len = 0;
        pv_buf_printf(&mon.ceph, "health: unknown\nerror: no Ceph is configured (write "
                                 "ceph/config, or provide /etc/ceph/ceph.conf)\n");
        mon.ceph_ok = 0;
        mon.npools = mon.nosds = 0;
        pthread_mutex_unlock(&mon.lock);
        pthread_mutex_unlock(&mon.ceph_lock);
        return;
    }
    rc = ceph_connect(&t, &c, err, sizeof(err));
    if (rc == 0 && (rc = ceph_status_text(c, &st, err, sizeof(err))))
        ceph_drop(&t);
    /* the lists after the status (the maps only move forward), all published at once:
     * a reader never sees "osds_up: 2" beside an OSD list that still says up */
    fresh.npools = fresh.nosds = 0;
    if (rc == 0)
        lists = !ceph_pools(c, pool_fn, NULL, err, sizeof(err)) &&
                !ceph_osds(c, osd_fn, NULL, err, sizeof(err));
    pthread_mutex_lock(&mon.lock);
    mon.ceph.len = 0;
    if (rc) {
        pv_buf_printf(&mon.ceph, "health: unreachable\nerror: %s\n", err);
    } else {
        pv_buf_add(&mon.ceph, st.p, st.len);
    }
    mon.ceph_ok = rc == 0;
    if (lists) { /* else the last good lists stay rather than a half answer */
        memcpy(mon.pools, fresh.pools, fresh.npools * sizeof(fresh.pools[0]));
        mon.npools = fresh.npools;
        memcpy(mon.osds, fresh.osds, fresh.nosds * sizeof(fresh.osds[0]));
        mon.nosds = fresh.nosds;
    }
    pthread_mutex_unlock(&mon.lock);
    pv_buf_free(&st);
    if (!lists) {
        pthread_mutex_unlock(&mon.ceph_lock);
        return;
    }
    if (ceph_mirror_here(fs)) {
        pthread_mutex_lock(&mon.lock);
        for (n = 0; n < mon.npools; n++)
            snprintf(names[n], sizeof(names[0]), "%s", mon.pools[n].name);
        pthread_mutex_unlock(&mon.lock);
        mirror_dir(fs, fs_child(fs, fs_child(fs, MEMDB_ROOT, "ceph"), "pools"), T_CEPH_POOL, names,
                   n);
        pthread_mutex_lock(&mon.lock);
        for (n = 0; n < mon.nosds; n++)
            snprintf(names[n], sizeof(names[0]), "%d", mon.osds[n].id);
        pthread_mutex_unlock(&mon.lock);
        mirror_dir(fs, fs_child(fs, fs_child(fs, MEMDB_ROOT, "ceph"), "osds"), T_CEPH_OSD, names,
                   n);
    }
    pthread_mutex_unlock(&mon.ceph_lock);
}

/* ---- thread ---------------------------------------------------------------- */

static void *mon_main(void *arg)
{
    struct fs *fs = arg;

    pthread_mutex_lock(&mon.lock);
    while (!mon.stop) {
        mon.kicked = 0;
        pthread_mutex_unlock(&mon.lock);
        drv_bg_enter();
        cycle_storages(fs);
        stor_mon_ceph_refresh(fs);
        drv_bg_leave();
        pthread_mutex_lock(&mon.lock);
        if (!mon.stop && !mon.kicked) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += MON_PERIOD_S;
            pthread_cond_timedwait(&mon.cond, &mon.lock, &ts);
        }
    }
    pthread_mutex_unlock(&mon.lock);
    return NULL;
}

void stor_mon_kick(void)
{
    pthread_mutex_lock(&mon.lock);
    mon.kicked = 1;
    pthread_cond_signal(&mon.cond);
    pthread_mutex_unlock(&mon.lock);
}

int stor_mon_start(struct fs *fs)
{
    mon.fs = fs;
    mon.stop = 0;
    if (pthread_create(&mon.thread, NULL, mon_main, fs))
        return -errno;
    mon.running = 1;
    return 0;
}

void stor_mon_stop(struct fs *fs)
{
    (void)fs;
    if (!mon.running)
        return;
    pthread_mutex_lock(&mon.lock);
    mon.stop = 1;
    pthread_cond_signal(&mon.cond);
    pthread_mutex_unlock(&mon.lock);
    pthread_join(mon.thread, NULL);
    mon.running = 0;
    ceph_shutdown_all();
    pv_buf_free(&mon.ceph);
}
