/*
 * files_volume: storage/<id>/volumes/<volume>/ and its snapshots/.
 *
 * Every change goes through the volume's ctl, so it runs on the volume's owner
 * (any node for shared storage, the node that holds it otherwise): mkdir and rmdir
 * of snapshots, rmdir of the volume and writes to size become ctl commands. The
 * backend acts first; the catalog then records what the backend reports.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cluster/clog.h"
#include "conf.h"
#include "files.h"
#include "storage.h"

/* A volume in context: its storage, backend and what the catalog says of it. */
struct volctx {
    struct storage_def d;
    const struct stor_ops *ops;
    struct stor_vol v;
    uint64_t dir, snaps;
};

static int vol_load(struct fs *fs, uint64_t dir, struct volctx *c, struct pv_err *e)
{
    const struct memdb_entry *v, *r, *s;
    char size[32] = "";

    memset(c, 0, sizeof(*c));
    if (storage_load(fs, fs_parent(fs, fs_parent(fs, dir)), &c->d, e))
        return -e->err;
    c->ops = stor_ops(c->d.cfg.type);
    memdb_rdlock(fs->mem);
    v = memdb_get(fs->mem, dir);
    r = v ? memdb_lookup(fs->mem, dir, "status") : NULL;
    s = v ? memdb_lookup(fs->mem, dir, "snapshots") : NULL;
    if (v && r && r->data) {
        const char *doc = (const char *)r->data;
        snprintf(c->v.name, sizeof(c->v.name), "%s", v->name);
        conf_get(doc, r->size, "format", c->v.format, sizeof(c->v.format));
        conf_get(doc, r->size, "path", c->v.path, sizeof(c->v.path));
        conf_get(doc, r->size, "parent", c->v.parent, sizeof(c->v.parent));
        conf_get(doc, r->size, "size", size, sizeof(size));
        c->v.size = strtoull(size, NULL, 10);
        c->dir = dir;
        c->snaps = s ? s->inode : 0;
    }
    memdb_unlock(fs->mem);
    if (!c->dir)
        return pv_fail(e, ENOENT, "volume was removed");
    return 0;
}

/* Re-reads the volume from the backend and records it. */
static int vol_refresh(struct fs *fs, struct volctx *c, struct pv_err *e)
{
    char err[STOR_ERRLEN] = "";
    struct stor_vol v = {0};
    int rc;

    if ((rc = c->ops->info(&c->d.cfg, c->v.name, &v, err, sizeof(err))))
        return pv_fail(e, -rc, "%s", err);
    snprintf(v.name, sizeof(v.name), "%s", c->v.name);
    return storage_record_volume(fs, &c->d, &v, c->dir, e);
}

static int record_value(const struct pv_obj *o, const char *key, struct pv_buf *out)
{
    const struct memdb_entry *r;
    char val[256] = "";

    memdb_rdlock(o->fs->mem);
    r = memdb_lookup(o->fs->mem, o->dir, "status");
    if (r && r->data)
        conf_get((const char *)r->data, r->size, key, val, sizeof(val));
    memdb_unlock(o->fs->mem);
    return pv_buf_printf(out, "%s\n", val);
}

int volume_size_render(const struct pv_obj *o, struct pv_buf *out)
{
    return record_value(o, "size", out);
}

int volume_format_render(const struct pv_obj *o, struct pv_buf *out)
{
    return record_value(o, "format", out);
}

int volume_used_by_render(const struct pv_obj *o, struct pv_buf *out)
{
    struct volctx c;
    struct pv_err e = {0};

    if (vol_load(o->fs, o->dir, &c, &e))
        return 0;
    storage_users(o->fs, c.d.cfg.id, &c.v, out);
    return 0;
}

int volume_name_ok(const char *name, struct pv_err *e)
{
    unsigned long vmid;

    if (stor_vol_vmid(name, &vmid))
        return pv_fail(e, EINVAL,
                       "'%.64s' is not a volume name (vm-<vmid>-disk-<n>, base-<vmid>-disk-<n> or "
                       "subvol-<vmid>-disk-<n>, optionally .qcow2, .raw or .vmdk)",
                       name);
    return 0;
}

