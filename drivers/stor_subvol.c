/*
 * stor_subvol: snapshots and copies of subvol volumes (a container's root directory)
 * on dir storage. A plain directory has no copy-on-write, so a snapshot is a copy
 * (cp --reflink=auto shares extents where the filesystem can), kept beside the
 * volume in ".<volume>.snaps/<snap>/"; names starting with a dot are never volumes.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stor.h"

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(p) : unlink(p)) ? -1 : 0;
}

int stor_rmtree(const char *path)
{
    /* FTW_PHYS: never follow a guest's symlinks; FTW_MOUNT: stay off mounts in it. */
    if (nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) && errno != ENOENT)
        return -errno;
    return 0;
}

static int snaps_dir(const struct stor_vol *v, char *buf, size_t len)
{
    const char *slash = strrchr(v->path, '/');
    int n;

    if (!slash)
        return -EINVAL;
    n = snprintf(buf, len, "%.*s/.%s.snaps", (int)(slash - v->path), v->path, slash + 1);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Copies directory src's contents into dst (made here), keeping owners, modes, links. */
int stor_subvol_copy(const char *src, const char *dst, const char *what, char *err, size_t errlen)
{
    char from[1300];
    int rc;

    if (mkdir(dst, 0755))
        return stor_fail(err, errlen, -errno, "%s: mkdir %s: %s", what, dst, strerror(errno));
    snprintf(from, sizeof(from), "%s/.", src);
    char *av[] = {"cp", "-a", "--reflink=auto", from, (char *)dst, NULL};
    if ((rc = stor_run("cp", what, av, err, errlen)))
        stor_rmtree(dst);
    return rc;
}

int stor_subvol_snap(const struct stor_vol *v, const char *snap, enum stor_snap_op op, char *err,
                     size_t errlen)
{
    char dir[1300], sp[1400], what[256], old[1400];
    struct stat st;
    int rc, have;

    if ((rc = snaps_dir(v, dir, sizeof(dir))))
        return stor_fail(err, errlen, rc, "volume %s: path too long", v->name);
    snprintf(sp, sizeof(sp), "%s/%s", dir, snap);
    have = stat(sp, &st) == 0;
    if (op == STOR_SNAP_CREATE && have)
        return stor_fail(err, errlen, -EEXIST, "volume %s: snapshot %s already exists", v->name,
                         snap);
    if (op != STOR_SNAP_CREATE && !have)
        return stor_fail(err, errlen, -ENOENT, "volume %s: no snapshot %s", v->name, snap);
    snprintf(what, sizeof(what), "snapshot %s@%s", v->name, snap);
    switch (op) {
    case STOR_SNAP_CREATE:
        if (mkdir(dir, 0700) && errno != EEXIST)
            return stor_fail(err, errlen, -errno, "%s: mkdir %s: %s", what, dir, strerror(errno));
        return stor_subvol_copy(v->path, sp, what, err, errlen);
    case STOR_SNAP_REMOVE:
        if ((rc = stor_rmtree(sp)))
            return stor_fail(err, errlen, rc, "%s: remove: %s", what, strerror(-rc));
        rmdir(dir); /* the last snapshot takes its directory along */
        return 0;
    case STOR_SNAP_ROLLBACK:
        /* the current tree moves aside until the copy back is whole */
        snprintf(old, sizeof(old), "%s/.rollback", dir);
        stor_rmtree(old);
        if (rename(v->path, old))
            return stor_fail(err, errlen, -errno, "%s: move %s aside: %s", what, v->path,
                             strerror(errno));
        if ((rc = stor_subvol_copy(sp, v->path, what, err, errlen))) {
            rename(old, v->path);
            return rc;
        }
        stor_rmtree(old);
        return 0;
    default:
        return stor_fail(err, errlen, -EOPNOTSUPP,
                         "volume %s: a subvol snapshot is a copy; there is nothing to protect",
                         v->name);
    }
}

int stor_subvol_snaps(const struct stor_vol *v, stor_snap_fn fn, void *arg, char *err,
                      size_t errlen)
{
    char dir[1300];
    struct dirent *de;
    DIR *d;

    if (snaps_dir(v, dir, sizeof(dir)))
        return stor_fail(err, errlen, -ENAMETOOLONG, "volume %s: path too long", v->name);
    if (!(d = opendir(dir)))
        return 0;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && fn(arg, de->d_name, 0))
            break;
    closedir(d);
    return 0;
}

int stor_subvol_free(const struct stor_vol *v)
{
    char dir[1300];
    int rc = stor_rmtree(v->path);

    if (!rc && snaps_dir(v, dir, sizeof(dir)) == 0)
        rc = stor_rmtree(dir);
    return rc;
}

int stor_subvol_clone(const struct stor_vol *v, const char *snap, const char *dst, char *err,
                      size_t errlen)
{
    char dir[1300], from[1400], what[256];
    struct stat st;

    snprintf(from, sizeof(from), "%s", v->path);
    if (snap) {
        if (snaps_dir(v, dir, sizeof(dir)))
            return stor_fail(err, errlen, -ENAMETOOLONG, "volume %s: path too long", v->name);
        snprintf(from, sizeof(from), "%s/%s", dir, snap);
        if (stat(from, &st))
            return stor_fail(err, errlen, -ENOENT, "volume %s: no snapshot %s", v->name, snap);
    }
    snprintf(what, sizeof(what), "clone %s%s%s", v->name, snap ? "@" : "", snap ? snap : "");
    return stor_subvol_copy(from, dst, what, err, errlen);
}
