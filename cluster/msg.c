/* msg: encoding and checked decoding of store batches; see msg.h for the layout. */
#include "msg.h"
#include "wire.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HDR_SIZE 28

/* The encoder writes into a buffer sized by msg_encoded_size. */
#define put8(w, v)  wire_put((w), (v), 1)
#define put16(w, v) wire_put((w), (v), 2)
#define put32(w, v) wire_put((w), (v), 4)
#define put64(w, v) wire_put((w), (v), 8)
#define putbytes    wire_put_bytes

static size_t op_size(const struct msg_op *op)
{
    size_t name = 2 + strlen(op->name), data = 4 + (size_t)op->size;

    switch (op->code) {
    case MSG_CREATE:
        return 2 + 8 + 2 + 2 + 4 + 4 + 4 + name + data;
    case MSG_WRITE:
        return 2 + 8 + (op->flags & MSG_F_IFVERSION ? 8 : 0) + data;
    case MSG_SETATTR:
        return 2 + 8 + 4 + 4 + 4 + 4 + 8;
    case MSG_DELETE:
        return 2 + 8;
    case MSG_RENAME:
        return 2 + 8 + 8 + name;
    default:
        return 0;
    }
}

size_t msg_encoded_size(const struct msg_batch *b)
{
    size_t n = HDR_SIZE;

    if (b->nops == 0 || b->nops > MSG_MAX_OPS)
        return 0;
    for (unsigned i = 0; i < b->nops; i++) {
        const struct msg_op *op = &b->ops[i];
        size_t s = op_size(op), nl = strlen(op->name);
        int named = op->code == MSG_CREATE || op->code == MSG_RENAME;
        /* Refuse here what the decoder would refuse on every node. */
        if (!s || op->size > MSG_MAX_DATA || nl > MSG_MAX_NAME ||
            (named && (nl == 0 || strchr(op->name, '/'))))
            return 0;
        n += s;
    }
    return n;
}

long msg_encode(const struct msg_batch *b, uint8_t *buf, size_t len)
{
    size_t want = msg_encoded_size(b);
    struct wire_w w = {buf};

    if (!want || want > len)
        return -EINVAL;
    put32(&w, MSG_MAGIC);
    put16(&w, MSG_VERSION);
    put16(&w, b->nops);
    put32(&w, b->writer);
    put64(&w, b->seq);
    put64(&w, (uint64_t)b->mtime);
    for (unsigned i = 0; i < b->nops; i++) {
        const struct msg_op *op = &b->ops[i];
        size_t nl = strlen(op->name);

        put8(&w, op->code);
        put8(&w, op->flags);
        put64(&w, op->inode);
        switch (op->code) {
        case MSG_CREATE:
            put16(&w, op->kind);
            put16(&w, op->objtype);
            put32(&w, op->mode);
            put32(&w, op->uid);
            put32(&w, op->gid);
            put16(&w, (uint16_t)nl);
            putbytes(&w, op->name, nl);
            put32(&w, op->size);
            putbytes(&w, op->data, op->size);
            break;
        case MSG_WRITE:
            if (op->flags & MSG_F_IFVERSION)
                put64(&w, op->if_version);
            put32(&w, op->size);
            putbytes(&w, op->data, op->size);
            break;
        case MSG_SETATTR:
            put32(&w, op->mask);
            put32(&w, op->mode);
            put32(&w, op->uid);
            put32(&w, op->gid);
            put64(&w, (uint64_t)op->mtime);
            break;
        case MSG_DELETE:
            break;
        case MSG_RENAME:
            put64(&w, op->dst_parent);
            put16(&w, (uint16_t)nl);
            putbytes(&w, op->name, nl);
            break;
        }
    }
    return (long)(w.p - buf);
}

#define getn(r, n) wire_get((r), (n))
#define need       wire_need

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -EBADMSG;
}

static int get_name(struct wire_r *r, char *name)
{
    size_t n = (size_t)getn(r, 2);

    if (n == 0 || n > MSG_MAX_NAME || !need(r, n))
        return -1;
    memcpy(name, r->p, n);
    name[n] = 0;
    r->p += n;
    if (memchr(name, '/', n) || strlen(name) != n)
        return -1;
    return 0;
}

static int get_data(struct wire_r *r, struct msg_op *op)
{
    op->size = (uint32_t)getn(r, 4);
    if (op->size > MSG_MAX_DATA || !need(r, op->size))
        return -1;
    op->data = r->p;
    r->p += op->size;
    return 0;
}

int msg_decode(const uint8_t *buf, size_t len, struct msg_batch *b, char *why, size_t whylen)
{
    struct wire_r r = {buf, buf + len, 0};
    uint32_t magic;
    uint16_t ver;

    memset(b, 0, sizeof(*b));
    if (len < HDR_SIZE)
        return fail(why, whylen, "short message (%zu bytes)", len);
    magic = (uint32_t)getn(&r, 4);
    ver = (uint16_t)getn(&r, 2);
    b->nops = (uint16_t)getn(&r, 2);
    b->writer = (uint32_t)getn(&r, 4);
    b->seq = getn(&r, 8);
    b->mtime = (int64_t)getn(&r, 8);
    if (magic != MSG_MAGIC)
        return fail(why, whylen, "bad magic 0x%08x", magic);
    if (ver != MSG_VERSION)
        return fail(why, whylen, "unsupported format version %u", ver);
    if (b->nops == 0 || b->nops > MSG_MAX_OPS)
        return fail(why, whylen, "bad op count %u", b->nops);

    for (unsigned i = 0; i < b->nops; i++) {
        struct msg_op *op = &b->ops[i];
        int bad = 0;

        op->code = (uint8_t)getn(&r, 1);
        op->flags = (uint8_t)getn(&r, 1);
        op->inode = getn(&r, 8);
        switch (op->code) {
        case MSG_CREATE:
            op->kind = (uint16_t)getn(&r, 2);
            op->objtype = (uint16_t)getn(&r, 2);
            op->mode = (uint32_t)getn(&r, 4);
            op->uid = (uint32_t)getn(&r, 4);
            op->gid = (uint32_t)getn(&r, 4);
            bad = get_name(&r, op->name) || get_data(&r, op);
            break;
        case MSG_WRITE:
            if (op->flags & MSG_F_IFVERSION)
                op->if_version = getn(&r, 8);
            bad = get_data(&r, op);
            break;
        case MSG_SETATTR:
            op->mask = (uint32_t)getn(&r, 4);
            op->mode = (uint32_t)getn(&r, 4);
            op->uid = (uint32_t)getn(&r, 4);
            op->gid = (uint32_t)getn(&r, 4);
            op->mtime = (int64_t)getn(&r, 8);
            break;
        case MSG_DELETE:
            break;
        case MSG_RENAME:
            op->dst_parent = getn(&r, 8);
            bad = get_name(&r, op->name);
            break;
        default:
            return fail(why, whylen, "op %u: unknown code %u", i, op->code);
        }
        if (bad || r.bad)
            return fail(why, whylen, "op %u (code %u): truncated or malformed field", i, op->code);
        if (((op->inode & MSG_REF) && (op->inode & 0xffff) >= i) ||
            ((op->dst_parent & MSG_REF) && (op->dst_parent & 0xffff) >= i))
            return fail(why, whylen, "op %u: forward reference", i);
    }
    if (r.p != r.end)
        return fail(why, whylen, "%zu trailing bytes", (size_t)(r.end - r.p));
    return 0;
}
