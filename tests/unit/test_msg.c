/* Unit tests for cluster/msg.c: round trip, byte order, and the checked decoder. */
#include "../../cluster/msg.h"
#include "unit.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t cfg_data[] = "memory: 2048\ncores: 4\n";
static const uint8_t new_data[] = "memory: 4096\n";

/* One op of every kind; op 1 creates inside the dir made by op 0 (MSG_REF). */
static void sample_batch(struct msg_batch *b)
{
    memset(b, 0, sizeof(*b));
    b->writer = 0x01020304;
    b->seq = 0x1122334455667788ull;
    b->mtime = -5; /* negative survives the u64 round trip */
    b->nops = 6;

    struct msg_op *op = b->ops;
    op[0].code = MSG_CREATE;
    op[0].inode = 1;
    op[0].kind = 1;
    op[0].objtype = 3;
    op[0].mode = 0755;
    op[0].uid = 1000;
    op[0].gid = 33;
    strcpy(op[0].name, "qemu-server");

    op[1].code = MSG_CREATE;
    op[1].inode = MSG_REF | 0;
    op[1].kind = 2;
    op[1].objtype = 6;
    op[1].mode = 0640;
    op[1].uid = 0;
    op[1].gid = 0xfffffffe;
    strcpy(op[1].name, "100.conf");
    op[1].data = cfg_data;
    op[1].size = sizeof(cfg_data) - 1;

    op[2].code = MSG_WRITE;
    op[2].inode = MSG_REF | 1;
    op[2].data = new_data;
    op[2].size = sizeof(new_data) - 1;

    op[3].code = MSG_SETATTR;
    op[3].inode = 42;
    op[3].mask = MSG_SET_MODE | MSG_SET_MTIME;
    op[3].mode = 0600;
    op[3].uid = 7;
    op[3].gid = 8;
    op[3].mtime = 1700000000123456789ll;

    op[4].code = MSG_DELETE;
    op[4].flags = MSG_F_RECURSIVE;
    op[4].inode = 99;

    op[5].code = MSG_RENAME;
    op[5].flags = MSG_F_NOREPLACE;
    op[5].inode = MSG_REF | 1;
    op[5].dst_parent = 0x0102030405060708ull;
    strcpy(op[5].name, "101.conf");
}

