/*
 * files_storage: storage/<id>/ (config, status, ctl) and nodes/<node>/storage/<id>/status.
 *
 * A storage is a replicated definition; its volumes are a replicated catalog that
 * a backend (drivers/stor.h) changes first and the catalog records after. Status
 * files only read figures the monitor (stor_mon.c) collected: a read never waits
 * for a backend.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cluster/clog.h"
#include "conf.h"
#include "files.h"
#include "storage.h"

static void get_key(const struct memdb_entry *c, const char *key, char *val, size_t len)
{
    val[0] = 0;
    if (c && c->data)
        conf_get((const char *)c->data, c->size, key, val, len);
}

/*
 * The secret in priv/ceph/<id>.keyring, where Proxmox keeps an external Ceph's keyring
 * ("key = AQ..." under a [client.x] section). Replicated and root-only, like the rest
 * of priv/.
 */
static void priv_key(struct fs *fs, const char *id, char *key, size_t len)
{
    const struct memdb_entry *pv, *c, *k;
    char name[80];

    key[0] = 0;
    snprintf(name, sizeof(name), "%s.keyring", id);
    memdb_rdlock(fs->mem);
    pv = memdb_lookup(fs->mem, MEMDB_ROOT, "priv");
    c = pv ? memdb_lookup(fs->mem, pv->inode, "ceph") : NULL;
    k = c ? memdb_lookup(fs->mem, c->inode, name) : NULL;
    for (const char *p = k && k->data ? (const char *)k->data : NULL, *end = p ? p + k->size : NULL;
         p && p < end && !key[0];) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char line[256], val[128];
        snprintf(line, sizeof(line), "%.*s", (int)(l < sizeof(line) ? l : sizeof(line) - 1), p);
        if (sscanf(line, " key = %127s", val) == 1 && strlen(val) < len)
            snprintf(key, len, "%s", val);
        p += l + 1;
    }
    memdb_unlock(fs->mem);
}

int storage_load(struct fs *fs, uint64_t dir, struct storage_def *d, struct pv_err *e)
{
    const struct memdb_entry *s, *c, *v;
    struct stor_cfg *g = &d->cfg;
    char b[16];

    memset(d, 0, sizeof(*d));
    memdb_rdlock(fs->mem);
    s = memdb_get(fs->mem, dir);
    c = s ? memdb_lookup(fs->mem, dir, "config") : NULL;
    v = s ? memdb_lookup(fs->mem, dir, "volumes") : NULL;
    if (s && c && v) {
        snprintf(g->id, sizeof(g->id), "%s", s->name);
        d->dir = dir;
        d->volumes = v->inode;
        get_key(c, "type", g->type, sizeof(g->type));
        get_key(c, "path", g->path, sizeof(g->path));
        get_key(c, "format", g->format, sizeof(g->format));
        get_key(c, "pool", g->pool, sizeof(g->pool));
        get_key(c, "monhost", g->monhost, sizeof(g->monhost));
        get_key(c, "username", g->username, sizeof(g->username));
        get_key(c, "keyring", g->keyring, sizeof(g->keyring));
        get_key(c, "nodes", d->nodes, sizeof(d->nodes));
        get_key(c, "content", d->content, sizeof(d->content));
        get_key(c, "shared", b, sizeof(b));
        d->shared =
            b[0] == '1' || strcmp(b, "yes") == 0 || strcmp(b, "on") == 0 || strcmp(b, "true") == 0;
        get_key(c, "disable", b, sizeof(b));
        d->disable =
            b[0] == '1' || strcmp(b, "yes") == 0 || strcmp(b, "on") == 0 || strcmp(b, "true") == 0;
    }
    memdb_unlock(fs->mem);
    if (!d->dir)
        return pv_fail(e, ENOENT, "no such storage");
    if (!stor_ops(g->type))
        return pv_fail(e, EINVAL, "storage %s has unknown type '%s'", g->id, g->type);
    /* rbd is shared by nature; without monitors of its own it uses the cluster's Ceph */
    if (strcmp(g->type, "rbd") == 0) {
        d->shared = 1;
        if (g->monhost[0] && !g->keyring[0])
            priv_key(fs, g->id, g->key, sizeof(g->key));
        if (!g->monhost[0]) {
            struct ceph_target t;
            storage_ceph_target(fs, &t);
            snprintf(g->conf, sizeof(g->conf), "%s", t.conf);
            snprintf(g->monhost, sizeof(g->monhost), "%s", t.monhost);
            if (!g->username[0])
                snprintf(g->username, sizeof(g->username), "%s", t.user);
            if (!g->keyring[0])
                snprintf(g->keyring, sizeof(g->keyring), "%s", t.keyring);
        }
    }
    return 0;
}

