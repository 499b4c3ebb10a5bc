/* buf: a growable text buffer for rendered files. */
#ifndef PV_BUF_H
#define PV_BUF_H

#include <stddef.h>

struct pv_buf {
    char *p;
    size_t len, cap;
    int oom; /* an append failed: the content is incomplete */
};

int pv_buf_add(struct pv_buf *b, const void *data, size_t len);
int pv_buf_printf(struct pv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pv_buf_free(struct pv_buf *b);

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
size_t pv_utf8_len(const unsigned char *s, size_t n);
/* 1 if p is UTF-8 text without control characters other than tab and newline. */
int pv_text_ok(const char *p, size_t n);

#endif
