/* Unit tests for cluster/sync.c: convergence scenarios on the simulator (sync_sim.h). */
#include "sync_sim.h"

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

const struct unit_test sync_tests[] = {
    {"sync_fresh_start", test_fresh_start},
    {"sync_interleaved_writes", test_interleaved_writes},
    {"sync_missed_changes", test_missed_changes},
    {"sync_partition_heal", test_partition_heal},
    {"sync_majority_digest", test_majority_digest},
    {"sync_changes_during_sync", test_changes_during_sync},
    {"sync_confchg_mid_sync", test_confchg_mid_sync},
    {NULL, NULL},
};
