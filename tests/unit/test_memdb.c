/* Unit tests for cluster/memdb*.c, cluster/db.c and cluster/store.c. */
#include "../../cluster/memdb.h"
#include "../../cluster/store.h"
#include "unit.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define D MEMDB_DIR
#define F MEMDB_FILE

/* objtype 6 ("VM config") has uniqueness class 1, objtype 7 class 2, the rest none. */
static uint32_t uniq_fn(uint16_t objtype)
{
    return objtype == 6 ? 1 : objtype == 7 ? 2 : 0;
}

static struct memdb_result res;
static int64_t clock_ns = 1000000;

static void batch_init(struct msg_batch *b)
{
    memset(b, 0, sizeof(*b));
    b->writer = 7;
    b->mtime = (clock_ns += 1000);
}

static struct msg_op *op_add(struct msg_batch *b, uint8_t code, uint64_t inode, const char *name)
{
    struct msg_op *op = &b->ops[b->nops++];
    op->code = code;
    op->inode = inode;
    if (name)
        snprintf(op->name, sizeof(op->name), "%s", name);
    return op;
}

static void op_create(struct msg_batch *b, uint64_t parent, uint16_t kind, uint16_t objtype,
                      const char *name, const char *data)
{
    struct msg_op *op = op_add(b, MSG_CREATE, parent, name);
    op->kind = kind;
    op->objtype = objtype;
    op->mode = kind == D ? 040755 : 0100640; /* the type bits must be dropped */
    op->uid = 100;
    op->gid = 33;
    op->data = (const uint8_t *)data;
    op->size = data ? (uint32_t)strlen(data) : 0;
}

static void op_write(struct msg_batch *b, uint64_t ino, const char *data)
{
    struct msg_op *op = op_add(b, MSG_WRITE, ino, NULL);
    op->data = (const uint8_t *)data;
    op->size = (uint32_t)strlen(data);
}

static void op_rename(struct msg_batch *b, uint64_t ino, uint64_t dst, const char *name,
                      uint8_t flags)
{
    struct msg_op *op = op_add(b, MSG_RENAME, ino, name);
    op->dst_parent = dst;
    op->flags = flags;
}

static void op_delete(struct msg_batch *b, uint64_t ino, uint8_t flags)
{
    op_add(b, MSG_DELETE, ino, NULL)->flags = flags;
}

static struct msg_batch one; /* scratch for single-op batches */
#define ONE(add) (batch_init(&one), (add), &one)

static uint64_t mk(struct memdb *m, uint64_t parent, uint16_t kind, uint16_t objtype,
                   const char *name, const char *data)
{
    if (memdb_apply(m, ONE(op_create(&one, parent, kind, objtype, name, data)), &res)) {
        fprintf(stderr, "  create '%s': %d %s\n", name, res.err, res.msg);
        return 0;
    }
    return res.created[0];
}

static int wr(struct memdb *m, uint64_t ino, const char *data)
{
    return memdb_apply(m, ONE(op_write(&one, ino, data)), &res);
}

static int mv(struct memdb *m, uint64_t ino, uint64_t dst, const char *name, uint8_t flags)
{
    return memdb_apply(m, ONE(op_rename(&one, ino, dst, name, flags)), &res);
}

static int del(struct memdb *m, uint64_t ino, uint8_t flags)
{
    return memdb_apply(m, ONE(op_delete(&one, ino, flags)), &res);
}

/* Applies b, expects err from op 0 and no change at all to the tree. */
static int fails(struct memdb *m, const struct msg_batch *b, int err)
{
    uint64_t v = memdb_version(m), d = memdb_digest(m), n = memdb_count(m), by = memdb_bytes(m);
    int rc = memdb_apply(m, b, &res);
    int ok = rc == err && res.err == err && res.failed_op == 0 && res.msg[0] &&
             memdb_version(m) == v && memdb_digest(m) == d && memdb_count(m) == n &&
             memdb_bytes(m) == by;
    if (!ok)
        fprintf(stderr, "  expected %d, got %d (failed_op %d, '%s')\n", err, rc, res.failed_op,
                res.msg);
    return ok;
}

static struct memdb *open_mem(void)
{
    struct memdb *m = NULL;
    char err[256] = "";
    int rc = memdb_open(&m, NULL, uniq_fn, err, sizeof(err));
    if (rc)
        fprintf(stderr, "  memdb_open: %d %s\n", rc, err);
    return m;
}

static const struct memdb_entry *get(struct memdb *m, uint64_t ino)
{
    return memdb_get(m, ino);
}

static int has_data(const struct memdb_entry *e, const char *s)
{
    size_t n = strlen(s);
    return e && e->size == n && (n == 0 || memcmp(e->data, s, n) == 0);
}

/* The digest per memdb.h: the wrapping sum of an XXH3 hash of each entry (fields as u64
 * little-endian, then the name with its NUL, then the data). Also checks every kids list. */
