/* clog: the cluster log and the list of rejected writes; see clog.h. */
#include "clog.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct err_rec {
    int64_t when;
    int err;
    char path[256];
    char msg[256];
};

static struct {
    pthread_mutex_t lock;
    char node[64];
    char *buf;       /* the kept window */
    size_t len, cap; /* protected by lock */
    uint64_t base;   /* offset of buf[0] in the whole log */
    int64_t mtime;
    struct err_rec errs[CLOG_ERRORS];
    unsigned nerr, head; /* ring of errs */
    int64_t err_mtime;
} lg = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const struct {
    int err;
    const char *name;
} errnames[] = {
    {EPERM, "EPERM"},
    {ENOENT, "ENOENT"},
    {EIO, "EIO"},
    {EBADF, "EBADF"},
    {EAGAIN, "EAGAIN"},
    {ENOMEM, "ENOMEM"},
    {EACCES, "EACCES"},
    {EBUSY, "EBUSY"},
    {EEXIST, "EEXIST"},
    {EXDEV, "EXDEV"},
    {ENOTDIR, "ENOTDIR"},
    {EISDIR, "EISDIR"},
    {EINVAL, "EINVAL"},
    {EFBIG, "EFBIG"},
    {ENOSPC, "ENOSPC"},
    {EROFS, "EROFS"},
    {ERANGE, "ERANGE"},
    {ENAMETOOLONG, "ENAMETOOLONG"},
    {ENOTEMPTY, "ENOTEMPTY"},
    {ENOTSUP, "ENOTSUP"},
    {ETIMEDOUT, "ETIMEDOUT"},
    {EHOSTUNREACH, "EHOSTUNREACH"},
    {EBADMSG, "EBADMSG"},
    {ENODATA, "ENODATA"},
};

const char *clog_errname(int err, char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
        if (errnames[i].err == err)
            return errnames[i].name;
    snprintf(buf, len, "E%d", err);
    return buf;
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void clog_init(const char *node)
{
    pthread_mutex_lock(&lg.lock);
    snprintf(lg.node, sizeof(lg.node), "%s", node);
    pthread_mutex_unlock(&lg.lock);
}

static void append_locked(const char *line, size_t n)
{
    if (lg.len + n > CLOG_MAX) {
        size_t drop = lg.len / 2;
        char *nl = memchr(lg.buf + drop, '\n', lg.len - drop);
        drop = nl ? (size_t)(nl - lg.buf) + 1 : lg.len;
        memmove(lg.buf, lg.buf + drop, lg.len - drop);
        lg.len -= drop;
        lg.base += drop;
    }
    if (lg.len + n > lg.cap) {
        size_t cap = lg.cap ? lg.cap : 65536;
        while (cap < lg.len + n)
            cap *= 2;
        char *b = realloc(lg.buf, cap);
        if (!b)
            return;
        lg.buf = b;
        lg.cap = cap;
    }
    memcpy(lg.buf + lg.len, line, n);
    lg.len += n;
    lg.mtime = now_ns();
}

void clog_append(const char *tag, const char *fmt, ...)
{
    char msg[1024], line[1200], ts[32];
    time_t t = time(NULL);
    struct tm tm;
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* A message is one line: keep the log line-oriented whatever the caller wrote. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    pthread_mutex_lock(&lg.lock);
    n = snprintf(line, sizeof(line), "%s %s %s: %s\n", ts, lg.node, tag, msg);
    if (n > (int)sizeof(line) - 1) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    append_locked(line, (size_t)n);
    pthread_mutex_unlock(&lg.lock);
    /* stderr carries what an operator must see; the rest is in cluster/log. */
    if (strcmp(tag, "error") == 0 || strcmp(tag, "pvefsd") == 0)
        fprintf(stderr, "pvefsd: %s\n", msg);
}

void clog_error(const char *path, int err, const char *msg)
{
    struct err_rec *r;
    char eb[16];

    pthread_mutex_lock(&lg.lock);
    r = &lg.errs[lg.head];
    lg.head = (lg.head + 1) % CLOG_ERRORS;
    if (lg.nerr < CLOG_ERRORS)
        lg.nerr++;
    r->when = now_ns();
    r->err = err;
    snprintf(r->path, sizeof(r->path), "%s", path);
    snprintf(r->msg, sizeof(r->msg), "%s", msg);
    for (char *p = r->msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    lg.err_mtime = r->when;
    pthread_mutex_unlock(&lg.lock);
    clog_append("error", "%s %s %s", path, clog_errname(err, eb, sizeof(eb)), msg);
}

uint64_t clog_size(int64_t *mtime_ns)
{
    uint64_t n;

    pthread_mutex_lock(&lg.lock);
    n = lg.base + lg.len;
    if (mtime_ns)
        *mtime_ns = lg.mtime;
    pthread_mutex_unlock(&lg.lock);
    return n;
}

size_t clog_read(uint64_t off, char *buf, size_t len)
{
    size_t n = 0;

    pthread_mutex_lock(&lg.lock);
    if (off < lg.base)
        off = lg.base;
    if (off < lg.base + lg.len) {
        n = (size_t)(lg.base + lg.len - off);
        if (n > len)
            n = len;
        memcpy(buf, lg.buf + (off - lg.base), n);
    }
    pthread_mutex_unlock(&lg.lock);
    return n;
}

int clog_errors_render(char **out, size_t *len, int64_t *mtime_ns)
{
    size_t cap = (size_t)CLOG_ERRORS * 600 + 1, n = 0;
    char *b = malloc(cap), eb[16];

    if (!b)
        return -ENOMEM;
    pthread_mutex_lock(&lg.lock);
    for (unsigned i = 0; i < lg.nerr; i++) {
        const struct err_rec *r = &lg.errs[(lg.head + CLOG_ERRORS - lg.nerr + i) % CLOG_ERRORS];
        n += (size_t)snprintf(b + n, cap - n, "%lld %s %s %s %s\n",
                              (long long)(r->when / 1000000000), lg.node, r->path,
                              clog_errname(r->err, eb, sizeof(eb)), r->msg);
    }
    if (mtime_ns)
        *mtime_ns = lg.err_mtime;
    pthread_mutex_unlock(&lg.lock);
    *out = b;
    *len = n;
    return 0;
}
