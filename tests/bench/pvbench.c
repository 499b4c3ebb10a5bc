/*
 * pvbench: the benchmark driver of tests/bench/run.sh. Every subcommand prints
 * its results as numbers on one stdout line (run.sh parses them); problems go to stderr.
 *
 *   pvbench mkvms ROOT FIRST N THREADS        mkdir ROOT/<FIRST..FIRST+N-1> from THREADS threads
 *                                             -> "secs fails"
 *   pvbench mirror SRC DST FIRST N THREADS    copy every VM directory SRC/<vmid> to DST/<vmid>:
 *                                             subdirectories, symlinks, regular files with their
 *                                             mode and content (unreadable ones stay empty)
 *                                             -> "secs fails"
 *   pvbench stat ROOT FIRST N PASSES          stat ROOT/<vmid>/config for every VM, PASSES times
 *                                             back to back -> "ops/s(pass1) ... ops/s(passN) fails"
 *   pvbench read FILE ITERS                   open+read-to-EOF+close loop -> "ops/s bytes/op fails"
 *   pvbench write DST SRC REPS                REPS times: open(DST, O_WRONLY|O_CREAT|O_TRUNC),
 *                                             write the content of SRC in 4096-byte chunks, close
 *                                             -> "median_secs min_secs fails"
 *   pvbench sqlite DB SIZE REPS               REPS times one autocommit INSERT OR REPLACE of a
 *                                             SIZE-byte blob (same key) in a WAL-mode db with
 *                                             synchronous=NORMAL -> "median_secs min_secs fails"
 *   pvbench mkconfig FILE SIZE                write a valid qemu config of exactly SIZE bytes
 *                                             ('#' comment lines, then two keys)
 *   pvbench mkrandom FILE SIZE                write SIZE pseudo-random bytes
 *
 * Build: gcc -O2 -std=c11 -D_GNU_SOURCE -o pvbench pvbench.c -lsqlite3 -lpthread
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 4096
#define MAX_CONTENT (1 << 20)

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long num(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == 0 || *end) {
        fprintf(stderr, "pvbench: '%s' is not a number\n", s);
        exit(2);
    }
    return v;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);

        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Read a whole (small) file; returns the length or -1. */
static ssize_t slurp_at(int dirfd, const char *name, char *buf, size_t cap)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    size_t len = 0;
    ssize_t k;

    if (fd < 0)
        return -1;
    while (len < cap && (k = read(fd, buf + len, cap - len)) != 0) {
        if (k < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            return -1;
        }
        len += (size_t)k;
    }
    close(fd);
    return (ssize_t)len;
}

/* ---- parallel tree building ------------------------------------------------------------ */

struct tree_job {
    const char *src, *dst;
    long first, n;
    atomic_long next, fails;
};

static int mirror_one(const char *src, const char *dst, char *buf)
{
    DIR *d = opendir(src);
    struct dirent *de;
    int sfd, dfd, bad = 0;

    if (!d) {
        fprintf(stderr, "pvbench: opendir %s: %s\n", src, strerror(errno));
        return 1;
    }
    if (mkdir(dst, 0755) && errno != EEXIST) {
        fprintf(stderr, "pvbench: mkdir %s: %s\n", dst, strerror(errno));
        closedir(d);
        return 1;
    }
    sfd = dirfd(d);
    dfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        closedir(d);
        return 1;
    }
    while ((de = readdir(d))) {
        struct stat st;

        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
            bad++;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (mkdirat(dfd, de->d_name, st.st_mode & 07777) && errno != EEXIST)
                bad++;
        } else if (S_ISLNK(st.st_mode)) {
            ssize_t k = readlinkat(sfd, de->d_name, buf, MAX_CONTENT - 1);

            if (k < 0)
                bad++;
            else {
                buf[k] = 0;
                if (symlinkat(buf, dfd, de->d_name) && errno != EEXIST)
                    bad++;
            }
        } else if (S_ISREG(st.st_mode)) {
            ssize_t len = 0;
            int fd;

            if (st.st_mode & 0444) {
                len = slurp_at(sfd, de->d_name, buf, MAX_CONTENT);
                if (len < 0) {
                    bad++;
                    len = 0;
                }
            }
            fd = openat(dfd, de->d_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0 || write_all(fd, buf, (size_t)len) || fchmod(fd, st.st_mode & 07777))
                bad++;
            if (fd >= 0)
                close(fd);
        }
    }
    close(dfd);
    closedir(d);
    return bad != 0;
}

