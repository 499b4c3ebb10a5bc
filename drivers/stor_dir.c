/*
 * stor_dir: directory storage like Proxmox's "dir" type. Volumes are image files
 * (or, for containers, plain directories) under <path>/images/<vmid>/, handled
 * through qemu-img (stor_qimg).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "../fs/buf.h"
#include "stor.h"

static const char *const file_fmts[] = {"qcow2", "raw", "vmdk"};
static const char *const dir_prefixes[] = {"subvol-", "basevol-"};

static int is_file_fmt(const char *fmt)
{
    for (size_t i = 0; i < sizeof(file_fmts) / sizeof(file_fmts[0]); i++)
        if (strcmp(fmt, file_fmts[i]) == 0)
            return 1;
    return 0;
}

static int is_dir_vol(const char *name)
{
    for (size_t i = 0; i < sizeof(dir_prefixes) / sizeof(dir_prefixes[0]); i++)
        if (strncmp(name, dir_prefixes[i], strlen(dir_prefixes[i])) == 0)
            return 1;
    return 0;
}

static int dir_locate(const struct stor_cfg *c, const char *name, const char *fmt,
                      struct stor_vol *v, char *err, size_t errlen)
{
    const char *dot, *format, *ext;
    unsigned long vmid;
    int n;

    if (stor_vol_vmid(name, &vmid))
        return stor_fail(err, errlen, -EINVAL,
                         "bad volume name '%s': want vm-<vmid>-disk-<n>[.qcow2|.raw|.vmdk]", name);
    if (c->path[0] != '/')
        return stor_fail(err, errlen, -EINVAL, "dir storage %s: path '%s' is not absolute", c->id,
                         c->path);
    memset(v, 0, sizeof(*v));
    dot = strchr(name, '.');
    if (is_dir_vol(name)) {
        if (dot || (fmt && strcmp(fmt, "subvol") != 0))
            return stor_fail(err, errlen, -EINVAL,
                             "volume %s: subvol volumes are directories, not %s images", name,
                             dot ? dot + 1 : fmt);
        format = "subvol";
    } else if (dot) {
        format = dot + 1;
        if (fmt && strcmp(fmt, format) != 0)
            return stor_fail(err, errlen, -EINVAL, "volume %s: format %s contradicts its name",
                             name, fmt);
    } else {
        format = fmt ? fmt : c->format[0] ? c->format : "qcow2";
        if (!is_file_fmt(format))
            return stor_fail(err, errlen, -EINVAL,
                             "volume %s: format '%s' is not one of qcow2, raw, vmdk", name, format);
    }
    snprintf(v->name, sizeof(v->name), "%s", name);
    snprintf(v->format, sizeof(v->format), "%s", format);
    ext = dot || !strcmp(format, "subvol") ? "" : format;
    n = snprintf(v->path, sizeof(v->path), "%s/images/%lu/%s%s%s", c->path, vmid, name,
                 *ext ? "." : "", ext);
    if (n < 0 || (size_t)n >= sizeof(v->path))
        return stor_fail(err, errlen, -ENAMETOOLONG, "volume %s: path under %s is too long", name,
                         c->path);
    return 0;
}

/*
 * The file or directory holding a volume whose name shares name's stem, in any
 * format. alloc and clone refuse a stem that is taken, so a stem names at most
 * one file, and a name without extension can find its file after the storage's
 * default format changed.
 */
static int stem_file(const struct stor_cfg *c, const char *name, struct stor_vol *v)
{
    char stem[sizeof(v->name)];
    struct stat st;

    snprintf(stem, sizeof(stem), "%.*s", (int)strcspn(name, "."), name);
    if (is_dir_vol(stem))
        return dir_locate(c, stem, NULL, v, NULL, 0) == 0 && lstat(v->path, &st) == 0;
    for (size_t i = 0; i < sizeof(file_fmts) / sizeof(file_fmts[0]); i++)
        if (dir_locate(c, stem, file_fmts[i], v, NULL, 0) == 0 && lstat(v->path, &st) == 0)
            return 1;
    return 0;
}

