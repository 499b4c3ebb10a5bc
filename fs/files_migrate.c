/*
 * files_migrate: migrate <node> and mv of a guest directory. A stopped guest moves by
 * moving its directory; a running one moves live, libvirt to libvirt, first.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cluster/clog.h"
#include "../cluster/kvs.h"
#include "../drivers/drv.h"
#include "../drivers/stor.h"
#include "conf.h"
#include "files.h"
#include "fs.h"
#include "guest.h"
#include "storage.h"

#define XFER_WAIT_MS (30 * 60 * 1000) /* a volume copy may take long; the source waits */

/* Moves the guest's directory under target's qemu/ or lxc/: where it runs, for every node. */
static int move_guest(const struct pv_obj *o, const char *target, struct pv_err *e)
{
    const struct memdb_entry *nodes, *t, *l;
    struct msg_batch b = {.nops = 1};
    struct memdb_result res;
    uint64_t list = 0;

    memdb_rdlock(o->fs->mem);
    nodes = memdb_lookup(o->fs->mem, MEMDB_ROOT, "nodes");
    t = nodes ? memdb_lookup(o->fs->mem, nodes->inode, target) : NULL;
    l = t ? memdb_lookup(o->fs->mem, t->inode, guest_kind(o)) : NULL;
    if (l)
        list = l->inode;
    memdb_unlock(o->fs->mem);
    if (!list)
        return pv_fail(e, EINVAL, "no node named '%.64s'", target);
    memset(&b.ops[0], 0, sizeof(b.ops[0]));
    b.ops[0].code = MSG_RENAME;
    b.ops[0].inode = o->dir;
    b.ops[0].dst_parent = list;
    b.ops[0].flags = MSG_F_NOREPLACE;
    snprintf(b.ops[0].name, sizeof(b.ops[0].name), "%s", o->name);
    return fs_commit(o->fs, &b, &res, e);
}

/* The libvirt URI node publishes on the status channel ("libvirt: qemu+tcp://..."). */
static int node_libvirt(struct fs *fs, const char *node, char *uri, size_t len)
{
    struct kvs *k = fs_cluster_kvs(fs);
    char *text = NULL;
    size_t tl = 0;
    int64_t age;
    int online = 0, rc = -ENOENT;

    if (!k || kvs_status(k, node, &text, &tl, &online, &age))
        return -EHOSTUNREACH;
    if (online && conf_get(text, tl, "libvirt", uri, len) > 0)
        rc = 0;
    free(text);
    return online ? rc : -EHOSTUNREACH;
}

/* A volume of the container that the target cannot reach: copied there. */
struct ct_copy {
    char key[16], sid[64], name[128], dst[64], path[1200], size[24];
    uint64_t vdir;
    int same_dir; /* the target's path is this very directory: nothing was copied */
};

struct ct_plan {
    struct ct_copy c[8];
    int n;
};

/* Reads volume c->vdir's catalog record: format (into fmt), path and size. */
static void vol_info(struct fs *fs, struct ct_copy *c, char *fmt, size_t fl)
{
    const struct memdb_entry *r;

    fmt[0] = c->path[0] = '\0';
    snprintf(c->size, sizeof(c->size), "0");
    memdb_rdlock(fs->mem);
    r = memdb_lookup(fs->mem, c->vdir, "status");
    if (r && r->data) {
        conf_get((const char *)r->data, r->size, "format", fmt, fl);
        conf_get((const char *)r->data, r->size, "path", c->path, sizeof(c->path));
        conf_get((const char *)r->data, r->size, "size", c->size, sizeof(c->size));
    }
    memdb_unlock(fs->mem);
}

/* Where volume v (key's value) goes: nowhere when target reaches it, else one copy. */
static int plan_volume(const struct pv_obj *o, const char *target, const char *tsid,
                       const char *key, size_t kl, const char *v, struct ct_plan *pl,
                       struct pv_err *e)
{
    size_t vl = strcspn(v, ",\n"), sl = strcspn(v, ":");
    uint64_t vol = volume_dir_of(o->fs, v, vl), tdir;
    struct storage_def d, t;
    struct ct_copy *c;
    char fmt[32];

