/*
 * Unit tests for cluster/sync.c: a deterministic simulator of up to MAXN nodes,
 * each with a memdb (memory-only or SQLite), a struct sync and a store-like queue
 * of batches delivered while not synced (as cluster/store_cl.c). One global FIFO
 * holds messages and membership changes in their agreed order.
 */
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

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The sync message type of e, 0 if it is not a sync message. */
static unsigned sync_type(const struct ev *e)
{
    return e->len >= HDR && be32(e->buf) == SYNC_MAGIC ? (unsigned)e->buf[6] << 8 | e->buf[7] : 0;
}

static void add(struct evs *q, const struct ev *e, const void *msg)
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

static void evs_free(struct evs *q)
{
    for (size_t i = q->head; i < q->n; i++)
        free(q->a[i].buf);
    free(q->a);
    memset(q, 0, sizeof(*q));
}

static void inject(uint32_t from, const void *msg, size_t len)
{
    add(&S.fifo, &(struct ev){.from = from, .len = len}, msg);
}

static void view(const uint32_t *ids, size_t n)
{
    struct ev e = {.n = n};

    memcpy(e.members, ids, n * sizeof(*ids));
    add(&S.fifo, &e, NULL);
}
#define VIEW(...)                                                                                  \
    view((const uint32_t[]){__VA_ARGS__}, sizeof((uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t))

/* ---- the store side, as store_cl.c ---- */

static void apply_bytes(struct node *n, uint32_t from, const uint8_t *buf, size_t len)
{
    struct msg_batch b;
    struct memdb_result res;
    char why[128];

    if (msg_decode(buf, len, &b, why, sizeof(why)))
        return;
    b.writer = from;
    memdb_apply(n->m, &b, &res);
}

static void queue_run(struct node *n, int apply)
{
    for (size_t i = 0; i < n->q.n; i++)
        if (apply)
            apply_bytes(n, n->q.a[i].from, n->q.a[i].buf, n->q.a[i].len);
    evs_free(&n->q);
}

static int env_send(void *arg, const void *msg, size_t len)
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
static void db_state(const char *dir, uint64_t *version, uint64_t *digest)
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

static void env_synced(void *arg, int synced, uint64_t epoch)
{
    (void)epoch;
    struct node *n = arg;

    if (synced)
        queue_run(n, 1);
    n->synced = synced;
}

static void env_rejoin(void *arg)
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

static void node_up(uint32_t id, int sqlite)
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

static void sim_reset(void)
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

static int in_view(const struct node *n, uint32_t id)
{
    for (size_t i = 0; i < n->nview; i++)
        if (n->view[i] == id)
            return 1;
    return 0;
}

/* The node's connection drops (store_cl's confchg with n == 0). */
static void drop(struct node *n)
{
    queue_run(n, 0);
    sync_confchg(n->s, NULL, 0);
    n->nview = 0;
    n->connected = 0;
}

static void deliver_view(const struct ev *e)
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
static void deliver_msg(struct ev *e)
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
static void rejoins(void)
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

static int step(void)
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

static void deliver_all(void)
{
    int i = 0;

    while (step() && ++i < 1000000)
        ;
    CHECK(i < 1000000);
}

/* ---- batches ---- */

/* One op; for CREATE, dst is the kind. */
static void b_op(struct msg_batch *b, uint8_t code, uint64_t ino, uint64_t dst, const char *name,
                 const char *data)
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

static void send_batch(uint32_t from, struct msg_batch *b)
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

static void send1(uint32_t from, uint8_t code, uint64_t ino, uint64_t dst, const char *name,
                  const char *data)
{
    struct msg_batch b = {0};

    b_op(&b, code, ino, dst, name, data);
    send_batch(from, &b);
}

/* Applies b on one node only, outside the protocol. */
static void apply_local(uint32_t id, struct msg_batch *b)
{
    struct memdb_result res;

    b->writer = id;
    b->mtime = (S.clock += 1000);
    CHECK(memdb_apply(S.n[id].m, b, &res) == 0);
}

static uint64_t ino_of(uint32_t id, uint64_t parent, const char *name)
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

static int entries_equal(const struct memdb_entry *a, const struct memdb_entry *b)
{
    return b && a->inode == b->inode && a->parent == b->parent && a->version == b->version &&
           a->mtime == b->mtime && a->writer == b->writer && a->kind == b->kind &&
           a->objtype == b->objtype && a->mode == b->mode && a->uid == b->uid && a->gid == b->gid &&
           strcmp(a->name, b->name) == 0 && a->size == b->size &&
           (!a->size || memcmp(a->data, b->data, a->size) == 0);
}

/* Compares two trees entry by entry, both ways (memdb_index lists every inode). */
static int trees_equal(struct memdb *a, struct memdb *b)
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
static int converged_(const uint32_t *ids, size_t n)
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
static void cluster(uint32_t n, unsigned sqlite_mask)
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
static void populate(uint32_t from, int ndirs)
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

static uint64_t file_ino(uint32_t id, int d, int f)
{
    char dn[16], fn[16];

    snprintf(dn, sizeof(dn), "d%d", d);
    snprintf(fn, sizeof(fn), "f%d", f);
    return ino_of(id, ino_of(id, MEMDB_ROOT, dn), fn);
}

/* nwrites WRITEs to nfiles distinct files, sent alternately by a and b. */
static void write_files(uint32_t a, uint32_t b, int nfiles, int nwrites, const char *tag)
{
    char data[64];

    for (int i = 0; i < nwrites; i++) {
        int k = i % nfiles;
        snprintf(data, sizeof(data), "%s write %d to file %d", tag, i, k);
        send1(i % 2 ? b : a, MSG_WRITE, file_ino(a, k % 19, k % 15), 0, NULL, data);
    }
    deliver_all();
}

static void leave(uint32_t id)
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

static void clear_stats(void)
{
    S.data_rows = S.data_msgs = S.ends = S.dels = S.index_msgs = S.starts = 0;
}

/* ---- scenarios ---- */

static void test_fresh_start(void)
{
    cluster(3, 1u << 3);
    CHECK(CONVERGED(1, 2, 3));
    CHECK(S.starts == 1);
    CHECK(S.index_msgs == 0 && S.data_msgs == 0 && S.ends == 0);
    CHECK(VER(1) == 1 && DIG(1) == DIG(3));
    sim_reset();
}

static void test_interleaved_writes(void)
{
    char name[32], data[32];

    cluster(3, 1u << 2);
    for (int r = 0; r < 20; r++) {
        for (uint32_t id = 1; id <= 3; id++) {
            snprintf(name, sizeof(name), "n%u-%d", id, r);
            snprintf(data, sizeof(data), "%u:%d", id, r);
            send1(id, MSG_CREATE, MEMDB_ROOT, F, name, data);
            send1(id, MSG_CREATE, MEMDB_ROOT, D, "shared", NULL); /* only the first wins */
            if (r) {
                snprintf(name, sizeof(name), "n%u-%d", id % 3 + 1, r - 1);
                send1(id, MSG_WRITE, ino_of(1, MEMDB_ROOT, name), 0, NULL, data);
                send1(id, MSG_RENAME, ino_of(1, MEMDB_ROOT, name), ino_of(1, MEMDB_ROOT, "shared"),
                      name, NULL);
            }
        }
        if (r % 5 == 4)
            send1(2, MSG_DELETE, ino_of(1, MEMDB_ROOT, "shared"), 0, NULL, NULL);
        deliver_all();
    }
    CHECK(CONVERGED(1, 2, 3));
    CHECK(S.index_msgs == 0 && S.data_msgs == 0);
    CHECK(ino_of(3, MEMDB_ROOT, "n3-19") != 0);
    sim_reset();
}

static void test_missed_changes(void)
{
    uint64_t total;

    cluster(3, 1u << 3);
    populate(1, 19); /* 304 entries */
    leave(3);
    write_files(1, 2, 20, 100, "missed");
    total = memdb_count(S.n[1].m);
    CHECK(!S.n[3].synced && VER(3) + 100 == VER(1));
    clear_stats();
    VIEW(1, 2, 3);
    deliver_all();
    CHECK(CONVERGED(1, 2, 3));
    CHECK(S.index_msgs == 1 && S.ends == 1 && S.dels == 0);
    CHECK(S.data_rows == 20); /* only the 20 files written, out of 304 */
    CHECK(S.data_rows * 10 < total);
    uint64_t v, d;
    db_state(S.n[3].dir, &v, &d);
    CHECK(v == VER(1) && d == DIG(1)); /* committed to SQLite */
    sim_reset();
}

static void test_partition_heal(void)
{
    struct msg_batch b = {0};

    cluster(3, 1u << 1);
    populate(2, 2);
    VIEW(1);
    VIEW(2, 3);
    deliver_all();
    CHECK(CONVERGED(1) && CONVERGED(2, 3));
    /* Both sides create the same inode numbers with different entries and shapes. */
    b_op(&b, MSG_CREATE, MEMDB_ROOT, D, "only1", NULL);
    b_op(&b, MSG_CREATE, MSG_REF | 0, F, "child1", "x");
    send_batch(1, &b);
    send1(1, MSG_RENAME, ino_of(1, MEMDB_ROOT, "d0"), MEMDB_ROOT, "d0-renamed", NULL);
    send1(1, MSG_DELETE, ino_of(1, MEMDB_ROOT, "d1"), 0, NULL, NULL);
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof(name), "only23-%d", i);
        b.nops = 0;
        b_op(&b, MSG_CREATE, MEMDB_ROOT, i % 2 ? F : D, name, "y");
        if (i % 2 == 0)
            b_op(&b, MSG_CREATE, MSG_REF | 0, D, "sub", NULL);
        send_batch(i % 2 ? 2 : 3, &b);
    }
    send1(2, MSG_WRITE, file_ino(2, 1, 3), 0, NULL, "changed by 2");
    deliver_all();
    CHECK(VER(2) > VER(1));
    uint64_t want = DIG(2);
    VIEW(1, 2, 3);
    deliver_all();
    CHECK(CONVERGED(1, 2, 3));
    CHECK(DIG(1) == want);
    CHECK(ino_of(1, MEMDB_ROOT, "only1") == 0 && ino_of(1, MEMDB_ROOT, "d0-renamed") == 0);
    CHECK(ino_of(1, MEMDB_ROOT, "d0") != 0 && file_ino(1, 1, 14) != 0);
    CHECK(ino_of(1, ino_of(1, MEMDB_ROOT, "only23-2"), "sub") != 0);
    uint64_t v, d;
    db_state(S.n[1].dir, &v, &d);
    CHECK(v == VER(2) && d == want);
    sim_reset();
}