/* Locates an existing volume: its own file, or for a name without extension its stem's. */
static int find(const struct stor_cfg *c, const char *name, struct stor_vol *v, char *err,
                size_t errlen)
{
    struct stat st;
    int rc;

    if ((rc = dir_locate(c, name, NULL, v, err, errlen)))
        return rc;
    if (lstat(v->path, &st) == 0 || (!strchr(name, '.') && stem_file(c, name, v)))
        return 0;
    dir_locate(c, name, NULL, v, err, errlen);
    return stor_fail(err, errlen, -ENOENT, "volume %s: %s does not exist", name, v->path);
}

/* mkdir -p of the directory holding path. */
static int mkparents(const char *path, char *err, size_t errlen)
{
    char d[sizeof(((struct stor_vol *)0)->path)];
    char *s;

    snprintf(d, sizeof(d), "%s", path);
    if (!(s = strrchr(d, '/')) || s == d)
        return 0;
    *s = 0;
    for (s = d + 1;; s++) {
        if (*s && *s != '/')
            continue;
        char keep = *s;
        *s = 0;
        if (mkdir(d, 0755) && errno != EEXIST)
            return stor_fail(err, errlen, -errno, "mkdir %s: %s", d, strerror(errno));
        if (!(*s = keep))
            return 0;
    }
}

/* qemu-img wants whole 512-byte sectors; a size in between is rounded up. */
static int size_arg(char *buf, size_t len, uint64_t size, const char *name, char *err,
                    size_t errlen)
{
    if (size > (UINT64_MAX >> 1))
        return stor_fail(err, errlen, -EFBIG, "volume %s: size %llu is too large for qemu-img",
                         name, (unsigned long long)size);
    snprintf(buf, len, "%llu", (unsigned long long)(size + 511) / 512 * 512);
    return 0;
}

/* Creates path exclusively, so a racing alloc or clone gets -EEXIST, not a shared file. */
static int claim(const char *path, const char *name, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);

    if (fd < 0)
        return stor_fail(err, errlen, -errno, "volume %s: create %s: %s", name, path,
                         strerror(errno));
    close(fd);
    return 0;
}

static int dir_alloc(const struct stor_cfg *c, const char *name, const char *fmt, uint64_t size,
                     struct stor_vol *out, char *err, size_t errlen)
{
    struct stor_vol v, other;
    char sz[32];
    int rc;

    if ((rc = dir_locate(c, name, fmt, &v, err, errlen)) || (rc = mkparents(v.path, err, errlen)))
        return rc;
    if (stem_file(c, name, &other))
        return stor_fail(err, errlen, -EEXIST, "volume %s: %s already exists", name, other.path);
    if ((rc = size_arg(sz, sizeof(sz), size, name, err, errlen)))
        return rc;
    if (size == 0 && !strcmp(v.format, "vmdk"))
        return stor_fail(err, errlen, -EINVAL,
                         "volume %s: qemu cannot open an empty vmdk; give a size", name);
    if (!strcmp(v.format, "subvol")) {
        if (mkdir(v.path, 0755))
            return stor_fail(err, errlen, -errno, "volume %s: mkdir %s: %s", name, v.path,
                             strerror(errno));
    } else if ((rc = claim(v.path, name, err, errlen))) {
        return rc;
    } else {
        char *qcow[] = {"create", "-f", v.format, "-o", "preallocation=off", v.path, sz, NULL};
        char *other_fmt[] = {"create", "-f", v.format, v.path, sz, NULL};
        char what[160];
        snprintf(what, sizeof(what), "create %s", name);
        if ((rc = stor_qimg(what, strcmp(v.format, "qcow2") ? other_fmt : qcow, -1, NULL, err,
                            errlen))) {
            unlink(v.path);
            return rc;
        }
    }
    v.size = strcmp(v.format, "subvol") ? strtoull(sz, NULL, 10) : 0;
    if (out)
        *out = v;
    return 0;
}