    if (v[0] == '/') /* a host path is bound in place; it is the target's own */
        return 0;
    if (!vol || sl >= vl)
        return pv_fail(e, ENOENT, "%.*s: no volume %.*s in the storage catalog", (int)kl, key,
                       (int)vl, v);
    if (storage_load(o->fs, fs_parent(o->fs, fs_parent(o->fs, vol)), &d, e))
        return -e->err;
    if (d.shared && storage_on_node(&d, target) && (!tsid || strcmp(tsid, d.cfg.id) == 0))
        return 0;
    if (pl->n == (int)(sizeof(pl->c) / sizeof(pl->c[0])))
        return pv_fail(e, E2BIG, "too many volumes to copy");
    c = &pl->c[pl->n];
    snprintf(c->key, sizeof(c->key), "%.*s", (int)kl, key);
    snprintf(c->sid, sizeof(c->sid), "%s", d.cfg.id);
    snprintf(c->name, sizeof(c->name), "%.*s", (int)(vl - sl - 1), v + sl + 1);
    snprintf(c->dst, sizeof(c->dst), "%s", tsid ? tsid : d.cfg.id);
    c->vdir = vol;
    c->same_dir = 0;
    vol_info(o->fs, c, fmt, sizeof(fmt));
    if (strcmp(fmt, "subvol") != 0 || !c->path[0])
        return pv_fail(e, EOPNOTSUPP,
                       "%s is a %s volume on storage %s, which %s does not reach; only subvol "
                       "(directory) volumes are copied between nodes",
                       c->key, fmt[0] ? fmt : "unknown", d.cfg.id, target);
    if (strcmp(c->dst, d.cfg.id) != 0) {
        if (!(tdir = fs_child(o->fs, fs_parent(o->fs, d.dir), c->dst)))
            return pv_fail(e, ENOENT, "no target storage %s", c->dst);
        if (storage_load(o->fs, tdir, &t, e))
            return -e->err;
    } else {
        t = d;
    }
    if (!storage_on_node(&t, target) || t.disable || strcmp(t.cfg.type, "dir") != 0)
        return pv_fail(e, EINVAL, "target storage %s is not a dir storage enabled on %s", c->dst,
                       target);
    pl->n++;
    return 0;
}

/* The volumes of the container that must be copied for target (tsid: where to). */
static int plan_copies(const struct pv_obj *o, const char *target, const char *tsid,
                       struct ct_plan *pl, struct pv_err *e)
{
    size_t len = 0;
    char *doc = guest_config_copy(o, &len);
    int rc = 0, snaps = 0;

    pl->n = 0;
    for (const char *p = doc, *end = doc ? doc + len : NULL; p && p < end && !rc;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *c;
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l && p[0] == '[') {
            snaps = 1;
            break;
        }
        c = memchr(p, ':', l);
        if (c && guest_disk_key(T_LXC, p, (size_t)(c - p)))
            rc = plan_volume(o, target, tsid, p, (size_t)(c - p), c + 1 + (c[1] == ' '), pl, e);
        p = nl ? nl + 1 : NULL;
    }
    free(doc);
    if (!rc && snaps && pl->n)
        rc = pv_fail(e, EOPNOTSUPP,
                     "ct %s has snapshots, which stay with volumes the target cannot reach; "
                     "delete them or use shared storage",
                     o->name);
    return rc;
}

/* Copies one volume to target: the target fetches it from us (import-volume). */
/*
 * Same storage id: a marker beside the volume tells the target that its path is this
 * very directory (nodes sharing one filesystem), and then nothing is copied.
 */
static int make_marker(const struct ct_copy *c, char *name, size_t nlen, char *path, size_t plen)
{
    const char *slash = strrchr(c->path, '/');
    unsigned char r[8];
    int fd;

    name[0] = path[0] = '\0';
    if (strcmp(c->sid, c->dst) != 0 || !slash || getrandom(r, sizeof(r), 0) != sizeof(r))
        return 0;
    snprintf(name, nlen, "pvefs-xfer-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3],
             r[4], r[5], r[6], r[7]);
    snprintf(path, plen, "%.*s/.%s", (int)(slash - c->path), c->path, name);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        name[0] = path[0] = '\0';
        return 0;
    }
    close(fd);
    return 1;
}

static int copy_one(const struct pv_obj *o, const char *target, struct ct_copy *c, struct pv_err *e)
{
    char where[400], cmd[800], marker[40], mpath[1300];
    struct vol_send *s = NULL;
    uint64_t nodes, nd;
    int rc, n;

    /* nodes/<n>/lxc/<id>: three levels up is nodes/ */
    nodes = fs_parent(o->fs, fs_parent(o->fs, fs_parent(o->fs, o->dir)));
    if (!(nd = fs_child(o->fs, nodes, target)))
        return pv_fail(e, EINVAL, "no node named '%.64s'", target);
    if ((rc = vol_send_start(o->fs, c->path, &s, where, sizeof(where), e)))
        return rc;
    make_marker(c, marker, sizeof(marker), mpath, sizeof(mpath));
    n = snprintf(cmd, sizeof(cmd), "import-volume %s:%s %s %s %s", c->dst, c->name, c->size, where,
                 marker);
    rc = fs_cmd_wait(o->fs, nd, "ctl", cmd, (size_t)n, XFER_WAIT_MS, e);
    if (!rc && mpath[0] && access(mpath, F_OK) != 0) {
        c->same_dir = 1; /* the target took the marker: it sees this directory */
        vol_send_end(s, NULL);
        return 0;
    }
    if (mpath[0])
        unlink(mpath);
    if (rc) {
        vol_send_end(s, NULL);
        return pv_fail(e, e->err ? e->err : EIO, "copying %s to %s: %s", c->key, target, e->msg);
    }
    return vol_send_end(s, e) ? pv_fail(e, e->err, "copying %s to %s: %s", c->key, target, e->msg)
                              : 0;
}

