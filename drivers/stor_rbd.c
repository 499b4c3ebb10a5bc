/*
 * stor_rbd: Ceph RBD storage through librbd. A volume is a raw image named like
 * the catalog volume in the storage's pool. Connections come from ceph_connect,
 * whose client timeouts bound every call here; an ioctx lives for one call.
 * Imports write through qemu-img's rbd driver, set up to reach Ceph the same way.
 */
#include <errno.h>
#include <json-c/json.h>
#include <rbd/librbd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ceph.h"
#include "stor.h"
#include "stor_rbd_int.h"

/* Forgets the connection when rc says the cluster is gone, so the next call reconnects. */
static int drop_if_lost(struct rx *x, int rc)
{
    if (rc == -ETIMEDOUT || rc == -ESHUTDOWN || rc == -ENOTCONN)
        ceph_drop(&x->t);
    return rc;
}

/* Fills err with "rbd <what> <pool>/<image>: <strerror>". */
int rbd_fail(struct rx *x, int rc, const char *what, const char *image, char *err, size_t errlen)
{
    drop_if_lost(x, rc);
    return stor_fail(err, errlen, rc, "rbd %s %s/%s: %s", what, x->pool, image, strerror(-rc));
}

int rx_open(const struct stor_cfg *c, struct rx *x, char *err, size_t errlen)
{
    int rc;

    memset(x, 0, sizeof(*x));
    snprintf(x->t.conf, sizeof(x->t.conf), "%s", c->conf);
    snprintf(x->t.monhost, sizeof(x->t.monhost), "%s", c->monhost);
    snprintf(x->t.user, sizeof(x->t.user), "%s", c->username[0] ? c->username : "admin");
    snprintf(x->t.keyring, sizeof(x->t.keyring), "%s", c->keyring);
    snprintf(x->t.key, sizeof(x->t.key), "%s", c->key);
    snprintf(x->pool, sizeof(x->pool), "%s", c->pool[0] ? c->pool : "rbd");
    if ((rc = ceph_connect(&x->t, &x->c, err, errlen)))
        return rc;
    if ((rc = ceph_pool_open(x->c, x->pool, &x->io, err, errlen))) {
        x->io = NULL;
        if (rc == -ENOENT)
            return stor_fail(err, errlen, rc, "rbd storage %s: pool %s does not exist", c->id,
                             x->pool);
        drop_if_lost(x, rc);
        return stor_fail(err, errlen, rc, "rbd storage %s: open pool %s: %s", c->id, x->pool,
                         strerror(-rc));
    }
    return 0;
}

void rx_close(struct rx *x)
{
    if (x->io)
        rados_ioctx_destroy(x->io);
    x->io = NULL;
}

/* Volume names are image names: raw only, and no directories (subvols). */
static int name_ok(const char *name, char *err, size_t errlen)
{
    if (stor_vol_vmid(name, NULL))
        return stor_fail(err, errlen, -EINVAL, "bad volume name '%s': want vm-<vmid>-disk-<n>",
                         name);
    if (strchr(name, '.'))
        return stor_fail(err, errlen, -EINVAL,
                         "volume %s: rbd volumes are raw images, named without an extension", name);
    if (!strncmp(name, "subvol-", 7) || !strncmp(name, "basevol-", 8))
        return stor_fail(err, errlen, -EINVAL,
                         "volume %s: rbd cannot hold subvol directories; use vm-<vmid>-disk-<n>",
                         name);
    return 0;
}