static uint64_t tree_sum(const struct memdb_entry *e, struct memdb *m, uint64_t *count, int *bad)
{
    uint64_t f[] = {e->inode,  e->parent, e->version, (uint64_t)e->mtime,
                    e->writer, e->kind,   e->objtype, e->mode,
                    e->uid,    e->gid,    e->size};
    size_t nl = strlen(e->name) + 1, n = sizeof(f) + nl + e->size;
    uint8_t *buf = malloc(n);
    for (size_t i = 0; i < 11; i++)
        for (int j = 0; j < 8; j++)
            buf[i * 8 + (size_t)j] = (uint8_t)(f[i] >> (8 * j));
    memcpy(buf + sizeof(f), e->name, nl);
    if (e->size)
        memcpy(buf + sizeof(f) + nl, e->data, e->size);
    uint64_t sum = XXH3_64bits(buf, n);
    free(buf);
    (*count)++;
    for (uint32_t i = 0; i < e->nkids; i++) {
        const struct memdb_entry *k = e->kids[i];
        if (k->parent != e->inode || (i && k->inode <= e->kids[i - 1]->inode) ||
            memdb_get(m, k->inode) != k || memdb_lookup(m, e->inode, k->name) != k)
            *bad = 1;
        sum += tree_sum(k, m, count, bad);
    }
    return sum;
}

static int digest_ok(struct memdb *m)
{
    uint64_t count = 0;
    int bad = 0;
    uint64_t sum = tree_sum(get(m, MEMDB_ROOT), m, &count, &bad);
    if (sum != memdb_digest(m) || count != memdb_count(m) || bad)
        fprintf(stderr, "  digest %016llx, recomputed %016llx, count %llu/%llu, bad %d\n",
                (unsigned long long)memdb_digest(m), (unsigned long long)sum,
                (unsigned long long)memdb_count(m), (unsigned long long)count, bad);
    return sum == memdb_digest(m) && count == memdb_count(m) && !bad;
}

/* Same version, digest and entries (every field, data and kids order). */
static int trees_equal(struct memdb *a, struct memdb *b)
{
    if (memdb_version(a) != memdb_version(b) || memdb_digest(a) != memdb_digest(b) ||
        memdb_count(a) != memdb_count(b) || memdb_bytes(a) != memdb_bytes(b))
        return 0;
    const struct memdb_entry *stack[512];
    int n = 0;
    stack[n++] = get(a, MEMDB_ROOT);
    while (n) {
        const struct memdb_entry *x = stack[--n], *y = get(b, x->inode);
        if (!y || x->parent != y->parent || x->version != y->version || x->mtime != y->mtime ||
            x->writer != y->writer || x->kind != y->kind || x->objtype != y->objtype ||
            x->mode != y->mode || x->uid != y->uid || x->gid != y->gid ||
            strcmp(x->name, y->name) != 0 || x->size != y->size ||
            (x->size && memcmp(x->data, y->data, x->size) != 0) || x->nkids != y->nkids)
            return 0;
        for (uint32_t i = 0; i < x->nkids && n < 512; i++) {
            if (x->kids[i]->inode != y->kids[i]->inode)
                return 0;
            stack[n++] = x->kids[i];
        }
    }
    return 1;
}

static int make_tmpdir(char *path)
{
    strcpy(path, "/tmp/pvefs-unit-XXXXXX");
    return mkdtemp(path) ? 0 : -1;
}

static void rm_tmpdir(const char *dir)
{
    static const char *const files[] = {"config.db", "config.db-wal", "config.db-shm",
                                        "pvefsd.lock"};
    char p[512];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        unlink(p);
    }
    CHECK(rmdir(dir) == 0); /* nothing else was left behind */
}

static void test_root(void)
{
    struct memdb *m = open_mem();
    CHECK(m != NULL);
    if (!m)
        return;
    const struct memdb_entry *r = get(m, MEMDB_ROOT);
    CHECK(r && r->kind == D && r->parent == 0 && r->nkids == 0 && r->name[0] == 0);
    CHECK(memdb_version(m) == 1 && memdb_count(m) == 1 && memdb_bytes(m) == 0);
    CHECK(memdb_epoch(m) != 0);
    CHECK(memdb_digest(m) != 0 && digest_ok(m));
    CHECK(get(m, 2) == NULL && memdb_lookup(m, 1, "x") == NULL && memdb_uniq(m, 1, "x") == NULL);
    memdb_close(m);
}

static void test_create_lookup(void)
{
    struct memdb *m = open_mem();
    uint64_t d = mk(m, 1, D, 3, "qemu-server", NULL);
    int64_t t0 = clock_ns;
    uint64_t f = mk(m, d, F, 6, "100.conf", "cores: 2\n");
    CHECK(d == 2 && f == 3);
    const struct memdb_entry *e = memdb_lookup(m, d, "100.conf");
    CHECK(e && e == get(m, f));
    if (e) {
        CHECK(e->inode == 3 && e->parent == 2 && e->version == 3 && e->kind == F);
        CHECK(e->objtype == 6 && e->mode == 0640 && e->uid == 100 && e->gid == 33);
        CHECK(e->writer == 7 && e->mtime == t0 + 1000);
        CHECK_STR(e->name, "100.conf");
        CHECK(has_data(e, "cores: 2\n"));
    }
    const struct memdb_entry *de = get(m, d);
    CHECK(de && de->kind == D && de->mode == 0755 && de->size == 0 && de->nkids == 1);
    /* creating a child restamps the parent */
    CHECK(de && de->version == 3 && de->mtime == t0 + 1000);
    CHECK(memdb_lookup(m, 1, "100.conf") == NULL && memdb_lookup(m, d, "100.con") == NULL);
    CHECK(memdb_count(m) == 3 && memdb_bytes(m) == 9);
    CHECK(digest_ok(m));
    memdb_close(m);
}

