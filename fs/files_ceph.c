/*
 * files_ceph: ceph/status, ceph/pools/<pool>/ and ceph/osds/<id>/.
 *
 * Reads come from the monitor's last figures (stor_mon.c); changes go to Ceph
 * through drivers/ceph.h and are followed by a refresh, so a read right after a
 * write sees it. The catalog lock (stor_mon_ceph_lock) keeps the monitor's
 * mirroring from undoing a pool made or removed meanwhile.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cluster/clog.h"
#include "files.h"
#include "storage.h"

int ceph_status_render(const struct pv_obj *o, struct pv_buf *out)
{
    (void)o;
    stor_mon_ceph_status(out);
    return 0;
}

int ceph_config_initial(const struct pv_obj *o, struct pv_buf *out)
{
    (void)o;
    /* Comments are kept as the description; the keys below override ceph.conf. */
    return pv_buf_printf(out, "# How pvefs reaches this cluster's Ceph. Keys: conf (a ceph.conf),\n"
                              "# monhost, username (default admin), keyring. Empty: "
                              "/etc/ceph/ceph.conf.\n");
}

int ceph_pool_name_ok(const char *name, struct pv_err *e)
{
    size_t n = strlen(name);

    if (n == 0 || n > 100 || name[0] == '.' || name[0] == '-' ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
        return pv_fail(e, EINVAL, "'%.64s' is not a pool name (letters, digits, _ . -)", name);
    return 0;
}

static int ceph_conn(struct fs *fs, rados_t *c, struct pv_err *e)
{
    struct ceph_target t;
    char err[512] = "";
    int rc;

    storage_ceph_target(fs, &t);
    if ((rc = ceph_connect(&t, c, err, sizeof(err))))
        return pv_fail(e, -rc, "%s", err);
    return 0;
}

/* The rbd storages that keep their images in pool (on this cluster's Ceph). */
static int pool_users(struct fs *fs, const char *pool, char *who, size_t len)
{
    const struct memdb_entry *s;
    uint64_t dirs[64];
    size_t n = 0;
    int found = 0;

    memdb_rdlock(fs->mem);
    s = memdb_lookup(fs->mem, MEMDB_ROOT, "storage");
    for (uint32_t i = 0; s && i < s->nkids && n < 64; i++)
        dirs[n++] = s->kids[i]->inode;
    memdb_unlock(fs->mem);
    for (size_t i = 0; i < n && !found; i++) {
        struct storage_def d;
        struct pv_err e = {0};
        if (storage_load(fs, dirs[i], &d, &e) == 0 && strcmp(d.cfg.type, "rbd") == 0 &&
            strcmp(d.cfg.pool[0] ? d.cfg.pool : "rbd", pool) == 0) {
            snprintf(who, len, "%s", d.cfg.id);
            found = 1;
        }
    }
    return found;
}

int ceph_pool_create_hook(struct fs *fs, uint64_t dir, const char *name, struct pv_err *e)
{
    char err[512] = "";
    rados_t c;
    int rc;

    if (ceph_conn(fs, &c, e))
        return -e->err;
    stor_mon_ceph_lock();
    /* the cluster's defaults for size and pg_num; the files change them afterwards */
    if ((rc = ceph_pool_create(c, name, 0, 0, 0, "rbd", err, sizeof(err))))
        rc = pv_fail(e, -rc, "%s", err);
    else if ((rc = fs_catalog_create(fs, dir, name, T_CEPH_POOL, NULL, NULL, e)) &&
             e->err == EEXIST)
        rc = 0;
    stor_mon_ceph_unlock();
    if (rc)
        return rc;
    clog_append("ceph", "created pool %s", name);
    stor_mon_ceph_refresh(fs);
    return 0;
}

int ceph_pool_destroy(const struct pv_obj *o, struct pv_err *e)
{
    char err[512] = "", who[64];
    rados_t c;
    int rc;

    if (pool_users(o->fs, o->name, who, sizeof(who)))
        return pv_fail(e, EBUSY, "pool %s holds the images of storage %s", o->name, who);
    if (ceph_conn(o->fs, &c, e))
        return -e->err;
    stor_mon_ceph_lock();
    if ((rc = ceph_pool_delete(c, o->name, err, sizeof(err))) && rc != -ENOENT)
        rc = pv_fail(e, -rc, "%s", err);
    else
        rc = fs_catalog_remove(o->fs, o->dir, e);
    stor_mon_ceph_unlock();
    if (rc)
        return rc;
    clog_append("ceph", "removed pool %s", o->name);
    stor_mon_ceph_refresh(o->fs);
    return 0;
}

int ceph_pool_status_render(const struct pv_obj *o, struct pv_buf *out)
{
    struct ceph_pool p;

    if (stor_mon_pool(o->name, &p))
        return pv_buf_printf(out, "pool: %s\nerror: no figures from Ceph\n", o->name);
    return pv_buf_printf(out,
                         "pool: %s\nid: %lld\nsize: %d\nmin_size: %d\npg_num: %d\n"
                         "application: %s\nstored: %llu\nobjects: %llu\nmax_avail: %llu\n",
                         p.name, (long long)p.id, p.size, p.min_size, p.pg_num, p.application,
                         (unsigned long long)p.stored, (unsigned long long)p.objects,
                         (unsigned long long)p.max_avail);
}

static const struct {
    const char *file;
    size_t off;
    int min, max;
} pool_values[] = {
    {"size", offsetof(struct ceph_pool, size), 1, 10},
    {"min_size", offsetof(struct ceph_pool, min_size), 1, 10},
    {"pg_num", offsetof(struct ceph_pool, pg_num), 1, 32768},
};

static int pool_value(const char *file)
{
    for (size_t i = 0; file && i < sizeof(pool_values) / sizeof(pool_values[0]); i++)
        if (strcmp(pool_values[i].file, file) == 0)
            return (int)i;
    return -1;
}

int ceph_pool_value_render(const struct pv_obj *o, struct pv_buf *out)
{
    struct ceph_pool p;
    int v = pool_value(o->file);

    if (v < 0 || stor_mon_pool(o->name, &p))
        return pv_buf_printf(out, "unknown\n");
    return pv_buf_printf(out, "%d\n", *(const int *)((const char *)&p + pool_values[v].off));
}

int ceph_pool_value_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e)
{
    char buf[32], *end, err[512] = "";
    int v = pool_value(o->file), rc;
    long val;
    rados_t c;

    if (v < 0)
        return pv_fail(e, EINVAL, "not a pool setting");
    if (len == 0 || len >= sizeof(buf))
        return pv_fail(e, EINVAL, "%s takes a number", o->file);
    memcpy(buf, in, len);
    buf[len] = 0;
    val = strtol(buf, &end, 10);
    if (*end || val < pool_values[v].min || val > pool_values[v].max)
        return pv_fail(e, EINVAL, "%s must be a number from %d to %d", o->file, pool_values[v].min,
                       pool_values[v].max);
    if (ceph_conn(o->fs, &c, e))
        return -e->err;
    if ((rc = ceph_pool_set(c, o->name, o->file, (int)val, err, sizeof(err))))
        return pv_fail(e, -rc, "%s", err);
    clog_append("ceph", "pool %s: %s set to %ld", o->name, o->file, val);
    stor_mon_ceph_refresh(o->fs);
    return 0;
}