static int snap_name_ok(const char *snap, char *err, size_t errlen)
{
    size_t n = snap ? strlen(snap) : 0;

    if (n == 0 || n > 64 || snap[0] == '-' ||
        strspn(snap, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.-") != n)
        return stor_fail(err, errlen, -EINVAL, "bad snapshot name '%s': want [A-Za-z0-9_+.-]{1,64}",
                         snap ? snap : "");
    return 0;
}

int rbd_locate(const struct stor_cfg *c, const char *name, const char *fmt, struct stor_vol *v,
               char *err, size_t errlen)
{
    int rc;

    if ((rc = name_ok(name, err, errlen)))
        return rc;
    if (fmt && strcmp(fmt, "raw") != 0)
        return stor_fail(err, errlen, -EINVAL, "volume %s: rbd volumes are raw images, not %s",
                         name, fmt);
    memset(v, 0, sizeof(*v));
    snprintf(v->name, sizeof(v->name), "%s", name);
    snprintf(v->format, sizeof(v->format), "raw");
    snprintf(v->path, sizeof(v->path), "%s/%s", c->pool[0] ? c->pool : "rbd", name);
    return 0;
}

/* Opens image name of an open rx; read-only when ro. */
static int img_open(struct rx *x, const char *name, int ro, rbd_image_t *img, char *err,
                    size_t errlen)
{
    int rc = ro ? rbd_open_read_only(x->io, name, img, NULL) : rbd_open(x->io, name, img, NULL);

    if (rc == -ENOENT)
        return stor_fail(err, errlen, rc, "rbd open %s/%s: no such image", x->pool, name);
    return rc ? rbd_fail(x, rc, "open", name, err, errlen) : 0;
}

/* Fills v from the open image. */
static int img_stat(struct rx *x, rbd_image_t img, const char *name, struct stor_vol *v, char *err,
                    size_t errlen)
{
    rbd_linked_image_spec_t ps;
    rbd_snap_spec_t ss;
    rbd_image_info_t st;
    int rc;

    memset(v, 0, sizeof(*v));
    if ((rc = rbd_stat(img, &st, sizeof(st))))
        return rbd_fail(x, rc, "stat", name, err, errlen);
    snprintf(v->name, sizeof(v->name), "%s", name);
    snprintf(v->format, sizeof(v->format), "raw");
    snprintf(v->path, sizeof(v->path), "%s/%s", x->pool, name);
    v->size = st.size;
    rc = rbd_get_parent(img, &ps, &ss);
    if (rc == -ENOENT)
        return 0; /* not a clone */
    if (rc)
        return rbd_fail(x, rc, "get parent of", name, err, errlen);
    snprintf(v->parent, sizeof(v->parent), "%s/%s@%s", ps.pool_name, ps.image_name, ss.name);
    rbd_linked_image_spec_cleanup(&ps);
    rbd_snap_spec_cleanup(&ss);
    return 0;
}

int vol_info(struct rx *x, const char *name, struct stor_vol *out, char *err, size_t errlen)
{
    rbd_image_t img;
    int rc;

    if ((rc = img_open(x, name, 1, &img, err, errlen)))
        return rc;
    rc = img_stat(x, img, name, out, err, errlen);
    rbd_close(img);
    return rc;
}

static int rbd_alloc(const struct stor_cfg *c, const char *name, const char *fmt, uint64_t size,
                     struct stor_vol *out, char *err, size_t errlen)
{
    rbd_image_options_t o;
    struct stor_vol v;
    struct rx x;
    int rc;

    if ((rc = rbd_locate(c, name, fmt, &v, err, errlen)) || (rc = rx_open(c, &x, err, errlen)))
        return rc;
    rbd_image_options_create(&o);
    rbd_image_options_set_uint64(o, RBD_IMAGE_OPTION_FEATURES, RBD_FEATURES);
    rbd_image_options_set_uint64(o, RBD_IMAGE_OPTION_ORDER, RBD_ORDER);
    rc = rbd_create4(x.io, name, size, o);
    rbd_image_options_destroy(o);
    if (rc)
        rc = rbd_fail(&x, rc, "create", name, err, errlen);
    rx_close(&x);
    if (!rc && out) {
        v.size = size;
        *out = v;
    }
    return rc;
}

/* The snapshots of an open image, sorted oldest first; free with snaps_free. */
static int snaps_get(struct rx *x, rbd_image_t img, const char *name, rbd_snap_info_t **out, int *n,
                     char *err, size_t errlen)
{
    rbd_snap_info_t *s = NULL;
    int max = 16, rc;

    for (;;) {
        rbd_snap_info_t *ns = realloc(s, sizeof(*s) * (size_t)(max + 1));
        if (!ns) {
            free(s);
            return stor_fail(err, errlen, -ENOMEM, "rbd snap list %s/%s: out of memory", x->pool,
                             name);
        }
        s = ns;
        if ((rc = rbd_snap_list(img, s, &max)) >= 0)
            break;
        if (rc != -ERANGE) {
            free(s);
            return rbd_fail(x, rc, "snap list", name, err, errlen);
        }
    }
    *n = rc;
    /* rbd_snap_list returns them by id already; a plain insertion sort keeps that certain. */
    for (int i = 1; i < *n; i++)
        for (int j = i; j > 0 && s[j - 1].id > s[j].id; j--) {
            rbd_snap_info_t t = s[j];
            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    *out = s;
    return 0;
}

static void snaps_free(rbd_snap_info_t *s)
{
    rbd_snap_list_end(s);
    free(s);
}

/* -EBUSY if a clone depends on snapshot snap of the open image, naming it. */
static int no_children(struct rx *x, rbd_image_t img, const char *name, const char *snap, char *err,
                       size_t errlen)
{
    rbd_linked_image_spec_t kids[4];
    size_t n = sizeof(kids) / sizeof(kids[0]);
    int rc;

    if ((rc = rbd_snap_set(img, snap)))
        return rbd_fail(x, rc, "snap set", name, err, errlen);
    rc = rbd_list_children3(img, kids, &n);
    rbd_snap_set(img, NULL);
    if (rc == -ERANGE)
        return stor_fail(err, errlen, -EBUSY, "volume %s: clones depend on snapshot %s", name,
                         snap);
    if (rc < 0)
        return rbd_fail(x, rc, "list children of", name, err, errlen);
    if (n) {
        stor_fail(err, errlen, -EBUSY,
                  "volume %s: clone %s/%s%s depends on snapshot %s; flatten it", name,
                  kids[0].pool_name, kids[0].image_name, n > 1 ? " and others" : "", snap);
        rbd_linked_image_spec_list_cleanup(kids, n);
        return -EBUSY;
    }
    return 0;
}

/* -EBUSY if a client besides this one (a running guest) has the open image open. */
static int no_watchers(struct rx *x, rbd_image_t img, const char *name, char *err, size_t errlen)
{
    rbd_image_watcher_t w[4];
    size_t n = sizeof(w) / sizeof(w[0]);
    int rc = rbd_watchers_list(img, w, &n);

    if (rc && rc != -ERANGE)
        return rbd_fail(x, rc, "list watchers of", name, err, errlen);
    if (!rc)
        rbd_watchers_list_cleanup(w, n);
    if (rc == -ERANGE || n > 1)
        return stor_fail(err, errlen, -EBUSY,
                         "rbd remove %s/%s: image is open elsewhere (a running guest?)", x->pool,
                         name);
    return 0;
}

/*
 * Removes every snapshot of name, after checking that nobody else has the image
 * open and that no clone depends on a snapshot, so a refused free keeps them.
 */
static int purge_snaps(struct rx *x, const char *name, char *err, size_t errlen)
{
    rbd_snap_info_t *s = NULL;
    rbd_image_t img;
    int n = 0, rc;

    if ((rc = img_open(x, name, 0, &img, err, errlen)))
        return rc;
    if ((rc = snaps_get(x, img, name, &s, &n, err, errlen))) {
        rbd_close(img);
        return rc;
    }
    rc = no_watchers(x, img, name, err, errlen);
    for (int i = 0; i < n && !rc; i++)
        rc = no_children(x, img, name, s[i].name, err, errlen);
    for (int i = 0; i < n && !rc; i++) {
        char what[128];

        snprintf(what, sizeof(what), "snap remove @%s of", s[i].name);
        if ((rc = rbd_snap_remove2(img, s[i].name, RBD_SNAP_REMOVE_UNPROTECT, NULL, NULL)))
            rc = rbd_fail(x, rc, what, name, err, errlen);
    }
    snaps_free(s);
    rbd_close(img);
    return rc;
}

static int rbd_free(const struct stor_cfg *c, const char *name, char *err, size_t errlen)
{
    struct rx x;
    int rc;

    if ((rc = name_ok(name, err, errlen)) || (rc = rx_open(c, &x, err, errlen)))
        return rc;
    if (!(rc = purge_snaps(&x, name, err, errlen)) && (rc = rbd_remove(x.io, name))) {
        if (rc == -EBUSY)
            stor_fail(err, errlen, rc,
                      "rbd remove %s/%s: image is open elsewhere (a running guest?)", x.pool, name);
        else if (rc == -ENOTEMPTY)
            stor_fail(err, errlen, rc,
                      "rbd remove %s/%s: snapshots remain (in the trash, kept for clones?)", x.pool,
                      name);
        else
            rbd_fail(&x, rc, "remove", name, err, errlen);
    }
    rx_close(&x);
    return rc;
}

static int rbd_info(const struct stor_cfg *c, const char *name, struct stor_vol *out, char *err,
                    size_t errlen)
{
    struct rx x;
    int rc;

    if ((rc = name_ok(name, err, errlen)) || (rc = rx_open(c, &x, err, errlen)))
        return rc;
    rc = vol_info(&x, name, out, err, errlen);
    rx_close(&x);
    return rc;
}

static int rbd_resize_vol(const struct stor_cfg *c, const char *name, uint64_t size, char *err,
                          size_t errlen)
{
    rbd_image_t img;
    struct rx x;
    int rc;

    if ((rc = name_ok(name, err, errlen)) || (rc = rx_open(c, &x, err, errlen)))
        return rc;
    if (!(rc = img_open(&x, name, 0, &img, err, errlen))) {
        /* allow_shrink off: a shrink that slipped past the caller must not eat data. */
        if ((rc = rbd_resize2(img, size, false, NULL, NULL)))
            rbd_fail(&x, rc, "resize", name, err, errlen);
        rbd_close(img);
    }
    rx_close(&x);
    return rc;
}

typedef int (*snap_call)(rbd_image_t img, const char *snap);

static const struct {
    const char *verb;
    snap_call call;
} snap_ops[] = {
    [STOR_SNAP_CREATE] = {"create", rbd_snap_create},
    [STOR_SNAP_REMOVE] = {"remove", rbd_snap_remove},
    [STOR_SNAP_ROLLBACK] = {"rollback", rbd_snap_rollback},
    [STOR_SNAP_PROTECT] = {"protect", rbd_snap_protect},
    [STOR_SNAP_UNPROTECT] = {"unprotect", rbd_snap_unprotect},
};

static int snap_op(struct rx *x, rbd_image_t img, const char *name, const char *snap,
                   enum stor_snap_op op, char *err, size_t errlen)
{
    const char *verb = snap_ops[op].verb;
    bool exists;
    int rc, prot = 0;

    if ((rc = rbd_snap_exists(img, snap, &exists)))
        return rbd_fail(x, rc, "snap exists", name, err, errlen);
    if (exists && op == STOR_SNAP_CREATE)
        return stor_fail(err, errlen, -EEXIST, "rbd snap create %s/%s@%s: snapshot exists", x->pool,
                         name, snap);
    if (!exists && op != STOR_SNAP_CREATE)
        return stor_fail(err, errlen, -ENOENT, "rbd snap %s %s/%s@%s: no such snapshot", verb,
                         x->pool, name, snap);
    if (exists && (rc = rbd_snap_is_protected(img, snap, &prot)))
        return rbd_fail(x, rc, "snap is_protected", name, err, errlen);
    if (prot && op == STOR_SNAP_REMOVE)
        return stor_fail(err, errlen, -EBUSY, "rbd snap remove %s/%s@%s: snapshot is protected",
                         x->pool, name, snap);
    if (prot && op == STOR_SNAP_PROTECT)
        return 0;
    if (!prot && exists && op == STOR_SNAP_UNPROTECT)
        return 0;
    if (op == STOR_SNAP_UNPROTECT && (rc = no_children(x, img, name, snap, err, errlen)))
        return rc;
    if ((rc = snap_ops[op].call(img, snap)))
        return stor_fail(err, errlen, drop_if_lost(x, rc), "rbd snap %s %s/%s@%s: %s", verb,
                         x->pool, name, snap, strerror(-rc));
    return 0;
}

static int rbd_snap(const struct stor_cfg *c, const char *name, const char *snap,
                    enum stor_snap_op op, char *err, size_t errlen)
{
    rbd_image_t img;
    struct rx x;
    int rc;

    if ((unsigned)op >= sizeof(snap_ops) / sizeof(snap_ops[0]))
        return stor_fail(err, errlen, -EINVAL, "volume %s: unknown snapshot operation %d", name,
                         op);
    if ((rc = name_ok(name, err, errlen)) || (rc = snap_name_ok(snap, err, errlen)) ||
        (rc = rx_open(c, &x, err, errlen)))
        return rc;
    if (!(rc = img_open(&x, name, 0, &img, err, errlen))) {
        rc = snap_op(&x, img, name, snap, op, err, errlen);
        rbd_close(img);
    }
    rx_close(&x);
    return rc;
}

static int rbd_snaps(const struct stor_cfg *c, const char *name, stor_snap_fn fn, void *arg,
                     char *err, size_t errlen)
{
    rbd_snap_info_t *s = NULL;
    rbd_image_t img;
    struct rx x;
    int n = 0, rc;

    if ((rc = name_ok(name, err, errlen)) || (rc = rx_open(c, &x, err, errlen)))
        return rc;
    if (!(rc = img_open(&x, name, 1, &img, err, errlen))) {
        if (!(rc = snaps_get(&x, img, name, &s, &n, err, errlen))) {
            for (int i = 0; i < n && !rc; i++) {
                int prot = 0;
                if ((rc = rbd_snap_is_protected(img, s[i].name, &prot)))
                    rbd_fail(&x, rc, "snap is_protected", name, err, errlen);
                else
                    rc = fn(arg, s[i].name, prot);
            }
            snaps_free(s);
        }
        rbd_close(img);
    }
    rx_close(&x);
    return rc;
}

/* Clone v1 (min compat client < mimic) needs a protected parent snapshot. */
static int protect_for_clone(struct rx *x, const char *name, const char *snap, char *err,
                             size_t errlen)
{
    rbd_image_t img;
    int rc, prot = 0;

    if ((rc = img_open(x, name, 0, &img, err, errlen)))
        return rc;
    if ((rc = rbd_snap_is_protected(img, snap, &prot)))
        rbd_fail(x, rc, "snap is_protected", name, err, errlen);
    else if (prot)
        rc = 1; /* already protected: the EINVAL had another cause */
    else if ((rc = rbd_snap_protect(img, snap)))
        stor_fail(err, errlen, drop_if_lost(x, rc), "rbd snap protect %s/%s@%s: %s", x->pool, name,
                  snap, strerror(-rc));
    rbd_close(img);
    return rc;
}

static int rbd_clone_vol(const struct stor_cfg *c, const char *name, const char *snap,
                         const char *newname, struct stor_vol *out, char *err, size_t errlen)
{
    rbd_image_options_t o;
    struct stor_vol v;
    struct rx x;
    int rc, p = 0;

    if (!snap)
        return stor_fail(err, errlen, -EINVAL,
                         "volume %s: an rbd clone needs a snapshot: clone <new> <snap>", name);
    if ((rc = name_ok(name, err, errlen)) || (rc = name_ok(newname, err, errlen)) ||
        (rc = snap_name_ok(snap, err, errlen)) || (rc = rx_open(c, &x, err, errlen)))
        return rc;
    rbd_image_options_create(&o);
    rbd_image_options_set_uint64(o, RBD_IMAGE_OPTION_FEATURES, RBD_FEATURES);
    rc = rbd_clone3(x.io, name, snap, x.io, newname, o);
    if (rc == -EINVAL && (p = protect_for_clone(&x, name, snap, err, errlen)) == 0)
        rc = rbd_clone3(x.io, name, snap, x.io, newname, o);
    rbd_image_options_destroy(o);
    if (p < 0)
        rc = p; /* err says why protecting failed */
    else if (rc)
        stor_fail(err, errlen, drop_if_lost(&x, rc), "rbd clone %s/%s@%s to %s: %s", x.pool, name,
                  snap, newname,
                  rc == -EEXIST   ? "the target exists"
                  : rc == -ENOENT ? "no such image or snapshot"
                                  : strerror(-rc));
    else
        rc = vol_info(&x, newname, out ? out : &v, err, errlen);
    rx_close(&x);
    return rc;
}

static int rbd_flatten_vol(const struct stor_cfg *c, const char *name, char *err, size_t errlen)
{
    rbd_linked_image_spec_t ps;
    rbd_snap_spec_t ss;
    rbd_image_t img;
    struct rx x;
    int rc;

    if ((rc = name_ok(name, err, errlen)) || (rc = rx_open(c, &x, err, errlen)))
        return rc;
    if (!(rc = img_open(&x, name, 0, &img, err, errlen))) {
        if ((rc = rbd_get_parent(img, &ps, &ss)) == 0) {
            rbd_linked_image_spec_cleanup(&ps);
            rbd_snap_spec_cleanup(&ss);
            if ((rc = rbd_flatten(img)))
                rbd_fail(&x, rc, "flatten", name, err, errlen);
        } else if (rc == -ENOENT) {
            rc = 0; /* no parent: nothing to cut */
        } else {
            rbd_fail(&x, rc, "get parent of", name, err, errlen);
        }
        rbd_close(img);
    }
    rx_close(&x);
    return rc;
}

/* Usage from the mgr's df, as Proxmox reads it: used = stored, total = used + max_avail. */
static int df_usage(struct rx *x, struct stor_usage *u)
{
    json_object *jo, *pools, *p, *f, *st;
    char *out = NULL, e[STOR_ERRLEN];
    size_t len;
    int rc = -ENOENT;

    if (ceph_mon(x->c, "{\"prefix\":\"df\",\"format\":\"json\"}", &out, &len, e, sizeof(e)))
        return -EIO;
    jo = json_tokener_parse(out);
    free(out);
    if (!jo)
        return -EIO;
    if (json_object_object_get_ex(jo, "pools", &pools))
        for (size_t i = 0; i < json_object_array_length(pools) && rc; i++) {
            p = json_object_array_get_idx(pools, i);
            if (!json_object_object_get_ex(p, "name", &f) ||
                strcmp(json_object_get_string(f), x->pool) != 0 ||
                !json_object_object_get_ex(p, "stats", &st))
                continue;
            if (json_object_object_get_ex(st, "stored", &f) ||
                json_object_object_get_ex(st, "bytes_used", &f))
                u->used = (uint64_t)json_object_get_int64(f);
            if (json_object_object_get_ex(st, "max_avail", &f))
                u->avail = (uint64_t)json_object_get_int64(f);
            u->total = u->used + u->avail;
            rc = 0;
        }
    json_object_put(jo);
    return rc;
}

static int rbd_usage(const struct stor_cfg *c, struct stor_usage *u, char *err, size_t errlen)
{
    struct rados_cluster_stat_t cs;
    struct rados_pool_stat_t ps;
    struct rx x;
    int rc;

    if ((rc = rx_open(c, &x, err, errlen)))
        return rc;
    memset(u, 0, sizeof(*u));
    /* Without a mgr df lists no pools; the OSD-level counters still answer. */
    if (df_usage(&x, u) == 0) {
        rx_close(&x);
        return 0;
    }
    if ((rc = rados_ioctx_pool_stat(x.io, &ps)) || (rc = rados_cluster_stat(x.c, &cs))) {
        stor_fail(err, errlen, drop_if_lost(&x, rc), "rbd storage %s: usage of pool %s: %s", c->id,
                  x.pool, strerror(-rc));
    } else {
        u->used = ps.num_bytes;
        u->avail = cs.kb_avail * 1024;
        u->total = u->used + u->avail;
    }
    rx_close(&x);
    return rc;
}

/* The pool's image names; free with rbd_image_spec_list_cleanup and free. */
static int image_names(struct rx *x, rbd_image_spec_t **out, size_t *n, char *err, size_t errlen)
{
    rbd_image_spec_t *imgs = NULL;
    size_t max = 64;
    int rc;

    *out = NULL;
    for (;;) {
        rbd_image_spec_t *ni = realloc(imgs, sizeof(*imgs) * max);
        if (!ni) {
            rc = -ENOMEM;
            break;
        }
        imgs = ni;
        *n = max;
        if ((rc = rbd_list2(x->io, imgs, n)) != -ERANGE)
            break;
        max = *n > max ? *n : max * 2;
    }
    if (rc >= 0) {
        *out = imgs;
        return 0;
    }
    free(imgs);
    *n = 0;
    return stor_fail(err, errlen, drop_if_lost(x, rc), "rbd list %s: %s", x->pool, strerror(-rc));
}

static int rbd_list_vols(const struct stor_cfg *c, stor_vol_fn fn, void *arg, char *err,
                         size_t errlen)
{
    rbd_image_spec_t *imgs = NULL;
    struct rx x;
    size_t n = 0;
    int rc;

    if ((rc = rx_open(c, &x, err, errlen)))
        return rc;
    if (!(rc = image_names(&x, &imgs, &n, err, errlen))) {
        for (size_t i = 0; i < n && !rc; i++) {
            struct stor_vol v;
            char e[STOR_ERRLEN];

            if (name_ok(imgs[i].name, e, sizeof(e)))
                continue; /* not a guest volume: another user's image */
            /* An image removed since the listing is simply gone. */
            if ((rc = vol_info(&x, imgs[i].name, &v, err, errlen)) == 0)
                rc = fn(arg, &v);
            else if (rc == -ENOENT)
                rc = 0;
        }
        rbd_image_spec_list_cleanup(imgs, n);
        free(imgs);
    }
    rx_close(&x);
    return rc;
}

const struct stor_ops stor_rbd = {
    .type = "rbd",
    .locate = rbd_locate,
    .alloc = rbd_alloc,
    .import = rbd_import,
    .free = rbd_free,
    .info = rbd_info,
    .resize = rbd_resize_vol,
    .snap = rbd_snap,
    .snaps = rbd_snaps,
    .clone = rbd_clone_vol,
    .flatten = rbd_flatten_vol,
    .usage = rbd_usage,
    .list = rbd_list_vols,
};