/* Encodes b into a malloc'd buffer; *len gets its size. */
static uint8_t *encode(const struct msg_batch *b, size_t *len)
{
    *len = msg_encoded_size(b);
    if (!*len)
        return NULL;
    uint8_t *buf = malloc(*len);
    if (buf && msg_encode(b, buf, *len) != (long)*len) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int decode(const uint8_t *buf, size_t len, struct msg_batch *out)
{
    char why[128] = "";
    int rc = msg_decode(buf, len, out, why, sizeof(why));
    if (rc && !why[0])
        return 1; /* a rejection must say why; make the caller's CHECK fail */
    return rc;
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

static void test_round_trip(void)
{
    struct msg_batch b, d;
    size_t len;
    sample_batch(&b);
    uint8_t *buf = encode(&b, &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    /* header 28; ops: create dir 2+8+2+2+12+2+11+4, create file 2+8+2+2+12+2+8+4+22,
     * write 2+8+4+13, setattr 34, delete 10, rename 2+8+8+2+8 */
    CHECK(len == 28 + 43 + 62 + 27 + 34 + 10 + 28);
    CHECK(decode(buf, len, &d) == 0);
    CHECK(d.writer == 0x01020304);
    CHECK(d.seq == 0x1122334455667788ull);
    CHECK(d.mtime == -5);
    CHECK(d.nops == 6);

    CHECK(d.ops[0].code == MSG_CREATE && d.ops[0].flags == 0);
    CHECK(d.ops[0].inode == 1);
    CHECK(d.ops[0].kind == 1 && d.ops[0].objtype == 3);
    CHECK(d.ops[0].mode == 0755 && d.ops[0].uid == 1000 && d.ops[0].gid == 33);
    CHECK_STR(d.ops[0].name, "qemu-server");
    CHECK(d.ops[0].size == 0);

    CHECK(d.ops[1].code == MSG_CREATE);
    CHECK(d.ops[1].inode == (MSG_REF | 0));
    CHECK(d.ops[1].kind == 2 && d.ops[1].objtype == 6);
    CHECK(d.ops[1].mode == 0640 && d.ops[1].uid == 0 && d.ops[1].gid == 0xfffffffe);
    CHECK_STR(d.ops[1].name, "100.conf");
    CHECK(d.ops[1].size == sizeof(cfg_data) - 1);
    CHECK(d.ops[1].data && memcmp(d.ops[1].data, cfg_data, d.ops[1].size) == 0);
    /* data points into the buffer, not at the caller's original */
    CHECK(d.ops[1].data >= buf && d.ops[1].data < buf + len);

    CHECK(d.ops[2].code == MSG_WRITE && d.ops[2].inode == (MSG_REF | 1));
    CHECK(d.ops[2].size == sizeof(new_data) - 1);
    CHECK(d.ops[2].data && memcmp(d.ops[2].data, new_data, d.ops[2].size) == 0);

    CHECK(d.ops[3].code == MSG_SETATTR && d.ops[3].inode == 42);
    CHECK(d.ops[3].mask == (MSG_SET_MODE | MSG_SET_MTIME));
    CHECK(d.ops[3].mode == 0600 && d.ops[3].uid == 7 && d.ops[3].gid == 8);
    CHECK(d.ops[3].mtime == 1700000000123456789ll);

    CHECK(d.ops[4].code == MSG_DELETE && d.ops[4].inode == 99);
    CHECK(d.ops[4].flags == MSG_F_RECURSIVE);

    CHECK(d.ops[5].code == MSG_RENAME && d.ops[5].flags == MSG_F_NOREPLACE);
    CHECK(d.ops[5].inode == (MSG_REF | 1));
    CHECK(d.ops[5].dst_parent == 0x0102030405060708ull);
    CHECK_STR(d.ops[5].name, "101.conf");

    /* re-encoding the decoded batch gives the same bytes */
    size_t len2;
    uint8_t *buf2 = encode(&d, &len2);
    CHECK(buf2 && len2 == len && memcmp(buf, buf2, len) == 0);
    free(buf2);
    free(buf);
}

static void test_byte_order(void)
{
    struct msg_batch b;
    size_t len;
    sample_batch(&b);
    uint8_t *buf = encode(&b, &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    CHECK(memcmp(buf, "PVFS", 4) == 0);
    CHECK(buf[4] == 0 && buf[5] == MSG_VERSION);
    CHECK(buf[6] == 0 && buf[7] == 6);
    static const uint8_t writer[] = {1, 2, 3, 4};
    static const uint8_t seq[] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    CHECK(memcmp(buf + 8, writer, 4) == 0);
    CHECK(memcmp(buf + 12, seq, 8) == 0);
    CHECK(get_be(buf + 20, 8) == (uint64_t)-5);
    /* first op: code, flags, parent u64, kind u16, objtype u16, mode u32 */
    CHECK(buf[28] == MSG_CREATE && buf[29] == 0);
    CHECK(get_be(buf + 30, 8) == 1);
    CHECK(buf[38] == 0 && buf[39] == 1);
    CHECK(buf[40] == 0 && buf[41] == 3);
    CHECK(get_be(buf + 42, 4) == 0755);
    CHECK(get_be(buf + 46, 4) == 1000);
    CHECK(get_be(buf + 50, 4) == 33);
    CHECK(buf[54] == 0 && buf[55] == 11 && memcmp(buf + 56, "qemu-server", 11) == 0);
    CHECK(get_be(buf + 67, 4) == 0);
    /* second op starts at 71: its parent is MSG_REF | 0 */
    CHECK(buf[71] == MSG_CREATE && buf[73] == 0x80 && get_be(buf + 73, 8) == (MSG_REF | 0));
    free(buf);
}

/* A minimal valid message: one DELETE of inode 5. */
static size_t tiny(uint8_t *buf)
{
    struct msg_batch b = {.writer = 1, .seq = 2, .mtime = 3, .nops = 1};
    b.ops[0].code = MSG_DELETE;
    b.ops[0].inode = 5;
    return (size_t)msg_encode(&b, buf, 64);
}

static void test_header_errors(void)
{
    uint8_t buf[64];
    struct msg_batch d;
    size_t n = tiny(buf);

    CHECK(n == 38);
    CHECK(decode(buf, n, &d) == 0 && d.nops == 1 && d.ops[0].inode == 5);
    CHECK(decode(buf, 0, &d) == -EBADMSG);
    CHECK(decode(buf, 27, &d) == -EBADMSG);

    buf[0] = 'X';
    CHECK(decode(buf, n, &d) == -EBADMSG);
    buf[0] = 'P';
    put_be(buf + 4, 2, 2);
    CHECK(decode(buf, n, &d) == -EBADMSG);
    put_be(buf + 4, 0, 2);
    CHECK(decode(buf, n, &d) == -EBADMSG);
    put_be(buf + 4, MSG_VERSION, 2);
    put_be(buf + 6, 0, 2);
    CHECK(decode(buf, n, &d) == -EBADMSG);
    put_be(buf + 6, MSG_MAX_OPS + 1, 2);
    CHECK(decode(buf, n, &d) == -EBADMSG);
    put_be(buf + 6, 0xffff, 2);
    CHECK(decode(buf, n, &d) == -EBADMSG);
    put_be(buf + 6, 2, 2); /* claims 2 ops, has 1 */
    CHECK(decode(buf, n, &d) == -EBADMSG);
    put_be(buf + 6, 1, 2);
    CHECK(decode(buf, n, &d) == 0);

    /* unknown op codes */
    buf[28] = 0;
    CHECK(decode(buf, n, &d) == -EBADMSG);
    buf[28] = MSG_RENAME + 1;
    CHECK(decode(buf, n, &d) == -EBADMSG);
    buf[28] = 0xff;
    CHECK(decode(buf, n, &d) == -EBADMSG);
    buf[28] = MSG_DELETE;

    /* trailing bytes */
    buf[n] = 0;
    CHECK(decode(buf, n + 1, &d) == -EBADMSG);
    CHECK(decode(buf, n, &d) == 0);
}

/* A single CREATE "f" in root with data "abc"; offsets of the name and data fields. */
enum { C_NAMELEN = 54, C_NAME = 56, C_DATALEN = 57, C_DATA = 61, C_END = 64 };

static size_t one_create(uint8_t *buf)
{
    struct msg_batch b = {.nops = 1};
    b.ops[0].code = MSG_CREATE;
    b.ops[0].inode = 1;
    b.ops[0].kind = 2;
    strcpy(b.ops[0].name, "f");
    b.ops[0].data = (const uint8_t *)"abc";
    b.ops[0].size = 3;
    return (size_t)msg_encode(&b, buf, C_END);
}

static void test_name_data_errors(void)
{
    uint8_t buf[C_END + 300];
    struct msg_batch d;

    CHECK(one_create(buf) == C_END);
    CHECK(decode(buf, C_END, &d) == 0 && strcmp(d.ops[0].name, "f") == 0 && d.ops[0].size == 3);

    buf[C_NAME] = '/';
    CHECK(decode(buf, C_END, &d) == -EBADMSG);
    buf[C_NAME] = 0;
    CHECK(decode(buf, C_END, &d) == -EBADMSG);
    buf[C_NAME] = 'f';

    /* name length 0: the byte that was the name now starts the data length */
    uint8_t z[C_END];
    memcpy(z, buf, C_NAME);
    put_be(z + C_NAMELEN, 0, 2);
    memcpy(z + C_NAME, buf + C_NAME + 1, C_END - C_NAME - 1);
    CHECK(decode(z, C_END - 1, &d) == -EBADMSG);

    /* name length 256 with 256 bytes of name present */
    uint8_t big[C_END + 300];
    memcpy(big, buf, C_NAMELEN);
    put_be(big + C_NAMELEN, 256, 2);
    memset(big + C_NAME, 'a', 256);
    put_be(big + C_NAME + 256, 0, 4);
    CHECK(decode(big, C_NAME + 256 + 4, &d) == -EBADMSG);
    /* 255 is the limit and fine */
    put_be(big + C_NAMELEN, 255, 2);
    put_be(big + C_NAME + 255, 0, 4);
    CHECK(decode(big, C_NAME + 255 + 4, &d) == 0 && strlen(d.ops[0].name) == 255);
    /* a NUL in the middle of a long name */
    big[C_NAME + 100] = 0;
    CHECK(decode(big, C_NAME + 255 + 4, &d) == -EBADMSG);

    /* data length beyond the buffer */
    put_be(buf + C_DATALEN, 4, 4);
    CHECK(decode(buf, C_END, &d) == -EBADMSG);
    put_be(buf + C_DATALEN, 0xffffffff, 4);
    CHECK(decode(buf, C_END, &d) == -EBADMSG);
    /* data length over MSG_MAX_DATA even when the bytes are there */
    size_t bl = C_DATA + MSG_MAX_DATA + 1;
    uint8_t *huge = calloc(1, bl);
    CHECK(huge != NULL);
    if (huge) {
        memcpy(huge, buf, C_DATA);
        put_be(huge + C_DATALEN, MSG_MAX_DATA + 1, 4);
        CHECK(decode(huge, bl, &d) == -EBADMSG);
        put_be(huge + C_DATALEN, MSG_MAX_DATA, 4);
        CHECK(decode(huge, bl - 1, &d) == 0 && d.ops[0].size == MSG_MAX_DATA);
        free(huge);
    }
}

static void test_forward_ref(void)
{
    struct msg_batch b, d;
    uint8_t buf[256];
    memset(&b, 0, sizeof(b));
    b.nops = 2;
    b.ops[0].code = MSG_DELETE;
    b.ops[0].inode = 9;
    b.ops[1].code = MSG_DELETE;
    b.ops[1].inode = MSG_REF | 0;
    long n = msg_encode(&b, buf, sizeof(buf));
    CHECK(n > 0 && decode(buf, (size_t)n, &d) == 0);
    b.ops[1].inode = MSG_REF | 1; /* itself */
    n = msg_encode(&b, buf, sizeof(buf));
    CHECK(n > 0 && decode(buf, (size_t)n, &d) == -EBADMSG);
    b.ops[0].inode = MSG_REF | 1; /* op 0 refers to op 1 */
    b.ops[1].inode = 9;
    n = msg_encode(&b, buf, sizeof(buf));
    CHECK(n > 0 && decode(buf, (size_t)n, &d) == -EBADMSG);
    b.ops[0].inode = MSG_REF | 0xffff;
    n = msg_encode(&b, buf, sizeof(buf));
    CHECK(n > 0 && decode(buf, (size_t)n, &d) == -EBADMSG);
}

/* msg.h: "A parent or inode field with MSG_REF set refers to ... op number (field & 0xffff)"; a
 * RENAME's dst_parent is such a parent field, so a forward reference there is equally invalid. */
static void test_rename_dst_forward_ref(void)
{
    struct msg_batch b, d;
    uint8_t buf[256];
    memset(&b, 0, sizeof(b));
    b.nops = 2;
    b.ops[0].code = MSG_CREATE;
    b.ops[0].inode = 1;
    b.ops[0].kind = 1;
    strcpy(b.ops[0].name, "d");
    b.ops[1].code = MSG_RENAME;
    b.ops[1].inode = 7;
    b.ops[1].dst_parent = MSG_REF | 0;
    strcpy(b.ops[1].name, "x");
    long n = msg_encode(&b, buf, sizeof(buf));
    CHECK(n > 0 && decode(buf, (size_t)n, &d) == 0 && d.ops[1].dst_parent == (MSG_REF | 0));
    b.ops[1].dst_parent = MSG_REF | 5; /* no op 5 precedes op 1 */
    n = msg_encode(&b, buf, sizeof(buf));
    CHECK(n > 0 && decode(buf, (size_t)n, &d) == -EBADMSG);
}

static void test_truncations(void)
{
    struct msg_batch b, d;
    size_t len;
    sample_batch(&b);
    uint8_t *buf = encode(&b, &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    int bad = 0;
    for (size_t n = 0; n < len; n++) {
        /* an exact-size heap copy so ASan sees any read past the end */
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, buf, n);
        if (decode(cut, n, &d) != -EBADMSG)
            bad++;
        free(cut);
    }
    CHECK(bad == 0);
    CHECK(decode(buf, len, &d) == 0);
    free(buf);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    uint64_t x = rnd_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rnd_state = x;
}

static void test_random_flips(void)
{
    struct msg_batch b, d;
    size_t len;
    sample_batch(&b);
    uint8_t *buf = encode(&b, &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    uint8_t *m = malloc(len);
    int other = 0, ok = 0, rejected = 0;
    for (int iter = 0; iter < 5000; iter++) {
        memcpy(m, buf, len);
        int flips = 1 + (int)(rnd() % 4);
        for (int k = 0; k < flips; k++)
            m[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
        int rc = decode(m, len, &d);
        if (rc == 0) {
            ok++;
            /* anything accepted must be internally consistent */
            CHECK(d.nops >= 1 && d.nops <= MSG_MAX_OPS);
            for (unsigned i = 0; i < d.nops; i++) {
                CHECK(strlen(d.ops[i].name) <= MSG_MAX_NAME && !strchr(d.ops[i].name, '/'));
                CHECK(d.ops[i].size == 0 ||
                      (d.ops[i].data >= m && d.ops[i].data + d.ops[i].size <= m + len));
            }
        } else if (rc == -EBADMSG) {
            rejected++;
        } else {
            other++;
        }
    }
    CHECK(other == 0);
    CHECK(ok > 0 && rejected > 0); /* the fuzzing reached both outcomes */
    free(m);
    free(buf);
}

static void test_encoded_size(void)
{
    struct msg_batch b;
    uint8_t buf[64];
    memset(&b, 0, sizeof(b));
    CHECK(msg_encoded_size(&b) == 0); /* nops 0 */
    CHECK(msg_encode(&b, buf, sizeof(buf)) == -EINVAL);
    b.nops = 1;
    b.ops[0].code = MSG_DELETE;
    CHECK(msg_encoded_size(&b) == 38);
    CHECK(msg_encode(&b, buf, 37) == -EINVAL); /* buffer too small */
    b.nops = MSG_MAX_OPS + 1;
    CHECK(msg_encoded_size(&b) == 0);
    b.nops = MSG_MAX_OPS;
    for (int i = 0; i < MSG_MAX_OPS; i++)
        b.ops[i].code = MSG_DELETE;
    CHECK(msg_encoded_size(&b) == 28 + 10 * MSG_MAX_OPS);
    b.ops[3].code = 0; /* unknown code */
    CHECK(msg_encoded_size(&b) == 0);
    b.ops[3].code = MSG_WRITE;
    b.ops[3].size = MSG_MAX_DATA + 1;
    CHECK(msg_encoded_size(&b) == 0);
    b.ops[3].size = 0;
    CHECK(msg_encoded_size(&b) == 28 + 10 * MSG_MAX_OPS + 4);
}

/* A conditional write carries its expected version right after the inode, big-endian. */
static void test_write_if_version(void)
{
    struct msg_batch b, d;
    size_t len;
    uint8_t *buf;

    memset(&b, 0, sizeof(b));
    b.nops = 1;
    b.ops[0].code = MSG_WRITE;
    b.ops[0].flags = MSG_F_IFVERSION;
    b.ops[0].inode = 7;
    b.ops[0].if_version = 0x0102030405060708ull;
    b.ops[0].data = new_data;
    b.ops[0].size = sizeof(new_data) - 1;
    buf = encode(&b, &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    CHECK(len == 28 + 2 + 8 + 8 + 4 + sizeof(new_data) - 1);
    CHECK(buf[38] == 1 && buf[45] == 8); /* after code, flags and the inode */
    CHECK(decode(buf, len, &d) == 0);
    CHECK(d.ops[0].flags == MSG_F_IFVERSION && d.ops[0].if_version == 0x0102030405060708ull);
    CHECK(d.ops[0].size == sizeof(new_data) - 1 && memcmp(d.ops[0].data, new_data, 13) == 0);
    /* cut inside the version: refused, never read past the end */
    CHECK(decode(buf, 42, &d) != 0);
    free(buf);
}

const struct unit_test msg_tests[] = {
    {"msg_write_if_version", test_write_if_version},
    {"msg_round_trip", test_round_trip},
    {"msg_byte_order", test_byte_order},
    {"msg_header_errors", test_header_errors},
    {"msg_name_data_errors", test_name_data_errors},
    {"msg_forward_ref", test_forward_ref},
    {"msg_rename_dst_forward_ref", test_rename_dst_forward_ref},
    {"msg_truncations", test_truncations},
    {"msg_random_flips", test_random_flips},
    {"msg_encoded_size", test_encoded_size},
    {NULL, NULL},
};
