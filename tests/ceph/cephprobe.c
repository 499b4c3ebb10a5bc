/*
 * cephprobe: drives drivers/ceph*.c against a running cluster (tests/ceph/ceph-up.sh).
 *
 *   cephprobe [-c conf] [-m monhost] [-k keyring] [-u user] [-n count] [-i secs] CMD [ARGS]
 *     smoke               every function, with checks; exit 1 on the first failure
 *     status | pools | osds
 *     create POOL PG SIZE MIN_SIZE [APP] | set POOL KEY VALUE | delete POOL
 *     in ID | out ID | put POOL OBJECT
 *
 * Each command prints "rc=<n> (<errno name>) <ms>ms" and the error text, so tests can time
 * how fast a dead cluster makes a call fail. -n/-i repeat CMD on one connection, so a
 * daemon can be killed between two calls.
 *
 * Build: gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fsanitize=address,undefined
 *   -I/usr/include/json-c -o /tmp/cephprobe tests/ceph/cephprobe.c drivers/ceph_conn.c
 *   drivers/ceph.c fs/buf.c -ljson-c -lrados -lpthread
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../drivers/ceph.h"

static struct ceph_target tgt;
static rados_t cl;
static char err[1024];

static double ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int report(const char *what, int r, double t0)
{
    printf("%s: rc=%d (%s) %.0fms%s%s\n", what, r, r < 0 ? strerror(-r) : "ok", ms() - t0,
           r < 0 ? " err=" : "", r < 0 ? err : "");
    fflush(stdout);
    return r;
}

static int print_pool(void *arg, const struct ceph_pool *p)
{
    (void)arg;
    printf("pool %s id=%lld size=%d min_size=%d pg_num=%d stored=%llu objects=%llu "
           "max_avail=%llu app=%s\n",
           p->name, (long long)p->id, p->size, p->min_size, p->pg_num,
           (unsigned long long)p->stored, (unsigned long long)p->objects,
           (unsigned long long)p->max_avail, p->application);
    return 0;
}

static int print_osd(void *arg, const struct ceph_osd *o)
{
    (void)arg;
    printf("osd.%d up=%d in=%d weight=%g addr=%s\n", o->id, o->up, o->in, o->weight, o->addr);
    return 0;
}

static int find_pool(void *arg, const struct ceph_pool *p)
{
    struct ceph_pool *want = arg;

    if (strcmp(p->name, want->name) == 0) {
        *want = *p;
        return 1;
    }
    return 0;
}

static int find_osd(void *arg, const struct ceph_osd *o)
{
    struct ceph_osd *want = arg;

    if (o->id == want->id) {
        *want = *o;
        return 1;
    }
    return 0;
}

static int put(const char *pool, const char *obj)
{
    rados_ioctx_t io;
    int r = rados_ioctx_create(cl, pool, &io);

    if (r < 0) {
        snprintf(err, sizeof(err), "ioctx %s: %s", pool, strerror(-r));
        return r;
    }
    r = rados_write_full(io, obj, "hello", 5);
    if (r < 0)
        snprintf(err, sizeof(err), "write %s/%s: %s", pool, obj, strerror(-r));
    rados_ioctx_destroy(io);
    return r;
}

static int rm(const char *pool, const char *obj)
{
    rados_ioctx_t io;
    int r = rados_ioctx_create(cl, pool, &io);

    if (r < 0)
        return r;
    r = rados_remove(io, obj);
    rados_ioctx_destroy(io);
    return r;
}

#define CHECK(what, expr, want)                                                                    \
    do {                                                                                           \
        double t0_ = ms();                                                                         \
        int r_ = (expr);                                                                           \
        report(what, r_, t0_);                                                                     \
        if (r_ != (want)) {                                                                        \
            printf("FAIL: %s: want rc=%d\n", what, want);                                          \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static int smoke(void)
{
    struct ceph_target bad = {.monhost = "127.0.0.1:1"};
    struct ceph_pool p = {.name = "probe-pool"};
    struct ceph_osd o = {.id = 0};
    struct pv_buf b = {0};
    rados_t again, other;

    /* leftovers of an earlier failed run */
    rm(p.name, "obj");
    ceph_pool_delete(cl, p.name, err, sizeof(err));
    ceph_pool_delete(cl, "probe-bad", err, sizeof(err));
    CHECK("connect again (cached)", ceph_connect(&tgt, &again, err, sizeof(err)), 0);
    if (again != cl)
        return printf("FAIL: second connect returned another handle\n"), 1;
    CHECK("status", ceph_status_text(cl, &b, err, sizeof(err)), 0);
    fputs(b.p, stdout);
    if (!strstr(b.p, "health: HEALTH_") || !strstr(b.p, "\nbytes_total: "))
        return printf("FAIL: status text incomplete\n"), 1;
    pv_buf_free(&b);
    CHECK("create bad name", ceph_pool_create(cl, "a/b", 8, 0, 0, NULL, err, sizeof(err)), -EINVAL);
    CHECK("create", ceph_pool_create(cl, p.name, 8, 1, 1, "rbd", err, sizeof(err)), 0);
    CHECK("create again", ceph_pool_create(cl, p.name, 8, 1, 1, "rbd", err, sizeof(err)), -EEXIST);
    /* min_size 2 over the default size 1: the mon refuses the min_size step */
    CHECK("create, mon refuses min_size, rolls back",
          ceph_pool_create(cl, "probe-bad", 8, 0, 2, NULL, err, sizeof(err)), -EINVAL);
    if (rados_pool_lookup(cl, "probe-bad") >= 0)
        return printf("FAIL: probe-bad left behind\n"), 1;
    CHECK("set pg_num", ceph_pool_set(cl, p.name, "pg_num", 16, err, sizeof(err)), 0);
    CHECK("set unknown key", ceph_pool_set(cl, p.name, "crush_rule", 1, err, sizeof(err)), -EINVAL);
    CHECK("set missing pool", ceph_pool_set(cl, "nope", "size", 1, err, sizeof(err)), -ENOENT);
    CHECK("pools", ceph_pools(cl, print_pool, NULL, err, sizeof(err)), 0);
    CHECK("find pool", ceph_pools(cl, find_pool, &p, err, sizeof(err)), 1);
    if (p.size != 1 || p.min_size != 1 || strcmp(p.application, "rbd") != 0)
        return printf("FAIL: pool fields\n"), 1;
    CHECK("put object", put(p.name, "obj"), 0);
    CHECK("delete non-empty", ceph_pool_delete(cl, p.name, err, sizeof(err)), -ENOTEMPTY);
    CHECK("remove object", rm(p.name, "obj"), 0);
    CHECK("delete", ceph_pool_delete(cl, p.name, err, sizeof(err)), 0);
    CHECK("delete missing", ceph_pool_delete(cl, p.name, err, sizeof(err)), -ENOENT);
    CHECK("osds", ceph_osds(cl, print_osd, NULL, err, sizeof(err)), 0);
    CHECK("out osd.0", ceph_osd_inout(cl, 0, 0, err, sizeof(err)), 0);
    CHECK("find osd.0", ceph_osds(cl, find_osd, &o, err, sizeof(err)), 1);
    if (o.in || !o.up || !o.addr[0])
        return printf("FAIL: osd.0 not up+out after out\n"), 1;
    CHECK("in osd.0", ceph_osd_inout(cl, 0, 1, err, sizeof(err)), 0);
    CHECK("in osd.999", ceph_osd_inout(cl, 999, 1, err, sizeof(err)), -ENOENT);
    CHECK("mon bad json", ceph_mon(cl, "{\"prefix\":\"no such\"}", NULL, NULL, err, sizeof(err)),
          -EINVAL);
    CHECK("connect to nothing", ceph_connect(&bad, &other, err, sizeof(err)), -ETIMEDOUT);
    ceph_drop(&tgt);
    CHECK("reconnect after drop", ceph_connect(&tgt, &again, err, sizeof(err)), 0);
    if (again == cl)
        return printf("FAIL: drop kept the handle\n"), 1;
    cl = again;
    CHECK("status on new handle", ceph_status_text(cl, &b, err, sizeof(err)), 0);
    pv_buf_free(&b);
    printf("smoke: OK\n");
    return 0;
}