static void test_kids_sorted(void)
{
    struct memdb *m = open_mem();
    uint64_t a = mk(m, 1, D, 0, "a", NULL), x = mk(m, 1, F, 0, "x", NULL);
    uint64_t k[4];
    const char *names[] = {"zz", "b", "m", "a"};
    for (int i = 0; i < 4; i++)
        k[i] = mk(m, a, F, 0, names[i], NULL);
    CHECK(mv(m, x, a, "moved", 0) == 0); /* older inode lands in front */
    const struct memdb_entry *d = get(m, a);
    CHECK(d && d->nkids == 5);
    if (d && d->nkids == 5) {
        CHECK(d->kids[0]->inode == x);
        for (int i = 0; i < 4; i++)
            CHECK(d->kids[i + 1]->inode == k[i]);
        CHECK(memdb_kid_after(d, 0) == 0);
        CHECK(memdb_kid_after(d, x) == 1);
        CHECK(memdb_kid_after(d, k[0] - 1) == 1);
        CHECK(memdb_kid_after(d, k[1]) == 3);
        CHECK(memdb_kid_after(d, k[3]) == 5);
        CHECK(memdb_kid_after(d, UINT64_MAX) == 5);
    }
    CHECK(digest_ok(m));
    memdb_close(m);
}

static void test_version_per_op(void)
{
    struct memdb *m = open_mem();
    struct msg_batch b;
    uint64_t f = mk(m, 1, F, 0, "f", "1");
    CHECK(f == 2 && memdb_version(m) == 2);
    CHECK(wr(m, f, "22") == 0 && memdb_version(m) == 3 && get(m, f)->version == 3);
    batch_init(&b);
    op_add(&b, MSG_SETATTR, f, NULL)->mask = MSG_SET_UID;
    b.ops[0].uid = 5;
    CHECK(memdb_apply(m, &b, &res) == 0 && memdb_version(m) == 4 && get(m, f)->version == 4);
    uint64_t g = mk(m, 1, D, 0, "g", NULL);
    CHECK(g == 5 && memdb_version(m) == 5);
    CHECK(mv(m, f, g, "f2", 0) == 0 && memdb_version(m) == 6 && get(m, f)->version == 6);
    CHECK(get(m, g)->version == 6 && get(m, 1)->version == 6);
    /* renaming onto itself is a no-op that does not bump the version */
    CHECK(mv(m, f, g, "f2", 0) == 0 && memdb_version(m) == 6);
    CHECK(del(m, g, MSG_F_RECURSIVE) == 0 && memdb_version(m) == 7);
    CHECK(get(m, 1)->version == 7);
    /* a batch of three creates takes three versions; the inodes are those versions */
    batch_init(&b);
    op_create(&b, 1, D, 0, "p", NULL);
    op_create(&b, MSG_REF | 0, F, 0, "q", NULL);
    op_create(&b, MSG_REF | 0, F, 0, "r", NULL);
    CHECK(memdb_apply(m, &b, &res) == 0 && res.failed_op == -1);
    CHECK(res.created[0] == 8 && res.created[1] == 9 && res.created[2] == 10);
    CHECK(memdb_version(m) == 10 && memdb_lookup(m, 8, "r") == get(m, 10));
    memdb_close(m);
}

/* A conditional write: exactly one of two writers that read the same version wins. */
static void test_write_if_version(void)
{
    struct memdb *m = open_mem();
    struct msg_batch b;
    uint64_t f = mk(m, 1, F, 0, "lock", "");
    uint64_t v = get(m, f)->version, top;

    batch_init(&b);
    op_write(&b, f, "holder: n1\n");
    b.ops[0].flags = MSG_F_IFVERSION;
    b.ops[0].if_version = v;
    CHECK(memdb_apply(m, &b, &res) == 0 && get(m, f)->size == 11);
    top = memdb_version(m);
    batch_init(&b);
    op_write(&b, f, "holder: n2\n");
    b.ops[0].flags = MSG_F_IFVERSION;
    b.ops[0].if_version = v; /* read before n1's write landed */
    CHECK(memdb_apply(m, &b, &res) == -ESTALE && res.failed_op == 0 && res.msg[0]);
    CHECK(memdb_version(m) == top && memcmp(get(m, f)->data, "holder: n1", 10) == 0);
    CHECK(digest_ok(m));
    memdb_close(m);
}

static void test_setattr(void)
{
    struct memdb *m = open_mem();
    struct msg_batch b;
    uint64_t f = mk(m, 1, F, 0, "f", NULL);
    int64_t t = get(m, f)->mtime;
    batch_init(&b);
    struct msg_op *op = op_add(&b, MSG_SETATTR, f, NULL);
    op->mask = MSG_SET_MODE | MSG_SET_GID;
    op->mode = 0104777;
    op->uid = 99;
    op->gid = 98;
    op->mtime = 5;
    CHECK(memdb_apply(m, &b, &res) == 0);
    const struct memdb_entry *e = get(m, f);
    CHECK(e->mode == 04777 && e->uid == 100 && e->gid == 98 && e->mtime == t);
    op->mask = MSG_SET_MTIME | MSG_SET_UID;
    CHECK(memdb_apply(m, &b, &res) == 0);
    CHECK(e->mode == 04777 && e->uid == 99 && e->gid == 98 && e->mtime == 5);
    CHECK(digest_ok(m));
    memdb_close(m);
}

