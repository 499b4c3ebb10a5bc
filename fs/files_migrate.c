/*
 * files_migrate: migrate <node> and mv of a guest directory. A stopped guest moves by
 * moving its directory; a running one moves live, libvirt to libvirt, first.
 */
#include <errno.h>
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

/* Every volume of the container must be reachable from target: copying is not done. */
static int ct_volumes_reach(const struct pv_obj *o, const char *target, struct pv_err *e)
{
    size_t len = 0;
    char *doc = guest_config_copy(o, &len);
    int rc = 0;

    for (const char *p = doc, *end = doc ? doc + len : NULL; p && p < end && !rc;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *c;
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l && p[0] == '[')
            break;
        c = memchr(p, ':', l);
        if (c && guest_disk_key(T_LXC, p, (size_t)(c - p))) {
            const char *v = c + 1 + (c + 1 < p + l && c[1] == ' ');
            size_t vl = strcspn(v, ":,\n");
            struct storage_def d;
            uint64_t vol = volume_dir_of(o->fs, v, strcspn(v, ",\n"));
            if (v[0] != '/' && vol &&
                !(rc = storage_load(o->fs, fs_parent(o->fs, fs_parent(o->fs, vol)), &d, e)) &&
                (!d.shared || !storage_on_node(&d, target)))
                rc = pv_fail(e, EOPNOTSUPP,
                             "%.*s is on storage %.*s, which %s; this build moves containers "
                             "whose volumes are on shared storage only",
                             (int)(c - p), p, (int)vl, v,
                             !storage_on_node(&d, target) ? "the target does not reach"
                                                          : "is not shared");
        }
        p = nl ? nl + 1 : NULL;
    }
    free(doc);
    return rc;
}

/*
 * A container moves in restart mode, as Proxmox's pct migrate --restart: a clean
 * shutdown here, the directory moves, and the target starts it.
 */
static int ct_migrate(const struct pv_obj *o, const char *target, const char *st, struct pv_err *e)
{
    static char *shut[] = {"30", "--force"};
    const struct drv_guest_ops *d = drv_guest("lxc");
    struct drv_guest g;
    struct pv_err ig = {0};
    int rc, running = strcmp(st, "stopped") != 0;

    if ((rc = ct_volumes_reach(o, target, e)))
        return rc;
    guest_of(o, &g);
    if (running && strcmp(st, "paused") == 0 &&
        (rc = d->action(&g, "resume", 0, NULL, e->msg, sizeof(e->msg))))
        return pv_fail(e, -rc, "%s", e->msg);
    if (running && (rc = d->action(&g, "shutdown", 2, shut, e->msg, sizeof(e->msg))))
        return pv_fail(e, -rc, "%s", e->msg);
    if ((rc = move_guest(o, target, e))) {
        if (running)
            d->action(&g, "start", 0, NULL, ig.msg, sizeof(ig.msg));
        return rc;
    }
    d->action(&g, "forget", 0, NULL, ig.msg, sizeof(ig.msg));
    clog_append("lxc", "ct %s moved from %s to %s (%s)", o->name, o->node, target,
                running ? "restart" : "config");
    if (running) {
        uint64_t dir = o->dir; /* the directory keeps its inode across the rename */
        if (fs_cmd(o->fs, dir, "ctl", "start", 5, e))
            return pv_fail(e, e->err, "ct %s moved to %s but did not start there: %s", o->name,
                           target, e->msg);
    }
    return 0;
}

int guest_migrate(const struct pv_obj *o, const char *target, struct pv_err *e)
{
    const struct drv_guest_ops *d;
    char st[32], uri[512], stream[600], *argv[2];
    struct drv_guest g;
    const char *host, *end;
    int rc;

    if (strcmp(target, o->node) == 0)
        return pv_fail(e, EINVAL, "%s %s is on %s already", guest_kind(o), o->name, target);
    guest_of(o, &g);
    d = drv_guest(g.kind);
    if (d->state(&g, st, sizeof(st)))
        return pv_fail(e, EIO, "cannot tell the state of %s %s", g.kind, o->name);
    if (o->type == T_LXC)
        return ct_migrate(o, target, st, e);
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