static void test_majority_digest(void)
{
    cluster(3, 0);
    populate(1, 1);
    VIEW(1);
    VIEW(2, 3);
    deliver_all();
    send1(1, MSG_CREATE, MEMDB_ROOT, F, "from1", "a");
    send1(2, MSG_CREATE, MEMDB_ROOT, F, "from2", "b");
    deliver_all();
    CHECK(VER(1) == VER(2) && DIG(1) != DIG(2));
    uint64_t want = DIG(3);
    VIEW(1, 2, 3);
    deliver_all();
    CHECK(CONVERGED(1, 2, 3));
    CHECK(DIG(1) == want);
    CHECK(ino_of(1, MEMDB_ROOT, "from1") == 0 && ino_of(1, MEMDB_ROOT, "from2") != 0);
    sim_reset();
}

static void test_changes_during_sync(void)
{
    char name[32];
    int k = 0;

    cluster(3, 1u << 3);
    populate(1, 3);
    leave(3);
    write_files(1, 2, 10, 30, "away");
    uint64_t v0 = VER(1);
    clear_stats();
    VIEW(1, 2, 3);
    while (step()) {
        for (uint32_t id = 1; id <= 3 && k < 40; id++) {
            if (!S.n[id].synced) /* writers wait while their node syncs */
                continue;
            snprintf(name, sizeof(name), "during-%d", k++);
            send1(id, MSG_CREATE, MEMDB_ROOT, F, name, name);
        }
    }
    CHECK(S.ends == 1 && k == 40);
    CHECK(CONVERGED(1, 2, 3));
    CHECK(VER(3) == v0 + (uint64_t)k); /* each applied exactly once */
    for (int i = 0; i < k; i++) {
        snprintf(name, sizeof(name), "during-%d", i);
        CHECK(ino_of(3, MEMDB_ROOT, name) != 0);
    }
    sim_reset();
}