/* The config with each copied volume renamed to its target storage. */
static int retarget_config(const struct pv_obj *o, const struct ct_plan *pl, struct pv_err *e)
{
    struct pv_buf b = {0};
    size_t len = 0;
    char *doc = guest_config_copy(o, &len);
    int changed = 0, rc = 0;

    for (const char *p = doc, *end = doc ? doc + len : NULL; p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        int i = 0;
        for (; i < pl->n; i++) {
            size_t kl = strlen(pl->c[i].key), sl = strlen(pl->c[i].sid);
            if (strcmp(pl->c[i].sid, pl->c[i].dst) != 0 && l > kl + sl + 2 &&
                !memcmp(p, pl->c[i].key, kl) && p[kl] == ':' && p[kl + 1] == ' ' &&
                !memcmp(p + kl + 2, pl->c[i].sid, sl) && p[kl + 2 + sl] == ':')
                break;
        }
        if (i < pl->n) {
            size_t skip = strlen(pl->c[i].key) + 2 + strlen(pl->c[i].sid);
            pv_buf_printf(&b, "%s: %s%.*s\n", pl->c[i].key, pl->c[i].dst, (int)(l - skip),
                          p + skip);
            changed = 1;
        } else {
            pv_buf_printf(&b, "%.*s\n", (int)l, p);
        }
        p = nl ? nl + 1 : NULL;
    }
    free(doc);
    if (b.oom)
        rc = pv_fail(e, ENOMEM, "out of memory");
    else if (changed)
        rc = guest_store_config(o->fs, o->dir, &conf_lxc_schema, b.p, b.len, e);
    pv_buf_free(&b);
    return rc;
}

/* A failed move: the first n copies are removed; the source's volumes stay in use. */
static void undo_copies(const struct pv_obj *o, const struct ct_plan *pl, int n)
{
    for (int i = 0; i < n; i++) {
        const struct ct_copy *c = &pl->c[i];
        char vid[200];
        struct pv_err ig = {0};
        struct storage_def d;
        struct stor_vol v = {0};
        uint64_t nv;

        if (strcmp(c->sid, c->dst) != 0) {
            snprintf(vid, sizeof(vid), "%s:%s", c->dst, c->name);
            if ((nv = volume_dir_of(o->fs, vid, strlen(vid))))
                fs_cmd(o->fs, nv, "ctl", "free", 4, &ig); /* runs on the target */
        } else if (!storage_load(o->fs, fs_parent(o->fs, fs_parent(o->fs, c->vdir)), &d, &ig)) {
            /* same storage id: the entry names this node again (the target's copy stays) */
            snprintf(v.name, sizeof(v.name), "%s", c->name);
            snprintf(v.format, sizeof(v.format), "subvol");
            snprintf(v.path, sizeof(v.path), "%s", c->path);
            storage_record_volume(o->fs, &d, &v, c->vdir, &ig);
        }
    }
}

/* After the move: the source's copies go (a volume under a new storage id leaves the catalog). */
static void drop_sources(const struct pv_obj *o, const struct ct_plan *pl)
{
    for (int i = 0; i < pl->n; i++) {
        const struct ct_copy *c = &pl->c[i];
        char err[STOR_ERRLEN];
        struct pv_err ig = {0};
        struct storage_def d;

        if (c->same_dir) {
            continue; /* one directory, now recorded as the target's */
        } else if (strcmp(c->sid, c->dst) != 0) {
            fs_cmd(o->fs, c->vdir, "ctl", "free", 4, &ig);
        } else if (!storage_load(o->fs, fs_parent(o->fs, fs_parent(o->fs, c->vdir)), &d, &ig)) {
            /* same storage id: the catalog entry already names the target */
            stor_ops(d.cfg.type)->free(&d.cfg, c->name, err, sizeof(err));
        }
    }
}

/*
 * A container moves in restart mode, as Proxmox's pct migrate --restart: a clean
 * shutdown here, the directory moves, and the target starts it.
 */
static int ct_migrate(const struct pv_obj *o, const char *target, const char *tsid, const char *st,
                      struct pv_err *e)
{
    static char *shut[] = {"30", "--force"};
    const struct drv_guest_ops *d = drv_guest("lxc");
    struct drv_guest g;
    struct pv_err ig = {0};
    struct ct_plan pl;
    int rc, running = strcmp(st, "stopped") != 0, copied = 0, moved = 0;