int volsnap_name_ok(const char *name, struct pv_err *e)
{
    size_t n = strlen(name);

    /* Proxmox's own snapshot under the linked clones of a template (files_clone.c) */
    if (strcmp(name, "__base__") == 0)
        return 0;
    /* Proxmox snapshot names: a letter, then letters, digits, - and _ */
    if (n < 2 || n > 40 ||
        !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')) ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
        return pv_fail(e, EINVAL,
                       "'%.64s' is not a snapshot name (a letter, then letters, digits, "
                       "- or _; 2 to 40)",
                       name);
    return 0;
}

static int run_cmd(struct fs *fs, uint64_t vol, struct pv_err *e, const char *fmt, const char *arg)
{
    char cmd[512];
    int n = snprintf(cmd, sizeof(cmd), fmt, arg);

    return fs_cmd(fs, vol, "ctl", cmd, (size_t)n, e);
}

int volume_create(struct fs *fs, uint64_t dir, const char *name, struct pv_err *e)
{
    return run_cmd(fs, fs_parent(fs, dir), e, "alloc %s", name);
}

int volume_destroy(const struct pv_obj *o, struct pv_err *e)
{
    return run_cmd(o->fs, o->dir, e, "free%s", "");
}

int volsnap_create(struct fs *fs, uint64_t dir, const char *name, struct pv_err *e)
{
    return run_cmd(fs, fs_parent(fs, dir), e, "snapshot %s", name);
}

int volsnap_destroy(const struct pv_obj *o, struct pv_err *e)
{
    return run_cmd(o->fs, fs_parent(o->fs, fs_parent(o->fs, o->dir)), e, "delsnapshot %s", o->name);
}

static int grow(const struct pv_obj *o, struct volctx *c, const char *arg, struct pv_err *e)
{
    char err[STOR_ERRLEN] = "";
    uint64_t size, add;
    int rc;

    if (arg[0] == '+') {
        if (stor_parse_size(arg + 1, &add))
            return pv_fail(e, EINVAL, "'%.64s' is not a size (bytes, or with K, M, G, T)", arg);
        size = c->v.size + add;
    } else if (stor_parse_size(arg, &size)) {
        return pv_fail(e, EINVAL, "'%.64s' is not a size (bytes, or with K, M, G, T)", arg);
    }
    if (size < c->v.size)
        return pv_fail(e, EINVAL, "volume %s is %llu bytes; shrinking to %llu is refused",
                       c->v.name, (unsigned long long)c->v.size, (unsigned long long)size);
    if (size == c->v.size)
        return 0;
    if ((rc = c->ops->resize(&c->d.cfg, c->v.name, size, err, sizeof(err))))
        return pv_fail(e, -rc, "%s", err);
    clog_append("storage", "grew %s:%s to %llu bytes", c->d.cfg.id, c->v.name,
                (unsigned long long)size);
    return vol_refresh(o->fs, c, e);
}

int volume_size_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e)
{
    struct volctx c;
    char arg[64];

    if (len >= sizeof(arg) || len == 0)
        return pv_fail(e, EINVAL, "a size is a number of bytes, or with K, M, G, T");
    memcpy(arg, in, len);
    arg[len] = 0;
    if (vol_load(o->fs, o->dir, &c, e))
        return -e->err;
    return grow(o, &c, arg, e);
}

static int snap_dir(struct fs *fs, const struct volctx *c, const char *snap)
{
    const struct memdb_entry *s;
    uint64_t ino = 0;

    memdb_rdlock(fs->mem);
    if ((s = memdb_lookup(fs->mem, c->snaps, snap)))
        ino = s->inode;
    memdb_unlock(fs->mem);
    return ino != 0;
}

static int do_snap(const struct pv_obj *o, struct volctx *c, enum stor_snap_op op, const char *snap,
                   struct pv_err *e)
{
    static const char *const what[] = {"snapshot", "delete snapshot", "roll back to", "protect",
                                       "unprotect"};
    char err[STOR_ERRLEN] = "";
    int rc, have = snap_dir(o->fs, c, snap);

