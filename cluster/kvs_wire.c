/* kvs_wire: the table-driven codec of the status channel's messages; see kvs.h. */
#include "kvs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wire.h"

#define HDR_SIZE  8
#define MAX_ERRNO 4095

/* The fields of each message type, in wire order (see kvs.h); F_END ends a layout. */
enum field { F_END, F_ID, F_FROM, F_TO, F_ERR, F_NAME, F_PATH, F_DATA16, F_DATA32 };

static const uint8_t layouts[][6] = {
    [KVS_HELLO] = {F_NAME},
    [KVS_STATUS] = {F_ID, F_NAME, F_DATA32},
    [KVS_FWD_REQ] = {F_ID, F_FROM, F_TO, F_PATH, F_DATA32},
    [KVS_FWD_REPLY] = {F_ID, F_TO, F_ERR, F_DATA16},
};

/* Width of an integer field, or of a string field's length prefix. */
static const uint8_t widths[] = {
    [F_ID] = 8,   [F_FROM] = 4, [F_TO] = 4,     [F_ERR] = 4,
    [F_NAME] = 2, [F_PATH] = 2, [F_DATA16] = 2, [F_DATA32] = 4,
};

static const uint8_t *layout(uint8_t type)
{
    return type && type < sizeof(layouts) / sizeof(layouts[0]) ? layouts[type] : NULL;
}

/* The string field f of m (name, path or data), or 0 if f is an integer. */
static int str_of(struct kvs_msg *m, int f, const char ***str, size_t **len)
{
    if (f == F_NAME) {
        *str = &m->name;
        *len = &m->name_len;
    } else if (f == F_PATH) {
        *str = &m->path;
        *len = &m->path_len;
    } else if (f == F_DATA16 || f == F_DATA32) {
        *str = &m->data;
        *len = &m->data_len;
    } else {
        return 0;
    }
    return 1;
}

/* The integer field f of m. */
static uint64_t num_of(const struct kvs_msg *m, int f)
{
    return f == F_ID ? m->id : f == F_FROM ? m->from : f == F_TO ? m->to : m->err;
}

static void set_num(struct kvs_msg *m, int f, uint64_t v)
{
    if (f == F_ID)
        m->id = v;
    else if (f == F_FROM)
        m->from = (uint32_t)v;
    else if (f == F_TO)
        m->to = (uint32_t)v;
    else
        m->err = (uint32_t)v;
}

static void explain(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void explain(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    if (why && whylen) {
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
}

/* Refuses a message with the reason (a macro, so analyzers see the constant result). */
#define BADMSG(...) (explain(why, whylen, __VA_ARGS__), -EBADMSG)

/* Text fields carry no NUL, so receivers can treat them as C strings. */
static int text_ok(const char *s, size_t n, size_t min, size_t max)
{
    return n >= min && n <= max && (!n || (s && !memchr(s, 0, n)));
}

/* The limits both sides enforce: what the encoder refuses, the decoder would refuse too. */
static int check(const struct kvs_msg *m, char *why, size_t whylen)
{
    switch (m->type) {
    case KVS_STATUS:
        if (!text_ok(m->data, m->data_len, 0, KVS_MAX_TEXT))
            return BADMSG("bad status text (%zu bytes)", m->data_len);
        /* fall through */
    case KVS_HELLO:
        if (!text_ok(m->name, m->name_len, 1, KVS_MAX_NAME))
            return BADMSG("bad node name (%zu bytes)", m->name_len);
        return 0;
    case KVS_FWD_REQ:
        if (!m->from || !m->to)
            return BADMSG("request without node ids");
        if (!text_ok(m->path, m->path_len, 1, KVS_MAX_PATH) || m->path[0] != '/')
            return BADMSG("bad path (%zu bytes)", m->path_len);
        if (!text_ok(m->data, m->data_len, 1, KVS_MAX_CMD))
            return BADMSG("bad command (%zu bytes)", m->data_len);
        return 0;
    case KVS_FWD_REPLY:
        if (!m->to || m->err > MAX_ERRNO)
            return BADMSG("bad reply header (to %u, errno %u)", m->to, m->err);
        if (!text_ok(m->data, m->data_len, 0, KVS_MAX_MSG))
            return BADMSG("bad reply message (%zu bytes)", m->data_len);
        return 0;
    default:
        return BADMSG("unknown message type %u", m->type);
    }
}

size_t kvs_encoded_size(const struct kvs_msg *m)
{
    struct kvs_msg c = *m;
    size_t n = HDR_SIZE, *len;
    const char **str;

    if (check(m, NULL, 0) < 0)
        return 0;
    for (const uint8_t *f = layout(m->type); *f; f++)
        n += widths[*f] + (str_of(&c, *f, &str, &len) ? *len : 0);
    return n;
}

int kvs_encode(const struct kvs_msg *m, uint8_t *buf, size_t cap)
{
    size_t n = kvs_encoded_size(m), *len;
    struct kvs_msg c = *m;
    const char **str;
    struct wire_w w = {buf};

    if (!n)
        return -EINVAL;
    if (n > cap)
        return -EMSGSIZE;
    wire_put(&w, KVS_MAGIC, 4);
    wire_put(&w, KVS_VERSION, 1);
    wire_put(&w, m->type, 1);
    wire_put(&w, 0, 2);
    for (const uint8_t *f = layout(m->type); *f; f++) {
        if (!str_of(&c, *f, &str, &len)) {
            wire_put(&w, num_of(m, *f), widths[*f]);
            continue;
        }
        wire_put(&w, *len, widths[*f]);
        wire_put_bytes(&w, *str, *len);
    }
    return (int)n;
}

int kvs_decode(const uint8_t *buf, size_t len, struct kvs_msg *m, char *why, size_t whylen)
{
    struct wire_r r = {buf, NULL, 0};
    const uint8_t *fields;
    uint32_t magic;
    uint8_t version;

    memset(m, 0, sizeof(*m));
    if (!buf || len < HDR_SIZE)
        return BADMSG("short message (%zu bytes)", len);
    r.end = buf + len;
    magic = (uint32_t)wire_get(&r, 4);
    version = (uint8_t)wire_get(&r, 1);
    m->type = (uint8_t)wire_get(&r, 1);
    if (magic != KVS_MAGIC || version != KVS_VERSION || wire_get(&r, 2) != 0)
        return BADMSG("bad header (magic %08x, version %u)", magic, version);
    if (!(fields = layout(m->type)))
        return BADMSG("unknown message type %u", m->type);
    for (const uint8_t *f = fields; *f; f++) {
        const char **str;
        size_t *slen;
        if (!str_of(m, *f, &str, &slen)) {
            set_num(m, *f, wire_get(&r, widths[*f]));
            continue;
        }
        *slen = (size_t)wire_get(&r, widths[*f]);
        *str = (const char *)wire_get_bytes(&r, *slen);
    }
    if (r.bad)
        return BADMSG("truncated type %u message (%zu bytes)", m->type, len);
    if (r.p != r.end)
        return BADMSG("%zu trailing bytes after a type %u message", (size_t)(r.end - r.p), m->type);
    return check(m, why, whylen);
}
