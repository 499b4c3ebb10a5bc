/*
 * sync_sim: the deterministic simulator behind the sync tests (test_sync.c,
 * test_sync_faults.c), included by each; a of up to MAXN nodes,
 * each with a memdb (memory-only or SQLite), a struct sync and a store-like queue
 * of batches delivered while not synced (as cluster/store_cl.c). One global FIFO
 * holds messages and membership changes in their agreed order.
 */
#ifndef PV_SYNC_SIM_H
#define PV_SYNC_SIM_H

#include "../../cluster/db.h"
#include "../../cluster/memdb_int.h"
#include "../../cluster/msg.h"
#include "../../cluster/sync.h"
#include "../../cluster/wire.h"
#include "unit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXN 6
#define HDR  16
#define D    MEMDB_DIR
#define F    MEMDB_FILE

enum { T_START = 1, T_STATE, T_INDEX, T_DATA, T_END, T_VERIFY_REQ, T_VERIFY };

/* A message (or, with n > 0, a membership change) in the FIFO, a node's queue or the capture. */
struct ev {
    uint32_t from, members[MAXN];
    size_t n, len;
    uint8_t *buf;
};

struct evs {
    struct ev *a;
    size_t head, n, cap;
};

struct node {
    uint32_t id, view[MAXN];
    size_t nview;
    int up, connected, synced, want_rejoin, rejoins;
    char dir[64];
    struct db *db;
    struct memdb *m;
    struct sync *s;
    struct evs q;                                 /* batches delivered while not synced */
    uint64_t rj_version, rj_digest, rj_db_digest; /* state when it asked to rejoin */
};

static struct sim {
    struct node n[MAXN + 1];  /* by node id */
    struct evs fifo, capture; /* the network; copies of the sync messages sent */
    size_t data_rows, data_msgs, ends, dels, index_msgs, starts;
    int (*hook)(struct ev *e); /* sees (and may change) each message before delivery */
    uint64_t seq;
    int64_t clock;
} S;

#define VER(i) memdb_version(S.n[i].m)
#define DIG(i) memdb_digest(S.n[i].m)

static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The sync message type of e, 0 if it is not a sync message. */
static inline unsigned sync_type(const struct ev *e)
{
    return e->len >= HDR && be32(e->buf) == SYNC_MAGIC ? (unsigned)e->buf[6] << 8 | e->buf[7] : 0;
}

static inline void add(struct evs *q, const struct ev *e, const void *msg)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->a = realloc(q->a, q->cap * sizeof(*q->a));
    }
    q->a[q->n] = *e;
    if (msg) {
        q->a[q->n].buf = malloc(e->len ? e->len : 1);
        memcpy(q->a[q->n].buf, msg, e->len);
    }
    q->n++;
}

static inline void evs_free(struct evs *q)
{
    for (size_t i = q->head; i < q->n; i++)
        free(q->a[i].buf);
    free(q->a);
    memset(q, 0, sizeof(*q));
}

static inline void inject(uint32_t from, const void *msg, size_t len)
{
    add(&S.fifo, &(struct ev){.from = from, .len = len}, msg);
}