static void test_errors(void)
{
    struct memdb *m = open_mem();
    uint64_t a = mk(m, 1, D, 0, "a", NULL), sub = mk(m, a, D, 0, "sub", NULL);
    uint64_t f = mk(m, a, F, 0, "f", "x"), e = mk(m, 1, D, 0, "empty", NULL);

    CHECK(fails(m, ONE(op_create(&one, 999, F, 0, "n", NULL)), -ENOENT));
    CHECK(fails(m, ONE(op_create(&one, f, F, 0, "n", NULL)), -ENOTDIR));
    CHECK(fails(m, ONE(op_create(&one, a, D, 0, "f", NULL)), -EEXIST));
    CHECK(fails(m, ONE(op_create(&one, a, 3, 0, "n", NULL)), -EINVAL));
    CHECK(fails(m, ONE(op_write(&one, a, "data")), -EISDIR));
    CHECK(fails(m, ONE(op_write(&one, 999, "data")), -ENOENT));
    CHECK(fails(m, ONE(op_delete(&one, a, 0)), -ENOTEMPTY));
    CHECK(fails(m, ONE(op_delete(&one, MEMDB_ROOT, MSG_F_RECURSIVE)), -EBUSY));
    CHECK(fails(m, ONE(op_delete(&one, 999, 0)), -ENOENT));
    CHECK(fails(m, ONE(op_rename(&one, a, sub, "a", 0)), -EINVAL));
    CHECK(fails(m, ONE(op_rename(&one, a, a, "self", 0)), -EINVAL));
    CHECK(fails(m, ONE(op_rename(&one, MEMDB_ROOT, a, "root", 0)), -EINVAL));
    CHECK(fails(m, ONE(op_rename(&one, f, 1, "empty", 0)), -EISDIR));
    CHECK(fails(m, ONE(op_rename(&one, e, a, "f", 0)), -ENOTDIR));
    CHECK(fails(m, ONE(op_rename(&one, e, 1, "a", 0)), -ENOTEMPTY));
    CHECK(fails(m, ONE(op_rename(&one, sub, 1, "empty", MSG_F_NOREPLACE)), -EEXIST));
    CHECK(fails(m, ONE(op_rename(&one, f, 999, "n", 0)), -ENOENT));
    CHECK(fails(m, ONE(op_add(&one, 0x77, f, NULL)), -EINVAL));
    CHECK(digest_ok(m) && memdb_version(m) == e);
    memdb_close(m);
}

static void test_uniq(void)
{
    struct memdb *m = open_mem();
    uint64_t a = mk(m, 1, D, 0, "a", NULL), bd = mk(m, 1, D, 0, "b", NULL);
    uint64_t vm = mk(m, a, F, 6, "100.conf", "x");
    CHECK(vm && memdb_uniq(m, 1, "100.conf") == get(m, vm));
    CHECK(fails(m, ONE(op_create(&one, bd, F, 6, "100.conf", NULL)), -EEXIST));
    /* no class, or another class: the name is free */
    uint64_t plain = mk(m, bd, F, 0, "100.conf", NULL);
    uint64_t ct = mk(m, 1, F, 7, "100.conf", NULL);
    CHECK(plain && ct);
    CHECK(memdb_uniq(m, 2, "100.conf") == get(m, ct) && memdb_uniq(m, 1, "100.conf") == get(m, vm));
    CHECK(memdb_uniq(m, 0, "100.conf") == NULL && memdb_uniq(m, 3, "100.conf") == NULL);
    /* renaming keeps the class index right */
    CHECK(mv(m, vm, bd, "101.conf", 0) == 0);
    CHECK(memdb_uniq(m, 1, "100.conf") == NULL && memdb_uniq(m, 1, "101.conf") == get(m, vm));
    uint64_t vm2 = mk(m, a, F, 6, "100.conf", NULL);
    CHECK(vm2 && memdb_uniq(m, 1, "100.conf") == get(m, vm2));
    /* 101.conf lives in b, not a, but the class is tree-wide */
    CHECK(fails(m, ONE(op_rename(&one, vm2, a, "101.conf", 0)), -EEXIST));
    CHECK(fails(m, ONE(op_create(&one, a, F, 6, "101.conf", NULL)), -EEXIST));
    CHECK(digest_ok(m));
    memdb_close(m);
}

static void test_batch_ref(void)
{
    struct memdb *m = open_mem();
    struct msg_batch b;
    batch_init(&b);
    op_create(&b, 1, D, 0, "lxc", NULL);
    op_create(&b, MSG_REF | 0, F, 6, "200.conf", "arch: amd64\n");
    op_create(&b, MSG_REF | 0, D, 0, "snap", NULL);
    op_create(&b, MSG_REF | 2, F, 0, "s1", "x");
    op_write(&b, MSG_REF | 1, "arch: arm64\n");
    CHECK(memdb_apply(m, &b, &res) == 0 && res.err == 0 && res.failed_op == -1);
    CHECK(res.created[0] == 2 && res.created[1] == 3 && res.created[2] == 4);
    CHECK(res.created[3] == 5 && res.created[4] == 0);
    CHECK(memdb_version(m) == 6);
    const struct memdb_entry *c = memdb_lookup(m, 2, "200.conf");
    CHECK(c && c->inode == 3 && has_data(c, "arch: arm64\n") && c->version == 6);
    CHECK(memdb_lookup(m, 4, "s1") && memdb_lookup(m, 4, "s1")->parent == 4);
    CHECK(get(m, 2)->nkids == 2 && memdb_bytes(m) == 13);
    memdb_close(m);
}