static int dir_free(const struct stor_cfg *c, const char *name, char *err, size_t errlen)
{
    struct stor_vol v;
    char *slash;
    int rc;

    if ((rc = find(c, name, &v, err, errlen)))
        return rc;
    if (!strcmp(v.format, "subvol")) {
        if ((rc = stor_subvol_free(&v)))
            return stor_fail(err, errlen, rc, "volume %s: remove %s: %s", name, v.path,
                             strerror(-rc));
    } else if (unlink(v.path)) {
        return stor_fail(err, errlen, -errno, "volume %s: unlink %s: %s", name, v.path,
                         strerror(errno));
    }
    if ((slash = strrchr(v.path, '/'))) {
        *slash = 0;
        rmdir(v.path); /* only succeeds when the guest has no volumes left */
    }
    return 0;
}

/* Parses `qemu-img info --output=json` of v into a json object. */
static int info_json(struct stor_vol *v, json_object **jo, char *err, size_t errlen)
{
    char *argv[] = {"info", "--output=json", "-U", "-f", v->format, v->path, NULL};
    struct pv_buf out = {0};
    char what[256];
    int rc;

    snprintf(what, sizeof(what), "info %s", v->name);
    if ((rc = stor_qimg(what, argv, -1, &out, err, errlen))) {
        pv_buf_free(&out);
        return rc;
    }
    *jo = out.p ? json_tokener_parse(out.p) : NULL;
    pv_buf_free(&out);
    if (!*jo)
        return stor_fail(err, errlen, -EIO, "qemu-img info %s: output is not JSON", v->name);
    return 0;
}

static int dir_info(const struct stor_cfg *c, const char *name, struct stor_vol *out, char *err,
                    size_t errlen)
{
    struct stor_vol v;
    json_object *jo, *f;
    int rc;

    if ((rc = find(c, name, &v, err, errlen)))
        return rc;
    if (!strcmp(v.format, "subvol")) {
        *out = v;
        return 0;
    }
    if ((rc = info_json(&v, &jo, err, errlen)))
        return rc;
    if (!json_object_object_get_ex(jo, "virtual-size", &f)) {
        json_object_put(jo);
        return stor_fail(err, errlen, -EIO, "qemu-img info %s: no virtual-size", name);
    }
    v.size = (uint64_t)json_object_get_int64(f);
    if (json_object_object_get_ex(jo, "format", &f))
        snprintf(v.format, sizeof(v.format), "%s", json_object_get_string(f));
    json_object_put(jo);
    *out = v;
    return 0;
}

static int dir_resize(const struct stor_cfg *c, const char *name, uint64_t size, char *err,
                      size_t errlen)
{
    struct stor_vol v;
    char sz[32], what[256];
    int rc;

    if ((rc = find(c, name, &v, err, errlen)))
        return rc;
    if (!strcmp(v.format, "subvol"))
        return stor_fail(err, errlen, -EOPNOTSUPP,
                         "volume %s: a subvol directory has no size to grow; its size is a quota",
                         name);
    if ((rc = size_arg(sz, sizeof(sz), size, name, err, errlen)))
        return rc;
    snprintf(what, sizeof(what), "resize %s", name);
    char *argv[] = {"resize", "-f", v.format, v.path, sz, NULL};
    return stor_qimg(what, argv, -1, NULL, err, errlen);
}

/* Snapshot names go into qemu-img's argv; one starting with '-' would read as an option. */
static int snap_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    return n > 0 && n <= 64 && s[0] != '-' &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.-") == n;
}

/* Internal snapshots need qcow2: the others keep no snapshot table. */
static int need_qcow2(const struct stor_vol *v, char *err, size_t errlen)
{
    if (!strcmp(v->format, "qcow2"))
        return 0;
    return stor_fail(err, errlen, -EOPNOTSUPP, "volume %s: %s volumes have no snapshots; use qcow2",
                     v->name, v->format);
}