int storage_on_node(const struct storage_def *d, const char *node)
{
    size_t n = strlen(node);

    if (d->disable)
        return 0;
    if (!d->nodes[0])
        return 1;
    for (const char *p = d->nodes; *p;) {
        size_t l = strcspn(p, ",");
        if (l == n && memcmp(p, node, n) == 0)
            return 1;
        p += l + (p[l] == ',');
    }
    return 0;
}

void storage_ceph_target(struct fs *fs, struct ceph_target *t)
{
    const struct memdb_entry *c, *cd;

    memset(t, 0, sizeof(*t));
    memdb_rdlock(fs->mem);
    cd = memdb_lookup(fs->mem, MEMDB_ROOT, "ceph");
    c = cd ? memdb_lookup(fs->mem, cd->inode, "config") : NULL;
    get_key(c, "conf", t->conf, sizeof(t->conf));
    get_key(c, "monhost", t->monhost, sizeof(t->monhost));
    get_key(c, "username", t->user, sizeof(t->user));
    get_key(c, "keyring", t->keyring, sizeof(t->keyring));
    memdb_unlock(fs->mem);
}

/* Does the config value at v (up to ',' or end of line) name the volume? */
static int names_volume(const char *v, size_t n, const struct stor_vol *vol)
{
    const char *base = strrchr(vol->path, '/');
    size_t l = strlen(vol->name);

    base = base ? base + 1 : vol->path;
    if (n == l && memcmp(v, vol->name, l) == 0)
        return 1;
    /* dir volumes also go by "<vmid>/<file>", as Proxmox writes them */
    for (size_t i = 0; i < n; i++)
        if (v[i] == '/')
            return n - i - 1 == strlen(base) && memcmp(v + i + 1, base, n - i - 1) == 0;
    return n == strlen(base) && memcmp(v, base, n) == 0;
}

/* Does config line ln mention storage sid (and volume vol, if given)? */
static int line_uses(const char *ln, size_t n, const char *sid, const struct stor_vol *vol)
{
    size_t sl = strlen(sid);

    for (size_t i = 0; i + sl < n; i++) {
        size_t j = i + sl + 1, k;
        if ((i > 0 && ln[i - 1] != ' ' && ln[i - 1] != '=' && ln[i - 1] != ',') ||
            memcmp(ln + i, sid, sl) != 0 || ln[i + sl] != ':')
            continue;
        for (k = j; k < n && ln[k] != ',' && ln[k] != ' '; k++)
            ;
        if (!vol || names_volume(ln + j, k - j, vol))
            return 1;
    }
    return 0;
}

static void scan_guests(struct fs *fs, const struct memdb_entry *list, const char *kind,
                        const char *sid, const struct stor_vol *vol, struct pv_buf *out, int *n)
{
    for (uint32_t i = 0; list && i < list->nkids; i++) {
        const struct memdb_entry *c = memdb_lookup(fs->mem, list->kids[i]->inode, "config");
        const char *p, *end;
        if (!c || !c->data)
            continue;
        for (p = (const char *)c->data, end = p + c->size; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
            if (p[0] != '#' && line_uses(p, l, sid, vol)) {
                pv_buf_printf(out, "%s/%s\n", kind, list->kids[i]->name);
                (*n)++;
                break;
            }
            p += l + 1;
        }
    }
}

int storage_users(struct fs *fs, const char *sid, const struct stor_vol *vol, struct pv_buf *out)
{
    const struct memdb_entry *nodes;
    int n = 0;

    memdb_rdlock(fs->mem);
    nodes = memdb_lookup(fs->mem, MEMDB_ROOT, "nodes");
    for (uint32_t i = 0; nodes && i < nodes->nkids; i++) {
        const struct memdb_entry *node = nodes->kids[i];
        scan_guests(fs, memdb_lookup(fs->mem, node->inode, "qemu"), "qemu", sid, vol, out, &n);
        scan_guests(fs, memdb_lookup(fs->mem, node->inode, "lxc"), "lxc", sid, vol, out, &n);
    }
    memdb_unlock(fs->mem);
    return n;
}

