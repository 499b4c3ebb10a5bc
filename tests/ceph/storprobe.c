/*
 * storprobe: exercises the dir and rbd storage backends through the stor_ops
 * table against real qemu-img and a real Ceph, printing each op's time.
 *
 *   storprobe                 dir only (in a temp dir)
 *   storprobe <ceph.conf>     dir, then rbd in pool "rbd" of that cluster
 *   storprobe <ceph.conf> down   dir, then rbd calls against a stopped cluster must time out
 *   storprobe <ceph.conf> kill <cmd...>   connect, run cmd (stops the cluster), calls time out
 *
 * Build: gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fsanitize=address,undefined
 *   -I/usr/include/json-c -o /tmp/storprobe tests/ceph/storprobe.c drivers/stor.c
 *   drivers/stor_dir.c drivers/stor_rbd.c drivers/ceph_conn.c fs/buf.c
 *   -ljson-c -lrbd -lrados -lpthread
 */
#include <errno.h>
#include <fcntl.h>
#include <rbd/librbd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../drivers/ceph.h"
#include "../../drivers/stor.h"

static int failures;
static char err[STOR_ERRLEN];
static double t0;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Runs op, prints its time, and checks its result against want (an -errno or 0). */
#define OP(want, what, call)                                                                       \
    do {                                                                                           \
        err[0] = 0;                                                                                \
        t0 = now_ms();                                                                             \
        int rc_ = (call);                                                                          \
        double ms_ = now_ms() - t0;                                                                \
        int ok_ = rc_ == (want);                                                                   \
        failures += !ok_;                                                                          \
        printf("%s %-44s %8.1f ms  rc=%d%s%s\n", ok_ ? "ok  " : "FAIL", what, ms_, rc_,            \
               err[0] ? "  err: " : "", err);                                                      \
    } while (0)

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        int ok_ = !!(cond);                                                                        \
        failures += !ok_;                                                                          \
        printf("%s ", ok_ ? "ok  " : "FAIL");                                                      \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
    } while (0)

