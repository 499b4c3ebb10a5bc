/* Unit tests for the status channel's wire codec (cluster/kvs.c): round trip, byte order,
 * limits, and the checked decoder (truncations and random bit flips). */
#include "../../cluster/kvs.h"
#include "unit.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char status_text[] = "node: n1\nonline: 1\nuptime: 12\ncpu: 0.0100\n";
static const char cmd_text[] = "migrate n3 online";
static const char reply_text[] = "vm 100 is running; stop it first";

/* One sample of every message type. */
static void samples(struct kvs_msg *m)
{
    memset(m, 0, 4 * sizeof(*m));
    m[0] = (struct kvs_msg){.type = KVS_HELLO, .name = "n1", .name_len = 2};
    m[1] = (struct kvs_msg){.type = KVS_STATUS,
                            .id = 0x1122334455667788ull,
                            .name = "node-two",
                            .name_len = 8,
                            .data = status_text,
                            .data_len = sizeof(status_text) - 1};
    m[2] = (struct kvs_msg){.type = KVS_FWD_REQ,
                            .id = 0xfedcba9876543210ull,
                            .from = 1,
                            .to = 0x01020304,
                            .path = "/nodes/n2/qemu/100/ctl",
                            .path_len = 22,
                            .data = cmd_text,
                            .data_len = sizeof(cmd_text) - 1};
    m[3] = (struct kvs_msg){.type = KVS_FWD_REPLY,
                            .id = 42,
                            .to = 7,
                            .err = EBUSY,
                            .data = reply_text,
                            .data_len = sizeof(reply_text) - 1};
}

