/*
 * net_mon: the network monitor thread. About every two seconds it reads this
 * node's links over netlink and keeps nodes/<self>/network/ in step: a new link
 * gets an entry, a changed one a new status record, a vanished one (that pvefs
 * did not make) loses its entry. Records hold only slow-changing facts and are
 * compared before they are written, so an idle node writes nothing to the store.
 *
 * Counters change all the time: they go to the status channel instead (see
 * network.h), sampled once per cycle.
 *
 * A managed interface (made by mkdir) stays when its device is gone, with an
 * "absent" record; the first pass after start-up re-applies the config of every
 * managed interface (a reboot loses every bridge, its addresses and the SNAT tables,
 * as ifupdown's boot-time apply assumes; a present one may have lost any of them).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cluster/clog.h"
#include "../cluster/kvs.h"
#include "conf.h"
#include "network.h"
#include "../drivers/drv.h"

#define MON_PERIOD_S 2
#define PUBLISH_MAX  (12u << 10) /* of the 32 KiB a node's status may take */

static struct {
    pthread_mutex_t sync; /* one mirror pass or owner change at a time */
    pthread_mutex_t lock; /* guards the fields below */
    pthread_cond_t cond;
    pthread_t thread;
    int running, stop, reapplied;
    struct pv_buf lines; /* the counter lines last sampled */
} mon = {.sync = PTHREAD_MUTEX_INITIALIZER,
         .lock = PTHREAD_MUTEX_INITIALIZER,
         .cond = PTHREAD_COND_INITIALIZER};

/* An entry of nodes/<self>/network/ as the tree holds it, copied out of the lock. */
struct ent {
    char name[256];
    uint64_t ino;
    char *record;
    size_t rlen;
    int managed, typed, seen;
};

void net_mon_lock(void)
{
    pthread_mutex_lock(&mon.sync);
}

void net_mon_unlock(void)
{
    pthread_mutex_unlock(&mon.sync);
}

int net_absent_record(const char *name, struct pv_buf *out)
{
    return pv_buf_printf(out, "name: %s\nstate: absent\nmanaged: 1\n", name);
}

int net_managed_locked(struct fs *fs, uint64_t dir)
{
    const struct memdb_entry *r = memdb_lookup(fs->mem, dir, "status");
    char v[8];

    return r && r->data && conf_get((const char *)r->data, r->size, "managed", v, sizeof(v)) > 0 &&
           strcmp(v, "1") == 0;
}

/* The record of link l: net_link_render without the counters (its last lines). A managed
 * one adds whether its SNAT table exists (asked each pass: only what is there is said). */
static int link_record(const struct net_link *l, int managed, struct pv_buf *out)
{
    char t[64], *cut;

    if (net_link_render(l, out))
        return -ENOMEM;
    if ((cut = out->p ? strstr(out->p, "\nrx_bytes: ") : NULL)) {
        out->len = (size_t)(cut - out->p) + 1;
        out->p[out->len] = 0; /* the catalog calls take it as a C string */
    }
    if (!managed)
        return 0;
    iface_snat_table(l->name, t, sizeof(t));
    if (iface_snat_active(l->name))
        pv_buf_printf(out, "snat: inet %s\n", t);
    else
        pv_buf_printf(out, "snat: -\n");
    return pv_buf_printf(out, "managed: 1\n");
}

static uint64_t network_dir(struct fs *fs)
{
    const struct memdb_entry *d;
    uint64_t ino = 0;

    memdb_rdlock(fs->mem);
    if (fs->node_dir && (d = memdb_lookup(fs->mem, fs->node_dir, "network")))
        ino = d->inode;
    memdb_unlock(fs->mem);
    return ino;
}

static struct ent *list_entries(struct fs *fs, uint64_t dir, size_t *n)
{
    const struct memdb_entry *d, *r, *c;
    struct ent *v = NULL;
    char t[16];