static void test_confchg_mid_sync(void)
{
    for (int at = 1; at < 40; at++) {
        struct msg_batch b = {0};
        cluster(3, 0);
        node_up(4, at % 3 == 0);
        b_op(&b, MSG_CREATE, MEMDB_ROOT, F, "own4", "four");
        apply_local(4, &b);
        populate(1, 2);
        leave(3);
        write_files(1, 2, 6, 12, "mid");
        send1(2, MSG_DELETE, file_ino(2, 1, 7), 0, NULL, NULL);
        deliver_all();
        uint64_t want = DIG(1);
        VIEW(1, 2, 3);
        int i = 0;
        while (i < at && step())
            i++;
        if (i < at) { /* the sync is over: nothing left to interrupt */
            sim_reset();
            break;
        }
        if (S.n[1].synced)
            send1(1, MSG_CREATE, MEMDB_ROOT, F, "late", "z");
        struct ev e = {.members = {1, 2, 3, 4}, .n = 4};
        if (at % 2)
            deliver_view(&e); /* at once: older messages arrive in the new view */
        else
            add(&S.fifo, &e, NULL);
        deliver_all();
        CHECK(CONVERGED(1, 2, 3, 4));
        CHECK(ino_of(4, MEMDB_ROOT, "own4") == 0 && file_ino(4, 1, 7) == 0);
        CHECK(S.n[1].synced && (ino_of(1, MEMDB_ROOT, "late") != 0 || DIG(1) == want));
        sim_reset();
    }
}