int storage_id_ok(const char *name, struct pv_err *e)
{
    size_t n = strlen(name);

    /* Proxmox storage ids: [a-z][a-z0-9-_.]*[a-z0-9] */
    if (n < 2 || n > 63 || name[0] < 'a' || name[0] > 'z' ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != n ||
        !((name[n - 1] >= 'a' && name[n - 1] <= 'z') || (name[n - 1] >= '0' && name[n - 1] <= '9')))
        return pv_fail(e, EINVAL,
                       "'%.64s' is not a storage id (a-z first, then a-z 0-9 - _ ., ending in a "
                       "letter or digit)",
                       name);
    return 0;
}

int storage_config_initial(const struct pv_obj *o, struct pv_buf *out)
{
    return pv_buf_printf(
        out, "content: images,rootdir\npath: /var/lib/pvefs/storage/%s\ntype: dir\n", o->name);
}

static void fig_lines(struct pv_buf *out, const struct stor_fig *f)
{
    pv_buf_printf(out, "active: %d\n", f->active);
    if (f->active)
        pv_buf_printf(out, "total: %llu\nused: %llu\navail: %llu\n", (unsigned long long)f->u.total,
                      (unsigned long long)f->u.used, (unsigned long long)f->u.avail);
    if (f->err[0])
        pv_buf_printf(out, "error: %s\n", f->err);
}

int node_storage_status_render(const struct pv_obj *o, struct pv_buf *out)
{
    struct stor_fig f;

    stor_fig_of(o->fs, o->node, o->name, &f);
    pv_buf_printf(out, "storage: %s\nnode: %s\n", o->name, o->node);
    if (!f.known)
        return pv_buf_printf(out, "active: 0\nerror: no figures from node %s yet\n", o->node);
    fig_lines(out, &f);
    return 0;
}

int storage_status_render(const struct pv_obj *o, struct pv_buf *out)
{
    struct storage_def d;
    struct pv_err e = {0};
    struct stor_fig sum = {0};
    const struct memdb_entry *nodes;
    char names[64][64];
    size_t nn = 0;
    int active = 0;

    if (storage_load(o->fs, o->dir, &d, &e))
        return pv_buf_printf(out, "storage: %s\nerror: %s\n", o->name, e.msg);
    memdb_rdlock(o->fs->mem);
    nodes = memdb_lookup(o->fs->mem, MEMDB_ROOT, "nodes");
    for (uint32_t i = 0; nodes && i < nodes->nkids && nn < 64; i++)
        if (storage_on_node(&d, nodes->kids[i]->name))
            snprintf(names[nn++], sizeof(names[0]), "%s", nodes->kids[i]->name);
    memdb_unlock(o->fs->mem);
    pv_buf_printf(out, "storage: %s\ntype: %s\nshared: %d\ncontent: %s\n", d.cfg.id, d.cfg.type,
                  d.shared, d.content);
    for (size_t i = 0; i < nn; i++) {
        struct stor_fig f;
        stor_fig_of(o->fs, names[i], d.cfg.id, &f);
        pv_buf_printf(out, "node.%s: %s", names[i], f.active ? "active" : "inactive");
        if (f.active)
            pv_buf_printf(out, " %llu %llu %llu", (unsigned long long)f.u.total,
                          (unsigned long long)f.u.used, (unsigned long long)f.u.avail);
        pv_buf_printf(out, "\n");
        if (!f.active)
            continue;
        /* shared: every node sees the same space, count it once */
        if (!active || !d.shared) {
            sum.u.total += f.u.total;
            sum.u.used += f.u.used;
            sum.u.avail += f.u.avail;
        }
        active++;
    }
    sum.active = active > 0;
    pv_buf_printf(out, "nodes_active: %d\n", active);
    fig_lines(out, &sum);
    return 0;
}

static int ctl_alloc(const struct pv_obj *o, int argc, char **argv, struct pv_err *e);
static int ctl_import(const struct pv_obj *o, int argc, char **argv, struct pv_err *e);
static int ctl_rescan(const struct pv_obj *o, int argc, char **argv, struct pv_err *e);