/* Encodes m into an exact-size heap buffer (so ASan sees any read past its end). */
static uint8_t *encode(const struct kvs_msg *m, size_t *len)
{
    size_t n = kvs_encoded_size(m);
    uint8_t *buf = n ? malloc(n) : NULL;

    if (!buf || kvs_encode(m, buf, n) != (int)n) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int same_field(const char *a, size_t al, const char *b, size_t bl)
{
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static int same(const struct kvs_msg *a, const struct kvs_msg *b)
{
    return a->type == b->type && a->id == b->id && a->from == b->from && a->to == b->to &&
           a->err == b->err && same_field(a->name, a->name_len, b->name, b->name_len) &&
           same_field(a->path, a->path_len, b->path, b->path_len) &&
           same_field(a->data, a->data_len, b->data, b->data_len);
}

static void test_round_trip(void)
{
    struct kvs_msg m[4], d;
    char why[128];

    samples(m);
    for (int i = 0; i < 4; i++) {
        size_t len = 0;
        uint8_t *buf = encode(&m[i], &len);
        CHECK(buf != NULL);
        if (!buf)
            continue;
        CHECK(kvs_decode(buf, len, &d, why, sizeof(why)) == 0);
        CHECK(same(&m[i], &d));
        free(buf);
    }
}

static void test_byte_order(void)
{
    struct kvs_msg m[4];
    size_t len = 0;
    uint8_t *buf;

    samples(m);
    buf = encode(&m[2], &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    /* header: "PVKV", version 1, type 3, zero */
    CHECK(memcmp(buf, "PVKV\x01\x03\x00\x00", 8) == 0);
    /* id, big-endian */
    CHECK(memcmp(buf + 8, "\xfe\xdc\xba\x98\x76\x54\x32\x10", 8) == 0);
    /* from 1, to 0x01020304, path length 22 */
    CHECK(memcmp(buf + 16, "\x00\x00\x00\x01\x01\x02\x03\x04\x00\x16", 10) == 0);
    CHECK(memcmp(buf + 26, "/nodes/n2/qemu/100/ctl", 22) == 0);
    CHECK(memcmp(buf + 48, "\x00\x00\x00\x11", 4) == 0);
    CHECK(len == 52 + sizeof(cmd_text) - 1);
    free(buf);
}

static void test_limits(void)
{
    static char big[KVS_MAX_TEXT + 2];
    struct kvs_msg m[4], x;
    uint8_t small[8];

    samples(m);
    memset(big, 'a', sizeof(big) - 1);
    x = m[0];
    x.name_len = 0; /* a nameless announcement */
    CHECK(kvs_encoded_size(&x) == 0 && kvs_encode(&x, small, sizeof(small)) == -EINVAL);
    x.name = big;
    x.name_len = KVS_MAX_NAME + 1;
    CHECK(kvs_encoded_size(&x) == 0);
    x.name_len = KVS_MAX_NAME;
    CHECK(kvs_encoded_size(&x) != 0);
    x = m[1];
    x.data = big;
    x.data_len = KVS_MAX_TEXT + 1;
    CHECK(kvs_encoded_size(&x) == 0);
    x.data_len = KVS_MAX_TEXT;
    CHECK(kvs_encoded_size(&x) != 0);
    x = m[1];
    x.data = "a\0b";
    x.data_len = 3; /* text never carries NUL */
    CHECK(kvs_encoded_size(&x) == 0);
    x = m[2];
    x.path = "nodes/n2/ctl"; /* paths are absolute */
    x.path_len = 12;
    CHECK(kvs_encoded_size(&x) == 0);
    x = m[2];
    x.data_len = 0; /* empty command */
    CHECK(kvs_encoded_size(&x) == 0);
    x = m[2];
    x.from = 0;
    CHECK(kvs_encoded_size(&x) == 0);
    x = m[3];
    x.err = 5000;
    CHECK(kvs_encoded_size(&x) == 0);
    x = m[3];
    x.data_len = 0; /* success without a message */
    CHECK(kvs_encoded_size(&x) != 0);
    x.type = 9;
    CHECK(kvs_encoded_size(&x) == 0);
    CHECK(kvs_encode(&m[2], small, sizeof(small)) == -EMSGSIZE);
}

static void test_bad_headers(void)
{
    struct kvs_msg m[4], d;
    size_t len = 0;
    uint8_t *buf, *longer;

    samples(m);
    buf = encode(&m[0], &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    for (size_t i = 0; i < 8; i++) {
        buf[i] ^= 0x40; /* magic, version, type and the zero field all count */
        CHECK(kvs_decode(buf, len, &d, NULL, 0) == -EBADMSG);
        buf[i] ^= 0x40;
    }
    CHECK(kvs_decode(buf, len, &d, NULL, 0) == 0);
    longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    CHECK(kvs_decode(longer, len + 1, &d, NULL, 0) == -EBADMSG); /* trailing byte */
    CHECK(kvs_decode(NULL, 0, &d, NULL, 0) == -EBADMSG);
    free(longer);
    free(buf);
}

static void test_truncations(void)
{
    struct kvs_msg m[4], d;
    int bad = 0;

    samples(m);
    for (int i = 0; i < 4; i++) {
        size_t len = 0;
        uint8_t *buf = encode(&m[i], &len);
        CHECK(buf != NULL);
        if (!buf)
            continue;
        for (size_t n = 0; n < len; n++) {
            uint8_t *cut = malloc(n ? n : 1);
            memcpy(cut, buf, n);
            if (kvs_decode(cut, n, &d, NULL, 0) != -EBADMSG)
                bad++;
            free(cut);
        }
        free(buf);
    }
    CHECK(bad == 0);
}

static uint64_t rnd_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
    uint64_t x = rnd_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rnd_state = x;
}

/* Anything the decoder accepts points inside the buffer and keeps the limits. */
static int sane(const struct kvs_msg *d, const uint8_t *buf, size_t len)
{
    const char *lo = (const char *)buf, *hi = lo + len;

    if (d->name_len > KVS_MAX_NAME || d->path_len > KVS_MAX_PATH || d->data_len > KVS_MAX_TEXT)
        return 0;
    if ((d->name_len && (d->name < lo || d->name + d->name_len > hi)) ||
        (d->path_len && (d->path < lo || d->path + d->path_len > hi)) ||
        (d->data_len && (d->data < lo || d->data + d->data_len > hi)))
        return 0;
    return d->type >= KVS_HELLO && d->type <= KVS_FWD_REPLY;
}

static void test_random_flips(void)
{
    struct kvs_msg m[4], d;
    int other = 0, insane = 0, rejected = 0;

    samples(m);
    for (int i = 0; i < 4; i++) {
        size_t len = 0;
        uint8_t *buf = encode(&m[i], &len), *x;
        CHECK(buf != NULL);
        if (!buf)
            continue;
        x = malloc(len);
        for (int iter = 0; iter < 5000; iter++) {
            int rc;
            memcpy(x, buf, len);
            for (int k = 1 + (int)(rnd() % 4); k; k--)
                x[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
            rc = kvs_decode(x, len, &d, NULL, 0);
            if (rc == 0)
                insane += !sane(&d, x, len);
            else if (rc == -EBADMSG)
                rejected++;
            else
                other++;
        }
        /* random bytes too, of every short length */
        for (int iter = 0; iter < 2000; iter++) {
            size_t n = rnd() % 64;
            for (size_t j = 0; j < n && j < len; j++)
                x[j] = (uint8_t)rnd();
            if (kvs_decode(x, n < len ? n : len, &d, NULL, 0) == 0)
                insane += !sane(&d, x, n < len ? n : len);
        }
        free(x);
        free(buf);
    }
    CHECK(other == 0);
    CHECK(insane == 0);
    CHECK(rejected > 0);
}

const struct unit_test kvs_tests[] = {
    {"kvs_round_trip", test_round_trip},
    {"kvs_byte_order", test_byte_order},
    {"kvs_limits", test_limits},
    {"kvs_bad_headers", test_bad_headers},
    {"kvs_truncations", test_truncations},
    {"kvs_random_flips", test_random_flips},
    {NULL, NULL},
};