static int corrupt; /* 1: the END's digest, 2: the last byte of the first DATA */

static int hook_corrupt(struct ev *e)
{
    unsigned type = sync_type(e);

    if ((corrupt == 1 && type == T_END) || (corrupt == 2 && type == T_DATA)) {
        e->buf[corrupt == 1 ? HDR + 8 : e->len - 1] ^= 0x5a;
        corrupt = 0;
    }
    return 0;
}

static void bad_install(int how, int sqlite)
{
    cluster(3, sqlite ? 1u << 3 : 0);
    populate(1, 2);
    leave(3);
    write_files(1, 2, 8, 16, "bad");
    uint64_t v = VER(3), d = DIG(3);
    S.hook = hook_corrupt;
    corrupt = how;
    VIEW(1, 2, 3);
    deliver_all();
    CHECK(corrupt == 0 && S.n[3].rejoins == 1);
    CHECK(S.n[3].rj_version == v); /* rolled back to the pre-sync state */
    CHECK(S.n[3].rj_digest == d);
    if (sqlite)
        CHECK(S.n[3].rj_db_digest == d);
    CHECK(CONVERGED(1, 2, 3));
    if (sqlite) {
        uint64_t dv, dd;
        db_state(S.n[3].dir, &dv, &dd);
        CHECK(dv == VER(1) && dd == DIG(1));
    }
    sim_reset();
}

/* how 0: an entry silently changes (same version); 1: a batch applied on node 3 alone. */
static void verify_round(int how)
{
    cluster(3, 1u << 3);
    populate(1, 2);
    uint64_t want = DIG(1), v = VER(1);
    if (how == 0) {
        struct memdb *m = S.n[3].m;
        pthread_rwlock_wrlock(&m->lock);
        struct memdb_entry *e = (struct memdb_entry *)memdb_get(m, file_ino(1, 0, 2));
        e->mode ^= 0111;
        memdb_rehash(m, e);
        pthread_rwlock_unlock(&m->lock);
    } else {
        struct msg_batch b = {0};
        b_op(&b, MSG_CREATE, MEMDB_ROOT, F, "rogue", "r");
        apply_local(3, &b);
    }
    CHECK(DIG(3) != want);
    sync_tick(S.n[2].s, 1); /* not the lowest member: no round */
    CHECK(S.fifo.head == S.fifo.n);
    sync_tick(S.n[1].s, 1);
    deliver_all();
    CHECK(S.n[3].rejoins == 1 && S.n[1].rejoins == 0 && S.n[2].rejoins == 0);
    CHECK(CONVERGED(1, 2, 3));
    CHECK(DIG(3) == want); /* the majority's state, not the odd node's */
    CHECK(VER(3) == v && ino_of(1, MEMDB_ROOT, "rogue") == 0);
    sim_reset();
}

struct snap {
    uint64_t v[MAXN + 1], d[MAXN + 1];
    int rj[MAXN + 1];
};

static void snap_take(struct snap *s)
{
    for (uint32_t i = 1; i <= MAXN; i++)
        if (S.n[i].up) {
            s->v[i] = VER(i);
            s->d[i] = DIG(i);
            s->rj[i] = S.n[i].rejoins;
        }
}

static int snap_same(const struct snap *s)
{
    struct snap now = {0};

    snap_take(&now);
    return memcmp(s, &now, sizeof(now)) == 0;
}