    if (volsnap_name_ok(snap, e))
        return -e->err;
    if (op == STOR_SNAP_CREATE && have)
        return pv_fail(e, EEXIST, "volume %s already has a snapshot %s", c->v.name, snap);
    if (op != STOR_SNAP_CREATE && !have)
        return pv_fail(e, ENOENT, "volume %s has no snapshot %s", c->v.name, snap);
    if ((rc = c->ops->snap(&c->d.cfg, c->v.name, snap, op, err, sizeof(err))))
        return pv_fail(e, -rc, "%s", err);
    clog_append("storage", "%s %s %s:%s", what[op], snap, c->d.cfg.id, c->v.name);
    if (op == STOR_SNAP_CREATE) {
        uint64_t ino;
        if ((rc = fs_catalog_create(o->fs, c->snaps, snap, T_VOL_SNAP, NULL, &ino, e))) {
            c->ops->snap(&c->d.cfg, c->v.name, snap, STOR_SNAP_REMOVE, err, sizeof(err));
            return rc;
        }
    } else if (op == STOR_SNAP_REMOVE) {
        const struct memdb_entry *s;
        uint64_t ino = 0;
        memdb_rdlock(o->fs->mem);
        if ((s = memdb_lookup(o->fs->mem, c->snaps, snap)))
            ino = s->inode;
        memdb_unlock(o->fs->mem);
        if (ino && (rc = fs_catalog_remove(o->fs, ino, e)))
            return rc;
    } else if (op == STOR_SNAP_ROLLBACK) {
        return vol_refresh(o->fs, c, e);
    }
    return 0;
}

static int v_free(const struct pv_obj *o, struct volctx *c, int op, int argc, char **argv,
                  struct pv_err *e)
{
    char err[STOR_ERRLEN] = "";
    struct pv_buf users = {0};
    int n = storage_users(o->fs, c->d.cfg.id, &c->v, &users), rc;

    (void)op;
    (void)argc;
    (void)argv;
    if (n) {
        rc = pv_fail(e, EBUSY, "volume %s:%s is used by %.*s", c->d.cfg.id, c->v.name,
                     (int)strcspn(users.p, "\n"), users.p);
        pv_buf_free(&users);
        return rc;
    }
    pv_buf_free(&users);
    if ((rc = c->ops->free(&c->d.cfg, c->v.name, err, sizeof(err))) && rc != -ENOENT)
        return pv_fail(e, -rc, "%s", err);
    clog_append("storage", "freed %s:%s", c->d.cfg.id, c->v.name);
    return fs_catalog_remove(o->fs, c->dir, e);
}

static int v_resize(const struct pv_obj *o, struct volctx *c, int op, int argc, char **argv,
                    struct pv_err *e)
{
    (void)op;
    (void)argc;
    return grow(o, c, argv[0], e);
}

/* The backend changed behind the catalog (a running guest grew the disk): record it. */
static int v_refresh(const struct pv_obj *o, struct volctx *c, int op, int argc, char **argv,
                     struct pv_err *e)
{
    (void)op;
    (void)argc;
    (void)argv;
    return vol_refresh(o->fs, c, e);
}

static int v_snap(const struct pv_obj *o, struct volctx *c, int op, int argc, char **argv,
                  struct pv_err *e)
{
    (void)argc;
    return do_snap(o, c, (enum stor_snap_op)op, argv[0], e);
}

static int v_clone(const struct pv_obj *o, struct volctx *c, int op, int argc, char **argv,
                   struct pv_err *e)
{
    char err[STOR_ERRLEN] = "";
    struct stor_vol v = {0};
    int rc, exists;

    (void)op;
    if (volume_name_ok(argv[0], e))
        return -e->err;
    if (argc > 1 && !snap_dir(o->fs, c, argv[1]))
        return pv_fail(e, ENOENT, "volume %s has no snapshot %s", c->v.name, argv[1]);
    memdb_rdlock(o->fs->mem);
    exists = memdb_lookup(o->fs->mem, c->d.volumes, argv[0]) != NULL;
    memdb_unlock(o->fs->mem);
    if (exists)
        return pv_fail(e, EEXIST, "volume %s:%s exists", c->d.cfg.id, argv[0]);
    if ((rc = c->ops->clone(&c->d.cfg, c->v.name, argc > 1 ? argv[1] : NULL, argv[0], &v, err,
                            sizeof(err))))
        return pv_fail(e, -rc, "%s", err);
    if ((rc = storage_record_volume(o->fs, &c->d, &v, 0, e))) {
        c->ops->free(&c->d.cfg, v.name, err, sizeof(err));
        return rc;
    }
    clog_append("storage", "cloned %s:%s%s%s to %s", c->d.cfg.id, c->v.name, argc > 1 ? "@" : "",
                argc > 1 ? argv[1] : "", argv[0]);
    return 0;
}