static const struct {
    const char *verb;
    int min, max;
    int (*run)(const struct pv_obj *o, int argc, char **argv, struct pv_err *e);
    const char *usage;
} storage_verbs[] = {
    {"alloc", 1, 3, ctl_alloc, "alloc <volume> [<size>] [<format>]"},
    {"import", 2, 3, ctl_import, "import <volume> <path> [<format>]"},
    {"rescan", 0, 0, ctl_rescan, "rescan"},
};

int storage_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e)
{
    char line[4096], *argv[8];
    int argc;

    if (pv_cmdline(in, len, line, sizeof(line), e))
        return -e->err;
    argc = pv_split(line, argv, 8);
    for (size_t i = 0; argc && i < sizeof(storage_verbs) / sizeof(storage_verbs[0]); i++) {
        if (strcmp(storage_verbs[i].verb, argv[0]) != 0)
            continue;
        if (argc - 1 < storage_verbs[i].min || argc - 1 > storage_verbs[i].max)
            return pv_fail(e, EINVAL, "usage: %s", storage_verbs[i].usage);
        return storage_verbs[i].run(o, argc - 1, argv + 1, e);
    }
    return pv_fail(e, EINVAL,
                   "unknown command '%.64s' (known: alloc <volume> [<size>] [<format>], "
                   "import <volume> <path> [<format>], rescan)",
                   argc ? argv[0] : "");
}

/* The catalog record of a volume: what status shows and what owner routing reads. */
static void vol_record(struct pv_buf *b, const struct storage_def *d, const struct stor_vol *v,
                       const char *node)
{
    pv_buf_printf(b, "format: %s\n", v->format);
    if (!d->shared)
        pv_buf_printf(b, "node: %s\n", node);
    if (v->parent[0])
        pv_buf_printf(b, "parent: %s\n", v->parent);
    pv_buf_printf(b, "path: %s\nsize: %llu\nstorage: %s\nvolid: %s:%s\n", v->path,
                  (unsigned long long)v->size, d->cfg.id, d->cfg.id, v->name);
}

int storage_record_volume(struct fs *fs, const struct storage_def *d, const struct stor_vol *v,
                          uint64_t vol_dir, struct pv_err *e)
{
    struct pv_buf b = {0};
    int rc;

    vol_record(&b, d, v, fs->node);
    if (b.oom)
        rc = pv_fail(e, ENOMEM, "out of memory");
    else if (vol_dir)
        rc = fs_catalog_record(fs, vol_dir, b.p, e);
    else
        rc = fs_catalog_create(fs, d->volumes, v->name, T_VOLUME, b.p, NULL, e);
    pv_buf_free(&b);
    return rc;
}

/* Refuses work on a storage that is not meant to be used from this node. */
int storage_usable_here(struct fs *fs, const struct storage_def *d, struct pv_err *e)
{
    if (d->disable)
        return pv_fail(e, EACCES, "storage %s is disabled", d->cfg.id);
    if (!storage_on_node(d, fs->node))
        return pv_fail(e, EHOSTUNREACH, "storage %s is not available on node %s (nodes: %s)",
                       d->cfg.id, fs->node, d->nodes);
    return 0;
}

/* The catalog has no volume of that name yet: 0, else -EEXIST with e filled. */
static int no_such_volume(struct fs *fs, const struct storage_def *d, const char *name,
                          struct pv_err *e)
{
    int have;

    memdb_rdlock(fs->mem);
    have = memdb_lookup(fs->mem, d->volumes, name) != NULL;
    memdb_unlock(fs->mem);
    return have ? pv_fail(e, EEXIST, "volume %s:%s exists", d->cfg.id, name) : 0;
}