/* Calls fn for each snapshot of the qcow2 volume v, in table (creation) order. */
static int each_snap(struct stor_vol *v, stor_snap_fn fn, void *arg, char *err, size_t errlen)
{
    json_object *jo, *arr, *name;
    int rc;

    if ((rc = info_json(v, &jo, err, errlen)))
        return rc;
    if (json_object_object_get_ex(jo, "snapshots", &arr))
        for (size_t i = 0; i < json_object_array_length(arr) && !rc; i++)
            if (json_object_object_get_ex(json_object_array_get_idx(arr, i), "name", &name))
                rc = fn(arg, json_object_get_string(name), 0);
    json_object_put(jo);
    return rc;
}

/* "driver=qcow2,file.filename=<path>", with commas in the path doubled as qemu wants. */
static int qcow2_opts(const struct stor_vol *v, char *out, size_t len, char *err, size_t errlen)
{
    size_t n = (size_t)snprintf(out, len, "driver=qcow2,file.filename=");

    for (const char *p = v->path; *p; p++) {
        if (n + 3 > len)
            return stor_fail(err, errlen, -ENAMETOOLONG, "volume %s: path too long", v->name);
        if (*p == ',')
            out[n++] = ',';
        out[n++] = *p;
    }
    out[n] = 0;
    return 0;
}

static int snap_match(void *arg, const char *snap, int protect)
{
    (void)protect;
    return strcmp(arg, snap) == 0;
}

static const struct {
    const char *verb; /* the word in messages */
    const char *flag; /* qemu-img snapshot flag, NULL: not on dir storage */
    int exists;       /* the snapshot must (1) or must not (0) exist first */
} snap_ops[] = {
    [STOR_SNAP_CREATE] = {"create", "-c", 0},       [STOR_SNAP_REMOVE] = {"remove", "-d", 1},
    [STOR_SNAP_ROLLBACK] = {"rollback", "-a", 1},   [STOR_SNAP_PROTECT] = {"protect", NULL, 1},
    [STOR_SNAP_UNPROTECT] = {"unprotect", NULL, 1},
};

static int dir_snap(const struct stor_cfg *c, const char *name, const char *snap,
                    enum stor_snap_op op, char *err, size_t errlen)
{
    struct stor_vol v;
    char what[256], opts[2 * sizeof(v.path) + 32];
    int rc, found;

    if ((unsigned)op >= sizeof(snap_ops) / sizeof(snap_ops[0]))
        return stor_fail(err, errlen, -EINVAL, "volume %s: unknown snapshot operation %d", name,
                         op);
    if (!snap_name_ok(snap))
        return stor_fail(err, errlen, -EINVAL, "bad snapshot name '%s': want [A-Za-z0-9_+.-]{1,64}",
                         snap ? snap : "");
    if ((rc = find(c, name, &v, err, errlen)))
        return rc;
    if (!strcmp(v.format, "subvol"))
        return stor_subvol_snap(&v, snap, op, err, errlen);
    if ((rc = need_qcow2(&v, err, errlen)))
        return rc;
    if (!snap_ops[op].flag)
        return stor_fail(err, errlen, -EOPNOTSUPP,
                         "volume %s: dir storage cannot %s snapshots: clones are full copies", name,
                         snap_ops[op].verb);
    if ((found = each_snap(&v, snap_match, (void *)snap, err, errlen)) < 0)
        return found;
    if (found && !snap_ops[op].exists)
        return stor_fail(err, errlen, -EEXIST, "volume %s: snapshot %s already exists", name, snap);
    if (!found && snap_ops[op].exists)
        return stor_fail(err, errlen, -ENOENT, "volume %s: no snapshot %s", name, snap);
    if ((rc = qcow2_opts(&v, opts, sizeof(opts), err, errlen)))
        return rc;
    snprintf(what, sizeof(what), "snapshot %s %s@%s", snap_ops[op].verb, name, snap);
    /* snapshot takes no -f; image-opts name the format so qemu-img never probes it. */
    char *argv[] = {"snapshot",   "--image-opts", (char *)snap_ops[op].flag,
                    (char *)snap, opts,           NULL};
    return stor_qimg(what, argv, -1, NULL, err, errlen);
}