static int c_status(char **a)
{
    struct pv_buf b = {0};
    int r = ceph_status_text(cl, &b, err, sizeof(err));

    (void)a;
    if (b.p)
        fputs(b.p, stdout);
    pv_buf_free(&b);
    return r;
}

static int c_pools(char **a)
{
    (void)a;
    return ceph_pools(cl, print_pool, NULL, err, sizeof(err));
}

static int c_osds(char **a)
{
    (void)a;
    return ceph_osds(cl, print_osd, NULL, err, sizeof(err));
}

static int c_create(char **a)
{
    return ceph_pool_create(cl, a[0], atoi(a[1]), atoi(a[2]), atoi(a[3]), a[4], err, sizeof(err));
}

static int c_set(char **a)
{
    return ceph_pool_set(cl, a[0], a[1], atoi(a[2]), err, sizeof(err));
}

static int c_delete(char **a)
{
    return ceph_pool_delete(cl, a[0], err, sizeof(err));
}

static int c_in(char **a)
{
    return ceph_osd_inout(cl, atoi(a[0]), 1, err, sizeof(err));
}

static int c_out(char **a)
{
    return ceph_osd_inout(cl, atoi(a[0]), 0, err, sizeof(err));
}

static int c_put(char **a)
{
    return put(a[0], a[1]);
}