static int ctl_alloc(const struct pv_obj *o, int argc, char **argv, struct pv_err *e)
{
    char err[STOR_ERRLEN] = "";
    struct storage_def d;
    struct stor_vol v = {0};
    uint64_t size = 0;
    int rc;

    if (volume_name_ok(argv[0], e) || storage_load(o->fs, o->dir, &d, e) ||
        storage_usable_here(o->fs, &d, e))
        return -e->err;
    if (argc > 1 && stor_parse_size(argv[1], &size))
        return pv_fail(e, EINVAL, "'%.64s' is not a size (bytes, or with K, M, G, T)", argv[1]);
    if (no_such_volume(o->fs, &d, argv[0], e))
        return -e->err;
    if ((rc = stor_ops(d.cfg.type)
                  ->alloc(&d.cfg, argv[0], argc > 2 ? argv[2] : NULL, size, &v, err, sizeof(err))))
        return pv_fail(e, -rc, "%s", err);
    if ((rc = storage_record_volume(o->fs, &d, &v, 0, e))) {
        /* the catalog refused it: do not leave an orphan behind */
        stor_ops(d.cfg.type)->free(&d.cfg, v.name, err, sizeof(err));
        return rc;
    }
    clog_append("storage", "allocated %s:%s (%s, %llu bytes) on %s", d.cfg.id, v.name, v.format,
                (unsigned long long)v.size, o->fs->node);
    return 0;
}

/*
 * Makes a volume from a disk image file on this node (the writer's: storage ctl
 * writes are not forwarded), converted by the backend; the catalog records it after.
 */
static int ctl_import(const struct pv_obj *o, int argc, char **argv, struct pv_err *e)
{
    char err[STOR_ERRLEN] = "";
    struct storage_def d;
    struct stor_vol v = {0};
    int rc;

    if (volume_name_ok(argv[0], e) || storage_load(o->fs, o->dir, &d, e) ||
        storage_usable_here(o->fs, &d, e))
        return -e->err;
    /* a relative path would be relative to the daemon's cwd, which the writer cannot see */
    if (argv[1][0] != '/')
        return pv_fail(e, EINVAL, "import source '%.256s' is not an absolute path on node %s",
                       argv[1], o->fs->node);
    if (no_such_volume(o->fs, &d, argv[0], e))
        return -e->err;
    if ((rc = stor_ops(d.cfg.type)
                  ->import(&d.cfg, argv[0], argv[1], argc > 2 ? argv[2] : NULL, &v, err,
                           sizeof(err))))
        return rc == -ENOENT ? pv_fail(e, ENOENT, "%s (on node %s)", err, o->fs->node)
                             : pv_fail(e, -rc, "%s", err);
    if ((rc = storage_record_volume(o->fs, &d, &v, 0, e))) {
        /* the catalog refused it: do not leave an orphan behind */
        stor_ops(d.cfg.type)->free(&d.cfg, v.name, err, sizeof(err));
        return rc;
    }
    clog_append("storage", "imported %s:%s (%s, %llu bytes) from %s on %s", d.cfg.id, v.name,
                v.format, (unsigned long long)v.size, argv[1], o->fs->node);
    return 0;
}

struct rescan {
    struct fs *fs;
    struct storage_def *d;
    int added;
};

static int rescan_one(void *arg, const struct stor_vol *v)
{
    struct rescan *r = arg;
    struct pv_err e = {0};
    int have;

    memdb_rdlock(r->fs->mem);
    have = memdb_lookup(r->fs->mem, r->d->volumes, v->name) != NULL;
    memdb_unlock(r->fs->mem);
    if (!have && storage_record_volume(r->fs, r->d, v, 0, &e) == 0)
        r->added++;
    return 0;
}

/* Adds volumes the backend has and the catalog lacks (made outside pvefs). */
static int ctl_rescan(const struct pv_obj *o, int argc, char **argv, struct pv_err *e)
{
    char err[STOR_ERRLEN] = "";
    struct storage_def d;
    struct rescan r = {o->fs, &d, 0};
    int rc;

    (void)argc;
    (void)argv;
    if (storage_load(o->fs, o->dir, &d, e) || storage_usable_here(o->fs, &d, e))
        return -e->err;
    if ((rc = stor_ops(d.cfg.type)->list(&d.cfg, rescan_one, &r, err, sizeof(err))))
        return pv_fail(e, -rc, "%s", err);
    clog_append("storage", "rescan of %s on %s added %d volumes", d.cfg.id, o->fs->node, r.added);
    return 0;
}

int storage_destroy(const struct pv_obj *o, struct pv_err *e)
{
    struct pv_buf users = {0};
    int n = storage_users(o->fs, o->name, NULL, &users), rc;

    if (n) {
        rc = pv_fail(e, EBUSY, "storage %s is in use by %.*s", o->name,
                     (int)(users.len && users.p[users.len - 1] == '\n' ? users.len - 1 : users.len),
                     users.p ? users.p : "");
        for (char *p = e->msg; *p; p++)
            if (*p == '\n')
                *p = ' ';
        pv_buf_free(&users);
        return rc;
    }
    pv_buf_free(&users);
    /* The definition and its catalog go; the data stays, as with Proxmox. */
    if ((rc = fs_catalog_remove(o->fs, o->dir, e)))
        return rc;
    stor_mon_kick();
    return 0;
}

