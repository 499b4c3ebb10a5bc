/* Unit tests for cluster/sync.c: failed installs, verification and malformed input. */
#include "sync_sim.h"

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

const struct unit_test sync_fault_tests[] = {
    {"sync_bad_end_sqlite", test_bad_end_sqlite},
    {"sync_bad_data_sqlite", test_bad_data_sqlite},
    {"sync_bad_end_memory", test_bad_end_memory},
    {"sync_verify_same_version", test_verify_same_version},
    {"sync_verify_higher_version", test_verify_higher_version},
    {"sync_malformed", test_malformed},
    {NULL, NULL},
};