static void *tree_worker(void *arg)
{
    struct tree_job *j = arg;
    char *buf = j->src ? malloc(MAX_CONTENT) : NULL;
    char s[4096], d[4096];
    long i;

    while ((i = atomic_fetch_add(&j->next, 1)) < j->n) {
        long vmid = j->first + i;

        snprintf(d, sizeof(d), "%s/%ld", j->dst, vmid);
        if (!j->src) {
            if (mkdir(d, 0755)) {
                if (atomic_fetch_add(&j->fails, 1) < 5)
                    fprintf(stderr, "pvbench: mkdir %s: %s\n", d, strerror(errno));
            }
        } else {
            snprintf(s, sizeof(s), "%s/%ld", j->src, vmid);
            if (mirror_one(s, d, buf) && atomic_fetch_add(&j->fails, 1) < 5)
                fprintf(stderr, "pvbench: mirror of %s was incomplete\n", s);
        }
    }
    free(buf);
    return NULL;
}

static int cmd_tree(const char *src, const char *dst, long first, long n, long threads)
{
    struct tree_job j = {.src = src, .dst = dst, .first = first, .n = n};
    pthread_t tid[64];
    double t0;

    if (threads < 1)
        threads = 1;
    if (threads > 64)
        threads = 64;
    t0 = now();
    for (long t = 0; t < threads; t++)
        if (pthread_create(&tid[t], NULL, tree_worker, &j)) {
            fprintf(stderr, "pvbench: pthread_create failed\n");
            return 1;
        }
    for (long t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    printf("%.4f %ld\n", now() - t0, atomic_load(&j.fails));
    return 0;
}

/* ---- measurements ---------------------------------------------------------------------- */

static int cmd_stat(const char *root, long first, long n, long passes)
{
    char path[4096];
    struct stat st;
    long fails = 0;

    for (long p = 0; p < passes; p++) {
        double t0 = now(), dt;

        for (long i = 0; i < n; i++) {
            snprintf(path, sizeof(path), "%s/%ld/config", root, first + i);
            if (stat(path, &st) && fails++ < 5)
                fprintf(stderr, "pvbench: stat %s: %s\n", path, strerror(errno));
        }
        dt = now() - t0;
        printf("%.0f ", (double)n / dt);
    }
    printf("%ld\n", fails);
    return 0;
}

static int cmd_read(const char *file, long iters)
{
    char buf[65536];
    long fails = 0, bytes = 0;
    double t0 = now(), dt;

    for (long i = 0; i < iters; i++) {
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        ssize_t k;

        if (fd < 0) {
            if (fails++ < 5)
                fprintf(stderr, "pvbench: open %s: %s\n", file, strerror(errno));
            continue;
        }
        while ((k = read(fd, buf, sizeof(buf))) > 0)
            bytes += k;
        if (k < 0)
            fails++;
        close(fd);
    }
    dt = now() - t0;
    printf("%.0f %.0f %ld\n", (double)iters / dt, (double)bytes / (double)(iters ? iters : 1),
           fails);
    return 0;
}

static int cmd_write(const char *dst, const char *src, long reps)
{
    char *data = malloc(MAX_CONTENT);
    double *t = calloc((size_t)reps + 1, sizeof(*t));
    ssize_t len = data ? slurp_at(AT_FDCWD, src, data, MAX_CONTENT) : -1;
    long fails = 0;
    double lo = 1e9;

    if (len < 0 || !t || reps < 1) {
        fprintf(stderr, "pvbench: cannot read %s\n", src);
        return 1;
    }
    for (long r = 0; r < reps; r++) {
        double t0 = now();
        int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int bad = fd < 0;

        for (ssize_t off = 0; !bad && off < len; off += CHUNK) {
            size_t k = (size_t)(len - off < CHUNK ? len - off : CHUNK);

            bad = write_all(fd, data + off, k) != 0;
        }
        if (fd >= 0 && close(fd))
            bad = 1;
        t[r] = now() - t0;
        if (t[r] < lo)
            lo = t[r];
        if (bad && fails++ < 3)
            fprintf(stderr, "pvbench: write %s: %s\n", dst, strerror(errno));
    }
    printf("%.6f %.6f %ld\n", median(t, (int)reps), lo, fails);
    free(t);
    free(data);
    return 0;
}

static int cmd_sqlite(const char *path, long size, long reps)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    unsigned char *blob = malloc((size_t)size);
    double *t = calloc((size_t)reps + 1, sizeof(*t));
    double lo = 1e9;
    long fails = 0;
    char *msg = NULL;

    if (!blob || !t || reps < 1)
        return 1;
    for (long i = 0; i < size; i++)
        blob[i] = (unsigned char)(rand() & 0xff);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                     "CREATE TABLE IF NOT EXISTS kv(k INTEGER PRIMARY KEY, v BLOB);",
                     NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv(k, v) VALUES(?1, ?2)", -1, &ins,
                           NULL) != SQLITE_OK) {
        fprintf(stderr, "pvbench: sqlite %s: %s\n", path, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        sqlite3_close(db);
        return 1;
    }
    for (long r = 0; r < reps; r++) {
        double t0;

        blob[r % size] ^= 1; /* a new value every time */
        t0 = now();
        sqlite3_bind_int64(ins, 1, 1);
        sqlite3_bind_blob(ins, 2, blob, (int)size, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE && fails++ < 3)
            fprintf(stderr, "pvbench: sqlite insert: %s\n", sqlite3_errmsg(db));
        sqlite3_reset(ins);
        t[r] = now() - t0;
        if (t[r] < lo)
            lo = t[r];
    }
    sqlite3_finalize(ins);
    sqlite3_close(db);
    printf("%.6f %.6f %ld\n", median(t, (int)reps), lo, fails);
    free(t);
    free(blob);
    return 0;
}