/* Mid-sync: every proper prefix of each sync message is delivered first, and ignored. */
static int hook_truncate(struct ev *e)
{
    unsigned type = sync_type(e);
    size_t max = type == T_DATA ? HDR + 4 : e->len; /* a cut DATA row means resync */

    for (uint32_t i = 1; i <= MAXN && type; i++) {
        struct node *n = &S.n[i];
        struct snap s = {0};
        size_t tail = S.fifo.n;
        int synced = n->synced;
        if (!n->up || !n->connected || !in_view(n, e->from))
            continue;
        snap_take(&s);
        for (size_t len = 0; len < max; len++)
            sync_deliver(n->s, e->from, e->buf, len);
        CHECK(S.fifo.n == tail && n->synced == synced && snap_same(&s));
    }
    return 0;
}

static void test_malformed(void)
{
    struct snap s = {0};
    uint32_t seed = 12345;
    uint8_t buf[4096];

    cluster(3, 1u << 2);
    populate(1, 2);
    leave(3);
    write_files(1, 2, 5, 5, "fuzz");
    S.hook = hook_truncate;
    VIEW(1, 2, 3);
    deliver_all();
    S.hook = NULL;
    CHECK(CONVERGED(1, 2, 3));
    sync_tick(S.n[1].s, 1); /* capture VERIFY_REQ and VERIFY too */
    deliver_all();
    struct evs kept = S.capture; /* later sends go to a fresh list */
    size_t ncap = kept.n;
    const struct ev *cap = kept.a;
    S.capture = (struct evs){0};
    CHECK(ncap > 8);
    snap_take(&s);
    for (size_t i = 0; i < ncap; i++) { /* synced nodes: every prefix of every kind */
        for (size_t len = 0; len < cap[i].len && len < sizeof(buf); len++)
            inject(cap[i].from, cap[i].buf, len);
        deliver_all();
    }
    for (int i = 0; i < 3000; i++) { /* and random byte flips, with a fixed seed */
        const struct ev *m = &cap[(seed = seed * 1103515245 + 12345) % ncap];
        size_t len = m->len < sizeof(buf) ? m->len : sizeof(buf);
        memcpy(buf, m->buf, len);
        for (int k = 0; k < 1 + i % 3; k++) {
            seed = seed * 1103515245 + 12345;
            buf[seed % len] ^= (uint8_t)(1 + (seed >> 16) % 255);
        }
        inject(m->from, buf, len);
        deliver_all();
    }
    CHECK(snap_same(&s));
    CHECK(CONVERGED(1, 2, 3));
    /* A VERIFY with a round id no VERIFY_REQ ever carried (0) is malformed too. */
    uint8_t v[HDR + 16] = {0x50, 0x56, 0x53, 0x4e, 0, 1, 0, 7};
    v[HDR + 7] = 0x99;
    inject(1, v, sizeof(v));
    deliver_all();
    CHECK(snap_same(&s));
    CHECK(CONVERGED(1, 2, 3));
    evs_free(&kept);
    sim_reset();
}

#define WRAP(name, call)                                                                           \
    static void name(void)                                                                         \
    {                                                                                              \
        call;                                                                                      \
    }
WRAP(test_bad_end_sqlite, bad_install(1, 1))
WRAP(test_bad_data_sqlite, bad_install(2, 1))
WRAP(test_bad_end_memory, bad_install(1, 0))
WRAP(test_verify_same_version, verify_round(0))
WRAP(test_verify_higher_version, verify_round(1))

const struct unit_test sync_tests[] = {
    {"sync_fresh_start", test_fresh_start},
    {"sync_interleaved_writes", test_interleaved_writes},
    {"sync_missed_changes", test_missed_changes},
    {"sync_partition_heal", test_partition_heal},
    {"sync_majority_digest", test_majority_digest},
    {"sync_changes_during_sync", test_changes_during_sync},
    {"sync_confchg_mid_sync", test_confchg_mid_sync},
    {"sync_bad_end_sqlite", test_bad_end_sqlite},
    {"sync_bad_data_sqlite", test_bad_data_sqlite},
    {"sync_bad_end_memory", test_bad_end_memory},
    {"sync_verify_same_version", test_verify_same_version},
    {"sync_verify_higher_version", test_verify_higher_version},
    {"sync_malformed", test_malformed},
    {NULL, NULL},
};