static const struct {
    const char *name;
    int min, max; /* argument counts */
    int (*fn)(char **a);
} cmds[] = {
    {"status", 0, 0, c_status}, {"pools", 0, 0, c_pools}, {"osds", 0, 0, c_osds},
    {"create", 4, 5, c_create}, {"set", 3, 3, c_set},     {"delete", 1, 1, c_delete},
    {"in", 1, 1, c_in},         {"out", 1, 1, c_out},     {"put", 2, 2, c_put},
};

/* Runs the command count times, interval seconds apart, on one connection. */
static int run(int argc, char **argv, int count, int interval)
{
    char *args[5] = {0};
    size_t i;
    int r = 0;

    if (strcmp(argv[0], "smoke") == 0)
        return smoke();
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(cmds[i].name, argv[0]) == 0)
            break;
    if (i == sizeof(cmds) / sizeof(cmds[0]) || argc - 1 < cmds[i].min || argc - 1 > cmds[i].max) {
        fprintf(stderr, "cephprobe: unknown command or wrong arguments: %s\n", argv[0]);
        return 2;
    }
    memcpy(args, argv + 1, (size_t)(argc - 1) * sizeof(*args));
    for (int n = 0; n < count; n++) {
        double t0;
        if (n)
            sleep((unsigned)interval);
        t0 = ms();
        r = report(argv[0], cmds[i].fn(args), t0);
    }
    return r < 0;
}

int main(int argc, char **argv)
{
    double t0;
    int opt, r, count = 1, interval = 1;

    while ((opt = getopt(argc, argv, "c:m:k:u:n:i:")) != -1) {
        if (opt == 'n' || opt == 'i') {
            *(opt == 'n' ? &count : &interval) = atoi(optarg);
            continue;
        }
        char *f = opt == 'c'   ? tgt.conf
                  : opt == 'm' ? tgt.monhost
                  : opt == 'k' ? tgt.keyring
                  : opt == 'u' ? tgt.user
                               : NULL;
        size_t n = opt == 'c'   ? sizeof(tgt.conf)
                   : opt == 'm' ? sizeof(tgt.monhost)
                   : opt == 'k' ? sizeof(tgt.keyring)
                                : sizeof(tgt.user);
        if (!f)
            return 2;
        snprintf(f, n, "%s", optarg);
    }
    if (optind >= argc) {
        fprintf(stderr, "usage: cephprobe [-c conf] [-m monhost] [-k keyring] [-u user] CMD...\n");
        return 2;
    }
    t0 = ms();
    if (report("connect", ceph_connect(&tgt, &cl, err, sizeof(err)), t0))
        return 1;
    r = run(argc - optind, argv + optind, count, interval);
    ceph_shutdown_all();
    return r;
}