    if ((rc = plan_copies(o, target, tsid, &pl, e)))
        return rc;
    guest_of(o, &g);
    if (running && strcmp(st, "paused") == 0 &&
        (rc = d->action(&g, "resume", 0, NULL, e->msg, sizeof(e->msg))))
        return pv_fail(e, -rc, "%s", e->msg);
    if (running && (rc = d->action(&g, "shutdown", 2, shut, e->msg, sizeof(e->msg))))
        return pv_fail(e, -rc, "%s", e->msg);
    for (; copied < pl.n; copied++) {
        const struct ct_copy *c = &pl.c[copied];
        if ((rc = copy_one(o, target, &pl.c[copied], e)))
            break;
        moved += !c->same_dir;
        if (c->same_dir)
            clog_append("lxc", "ct %s: %s %s:%s is one directory for %s and %s: handed over",
                        o->name, c->key, c->sid, c->name, o->node, target);
        else
            clog_append("lxc", "ct %s: %s copied from %s:%s on %s to %s:%s on %s", o->name, c->key,
                        c->sid, c->name, o->node, c->dst, c->name, target);
    }
    if (!rc)
        rc = retarget_config(o, &pl, e);
    if (!rc)
        rc = move_guest(o, target, e);
    if (rc) {
        undo_copies(o, &pl, copied);
        if (running)
            d->action(&g, "start", 0, NULL, ig.msg, sizeof(ig.msg));
        return rc;
    }
    d->action(&g, "forget", 0, NULL, ig.msg, sizeof(ig.msg));
    drop_sources(o, &pl);
    clog_append("lxc", "ct %s moved from %s to %s (%s%s)", o->name, o->node, target,
                running ? "restart" : "config", moved ? ", volumes copied" : "");
    if (running) {
        uint64_t dir = o->dir; /* the directory keeps its inode across the rename */
        if (fs_cmd(o->fs, dir, "ctl", "start", 5, e))
            return pv_fail(e, e->err, "ct %s moved to %s but did not start there: %s", o->name,
                           target, e->msg);
    }
    return 0;
}

int guest_migrate(const struct pv_obj *o, const char *target, const char *tsid, struct pv_err *e)
{
    const struct drv_guest_ops *d;
    char st[32], uri[512], stream[600], *argv[2];
    struct drv_guest g;
    const char *host, *end;
    int rc;

    if (strcmp(target, o->node) == 0)
        return pv_fail(e, EINVAL, "%s %s is on %s already", guest_kind(o), o->name, target);
    if (tsid && tsid[0] == '-') /* --online, --restart: what each kind does anyway */
        tsid = NULL;
    if (tsid && o->type != T_LXC)
        return pv_fail(e, EOPNOTSUPP,
                       "vm %s: a target storage applies to containers; a VM's disks are not "
                       "copied between nodes",
                       o->name);
    guest_of(o, &g);
    d = drv_guest(g.kind);
    if (d->state(&g, st, sizeof(st)))
        return pv_fail(e, EIO, "cannot tell the state of %s %s", g.kind, o->name);
    if (o->type == T_LXC)
        return ct_migrate(o, target, tsid, st, e);
    if (strcmp(st, "stopped") != 0) {
        /* a running guest moves live, libvirt to libvirt over the cluster addresses */
        if ((rc = node_libvirt(o->fs, target, uri, sizeof(uri))) == -EHOSTUNREACH)
            return pv_fail(e, EHOSTUNREACH, "node %s is offline", target);
        if (rc || strncmp(uri, "qemu+", 5) != 0)
            return pv_fail(e, EOPNOTSUPP,
                           "node %s runs no libvirtd reachable over the network (%s); live "
                           "migration needs one on both nodes (pvefsd --libvirt qemu+tcp://...)",
                           target, rc ? "none published" : uri);
        host = strstr(uri, "://") + 3;
        end = host + strcspn(host, "/:");
        snprintf(stream, sizeof(stream), "tcp://%.*s", (int)(end - host), host);
        argv[0] = uri;
        argv[1] = stream;
        clog_append(g.kind, "live migration of %s from %s to %s started", o->name, o->node, target);
        if ((rc = d->action(&g, "migrate", 2, argv, e->msg, sizeof(e->msg))))
            return pv_fail(e, -rc, "%s", e->msg);
    }
    if ((rc = move_guest(o, target, e)))
        return rc;
    clog_append(g.kind, "%s %s moved from %s to %s (%s)", g.kind, o->name, o->node, target,
                strcmp(st, "stopped") ? "live" : "config");
    return 0;
}