static int dir_snaps(const struct stor_cfg *c, const char *name, stor_snap_fn fn, void *arg,
                     char *err, size_t errlen)
{
    struct stor_vol v;
    int rc;

    if ((rc = find(c, name, &v, err, errlen)))
        return rc;
    if (!strcmp(v.format, "subvol"))
        return stor_subvol_snaps(&v, fn, arg, err, errlen);
    if (strcmp(v.format, "qcow2") != 0)
        return 0; /* no snapshot table: the list is empty */
    return each_snap(&v, fn, arg, err, errlen);
}

static int dir_clone(const struct stor_cfg *c, const char *name, const char *snap,
                     const char *newname, struct stor_vol *out, char *err, size_t errlen)
{
    struct stor_vol src, dst, other;
    char what[512], lsnap[128];
    int rc;

    if ((rc = find(c, name, &src, err, errlen)))
        return rc;
    if (snap && !snap_name_ok(snap))
        return stor_fail(err, errlen, -EINVAL, "bad snapshot name '%s'", snap);
    if (snap && strcmp(src.format, "subvol") != 0 && (rc = need_qcow2(&src, err, errlen)))
        return rc;
    /* The copy keeps the source's format unless newname names another one. */
    if ((rc = dir_locate(c, newname, strchr(newname, '.') ? NULL : src.format, &dst, err, errlen)))
        return rc;
    if (!strcmp(dst.format, "subvol") != !strcmp(src.format, "subvol"))
        return stor_fail(err, errlen, -EINVAL,
                         "volume %s: a subvol is cloned into a subvol, an image into an image",
                         newname);
    if (stem_file(c, newname, &other))
        return stor_fail(err, errlen, -EEXIST, "volume %s: %s already exists", newname, other.path);
    if (!strcmp(src.format, "subvol")) {
        if ((rc = mkparents(dst.path, err, errlen)) ||
            (rc = stor_subvol_clone(&src, snap, dst.path, err, errlen)))
            return rc;
        if (out)
            *out = dst;
        return 0;
    }
    if ((rc = mkparents(dst.path, err, errlen)) || (rc = claim(dst.path, newname, err, errlen)))
        return rc;
    snprintf(lsnap, sizeof(lsnap), "snapshot.name=%s", snap ? snap : "");
    snprintf(what, sizeof(what), "convert %s%s%s to %s", name, snap ? "@" : "", snap ? snap : "",
             newname);
    char *withsnap[] = {"convert", "-f",  src.format, "-O",     dst.format,
                        "-l",      lsnap, src.path,   dst.path, NULL};
    char *head[] = {"convert", "-f", src.format, "-O", dst.format, src.path, dst.path, NULL};
    if ((rc = stor_qimg(what, snap ? withsnap : head, -1, NULL, err, errlen)) ||
        (rc = dir_info(c, dst.name, &dst, err, errlen))) {
        unlink(dst.path);
        return rc;
    }
    if (out)
        *out = dst;
    return 0;
}

static int dir_import(const struct stor_cfg *c, const char *name, const char *src, const char *fmt,
                      struct stor_vol *out, char *err, size_t errlen)
{
    struct stor_vol in, dst, other;
    char what[1400];
    int rc;

    if ((rc = dir_locate(c, name, fmt, &dst, err, errlen)))
        return rc;
    if (!strcmp(dst.format, "subvol"))
        return stor_fail(err, errlen, -EINVAL,
                         "volume %s: subvol volumes are directories; a disk image cannot go there",
                         name);
    /* Checked before anything is made, so a refused source leaves the storage as it was. */
    if ((rc = stor_probe_import(src, &in, err, errlen)))
        return rc;
    if (stem_file(c, name, &other))
        return stor_fail(err, errlen, -EEXIST, "volume %s: %s already exists", name, other.path);
    if ((rc = mkparents(dst.path, err, errlen)) || (rc = claim(dst.path, name, err, errlen)))
        return rc;
    snprintf(what, sizeof(what), "convert %s (%s) to %s", src, in.format, name);
    char *argv[] = {"convert", "-f", in.format, "-O", dst.format, in.path, dst.path, NULL};
    if ((rc = stor_qimg(what, argv, -1, NULL, err, errlen)) ||
        (rc = dir_info(c, dst.name, &dst, err, errlen))) {
        unlink(dst.path);
        *strrchr(dst.path, '/') = 0;
        rmdir(dst.path); /* only when the guest had no volumes before */
        return rc;
    }
    if (out)
        *out = dst;
    return 0;
}