/* A batch stops at its first failing op; the ops before it stay applied (memdb.h). */
static void test_batch_partial(void)
{
    struct memdb *m = open_mem();
    struct msg_batch b;
    batch_init(&b);
    op_create(&b, 1, F, 0, "first", "1");
    op_create(&b, 1, F, 0, "first", "2"); /* duplicate */
    op_create(&b, 1, F, 0, "third", "3");
    CHECK(memdb_apply(m, &b, &res) == -EEXIST && res.err == -EEXIST && res.failed_op == 1);
    CHECK(res.msg[0] != 0 && res.created[0] == 2 && res.created[1] == 0);
    CHECK(memdb_version(m) == 2 && memdb_count(m) == 2);
    CHECK(has_data(memdb_lookup(m, 1, "first"), "1") && !memdb_lookup(m, 1, "third"));
    CHECK(digest_ok(m));
    memdb_close(m);
}

static void test_delete_recursive(void)
{
    struct memdb *m = open_mem();
    uint64_t keep = mk(m, 1, F, 0, "keep", "k");
    uint64_t d = mk(m, 1, D, 0, "d", NULL), sub = mk(m, d, D, 0, "sub", NULL);
    uint64_t f1 = mk(m, sub, F, 6, "300.conf", "abc"), f2 = mk(m, d, F, 7, "f2", "defg");
    uint64_t dig = memdb_digest(m);
    CHECK(memdb_count(m) == 6 && memdb_bytes(m) == 8);
    CHECK(del(m, d, MSG_F_RECURSIVE) == 0 && memdb_digest(m) != dig);
    uint64_t gone[] = {d, sub, f1, f2};
    for (int i = 0; i < 4; i++)
        CHECK(get(m, gone[i]) == NULL);
    CHECK(!memdb_lookup(m, 1, "d") && !memdb_lookup(m, d, "sub") &&
          !memdb_lookup(m, sub, "300.conf"));
    CHECK(!memdb_uniq(m, 1, "300.conf") && !memdb_uniq(m, 2, "f2"));
    CHECK(memdb_count(m) == 2 && memdb_bytes(m) == 1);
    const struct memdb_entry *r = get(m, 1);
    CHECK(r->nkids == 1 && r->kids[0]->inode == keep && r->version == memdb_version(m));
    CHECK(digest_ok(m));
    CHECK(mk(m, 1, F, 6, "300.conf", NULL) != 0); /* the class name is free again */
    memdb_close(m);
}

static void test_rename(void)
{
    struct memdb *m = open_mem();
    uint64_t a = mk(m, 1, D, 0, "a", NULL), b = mk(m, 1, D, 0, "b", NULL);
    uint64_t f = mk(m, a, F, 0, "f", "data"), g = mk(m, a, F, 0, "g", NULL);
    uint64_t bx = mk(m, b, F, 0, "x", NULL);
    int64_t fm = get(m, f)->mtime;
    CHECK(mv(m, f, b, "f2", 0) == 0);
    const struct memdb_entry *e = get(m, f);
    CHECK(e && e->parent == b && strcmp(e->name, "f2") == 0 && has_data(e, "data"));
    CHECK(e && e->version == memdb_version(m) && e->mtime == fm);
    CHECK(memdb_lookup(m, b, "f2") == e && !memdb_lookup(m, a, "f") && !memdb_lookup(m, b, "f"));
    const struct memdb_entry *pa = get(m, a), *pb = get(m, b);
    CHECK(pa->nkids == 1 && pa->kids[0]->inode == g);
    CHECK(pb->nkids == 2 && pb->kids[0]->inode == f && pb->kids[1]->inode == bx);
    CHECK(pa->version == memdb_version(m) && pb->version == memdb_version(m));
    /* rename over an existing file replaces it */
    uint64_t n = memdb_count(m);
    CHECK(mv(m, g, b, "x", 0) == 0);
    CHECK(get(m, bx) == NULL && memdb_lookup(m, b, "x") == get(m, g) && memdb_count(m) == n - 1);
    CHECK(get(m, a)->nkids == 0 && get(m, b)->nkids == 2);
    /* a directory moves with its subtree, and may replace an empty directory */
    uint64_t e2 = mk(m, b, D, 0, "empty", NULL), in = mk(m, a, F, 0, "inner", "i");
    CHECK(mv(m, a, b, "empty", 0) == 0 && get(m, e2) == NULL);
    CHECK(get(m, a)->parent == b && memdb_lookup(m, b, "empty") == get(m, a));
    CHECK(memdb_lookup(m, a, "inner") == get(m, in) && get(m, in)->parent == a);
    CHECK(digest_ok(m));
    memdb_close(m);
}