    *n = 0;
    memdb_rdlock(fs->mem);
    if ((d = memdb_get(fs->mem, dir)) && d->nkids && (v = calloc(d->nkids, sizeof(*v)))) {
        for (uint32_t i = 0; i < d->nkids; i++) {
            struct ent *x = &v[*n];
            if (d->kids[i]->objtype != T_NODE_IFACE)
                continue;
            snprintf(x->name, sizeof(x->name), "%s", d->kids[i]->name);
            x->ino = d->kids[i]->inode;
            x->managed = net_managed_locked(fs, x->ino);
            c = memdb_lookup(fs->mem, x->ino, "config");
            x->typed = c && c->data && conf_get((const char *)c->data, c->size, "type", t, 16) > 0;
            r = memdb_lookup(fs->mem, x->ino, "status");
            if (r && r->size && (x->record = malloc(r->size))) {
                memcpy(x->record, r->data, r->size);
                x->rlen = r->size;
            }
            (*n)++;
        }
    }
    memdb_unlock(fs->mem);
    return v;
}

static void free_entries(struct ent *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].record);
    free(v);
}

/* Writes record b for entry x unless it already holds exactly that. */
static void put_record(struct fs *fs, const struct ent *x, const struct pv_buf *b)
{
    struct pv_err e = {0};

    if (b->oom || (x->rlen == b->len && (!b->len || memcmp(x->record, b->p, b->len) == 0)))
        return;
    if (fs_catalog_record(fs, x->ino, b->p ? b->p : "", &e))
        fprintf(stderr, "pvefsd: network %s: cannot record: %s\n", x->name, e.msg);
}

static void sample_counters(const struct net_link *links, int n)
{
    struct pv_buf b = {0};

    for (int i = 0; i < n && b.len < PUBLISH_MAX; i++) {
        const struct net_link_stats *s = &links[i].stats;
        pv_buf_printf(&b, "net.%s: %llu %llu %llu %llu %llu %llu %llu %llu\n", links[i].name,
                      (unsigned long long)s->rx_bytes, (unsigned long long)s->tx_bytes,
                      (unsigned long long)s->rx_packets, (unsigned long long)s->tx_packets,
                      (unsigned long long)s->rx_errors, (unsigned long long)s->tx_errors,
                      (unsigned long long)s->rx_dropped, (unsigned long long)s->tx_dropped);
    }
    pthread_mutex_lock(&mon.lock);
    pv_buf_free(&mon.lines);
    mon.lines = b;
    pthread_mutex_unlock(&mon.lock);
}

/* Entries whose device is gone: a managed one keeps its config and reads absent; any
 * other is removed. */
static void drop_missing(struct fs *fs, struct ent *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct pv_buf b = {0};
        struct pv_err e = {0};
        if (v[i].seen)
            continue;
        if (!v[i].managed) {
            if (fs_catalog_remove(fs, v[i].ino, &e))
                fprintf(stderr, "pvefsd: network %s: cannot remove: %s\n", v[i].name, e.msg);
            continue;
        }
        net_absent_record(v[i].name, &b);
        put_record(fs, &v[i], &b);
        pv_buf_free(&b);
    }
}

/* Once after start-up: every managed interface with a config is made to match it. */
static void reapply_all(struct fs *fs, uint64_t dir)
{
    size_t n;
    struct ent *v = list_entries(fs, dir, &n);

    for (size_t i = 0; i < n; i++) {
        struct pv_err e = {0};
        if (v[i].managed && v[i].typed && net_iface_reapply_locked(fs, v[i].ino, &e))
            clog_append("network", "cannot re-apply %s on node %s: %s", v[i].name, fs->node, e.msg);
    }
    free_entries(v, n);
}