static int v_flatten(const struct pv_obj *o, struct volctx *c, int op, int argc, char **argv,
                     struct pv_err *e)
{
    (void)op;
    char err[STOR_ERRLEN] = "";
    int rc;

    (void)argc;
    (void)argv;
    if ((rc = c->ops->flatten(&c->d.cfg, c->v.name, err, sizeof(err))))
        return pv_fail(e, -rc, "%s", err);
    return vol_refresh(o->fs, c, e);
}

/* extract <storage>:vztmpl/<file>: a container template unpacked into an empty subvol. */
static int v_extract(const struct pv_obj *o, struct volctx *c, int op, int argc, char **argv,
                     struct pv_err *e)
{
    char err[STOR_ERRLEN] = "", what[256];
    struct qemu_disk t;
    int rc;

    (void)op;
    (void)argc;
    if (strcmp(c->v.format, "subvol") != 0)
        return pv_fail(e, EINVAL, "volume %s is a %s image; a template unpacks into a subvol",
                       c->v.name, c->v.format);
    if (!strstr(argv[0], ":vztmpl/"))
        return pv_fail(e, EINVAL, "'%.128s' is no template (want <storage>:vztmpl/<file>)",
                       argv[0]);
    if ((rc = storage_resolve(o->fs, argv[0], &t, err, sizeof(err))))
        return pv_fail(e, -rc, "%s", err);
    char *av[] = {"tar", "-x", "-p", "--numeric-owner", "-f", t.path, "-C", c->v.path, NULL};
    snprintf(what, sizeof(what), "unpack %s into %s", argv[0], c->v.name);
    if ((rc = stor_run("tar", what, av, err, sizeof(err))))
        return pv_fail(e, -rc, "%s", err);
    clog_append("storage", "unpacked %s into %s:%s", argv[0], c->d.cfg.id, c->v.name);
    return 0;
}

static const struct {
    const char *verb;
    int min, max;
    int (*run)(const struct pv_obj *o, struct volctx *c, int op, int argc, char **argv,
               struct pv_err *e);
    int op; /* v_snap: which snapshot operation */
} volume_verbs[] = {
    {"free", 0, 0, v_free, 0},
    {"resize", 1, 1, v_resize, 0},
    {"snapshot", 1, 1, v_snap, STOR_SNAP_CREATE},
    {"delsnapshot", 1, 1, v_snap, STOR_SNAP_REMOVE},
    {"rollback", 1, 1, v_snap, STOR_SNAP_ROLLBACK},
    {"protect", 1, 1, v_snap, STOR_SNAP_PROTECT},
    {"unprotect", 1, 1, v_snap, STOR_SNAP_UNPROTECT},
    {"clone", 1, 2, v_clone, 0},
    {"flatten", 0, 0, v_flatten, 0},
    {"refresh", 0, 0, v_refresh, 0},
    {"extract", 1, 1, v_extract, 0},
};

#define VOLUME_USAGE                                                                               \
    "free, resize <[+]size>, snapshot <name>, delsnapshot <name>, rollback <name>, "               \
    "protect <name>, unprotect <name>, clone <volume> [<snapshot>], flatten, refresh, "            \
    "extract <storage>:vztmpl/<file>"

int volume_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e)
{
    char line[4096], *argv[8];
    struct volctx c;
    int argc;

    if (pv_cmdline(in, len, line, sizeof(line), e))
        return -e->err;
    argc = pv_split(line, argv, 8);
    for (size_t i = 0; argc && i < sizeof(volume_verbs) / sizeof(volume_verbs[0]); i++) {
        if (strcmp(volume_verbs[i].verb, argv[0]) != 0)
            continue;
        if (argc - 1 < volume_verbs[i].min || argc - 1 > volume_verbs[i].max)
            return pv_fail(e, EINVAL, "wrong number of arguments to %s (commands: %s)", argv[0],
                           VOLUME_USAGE);
        if (vol_load(o->fs, o->dir, &c, e) || storage_usable_here(o->fs, &c.d, e))
            return -e->err;
        return volume_verbs[i].run(o, &c, volume_verbs[i].op, argc - 1, argv + 1, e);
    }
    return pv_fail(e, EINVAL, "unknown command '%.64s' (commands: %s)", argc ? argv[0] : "",
                   VOLUME_USAGE);
}