static void test_digest_replicas(void)
{
    struct memdb *m1 = open_mem(), *m2 = open_mem(), *m3 = open_mem();
    struct msg_batch bs[4];
    batch_init(&bs[0]);
    op_create(&bs[0], 1, D, 0, "qemu-server", NULL);
    op_create(&bs[0], MSG_REF | 0, F, 6, "100.conf", "cores: 1\n");
    batch_init(&bs[1]);
    op_write(&bs[1], 3, "cores: 2\n");
    op_create(&bs[1], 1, F, 0, "x", "1"); /* duplicate in bs[2] fails identically */
    batch_init(&bs[2]);
    op_create(&bs[2], 2, F, 7, "y", NULL);
    op_create(&bs[2], 1, F, 0, "x", "2");
    batch_init(&bs[3]);
    op_rename(&bs[3], 3, 1, "101.conf", 0);
    for (int i = 0; i < 4; i++) {
        struct memdb_result r1, r2;
        CHECK(memdb_apply(m1, &bs[i], &r1) == memdb_apply(m2, &bs[i], &r2));
        CHECK(r1.failed_op == r2.failed_op &&
              memcmp(r1.created, r2.created, sizeof(r1.created)) == 0);
    }
    CHECK(memdb_version(m1) == 7 && memdb_version(m1) == memdb_version(m2));
    CHECK(memdb_digest(m1) == memdb_digest(m2) && trees_equal(m1, m2));
    /* one byte of different content: same version, different digest */
    for (int i = 0; i < 4; i++) {
        if (i == 1)
            bs[1].ops[0].data = (const uint8_t *)"cores: 3\n";
        memdb_apply(m3, &bs[i], &res);
    }
    CHECK(memdb_version(m3) == memdb_version(m1) && memdb_digest(m3) != memdb_digest(m1));
    CHECK(digest_ok(m1) && digest_ok(m3));
    memdb_close(m1);
    memdb_close(m2);
    memdb_close(m3);
}

/* Every entry is stamped with the store version, so the digest is history-dependent. */
static void test_digest_properties(void)
{
    struct memdb *m = open_mem(), *o1 = open_mem(), *o2 = open_mem();
    uint64_t d = mk(m, 1, D, 0, "d", NULL), d0 = memdb_digest(m);
    uint64_t f = mk(m, d, F, 0, "tmp", "zz");
    CHECK(memdb_digest(m) != d0 && digest_ok(m));
    CHECK(del(m, f, 0) == 0 && digest_ok(m));
    /* the entry's hash is gone, but d was restamped: only d's hash differs from before */
    CHECK(memdb_digest(m) != d0);
    const struct memdb_entry *de = get(m, d);
    CHECK(de->version == memdb_version(m) && de->nkids == 0);
    /* unrelated entries created in the other order get other inodes: other digest */
    CHECK(mk(o1, 1, F, 0, "p", NULL) == 2 && mk(o1, 1, F, 0, "q", NULL) == 3);
    CHECK(mk(o2, 1, F, 0, "q", NULL) == 2 && mk(o2, 1, F, 0, "p", NULL) == 3);
    CHECK(memdb_digest(o1) != memdb_digest(o2) && digest_ok(o1) && digest_ok(o2));
    /* a no-op setattr still changes the digest (version) */
    struct msg_batch b;
    batch_init(&b);
    op_add(&b, MSG_SETATTR, 2, NULL);
    uint64_t before = memdb_digest(o1);
    CHECK(memdb_apply(o1, &b, &res) == 0 && memdb_digest(o1) != before && digest_ok(o1));
    memdb_close(m);
    memdb_close(o1);
    memdb_close(o2);
}

static void test_bytes_count(void)
{
    struct memdb *m = open_mem();
    uint64_t d = mk(m, 1, D, 0, "d", "ignored for dirs");
    CHECK(get(m, d)->size == 0 && memdb_bytes(m) == 0);
    uint64_t f = mk(m, d, F, 0, "f", "12345");
    CHECK(memdb_bytes(m) == 5 && memdb_count(m) == 3);
    CHECK(wr(m, f, "123456789") == 0 && memdb_bytes(m) == 9);
    CHECK(wr(m, f, "1") == 0 && memdb_bytes(m) == 1 && has_data(get(m, f), "1"));
    CHECK(wr(m, f, "") == 0 && memdb_bytes(m) == 0 && get(m, f)->size == 0);
    CHECK(wr(m, f, "abc") == 0);
    /* enough entries to grow every hash table past its first size */
    char name[32];
    for (int i = 0; i < 1500; i++) {
        snprintf(name, sizeof(name), "%d.conf", i);
        CHECK(mk(m, d, F, i % 2 ? 6 : 0, name, "xy") != 0);
    }
    CHECK(memdb_count(m) == 1503 && memdb_bytes(m) == 3 + 3000);
    int found = 0;
    for (int i = 0; i < 1500; i++) {
        snprintf(name, sizeof(name), "%d.conf", i);
        const struct memdb_entry *e = memdb_lookup(m, d, name);
        found += e && get(m, e->inode) == e && (i % 2 == 0 || memdb_uniq(m, 1, name) == e);
    }
    CHECK(found == 1500 && digest_ok(m));
    CHECK(del(m, d, MSG_F_RECURSIVE) == 0 && memdb_count(m) == 1 && memdb_bytes(m) == 0);
    CHECK(digest_ok(m));
    memdb_close(m);
}

static struct memdb_change seen[16];
static int nseen, ncalls;

static void on_change(void *arg, const struct memdb_change *c, int n)
{
    CHECK(arg == &nseen);
    ncalls++;
    for (int i = 0; i < n && nseen < 16; i++)
        seen[nseen++] = c[i];
}