int ceph_osd_status_render(const struct pv_obj *o, struct pv_buf *out)
{
    struct ceph_osd d;

    if (stor_mon_osd(atoi(o->name), &d))
        return pv_buf_printf(out, "osd: %s\nerror: no figures from Ceph\n", o->name);
    return pv_buf_printf(out, "osd: %d\nup: %d\nin: %d\nweight: %.4f\naddr: %s\n", d.id, d.up, d.in,
                         d.weight, d.addr);
}

int ceph_osd_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e)
{
    static const char *const verbs[] = {"out", "in"};
    char err[512] = "";
    rados_t c;
    int rc;

    for (int v = 0; v < 2; v++) {
        if (strlen(verbs[v]) != len || memcmp(verbs[v], in, len) != 0)
            continue;
        if (ceph_conn(o->fs, &c, e))
            return -e->err;
        if ((rc = ceph_osd_inout(c, atoi(o->name), v, err, sizeof(err))))
            return pv_fail(e, -rc, "%s", err);
        clog_append("ceph", "osd.%s marked %s", o->name, verbs[v]);
        stor_mon_ceph_refresh(o->fs);
        return 0;
    }
    return pv_fail(e, EINVAL, "unknown command '%.*s' (commands: in, out)",
                   (int)(len > 64 ? 64 : len), in);
}
