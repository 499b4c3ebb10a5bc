/*
 * wire: big-endian encoding into a buffer and checked decoding out of one,
 * shared by every message format of the cluster (store batches, sync, status).
 * A reader that runs past its end sets bad and reads zeros from then on.
 */
#ifndef PV_WIRE_H
#define PV_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wire_w {
    uint8_t *p;
};

struct wire_r {
    const uint8_t *p, *end;
    int bad;
};

static inline void wire_put(struct wire_w *w, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        *w->p++ = (uint8_t)(v >> (8 * i));
}

static inline void wire_put_bytes(struct wire_w *w, const void *src, size_t n)
{
    if (n)
        memcpy(w->p, src, n);
    w->p += n;
}

static inline int wire_need(struct wire_r *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return 0;
    }
    return 1;
}

static inline uint64_t wire_get(struct wire_r *r, int bytes)
{
    uint64_t v = 0;

    if (!wire_need(r, (size_t)bytes))
        return 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | *r->p++;
    return v;
}

/* Points *out at n bytes in the buffer (no copy). */
static inline const uint8_t *wire_get_bytes(struct wire_r *r, size_t n)
{
    const uint8_t *p = r->p;

    if (!wire_need(r, n))
        return NULL;
    r->p += n;
    return p;
}

#endif