static int is_chg(int i, uint8_t code, uint64_t ino, uint64_t parent, const char *name)
{
    return i < nseen && seen[i].code == code && seen[i].inode == ino && seen[i].parent == parent &&
           strcmp(seen[i].name, name) == 0 && seen[i].writer == 7;
}

static void test_change_callback(void)
{
    struct memdb *m = open_mem();
    struct msg_batch b;
    memdb_on_change(m, on_change, &nseen);
    nseen = ncalls = 0;
    batch_init(&b);
    op_create(&b, 1, D, 0, "d", NULL);
    op_create(&b, MSG_REF | 0, F, 0, "f", NULL);
    op_write(&b, MSG_REF | 1, "x");
    op_add(&b, MSG_SETATTR, 2, NULL);
    CHECK(memdb_apply(m, &b, &res) == 0 && ncalls == 1 && nseen == 4);
    CHECK(is_chg(0, MSG_CREATE, 2, 1, "d") && is_chg(1, MSG_CREATE, 3, 2, "f"));
    CHECK(is_chg(2, MSG_WRITE, 3, 2, "f") && is_chg(3, MSG_SETATTR, 2, 1, "d"));
    nseen = ncalls = 0;
    CHECK(mv(m, 3, 1, "g", 0) == 0 && ncalls == 1 && nseen == 1);
    CHECK(is_chg(0, MSG_RENAME, 3, 1, "g") && seen[0].old_parent == 2);
    CHECK_STR(seen[0].old_name, "f");
    nseen = ncalls = 0;
    uint64_t h = mk(m, 2, F, 0, "h", NULL), e = mk(m, 2, D, 0, "e", NULL);
    CHECK(h == 7 && e == 8 && ncalls == 2 && is_chg(1, MSG_CREATE, 8, 2, "e"));
    nseen = ncalls = 0;
    CHECK(del(m, 2, MSG_F_RECURSIVE) == 0 && ncalls == 1 && nseen == 3);
    CHECK(is_chg(0, MSG_DELETE, e, 2, "e") && is_chg(1, MSG_DELETE, h, 2, "h"));
    CHECK(is_chg(2, MSG_DELETE, 2, 1, "d"));
    /* a failing op reports nothing; a partial batch reports what it applied */
    nseen = ncalls = 0;
    CHECK(del(m, 999, 0) == -ENOENT && ncalls == 0);
    batch_init(&b);
    op_write(&b, 3, "y");
    op_write(&b, 999, "z");
    CHECK(memdb_apply(m, &b, &res) == -ENOENT && ncalls == 1 && nseen == 1);
    CHECK(is_chg(0, MSG_WRITE, 3, 1, "g"));
    memdb_close(m);
}

/* Applies the same batches to a db-backed tree and a memory-only reference. */
static void both(struct memdb *m, struct memdb *ref, const struct msg_batch *b)
{
    struct memdb_result r1, r2;
    CHECK(memdb_apply(m, b, &r1) == memdb_apply(ref, b, &r2));
}

static struct memdb *reopen(struct db **db, const char *dir)
{
    char path[512], err[256] = "";
    struct memdb *m = NULL;
    snprintf(path, sizeof(path), "%s/config.db", dir);
    int rc = db_open(db, path, err, sizeof(err));
    if (rc == 0 && (rc = memdb_open(&m, *db, uniq_fn, err, sizeof(err)))) {
        db_close(*db);
        *db = NULL;
    }
    if (rc)
        fprintf(stderr, "  reopen: %d %s\n", rc, err);
    return m;
}

static void test_persistence(void)
{
    char dir[64];
    struct db *db = NULL;
    CHECK(make_tmpdir(dir) == 0);
    struct memdb *m = reopen(&db, dir), *ref = open_mem();
    CHECK(m != NULL);
    if (!m)
        goto out;
    uint32_t epoch = memdb_epoch(m);
    struct msg_batch b;
    batch_init(&b);
    op_create(&b, 1, D, 0, "nodes", NULL);
    op_create(&b, MSG_REF | 0, D, 0, "n1", NULL);
    op_create(&b, MSG_REF | 1, F, 6, "100.conf", "memory: 512\n");
    op_create(&b, MSG_REF | 1, F, 0, "empty", NULL);
    op_create(&b, 1, F, 0, "gone", "bye");
    both(m, ref, &b);
    batch_init(&b);
    op_write(&b, 4, "memory: 1024\n");
    op_add(&b, MSG_SETATTR, 4, NULL)->mask = MSG_SET_MODE | MSG_SET_UID | MSG_SET_MTIME;
    b.ops[1].mode = 0600;
    b.ops[1].uid = 42;
    b.ops[1].mtime = -1;
    op_delete(&b, 6, 0);
    op_rename(&b, 5, 2, "moved", 0);
    op_create(&b, 1, F, 0, "nodes", NULL); /* fails: the first four ops stay */
    both(m, ref, &b);
    CHECK(trees_equal(m, ref) && memdb_version(m) == 10);
    memdb_close(m);
    db_close(db);
    m = reopen(&db, dir);
    CHECK(m != NULL);
    if (!m)
        goto out;
    CHECK(memdb_epoch(m) == epoch && memdb_version(m) == 10);
    CHECK(trees_equal(m, ref) && digest_ok(m));
    const struct memdb_entry *e = get(m, 4);
    CHECK(e && e->mode == 0600 && e->uid == 42 && e->mtime == -1 && has_data(e, "memory: 1024\n"));
    CHECK(memdb_uniq(m, 1, "100.conf") == e && get(m, 6) == NULL);
    CHECK(memdb_lookup(m, 2, "moved") == get(m, 5));
    /* the next inode continues after the reloaded version */
    batch_init(&b);
    op_create(&b, 1, F, 0, "later", "x");
    both(m, ref, &b);
    CHECK(memdb_lookup(m, 1, "later") && memdb_lookup(m, 1, "later")->inode == 11);
    CHECK(trees_equal(m, ref));
out:
    memdb_close(m);
    memdb_close(ref);
    db_close(db);
    rm_tmpdir(dir);
}