static int dir_flatten(const struct stor_cfg *c, const char *name, char *err, size_t errlen)
{
    struct stor_vol v;

    return find(c, name, &v, err, errlen); /* clones are full copies already */
}

static int dir_usage(const struct stor_cfg *c, struct stor_usage *u, char *err, size_t errlen)
{
    struct statvfs sv;

    if (statvfs(c->path, &sv))
        return stor_fail(err, errlen, -errno, "dir storage %s: statvfs %s: %s", c->id, c->path,
                         strerror(errno));
    u->total = (uint64_t)sv.f_blocks * sv.f_frsize;
    u->used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
    u->avail = (uint64_t)sv.f_bavail * sv.f_frsize;
    return 0;
}

/*
 * The catalog name of file fname: without its extension when that is the storage's
 * default format, since dir_locate maps the short name back to the same file.
 */
static void catalog_name(const struct stor_cfg *c, const char *fname, char *out, size_t len)
{
    const char *dot = strchr(fname, '.');
    const char *def = c->format[0] ? c->format : "qcow2";
    size_t n = dot && !strcmp(dot + 1, def) ? (size_t)(dot - fname) : strlen(fname);

    n = n < len ? n : len - 1;
    memcpy(out, fname, n);
    out[n] = 0;
}

static int list_guest(const struct stor_cfg *c, const char *gdir, unsigned long gid, stor_vol_fn fn,
                      void *arg)
{
    struct dirent *de;
    DIR *d = opendir(gdir);
    int rc = 0;

    if (!d)
        return 0;
    while (!rc && (de = readdir(d))) {
        unsigned long vmid;
        struct stor_vol v;
        char name[128], e[STOR_ERRLEN];

        if (stor_vol_vmid(de->d_name, &vmid) || vmid != gid ||
            (!strchr(de->d_name, '.') && !is_dir_vol(de->d_name)))
            continue;
        catalog_name(c, de->d_name, name, sizeof(name));
        /* A file qemu-img cannot read is still a volume; report it with size 0. */
        if (dir_info(c, name, &v, e, sizeof(e)) && dir_locate(c, name, NULL, &v, e, sizeof(e)))
            continue;
        rc = fn(arg, &v);
    }
    closedir(d);
    return rc;
}

static int dir_list(const struct stor_cfg *c, stor_vol_fn fn, void *arg, char *err, size_t errlen)
{
    char images[sizeof(c->path) + 16], gdir[sizeof(images) + 32];
    struct dirent *de;
    struct stat st;
    DIR *d;
    int rc = 0;

    if (stat(c->path, &st))
        return stor_fail(err, errlen, -errno, "dir storage %s: %s: %s", c->id, c->path,
                         strerror(errno));
    snprintf(images, sizeof(images), "%s/images", c->path);
    if (!(d = opendir(images)))
        return errno == ENOENT ? 0
                               : stor_fail(err, errlen, -errno, "dir storage %s: opendir %s: %s",
                                           c->id, images, strerror(errno));
    while (!rc && (de = readdir(d))) {
        char *end;
        unsigned long gid = strtoul(de->d_name, &end, 10);

        if (de->d_name[0] < '1' || de->d_name[0] > '9' || *end || gid < 100)
            continue;
        snprintf(gdir, sizeof(gdir), "%s/%lu", images, gid);
        rc = list_guest(c, gdir, gid, fn, arg);
    }
    closedir(d);
    return rc;
}

const struct stor_ops stor_dir = {
    .type = "dir",
    .locate = dir_locate,
    .alloc = dir_alloc,
    .import = dir_import,
    .free = dir_free,
    .info = dir_info,
    .resize = dir_resize,
    .snap = dir_snap,
    .snaps = dir_snaps,
    .clone = dir_clone,
    .flatten = dir_flatten,
    .usage = dir_usage,
    .list = dir_list,
};