void net_mon_sync_locked(struct fs *fs)
{
    static int warned;
    struct net_link *links = NULL;
    uint64_t dir = network_dir(fs);
    struct ent *v;
    char err[256];
    size_t n;
    int nl = 0;

    if (!mon.reapplied && dir && store_quorate(fs->st)) {
        mon.reapplied = 1;
        reapply_all(fs, dir);
    }
    if (net_link_list(&links, &nl, err, sizeof(err))) {
        if (!warned++)
            fprintf(stderr, "pvefsd: network monitor: %s\n", err);
        return;
    }
    sample_counters(links, nl);
    if (!dir || !store_quorate(fs->st)) { /* without quorum every write would fail */
        net_link_list_free(links, nl);
        return;
    }
    v = list_entries(fs, dir, &n);
    for (int i = 0; i < nl; i++) {
        struct ent *x = NULL;
        struct pv_buf b = {0};
        struct pv_err e = {0};
        for (size_t k = 0; k < n && !x; k++)
            if (strcmp(v[k].name, links[i].name) == 0)
                x = &v[k];
        if (x)
            x->seen = 1;
        if (link_record(&links[i], x && x->managed, &b) == 0) {
            if (x)
                put_record(fs, x, &b);
            else if (fs_catalog_create(fs, dir, links[i].name, T_NODE_IFACE, b.p, NULL, &e) &&
                     e.err != EEXIST)
                fprintf(stderr, "pvefsd: network %s: cannot add: %s\n", links[i].name, e.msg);
        }
        pv_buf_free(&b);
    }
    net_link_list_free(links, nl);
    drop_missing(fs, v, n);
    free_entries(v, n);
}

void net_mon_publish_lines(struct pv_buf *out)
{
    pthread_mutex_lock(&mon.lock);
    if (mon.lines.len)
        pv_buf_add(out, mon.lines.p, mon.lines.len);
    pthread_mutex_unlock(&mon.lock);
}

int net_counters_of(struct fs *fs, const char *node, const char *iface, struct net_link_stats *s)
{
    struct kvs *k = fs_cluster_kvs(fs);
    unsigned long long f[8];
    char key[300], *text = NULL, err[256];
    size_t len = 0, kl;
    int64_t age = 0;
    int online = 0, rc = -ENOENT;

    memset(s, 0, sizeof(*s));
    if (strcmp(node, fs->node) == 0) {
        struct net_link l;
        if ((rc = net_link_get(iface, &l, err, sizeof(err))))
            return rc;
        *s = l.stats;
        net_link_free(&l);
        return 0;
    }
    if (!k || kvs_status(k, node, &text, &len, &online, &age))
        return -ENOENT;
    kl = (size_t)snprintf(key, sizeof(key), "net.%s: ", iface);
    for (const char *p = text; online && p && p < text + len;) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        if ((size_t)(text + len - p) > kl && memcmp(p, key, kl) == 0 &&
            sscanf(p + kl, "%llu %llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3],
                   &f[4], &f[5], &f[6], &f[7]) == 8) {
            *s = (struct net_link_stats){f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]};
            rc = 0;
        }
        p = nl ? nl + 1 : NULL;
    }
    free(text);
    return rc;
}

/* ---- thread ---------------------------------------------------------------- */

static void *mon_main(void *arg)
{
    struct fs *fs = arg;

    pthread_mutex_lock(&mon.lock);
    while (!mon.stop) {
        struct timespec ts;
        pthread_mutex_unlock(&mon.lock);
        drv_bg_enter();
        net_mon_lock();
        net_mon_sync_locked(fs);
        net_mon_unlock();
        drv_bg_leave();
        pthread_mutex_lock(&mon.lock);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += MON_PERIOD_S;
        if (!mon.stop)
            pthread_cond_timedwait(&mon.cond, &mon.lock, &ts);
    }
    pthread_mutex_unlock(&mon.lock);
    return NULL;
}

int net_mon_start(struct fs *fs)
{
    /* Before the FUSE loop serves anything: the tree is complete from the first read, and
     * the start-up writes are over before a client can measure the store (local mode; in
     * cluster mode this node's directory comes later and the thread does it). */
    net_mon_lock();
    net_mon_sync_locked(fs);
    net_mon_unlock();
    mon.stop = 0;
    if (pthread_create(&mon.thread, NULL, mon_main, fs))
        return -errno;
    mon.running = 1;
    return 0;
}

void net_mon_stop(struct fs *fs)
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
    pv_buf_free(&mon.lines);
}