static int run(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    int st;
    pid_t pid;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ)) {
        posix_spawn_file_actions_destroy(&fa);
        return -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* qemu-io "write -P pat 0 1M" or "read -P pat 0 1M" (read fails on a mismatch). */
static int qio(const char *fmt, const char *file, const char *op, int pat)
{
    char cmd[64];

    snprintf(cmd, sizeof(cmd), "%s -P 0x%02x 0 1M", op, pat);
    char *argv[] = {"qemu-io", "-f", (char *)fmt, "-c", cmd, (char *)file, NULL};
    return run(argv);
}

struct names {
    char s[8][128];
    int prot[8];
    int n;
};

static int add_snap(void *arg, const char *snap, int protect)
{
    struct names *l = arg;

    if (l->n < 8) {
        snprintf(l->s[l->n], sizeof(l->s[0]), "%s", snap);
        l->prot[l->n++] = protect;
    }
    return 0;
}

static int add_vol(void *arg, const struct stor_vol *v)
{
    struct names *l = arg;

    printf("     list: %s %s %llu %s %s\n", v->name, v->format, (unsigned long long)v->size,
           v->path, v->parent);
    if (l->n < 8)
        snprintf(l->s[l->n++], sizeof(l->s[0]), "%s", v->name);
    return 0;
}

static void test_names(void)
{
    static const struct {
        const char *s;
        int rc;
        uint64_t v;
    } sizes[] = {
        {"4G", 0, 4ULL << 30},
        {"512M", 0, 512ULL << 20},
        {"1024", 0, 1024},
        {"1.5T", 0, 3ULL << 39},
        {"10K", 0, 10240},
        {"4GiB", 0, 4ULL << 30},
        {"4GB", 0, 4ULL << 30},
        {"100B", 0, 100},
        {"0", 0, 0},
        {"", -EINVAL, 0},
        {"-1G", -EINVAL, 0},
        {"1.5", -EINVAL, 0},
        {"G", -EINVAL, 0},
        {"4X", -EINVAL, 0},
        {"4Gx", -EINVAL, 0},
        {" 4G", -EINVAL, 0},
        {"1.G", -EINVAL, 0},
        {"16777216T", -EINVAL, 0},
        {"18446744073709551616", -EINVAL, 0},
        {"18446744073709551615", 0, ~0ULL},
    };
    static const struct {
        const char *s;
        int rc;
        unsigned long vmid;
    } vols[] = {
        {"vm-100-disk-0", 0, 100},
        {"base-123456789-disk-3.qcow2", 0, 123456789},
        {"subvol-101-disk-0", 0, 101},
        {"vm-100-cloudinit", 0, 100},
        {"vm-100-state-snap_1", 0, 100},
        {"basevol-200-disk-1.raw", 0, 200},
        {"vm-99-disk-0", -EINVAL, 0},
        {"vm-0100-disk-0", -EINVAL, 0},
        {"vm-1000000000-disk-0", -EINVAL, 0},
        {"vm-100-disk-0.img", -EINVAL, 0},
        {"vm-100-", -EINVAL, 0},
        {"ct-100-disk-0", -EINVAL, 0},
        {"vm-100-disk/0", -EINVAL, 0},
        {"vm-100-disk-0.qcow2.raw", -EINVAL, 0},
        {"../vm-100-disk-0", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint64_t v = 0;
        int rc = stor_parse_size(sizes[i].s, &v);
        CHECK(rc == sizes[i].rc && (rc || v == sizes[i].v), "parse_size '%s' -> %d %llu",
              sizes[i].s, rc, (unsigned long long)v);
    }
    for (size_t i = 0; i < sizeof(vols) / sizeof(vols[0]); i++) {
        unsigned long v = 0;
        int rc = stor_vol_vmid(vols[i].s, &v);
        CHECK(rc == vols[i].rc && (rc || v == vols[i].vmid), "vol_vmid '%s' -> %d %lu", vols[i].s,
              rc, v);
    }
    char long_name[200];
    snprintf(long_name, sizeof(long_name), "vm-100-%0115d", 0);
    CHECK(stor_vol_vmid(long_name, NULL) == -EINVAL, "vol_vmid rejects 122 chars");
    CHECK(stor_ops("dir") == &stor_dir && stor_ops("rbd") == &stor_rbd && !stor_ops("lvm"),
          "stor_ops table");
}

static void test_dir(const char *tmp)
{
    const struct stor_ops *o = stor_ops("dir");
    struct stor_cfg c = {.id = "local", .type = "dir"};
    struct stor_vol v;
    struct stor_usage u;
    struct names l = {0};
    char p[1400];
    struct stat st;

    snprintf(c.path, sizeof(c.path), "%s", tmp);
    OP(-EINVAL, "dir locate bad name", o->locate(&c, "disk0", NULL, &v, err, sizeof(err)));
    OP(-EINVAL, "dir locate fmt contradicts name",
       o->locate(&c, "vm-100-disk-0.raw", "qcow2", &v, err, sizeof(err)));
    OP(0, "dir alloc vm-100-disk-0 1G",
       o->alloc(&c, "vm-100-disk-0", NULL, 1 << 30, &v, err, sizeof(err)));
    CHECK(!strcmp(v.format, "qcow2") && strstr(v.path, "/images/100/vm-100-disk-0.qcow2"),
          "  -> %s %s", v.format, v.path);
    OP(-EEXIST, "dir alloc again",
       o->alloc(&c, "vm-100-disk-0", NULL, 1 << 20, &v, err, sizeof(err)));
    OP(-EEXIST, "dir alloc same name as raw",
       o->alloc(&c, "vm-100-disk-0", "raw", 1 << 20, &v, err, sizeof(err)));
    OP(-EEXIST, "dir alloc same stem .raw",
       o->alloc(&c, "vm-100-disk-0.raw", NULL, 1 << 20, &v, err, sizeof(err)));
    OP(0, "dir info", o->info(&c, "vm-100-disk-0", &v, err, sizeof(err)));
    CHECK(v.size == 1 << 30 && !strcmp(v.format, "qcow2"), "  -> %s %llu", v.format,
          (unsigned long long)v.size);
    OP(-ENOENT, "dir info missing", o->info(&c, "vm-100-disk-9", &v, err, sizeof(err)));
    OP(0, "dir resize 2G", o->resize(&c, "vm-100-disk-0", 2ULL << 30, err, sizeof(err)));
    o->info(&c, "vm-100-disk-0", &v, err, sizeof(err));
    CHECK(v.size == 2ULL << 30, "  -> size %llu", (unsigned long long)v.size);
    snprintf(p, sizeof(p), "%s/images/100/vm-100-disk-0.qcow2", tmp);
    CHECK(qio("qcow2", p, "write", 0xaa) == 0, "qemu-io write 0xaa");
    OP(0, "dir snap create s1",
       o->snap(&c, "vm-100-disk-0", "s1", STOR_SNAP_CREATE, err, sizeof(err)));
    OP(-EEXIST, "dir snap create s1 again",
       o->snap(&c, "vm-100-disk-0", "s1", STOR_SNAP_CREATE, err, sizeof(err)));
    OP(-EINVAL, "dir snap bad name",
       o->snap(&c, "vm-100-disk-0", "-d", STOR_SNAP_CREATE, err, sizeof(err)));
    OP(0, "dir snap create s2",
       o->snap(&c, "vm-100-disk-0", "s2", STOR_SNAP_CREATE, err, sizeof(err)));
    OP(0, "dir resize 3G with snapshots",
       o->resize(&c, "vm-100-disk-0", 3ULL << 30, err, sizeof(err)));
    OP(-EINVAL, "dir resize shrink (qemu-img refuses)",
       o->resize(&c, "vm-100-disk-0", 1ULL << 30, err, sizeof(err)));
    OP(0, "dir resize 3G+100 (rounds up)",
       o->resize(&c, "vm-100-disk-0", (3ULL << 30) + 100, err, sizeof(err)));
    o->info(&c, "vm-100-disk-0", &v, err, sizeof(err));
    CHECK(v.size == (3ULL << 30) + 512, "  -> size %llu", (unsigned long long)v.size);
    CHECK(qio("qcow2", p, "write", 0xbb) == 0, "qemu-io write 0xbb");
    OP(0, "dir snaps", o->snaps(&c, "vm-100-disk-0", add_snap, &l, err, sizeof(err)));
    CHECK(l.n == 2 && !strcmp(l.s[0], "s1") && !strcmp(l.s[1], "s2"), "  -> %d snaps", l.n);
    char *hold[] = {"qemu-io", "-f", "qcow2", "-c", "sleep 1500", p, NULL};
    pid_t holder;
    if (posix_spawnp(&holder, "qemu-io", NULL, NULL, hold, environ) == 0) {
        usleep(500000); /* let it take the image lock */
        OP(-EBUSY, "dir snap create while a VM holds it",
           o->snap(&c, "vm-100-disk-0", "s3", STOR_SNAP_CREATE, err, sizeof(err)));
        OP(0, "dir info while a VM holds it (-U)",
           o->info(&c, "vm-100-disk-0", &v, err, sizeof(err)));
        waitpid(holder, NULL, 0);
    }
    OP(0, "dir snap rollback s1",
       o->snap(&c, "vm-100-disk-0", "s1", STOR_SNAP_ROLLBACK, err, sizeof(err)));
    CHECK(qio("qcow2", p, "read", 0xaa) == 0, "qemu-io read 0xaa after rollback");
    OP(-ENOENT, "dir snap rollback missing",
       o->snap(&c, "vm-100-disk-0", "nope", STOR_SNAP_ROLLBACK, err, sizeof(err)));
    OP(-EOPNOTSUPP, "dir snap protect",
       o->snap(&c, "vm-100-disk-0", "s1", STOR_SNAP_PROTECT, err, sizeof(err)));
    CHECK(qio("qcow2", p, "write", 0xcc) == 0, "qemu-io write 0xcc");
    OP(0, "dir clone @s1 -> vm-101-disk-0",
       o->clone(&c, "vm-100-disk-0", "s1", "vm-101-disk-0", &v, err, sizeof(err)));
    CHECK(!strcmp(v.format, "qcow2") && v.size == 2ULL << 30, "  -> %s %s %llu", v.format, v.path,
          (unsigned long long)v.size);
    CHECK(qio("qcow2", v.path, "read", 0xaa) == 0, "clone of s1 reads 0xaa");
    OP(0, "dir clone head -> vm-102-disk-0.raw",
       o->clone(&c, "vm-100-disk-0", NULL, "vm-102-disk-0.raw", &v, err, sizeof(err)));
    CHECK(qio("raw", v.path, "read", 0xcc) == 0, "raw clone of head reads 0xcc");
    OP(-EEXIST, "dir clone onto existing",
       o->clone(&c, "vm-100-disk-0", NULL, "vm-101-disk-0", &v, err, sizeof(err)));
    OP(0, "dir flatten", o->flatten(&c, "vm-101-disk-0", err, sizeof(err)));
    OP(-EOPNOTSUPP, "dir snap on raw",
       o->snap(&c, "vm-102-disk-0.raw", "s1", STOR_SNAP_CREATE, err, sizeof(err)));
    OP(0, "dir alloc subvol-103-disk-0",
       o->alloc(&c, "subvol-103-disk-0", NULL, 8ULL << 30, &v, err, sizeof(err)));
    CHECK(stat(v.path, &st) == 0 && S_ISDIR(st.st_mode), "  -> directory %s", v.path);
    snprintf(p, sizeof(p), "%s/etc", v.path);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/etc/hostname", v.path);
    fclose(fopen(p, "w"));
    snprintf(p, sizeof(p), "%s/etc/link", v.path);
    CHECK(symlink(tmp, p) == 0, "  symlink out of the subvol");
    OP(-EINVAL, "dir alloc empty vmdk",
       o->alloc(&c, "vm-104-disk-0", "vmdk", 0, &v, err, sizeof(err)));
    OP(0, "dir alloc vm-104-disk-0 vmdk",
       o->alloc(&c, "vm-104-disk-0", "vmdk", 1 << 20, &v, err, sizeof(err)));
    l.n = 0;
    OP(0, "dir list", o->list(&c, add_vol, &l, err, sizeof(err)));
    CHECK(l.n == 5, "  -> %d volumes", l.n);
    OP(0, "dir usage", o->usage(&c, &u, err, sizeof(err)));
    CHECK(u.total > 0 && u.avail <= u.total, "  -> total %llu used %llu avail %llu",
          (unsigned long long)u.total, (unsigned long long)u.used, (unsigned long long)u.avail);
    OP(0, "dir snap remove s1",
       o->snap(&c, "vm-100-disk-0", "s1", STOR_SNAP_REMOVE, err, sizeof(err)));
    l.n = 0;
    o->snaps(&c, "vm-100-disk-0", add_snap, &l, err, sizeof(err));
    CHECK(l.n == 1 && !strcmp(l.s[0], "s2"), "  -> %d snap left", l.n);
    OP(0, "dir free vm-100-disk-0", o->free(&c, "vm-100-disk-0", err, sizeof(err)));
    snprintf(p, sizeof(p), "%s/images/100", tmp);
    CHECK(stat(p, &st) != 0, "  images/100 removed");
    OP(-ENOENT, "dir free again", o->free(&c, "vm-100-disk-0", err, sizeof(err)));
    OP(0, "dir free subvol", o->free(&c, "subvol-103-disk-0", err, sizeof(err)));
    CHECK(stat(tmp, &st) == 0, "  symlink target survived");
    OP(0, "dir free vm-101-disk-0", o->free(&c, "vm-101-disk-0", err, sizeof(err)));
    OP(0, "dir free vm-102-disk-0.raw", o->free(&c, "vm-102-disk-0.raw", err, sizeof(err)));
    OP(0, "dir free vm-104-disk-0.vmdk", o->free(&c, "vm-104-disk-0.vmdk", err, sizeof(err)));
    /* A raw default: a name without extension finds the older qcow2 file too. */
    OP(0, "dir alloc vm-106-disk-0 (qcow2)",
       o->alloc(&c, "vm-106-disk-0", NULL, 1 << 20, &v, err, sizeof(err)));
    snprintf(c.format, sizeof(c.format), "raw");
    OP(0, "dir info after default became raw", o->info(&c, "vm-106-disk-0", &v, err, sizeof(err)));
    CHECK(!strcmp(v.format, "qcow2"), "  -> %s", v.format);
    OP(0, "dir free it", o->free(&c, "vm-106-disk-0", err, sizeof(err)));
    OP(0, "dir alloc raw default",
       o->alloc(&c, "vm-105-disk-0", NULL, 1 << 20, &v, err, sizeof(err)));
    CHECK(strstr(v.path, "vm-105-disk-0.raw") != NULL, "  -> %s", v.path);
    OP(0, "dir free raw default", o->free(&c, "vm-105-disk-0", err, sizeof(err)));
    snprintf(c.path, sizeof(c.path), "%s/missing", tmp);
    OP(-ENOENT, "dir usage missing path", o->usage(&c, &u, err, sizeof(err)));
    snprintf(c.path, sizeof(c.path), "/dev/null/x");
    OP(-ENOTDIR, "dir alloc under a file",
       o->alloc(&c, "vm-106-disk-0", NULL, 1 << 20, &v, err, sizeof(err)));
}

/* rbd_write/rbd_read of 1 MiB of pat at offset 0 of pool/name, through the cached handle. */
static int rbd_io(const struct stor_cfg *c, const char *name, int write, int pat)
{
    struct ceph_target t = {0};
    static char buf[1 << 20], want[1 << 20];
    rados_ioctx_t io;
    rbd_image_t img;
    rados_t r;
    int rc;

    snprintf(t.conf, sizeof(t.conf), "%s", c->conf);
    snprintf(t.user, sizeof(t.user), "admin");
    if ((rc = ceph_connect(&t, &r, err, sizeof(err))) || (rc = rados_ioctx_create(r, "rbd", &io)))
        return rc;
    if ((rc = rbd_open(io, name, &img, NULL)) == 0) {
        memset(want, pat, sizeof(want));
        if (write)
            rc = rbd_write(img, 0, sizeof(want), want) == sizeof(want) ? 0 : -EIO;
        else
            rc =
                rbd_read(img, 0, sizeof(buf), buf) == sizeof(buf) && !memcmp(buf, want, sizeof(buf))
                    ? 0
                    : -EIO;
        rbd_close(img);
    }
    rados_ioctx_destroy(io);
    return rc;
}

static void test_rbd(const char *conf)
{
    const struct stor_ops *o = stor_ops("rbd");
    struct stor_cfg c = {.id = "ceph", .type = "rbd"};
    struct stor_vol v;
    struct stor_usage u;
    struct names l = {0};

    snprintf(c.conf, sizeof(c.conf), "%s", conf);
    OP(-EINVAL, "rbd locate .qcow2",
       o->locate(&c, "vm-200-disk-0.qcow2", NULL, &v, err, sizeof(err)));
    OP(0, "rbd alloc vm-200-disk-0 64M (connects)",
       o->alloc(&c, "vm-200-disk-0", NULL, 64 << 20, &v, err, sizeof(err)));
    CHECK(!strcmp(v.path, "rbd/vm-200-disk-0") && !strcmp(v.format, "raw"), "  -> %s %s", v.path,
          v.format);
    OP(-EEXIST, "rbd alloc again",
       o->alloc(&c, "vm-200-disk-0", NULL, 64 << 20, &v, err, sizeof(err)));
    OP(0, "rbd info", o->info(&c, "vm-200-disk-0", &v, err, sizeof(err)));
    CHECK(v.size == 64 << 20 && !v.parent[0], "  -> %llu", (unsigned long long)v.size);
    OP(-ENOENT, "rbd info missing", o->info(&c, "vm-200-disk-9", &v, err, sizeof(err)));
    OP(0, "rbd resize 128M", o->resize(&c, "vm-200-disk-0", 128 << 20, err, sizeof(err)));
    o->info(&c, "vm-200-disk-0", &v, err, sizeof(err));
    CHECK(v.size == 128 << 20, "  -> %llu", (unsigned long long)v.size);
    CHECK(rbd_io(&c, "vm-200-disk-0", 1, 0xaa) == 0, "rbd_write 0xaa");
    OP(0, "rbd snap create s1",
       o->snap(&c, "vm-200-disk-0", "s1", STOR_SNAP_CREATE, err, sizeof(err)));
    OP(-EEXIST, "rbd snap create s1 again",
       o->snap(&c, "vm-200-disk-0", "s1", STOR_SNAP_CREATE, err, sizeof(err)));
    OP(0, "rbd snap create s2",
       o->snap(&c, "vm-200-disk-0", "s2", STOR_SNAP_CREATE, err, sizeof(err)));
    CHECK(rbd_io(&c, "vm-200-disk-0", 1, 0xbb) == 0, "rbd_write 0xbb");
    OP(0, "rbd snap rollback s1",
       o->snap(&c, "vm-200-disk-0", "s1", STOR_SNAP_ROLLBACK, err, sizeof(err)));
    CHECK(rbd_io(&c, "vm-200-disk-0", 0, 0xaa) == 0, "rbd_read 0xaa after rollback");
    OP(0, "rbd snap protect s1",
       o->snap(&c, "vm-200-disk-0", "s1", STOR_SNAP_PROTECT, err, sizeof(err)));
    OP(0, "rbd snaps", o->snaps(&c, "vm-200-disk-0", add_snap, &l, err, sizeof(err)));
    CHECK(l.n == 2 && !strcmp(l.s[0], "s1") && l.prot[0] && !strcmp(l.s[1], "s2") && !l.prot[1],
          "  -> %d snaps, s1 protected", l.n);
    OP(-EBUSY, "rbd snap remove protected",
       o->snap(&c, "vm-200-disk-0", "s1", STOR_SNAP_REMOVE, err, sizeof(err)));
    OP(-EINVAL, "rbd clone without snap",
       o->clone(&c, "vm-200-disk-0", NULL, "vm-201-disk-0", &v, err, sizeof(err)));
    OP(0, "rbd clone @s1 -> vm-201-disk-0",
       o->clone(&c, "vm-200-disk-0", "s1", "vm-201-disk-0", &v, err, sizeof(err)));
    CHECK(!strcmp(v.parent, "rbd/vm-200-disk-0@s1"), "  -> parent %s", v.parent);
    CHECK(rbd_io(&c, "vm-201-disk-0", 0, 0xaa) == 0, "clone reads 0xaa");
    OP(0, "rbd clone @s2 (unprotected) -> vm-202-disk-0",
       o->clone(&c, "vm-200-disk-0", "s2", "vm-202-disk-0", &v, err, sizeof(err)));
    OP(-EEXIST, "rbd clone onto existing",
       o->clone(&c, "vm-200-disk-0", "s1", "vm-201-disk-0", &v, err, sizeof(err)));
    OP(-EBUSY, "rbd unprotect with clones",
       o->snap(&c, "vm-200-disk-0", "s1", STOR_SNAP_UNPROTECT, err, sizeof(err)));
    OP(-EBUSY, "rbd free parent with clones", o->free(&c, "vm-200-disk-0", err, sizeof(err)));
    l.n = 0;
    OP(0, "rbd list", o->list(&c, add_vol, &l, err, sizeof(err)));
    CHECK(l.n == 3, "  -> %d volumes", l.n);
    OP(0, "rbd flatten vm-201-disk-0", o->flatten(&c, "vm-201-disk-0", err, sizeof(err)));
    o->info(&c, "vm-201-disk-0", &v, err, sizeof(err));
    CHECK(!v.parent[0], "  -> no parent");
    CHECK(rbd_io(&c, "vm-201-disk-0", 0, 0xaa) == 0, "flattened clone reads 0xaa");
    OP(0, "rbd flatten non-clone", o->flatten(&c, "vm-201-disk-0", err, sizeof(err)));
    OP(0, "rbd free vm-202-disk-0", o->free(&c, "vm-202-disk-0", err, sizeof(err)));
    OP(0, "rbd usage", o->usage(&c, &u, err, sizeof(err)));
    CHECK(u.total > 0 && u.total == u.used + u.avail, "  -> total %llu used %llu avail %llu",
          (unsigned long long)u.total, (unsigned long long)u.used, (unsigned long long)u.avail);
    struct ceph_target t = {0};
    rados_ioctx_t io;
    rbd_image_t img;
    rados_t r;
    snprintf(t.conf, sizeof(t.conf), "%s", c.conf);
    snprintf(t.user, sizeof(t.user), "admin");
    if (ceph_connect(&t, &r, err, sizeof(err)) == 0 && rados_ioctx_create(r, "rbd", &io) == 0) {
        CHECK(rbd_open(io, "vm-200-disk-0", &img, NULL) == 0, "a guest opens vm-200-disk-0");
        OP(-EBUSY, "rbd free while open", o->free(&c, "vm-200-disk-0", err, sizeof(err)));
        l.n = 0;
        o->snaps(&c, "vm-200-disk-0", add_snap, &l, err, sizeof(err));
        CHECK(l.n == 2, "  -> refused free kept %d snaps", l.n);
        rbd_close(img);
        rados_ioctx_destroy(io);
    }
    OP(0, "rbd free vm-200-disk-0 (purges protected s1)",
       o->free(&c, "vm-200-disk-0", err, sizeof(err)));
    OP(-ENOENT, "rbd free again", o->free(&c, "vm-200-disk-0", err, sizeof(err)));
    OP(0, "rbd free vm-201-disk-0", o->free(&c, "vm-201-disk-0", err, sizeof(err)));
    snprintf(c.pool, sizeof(c.pool), "nopool");
    OP(-ENOENT, "rbd alloc in missing pool",
       o->alloc(&c, "vm-200-disk-0", NULL, 1 << 20, &v, err, sizeof(err)));
}

/* With the cluster stopped, calls fail within the client timeouts instead of hanging. */
static void test_rbd_down(const char *conf)
{
    const struct stor_ops *o = stor_ops("rbd");
    struct stor_cfg c = {.id = "ceph", .type = "rbd"};
    struct stor_vol v;
    struct stor_usage u;

    snprintf(c.conf, sizeof(c.conf), "%s", conf);
    OP(-ETIMEDOUT, "rbd info, cluster down", o->info(&c, "vm-200-disk-0", &v, err, sizeof(err)));
    OP(-ETIMEDOUT, "rbd usage, cluster down", o->usage(&c, &u, err, sizeof(err)));
}

/* Connected first, then the cluster dies: calls time out and the handle is dropped. */
static void test_rbd_kill(const char *conf, char **kill)
{
    const struct stor_ops *o = stor_ops("rbd");
    struct stor_cfg c = {.id = "ceph", .type = "rbd"};
    struct stor_vol v;

    snprintf(c.conf, sizeof(c.conf), "%s", conf);
    OP(0, "rbd alloc vm-300-disk-0",
       o->alloc(&c, "vm-300-disk-0", NULL, 1 << 20, &v, err, sizeof(err)));
    CHECK(run(kill) == 0, "cluster killed");
    OP(-ETIMEDOUT, "rbd info, cluster gone", o->info(&c, "vm-300-disk-0", &v, err, sizeof(err)));
    OP(-ETIMEDOUT, "rbd snap create, reconnects",
       o->snap(&c, "vm-300-disk-0", "s1", STOR_SNAP_CREATE, err, sizeof(err)));
}

int main(int argc, char **argv)
{
    char tmp[] = "/tmp/storprobe.XXXXXX";
    double start = now_ms();

    test_names();
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 2;
    }
    test_dir(tmp);
    char *rm[] = {"rm", "-rf", tmp, NULL};
    run(rm);
    if (argc > 3 && !strcmp(argv[2], "kill")) {
        test_rbd_kill(argv[1], argv + 3);
        ceph_shutdown_all();
    } else if (argc > 2 && !strcmp(argv[2], "down")) {
        test_rbd_down(argv[1]);
        ceph_shutdown_all();
    } else if (argc > 1) {
        test_rbd(argv[1]);
        ceph_shutdown_all();
    }
    printf("%s: %d failures, %.0f ms\n", failures ? "FAILED" : "PASSED", failures,
           now_ms() - start);
    return failures != 0;
}