int storage_resolve(void *arg, const char *volid, struct qemu_disk *out, char *err, size_t errlen)
{
    struct fs *fs = arg;
    const struct memdb_entry *list, *s;
    const char *colon = strchr(volid, ':'), *name, *slash;
    struct storage_def d;
    struct pv_err e = {0};
    struct stor_vol v = {0};
    char sid[64];
    uint64_t dir = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (volid[0] == '/') { /* a path on the host: an ISO, a kernel, a raw device */
        const char *dot = strrchr(volid, '.');
        out->kind = QD_FILE;
        snprintf(out->path, sizeof(out->path), "%s", volid);
        snprintf(out->format, sizeof(out->format), "%s",
                 dot && (strcmp(dot, ".qcow2") == 0 || strcmp(dot, ".vmdk") == 0) ? dot + 1
                                                                                  : "raw");
        return 0;
    }
    if (!colon || colon == volid || (size_t)(colon - volid) >= sizeof(sid))
        return snprintf(err, errlen, "'%s' is not storage:volume", volid), -EINVAL;
    snprintf(sid, sizeof(sid), "%.*s", (int)(colon - volid), volid);
    name = colon + 1;
    /* dir volumes also go by "<vmid>/<file>", as Proxmox writes them */
    if ((slash = strrchr(name, '/')))
        name = slash + 1;
    memdb_rdlock(fs->mem);
    list = memdb_lookup(fs->mem, MEMDB_ROOT, "storage");
    if (list && (s = memdb_lookup(fs->mem, list->inode, sid)))
        dir = s->inode;
    memdb_unlock(fs->mem);
    if (!dir)
        return snprintf(err, errlen, "%s: no storage named %s", volid, sid), -ENOENT;
    if (storage_load(fs, dir, &d, &e))
        return snprintf(err, errlen, "%s: %s", volid, e.msg), -e.err;
    if (strncmp(colon + 1, "vztmpl/", 7) == 0 || strncmp(colon + 1, "iso/", 4) == 0) {
        /* content files: Proxmox's template/cache and template/iso of a dir storage */
        int tmpl = colon[1] == 'v';
        const char *file = colon + 1 + (tmpl ? 7 : 4);
        if (strcmp(d.cfg.type, "dir") != 0)
            return snprintf(err, errlen, "%s: storage %s (%s) holds no %s files", volid, sid,
                            d.cfg.type, tmpl ? "template" : "ISO"),
                   -EINVAL;
        if (!*file || strchr(file, '/') || file[0] == '.')
            return snprintf(err, errlen, "%s: bad file name", volid), -EINVAL;
        out->kind = QD_FILE;
        snprintf(out->path, sizeof(out->path), "%s/template/%s/%s", d.cfg.path,
                 tmpl ? "cache" : "iso", file);
        snprintf(out->format, sizeof(out->format), "%s", tmpl ? "tar" : "raw");
        if (access(out->path, R_OK))
            return snprintf(err, errlen, "%s: %s: %s", volid, out->path, strerror(errno)), -ENOENT;
        return 0;
    }
    if ((rc = stor_ops(d.cfg.type)->locate(&d.cfg, name, NULL, &v, err, errlen)))
        return rc;
    if (strcmp(d.cfg.type, "rbd") == 0) {
        out->kind = QD_RBD;
        snprintf(out->monhost, sizeof(out->monhost), "%s", d.cfg.monhost);
        snprintf(out->conf, sizeof(out->conf), "%s", d.cfg.conf);
        snprintf(out->user, sizeof(out->user), "%s", d.cfg.username[0] ? d.cfg.username : "admin");
        snprintf(out->key, sizeof(out->key), "%s", d.cfg.key);
    } else {
        out->kind = QD_FILE;
    }
    snprintf(out->path, sizeof(out->path), "%s", v.path);
    snprintf(out->format, sizeof(out->format), "%s", v.format);
    return 0;
}