static inline void view(const uint32_t *ids, size_t n)
{
    struct ev e = {.n = n};

    memcpy(e.members, ids, n * sizeof(*ids));
    add(&S.fifo, &e, NULL);
}
#define VIEW(...)                                                                                  \
    view((const uint32_t[]){__VA_ARGS__}, sizeof((uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t))

/* ---- the store side, as store_cl.c ---- */

static inline void apply_bytes(struct node *n, uint32_t from, const uint8_t *buf, size_t len)
{
    struct msg_batch b;
    struct memdb_result res;
    char why[128];

    if (msg_decode(buf, len, &b, why, sizeof(why)))
        return;
    b.writer = from;
    memdb_apply(n->m, &b, &res);
}

static inline void queue_run(struct node *n, int apply)
{
    for (size_t i = 0; i < n->q.n; i++)
        if (apply)
            apply_bytes(n, n->q.a[i].from, n->q.a[i].buf, n->q.a[i].len);
    evs_free(&n->q);
}

static inline int env_send(void *arg, const void *msg, size_t len)
{
    struct ev e = {.from = ((struct node *)arg)->id, .len = len, .buf = (uint8_t *)msg};
    unsigned type = sync_type(&e);

    S.starts += type == T_START;
    S.index_msgs += type == T_INDEX;
    if (type == T_DATA && len >= HDR + 4) {
        S.data_msgs++;
        S.data_rows += be32(e.buf + HDR);
    }
    if (type == T_END && len >= HDR + 20) {
        S.ends++;
        S.dels += be32(e.buf + HDR + 16);
    }
    if (type)
        add(&S.capture, &e, msg);
    inject(e.from, msg, len);
    return 0;
}

/* What a fresh open of the node's SQLite file holds. */
static inline void db_state(const char *dir, uint64_t *version, uint64_t *digest)
{
    char path[128], err[256];
    struct db *db = NULL;
    struct memdb *m = NULL;

    snprintf(path, sizeof(path), "%s/config.db", dir);
    *version = *digest = 0;
    if (db_open(&db, path, err, sizeof(err)))
        return;
    if (!memdb_open(&m, db, NULL, err, sizeof(err))) {
        *version = memdb_version(m);
        *digest = memdb_digest(m);
        memdb_close(m);
    }
    db_close(db);
}

static inline void env_synced(void *arg, int synced, uint64_t epoch)
{
    (void)epoch;
    struct node *n = arg;

    if (synced)
        queue_run(n, 1);
    n->synced = synced;
}

static inline void env_rejoin(void *arg)
{
    struct node *n = arg;
    uint64_t v;

    n->want_rejoin = 1;
    n->rejoins++;
    n->rj_version = memdb_version(n->m);
    n->rj_digest = memdb_digest(n->m);
    if (n->db)
        db_state(n->dir, &v, &n->rj_db_digest);
}

/* ---- nodes and the network ---- */

static inline void node_up(uint32_t id, int sqlite)
{
    struct node *n = &S.n[id];
    char err[256] = "", path[128];

    memset(n, 0, sizeof(*n));
    n->id = id;
    if (sqlite) {
        strcpy(n->dir, "/tmp/pvefs-sync-XXXXXX");
        CHECK(mkdtemp(n->dir) != NULL);
        snprintf(path, sizeof(path), "%s/config.db", n->dir);
        CHECK(db_open(&n->db, path, err, sizeof(err)) == 0);
    }
    CHECK(memdb_open(&n->m, n->db, NULL, err, sizeof(err)) == 0);
    n->s = sync_new(&(struct sync_env){n->m, n, env_send, env_synced, env_rejoin}, id);
    n->up = 1;
}

static inline void sim_reset(void)
{
    static const char *const files[] = {"config.db", "config.db-wal", "config.db-shm"};
    char p[128];

    for (uint32_t i = 1; i <= MAXN; i++) {
        struct node *n = &S.n[i];
        if (!n->up)
            continue;
        evs_free(&n->q);
        sync_free(n->s);
        memdb_close(n->m);
        if (n->db) {
            db_close(n->db);
            for (int k = 0; k < 3; k++) {
                snprintf(p, sizeof(p), "%s/%s", n->dir, files[k]);
                unlink(p);
            }
            CHECK(rmdir(n->dir) == 0);
        }
    }
    evs_free(&S.fifo);
    evs_free(&S.capture);
    memset(&S, 0, sizeof(S));
    S.clock = 1000000;
}

static inline int in_view(const struct node *n, uint32_t id)
{
    for (size_t i = 0; i < n->nview; i++)
        if (n->view[i] == id)
            return 1;
    return 0;
}

/* The node's connection drops (store_cl's confchg with n == 0). */
static inline void drop(struct node *n)
{
    queue_run(n, 0);
    sync_confchg(n->s, NULL, 0);
    n->nview = 0;
    n->connected = 0;
}

static inline void deliver_view(const struct ev *e)
{
    for (size_t i = 0; i < e->n; i++) {
        struct node *n = &S.n[e->members[i]];
        n->connected = 1;
        memcpy(n->view, e->members, e->n * sizeof(*e->members));
        n->nview = e->n;
    }
    for (size_t i = 0; i < e->n; i++) {
        struct node *n = &S.n[e->members[i]];
        queue_run(n, 1);
        sync_confchg(n->s, e->members, e->n);
    }
}

/* To every connected node whose view holds the sender. */
static inline void deliver_msg(struct ev *e)
{
    if (S.hook && S.hook(e))
        return;
    for (uint32_t i = 1; i <= MAXN; i++) {
        struct node *n = &S.n[i];
        if (!n->up || !n->connected || !in_view(n, e->from) || n->want_rejoin)
            continue;
        if (sync_type(e))
            sync_deliver(n->s, e->from, e->buf, e->len);
        else if (e->len >= 4 && be32(e->buf) == MSG_MAGIC && sync_is_synced(n->s))
            apply_bytes(n, e->from, e->buf, e->len);
        else if (e->len >= 4 && be32(e->buf) == MSG_MAGIC)
            add(&n->q, e, e->buf);
    }
}

/* Nodes that asked to rejoin drop now; their leave and join follow in the agreed order. */
static inline void rejoins(void)
{
    uint32_t old[MAXN], others[MAXN];
    size_t nold = 0, no = 0;

    for (uint32_t i = 1; i <= MAXN; i++) {
        struct node *n = &S.n[i];
        if (!n->up || !n->want_rejoin)
            continue;
        n->want_rejoin = 0;
        if (n->connected && !nold) {
            memcpy(old, n->view, n->nview * sizeof(*old));
            nold = n->nview;
        }
        if (n->connected)
            drop(n);
    }
    for (size_t i = 0; i < nold; i++)
        if (S.n[old[i]].connected)
            others[no++] = old[i];
    if (nold) {
        view(others, no);
        view(old, nold);
    }
}

static inline int step(void)
{
    struct ev e;

    rejoins();
    if (S.fifo.head == S.fifo.n)
        return 0;
    e = S.fifo.a[S.fifo.head++];
    if (e.n)
        deliver_view(&e);
    else
        deliver_msg(&e);
    free(e.buf);
    rejoins();
    return 1;
}

static inline void deliver_all(void)
{
    int i = 0;

    while (step() && ++i < 1000000)
        ;
    CHECK(i < 1000000);
}

/* ---- batches ---- */

/* One op; for CREATE, dst is the kind. */
static inline void b_op(struct msg_batch *b, uint8_t code, uint64_t ino, uint64_t dst,
                        const char *name, const char *data)
{
    struct msg_op *op = &b->ops[b->nops++];
    op->code = code;
    op->inode = ino;
    op->kind = code == MSG_CREATE ? (uint16_t)dst : 0;
    op->dst_parent = code == MSG_CREATE ? 0 : dst;
    op->mode = dst == D ? 0755 : 0640;
    op->flags = code == MSG_DELETE ? MSG_F_RECURSIVE : 0;
    snprintf(op->name, sizeof(op->name), "%s", name ? name : "");
    op->data = (const uint8_t *)data;
    op->size = data && dst != D ? (uint32_t)strlen(data) : 0;
}

static inline void send_batch(uint32_t from, struct msg_batch *b)
{
    uint8_t buf[8192];
    long len;

    b->writer = from;
    b->seq = ++S.seq;
    b->mtime = (S.clock += 1000);
    len = msg_encode(b, buf, sizeof(buf));
    CHECK(len > 0);
    if (len > 0)
        inject(from, buf, (size_t)len);
}

static inline void send1(uint32_t from, uint8_t code, uint64_t ino, uint64_t dst, const char *name,
                         const char *data)
{
    struct msg_batch b = {0};

    b_op(&b, code, ino, dst, name, data);
    send_batch(from, &b);
}

/* Applies b on one node only, outside the protocol. */
static inline void apply_local(uint32_t id, struct msg_batch *b)
{
    struct memdb_result res;

    b->writer = id;
    b->mtime = (S.clock += 1000);
    CHECK(memdb_apply(S.n[id].m, b, &res) == 0);
}

static inline uint64_t ino_of(uint32_t id, uint64_t parent, const char *name)
{
    const struct memdb_entry *e;
    uint64_t ino;

    memdb_rdlock(S.n[id].m);
    e = memdb_lookup(S.n[id].m, parent, name);
    ino = e ? e->inode : 0;
    memdb_unlock(S.n[id].m);
    return ino;
}

/* ---- checks ---- */

static inline int entries_equal(const struct memdb_entry *a, const struct memdb_entry *b)
{
    return b && a->inode == b->inode && a->parent == b->parent && a->version == b->version &&
           a->mtime == b->mtime && a->writer == b->writer && a->kind == b->kind &&
           a->objtype == b->objtype && a->mode == b->mode && a->uid == b->uid && a->gid == b->gid &&
           strcmp(a->name, b->name) == 0 && a->size == b->size &&
           (!a->size || memcmp(a->data, b->data, a->size) == 0);
}

/* Compares two trees entry by entry, both ways (memdb_index lists every inode). */
static inline int trees_equal(struct memdb *a, struct memdb *b)
{
    struct memdb_ix *ix = NULL;
    size_t n = 0;
    uint64_t v, d;
    int ok = 1;

    if (memdb_index(a, &ix, &n, &v, &d))
        return 0;
    memdb_rdlock(a);
    memdb_rdlock(b);
    ok = memdb_version(a) == memdb_version(b) && memdb_digest(a) == memdb_digest(b) &&
         memdb_count(a) == memdb_count(b) && memdb_bytes(a) == memdb_bytes(b) &&
         n == memdb_count(b);
    for (size_t i = 0; i < n && ok; i++) {
        const struct memdb_entry *x = memdb_get(a, ix[i].inode), *y = memdb_get(b, ix[i].inode);
        ok = entries_equal(x, y) && (!x->parent || memdb_lookup(b, y->parent, y->name) == y);
        if (!ok)
            fprintf(stderr, "  entry %llu differs\n", (unsigned long long)ix[i].inode);
    }
    memdb_unlock(b);
    memdb_unlock(a);
    free(ix);
    return ok;
}

/* Every listed node is connected, synced, has nothing queued and holds the same tree. */
static inline int converged_(const uint32_t *ids, size_t n)
{
    int ok = 1;

    for (size_t i = 0; i < n; i++) {
        struct node *x = &S.n[ids[i]];
        ok &= x->connected && x->synced && sync_is_synced(x->s) && x->q.n == 0;
        ok &= x->nview == n;
        if (i && !trees_equal(S.n[ids[0]].m, x->m)) {
            fprintf(stderr, "  node %u differs from node %u\n", x->id, ids[0]);
            ok = 0;
        }
    }
    return ok;
}
#define CONVERGED(...)                                                                             \
    converged_((const uint32_t[]){__VA_ARGS__},                                                    \
               sizeof((uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t))

/* ---- set-ups ---- */

/* Nodes 1..n (those in sqlite_mask on SQLite), one view of all, synced. */
static inline void cluster(uint32_t n, unsigned sqlite_mask)
{
    uint32_t ids[MAXN];

    sim_reset();
    for (uint32_t i = 1; i <= n; i++) {
        node_up(i, (sqlite_mask >> i) & 1);
        ids[i - 1] = i;
    }
    view(ids, n);
    deliver_all();
}

/* ndirs directories d<k>, each with 15 files f<j>: 16 entries per batch. */
static inline void populate(uint32_t from, int ndirs)
{
    static char data[16][48];
    struct msg_batch b = {0};
    char name[32];

    for (int d = 0; d < ndirs; d++) {
        b.nops = 0;
        snprintf(name, sizeof(name), "d%d", d);
        b_op(&b, MSG_CREATE, MEMDB_ROOT, D, name, NULL);
        for (int f = 0; f < 15; f++) {
            snprintf(name, sizeof(name), "f%d", f);
            snprintf(data[f], sizeof(data[f]), "content of d%d/f%d", d, f);
            b_op(&b, MSG_CREATE, MSG_REF | 0, F, name, data[f]);
        }
        send_batch(from, &b);
    }
    deliver_all();
}

static inline uint64_t file_ino(uint32_t id, int d, int f)
{
    char dn[16], fn[16];

    snprintf(dn, sizeof(dn), "d%d", d);
    snprintf(fn, sizeof(fn), "f%d", f);
    return ino_of(id, ino_of(id, MEMDB_ROOT, dn), fn);
}

/* nwrites WRITEs to nfiles distinct files, sent alternately by a and b. */
static inline void write_files(uint32_t a, uint32_t b, int nfiles, int nwrites, const char *tag)
{
    char data[64];

    for (int i = 0; i < nwrites; i++) {
        int k = i % nfiles;
        snprintf(data, sizeof(data), "%s write %d to file %d", tag, i, k);
        send1(i % 2 ? b : a, MSG_WRITE, file_ino(a, k % 19, k % 15), 0, NULL, data);
    }
    deliver_all();
}

static inline void leave(uint32_t id)
{
    struct node *n = &S.n[id];
    uint32_t o[MAXN];
    size_t k = 0;

    for (size_t i = 0; i < n->nview; i++)
        if (n->view[i] != id)
            o[k++] = n->view[i];
    drop(n);
    view(o, k);
    deliver_all();
}

static inline void clear_stats(void)
{
    S.data_rows = S.data_msgs = S.ends = S.dels = S.index_msgs = S.starts = 0;
}

#endif