static int cmd_mkconfig(const char *file, long size)
{
    /* The comment block first: that is where pvefs (like Proxmox) puts the description, so the
     * stored config reads back byte for byte. */
    static const char tail[] = "cores: 1\nmemory: 512\n";
    long tlen = (long)sizeof(tail) - 1, body = size - tlen, len = 0;
    char *buf = malloc((size_t)size + 1);
    FILE *f;

    if (!buf || body < 2)
        return 1;
    while (len < body) {
        long line = body - len < 64 ? body - len : 64; /* including the newline */

        if (body - len - line == 1) /* never leave a 1-byte tail: it would be a bare "\n" */
            line--;
        buf[len] = '#';
        memset(buf + len + 1, 'x', (size_t)line - 2);
        buf[len + line - 1] = '\n';
        len += line;
    }
    memcpy(buf + body, tail, (size_t)tlen);
    f = fopen(file, "w");
    if (!f || fwrite(buf, 1, (size_t)size, f) != (size_t)size || fclose(f))
        return 1;
    free(buf);
    return 0;
}

static int cmd_mkrandom(const char *file, long size)
{
    FILE *f = fopen(file, "w");
    uint64_t x = 0x9e3779b97f4a7c15ull;

    if (!f)
        return 1;
    for (long i = 0; i < size; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        fputc((int)(x & 0xff), f);
    }
    return fclose(f) ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *c = argc > 1 ? argv[1] : "";

    if (!strcmp(c, "mkvms") && argc == 6)
        return cmd_tree(NULL, argv[2], num(argv[3]), num(argv[4]), num(argv[5]));
    if (!strcmp(c, "mirror") && argc == 7)
        return cmd_tree(argv[2], argv[3], num(argv[4]), num(argv[5]), num(argv[6]));
    if (!strcmp(c, "stat") && argc == 6)
        return cmd_stat(argv[2], num(argv[3]), num(argv[4]), num(argv[5]));
    if (!strcmp(c, "read") && argc == 4)
        return cmd_read(argv[2], num(argv[3]));
    if (!strcmp(c, "write") && argc == 5)
        return cmd_write(argv[2], argv[3], num(argv[4]));
    if (!strcmp(c, "sqlite") && argc == 5)
        return cmd_sqlite(argv[2], num(argv[3]), num(argv[4]));
    if (!strcmp(c, "mkconfig") && argc == 4)
        return cmd_mkconfig(argv[2], num(argv[3]));
    if (!strcmp(c, "mkrandom") && argc == 4)
        return cmd_mkrandom(argv[2], num(argv[3]));
    fprintf(stderr, "usage: see the comment at the top of tests/bench/pvbench.c\n");
    return 2;
}
