/*
 * clog: the cluster log (cluster/log) and the rejected-writes list (cluster/errors).
 *
 * The log is an append-only text buffer: readers address it by byte offset and
 * its size only grows, so `tail -f` can follow it. Past CLOG_MAX bytes the oldest
 * half is dropped; offsets below the kept window read as the oldest kept line.
 * The errors list keeps the last CLOG_ERRORS rejected writes.
 * Thread-safe (one mutex).
 */
#ifndef PV_CLOG_H
#define PV_CLOG_H

#include <stddef.h>
#include <stdint.h>

#define CLOG_MAX    (4u << 20)
#define CLOG_ERRORS 100

void clog_init(const char *node);

/* Appends "<iso time> <node> <tag>: <message>\n". */
void clog_append(const char *tag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records a rejected write; also logged. err is a positive errno. */
void clog_error(const char *path, int err, const char *msg);

/* Total bytes ever appended (the file size) and the time of the last append (ns). */
uint64_t clog_size(int64_t *mtime_ns);

/* Copies up to len bytes from offset off. Returns bytes copied. */
size_t clog_read(uint64_t off, char *buf, size_t len);

/* Renders the errors list into a malloc'd buffer. */
int clog_errors_render(char **out, size_t *len, int64_t *mtime_ns);

/* Symbolic name of a positive errno ("EINVAL"), or "E<n>". */
const char *clog_errname(int err, char *buf, size_t len);

#endif