/* Moving an entry into a directory created after it must survive a reload. */
static void test_persist_move_into_newer_dir(void)
{
    char dir[64];
    struct db *db = NULL;
    CHECK(make_tmpdir(dir) == 0);
    struct memdb *m = reopen(&db, dir), *ref = open_mem();
    struct msg_batch b;
    CHECK(m != NULL);
    if (!m)
        goto out;
    batch_init(&b);
    op_create(&b, 1, F, 0, "old", "o");     /* inode 2 */
    op_create(&b, 1, D, 0, "newdir", NULL); /* inode 3 */
    both(m, ref, &b);
    batch_init(&b);
    op_rename(&b, 2, 3, "old", 0); /* parent 3 > inode 2 */
    both(m, ref, &b);
    CHECK(trees_equal(m, ref));
    memdb_close(m);
    db_close(db);
    m = reopen(&db, dir);
    CHECK(m != NULL);
    CHECK(m && trees_equal(m, ref));
out:
    memdb_close(m);
    memdb_close(ref);
    db_close(db);
    rm_tmpdir(dir);
}

static void test_store(void)
{
    char dir[64], err[256] = "";
    struct store *st = NULL, *st2 = NULL;
    CHECK(make_tmpdir(dir) == 0);
    struct store_cfg cfg = {.datadir = dir, .node = "n1", .nodeid = 5, .uniq = uniq_fn};
    CHECK(store_open(&st, &cfg, err, sizeof(err)) == 0);
    if (!st)
        goto out;
    CHECK(store_open(&st2, &cfg, err, sizeof(err)) == -EBUSY && st2 == NULL);
    CHECK(strstr(err, "in use") != NULL);
    CHECK_STR(store_node(st), "n1");
    CHECK(store_nodeid(st) == 5 && store_quorate(st));

    struct msg_batch b;
    memset(&b, 0, sizeof(b));
    op_create(&b, 1, D, 0, "d", NULL);
    op_create(&b, MSG_REF | 0, F, 6, "100.conf", "cores: 1\n");
    CHECK(store_commit(st, &b, &res) == 0 && res.failed_op == -1);
    CHECK(res.created[0] == 2 && res.created[1] == 3);
    CHECK(b.writer == 5 && b.seq == 1 && b.mtime > 0);
    struct memdb *m = store_memdb(st);
    memdb_rdlock(m);
    const struct memdb_entry *e = memdb_lookup(m, 2, "100.conf");
    CHECK(e && e->inode == 3 && e->writer == 5 && e->mtime == b.mtime && has_data(e, "cores: 1\n"));
    memdb_unlock(m);
    memset(&b, 0, sizeof(b));
    op_create(&b, 2, F, 6, "100.conf", NULL);
    CHECK(store_commit(st, &b, &res) == -EEXIST && res.failed_op == 0 && b.seq == 2);
    memset(&b, 0, sizeof(b)); /* nothing to encode */
    CHECK(store_commit(st, &b, &res) == -EFBIG && res.err == -EFBIG);
    uint64_t v = memdb_version(m), dg = memdb_digest(m);
    store_close(st);
    st = NULL;
    /* the lock went with the store; the data stayed */
    CHECK(store_open(&st, &cfg, err, sizeof(err)) == 0);
    if (st) {
        m = store_memdb(st);
        CHECK(memdb_version(m) == v && memdb_digest(m) == dg && memdb_get(m, 3) != NULL);
    }
out:
    store_close(st);
    store_close(st2);
    rm_tmpdir(dir);
}

const struct unit_test memdb_tests[] = {
    {"memdb_root", test_root},
    {"memdb_create_lookup", test_create_lookup},
    {"memdb_kids_sorted", test_kids_sorted},
    {"memdb_version_per_op", test_version_per_op},
    {"memdb_setattr", test_setattr},
    {"memdb_write_if_version", test_write_if_version},
    {"memdb_errors", test_errors},
    {"memdb_uniq", test_uniq},
    {"memdb_batch_ref", test_batch_ref},
    {"memdb_batch_partial", test_batch_partial},
    {"memdb_delete_recursive", test_delete_recursive},
    {"memdb_rename", test_rename},
    {"memdb_digest_replicas", test_digest_replicas},
    {"memdb_digest_properties", test_digest_properties},
    {"memdb_bytes_count", test_bytes_count},
    {"memdb_change_callback", test_change_callback},
    {"memdb_persistence", test_persistence},
    {"memdb_persist_move_into_newer_dir", test_persist_move_into_newer_dir},
    {"store_lock_and_commit", test_store},
    {NULL, NULL},
};
