/*
 * files_guest_disk: a guest's disks and config changes: resize <disk> <size>, disk lines
 * that ask for a new volume ("scsi1: local:4"), and what a running guest does not have
 * yet (pending), applied by its node after each config write.
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

/* The catalog directory of the volume volid names ("local:vm-100-disk-0", "local:100/x.qcow2"). */
uint64_t volume_dir_of(struct fs *fs, const char *volid, size_t n)
{
    const char *colon = memchr(volid, ':', n), *name, *slash;
    const struct memdb_entry *st, *s, *vols, *v = NULL;
    char sid[64], vn[128];
    uint64_t ino = 0;

    if (!colon || (size_t)(colon - volid) >= sizeof(sid))
        return 0;
    snprintf(sid, sizeof(sid), "%.*s", (int)(colon - volid), volid);
    name = colon + 1;
    for (slash = name; (slash = memchr(slash, '/', n - (size_t)(slash - volid))); name = ++slash)
        ;
    snprintf(vn, sizeof(vn), "%.*s", (int)(n - (size_t)(name - volid)), name);
    memdb_rdlock(fs->mem);
    st = memdb_lookup(fs->mem, MEMDB_ROOT, "storage");
    s = st ? memdb_lookup(fs->mem, st->inode, sid) : NULL;
    vols = s ? memdb_lookup(fs->mem, s->inode, "volumes") : NULL;
    if (vols && !(v = memdb_lookup(fs->mem, vols->inode, vn))) {
        char *dot = strrchr(vn, '.'); /* "vm-100-disk-0.qcow2" in a config, no extension here */
        if (dot) {
            *dot = 0;
            v = memdb_lookup(fs->mem, vols->inode, vn);
        }
    }
    if (v)
        ino = v->inode;
    memdb_unlock(fs->mem);
    return ino;
}

/* resize <disk> <[+]size>: grows the volume a disk line names; a running guest is told. */
int guest_resize(const struct pv_obj *o, const char *disk, const char *size, struct pv_err *e)
{
    const struct drv_guest_ops *d;
    const struct memdb_entry *r;
    char val[1024], cur[32] = "", path[1200] = "", st[32], cmd[128];
    uint64_t now, want, add;
    struct drv_guest g;
    uint64_t vol;
    size_t n;
    char *end;
    int rc, cn;

    guest_config_value(o, disk, "", val, sizeof(val));
    if (!val[0])
        return pv_fail(e, EINVAL, "%s %s has no disk %.32s", guest_kind(o), o->name, disk);
    n = strcspn(val, ",");
    if (!(vol = volume_dir_of(o->fs, strncmp(val, "file=", 5) == 0 ? val + 5 : val,
                              strncmp(val, "file=", 5) == 0 ? n - 5 : n)))
        return pv_fail(e, ENOENT, "%s: '%.*s' is not a volume of a pvefs storage", disk, (int)n,
                       val);
    guest_of(o, &g);
    d = drv_guest(g.kind);
    if (d->state(&g, st, sizeof(st)) || strcmp(st, "stopped") == 0 || !d->block_resize) {
        cn = snprintf(cmd, sizeof(cmd), "resize %.64s", size);
        return fs_cmd(o->fs, vol, "ctl", cmd, (size_t)cn, e);
    }
    /* running: QEMU holds the image; libvirt grows it and tells the guest */
    memdb_rdlock(o->fs->mem);
    if ((r = memdb_lookup(o->fs->mem, vol, "status")) && r->data) {
        conf_get((const char *)r->data, r->size, "size", cur, sizeof(cur));
        conf_get((const char *)r->data, r->size, "path", path, sizeof(path));
    }
    memdb_unlock(o->fs->mem);
    now = strtoull(cur, &end, 10);
    if (size[0] == '+') {
        if (stor_parse_size(size + 1, &add))
            return pv_fail(e, EINVAL, "'%.64s' is not a size", size);
        want = now + add;
    } else if (stor_parse_size(size, &want)) {
        return pv_fail(e, EINVAL, "'%.64s' is not a size", size);
    }
    if (want < now)
        return pv_fail(e, EINVAL, "%s is %llu bytes; shrinking to %llu is refused", disk,
                       (unsigned long long)now, (unsigned long long)want);
    if (want == now)
        return 0;
    if ((rc = d->block_resize(&g, path, want, e->msg, sizeof(e->msg))))
        return pv_fail(e, -rc, "%s", e->msg);
    clog_append(g.kind, "grew %s of %s %s to %llu bytes", disk, g.kind, o->name,
                (unsigned long long)want);
    return fs_cmd(o->fs, vol, "ctl", "refresh", 7, e);
}

int guest_pending_render(const struct pv_obj *o, struct pv_buf *out)
{
    const struct drv_guest_ops *d;
    struct drv_guest g;
    char *cfg;

    if (is_remote(o)) {
        struct pv_buf lines = {0};
        char st[32], keys[512] = "", val[1024];
        if (remote_guest(o, st, sizeof(st), &lines) == 0 && lines.p)
            conf_get(lines.p, lines.len, "pending", keys, sizeof(keys));
        pv_buf_free(&lines);
        for (char *save = NULL, *k = strtok_r(keys, ",", &save); k;
             k = strtok_r(NULL, ",", &save)) {
            guest_config_value(o, k, "", val, sizeof(val));
            pv_buf_printf(out, "%s: %s\n", k, val);
        }
        return 0;
    }
    guest_of(o, &g);
    d = drv_guest(g.kind);
    if (!d->pending)
        return 0;
    cfg = guest_config_copy(o, &g.config_len);
    g.config = cfg;
    d->pending(&g, out);
    free(cfg);
    return 0;
}

/* A value that asks for a new volume: "<storage>:<GiB>", as Proxmox's qm set takes it. */
static int new_volume_request(const char *v, size_t n, size_t *sl, double *gib)
{
    const char *c = memchr(v, ':', n);
    char num[32], *end;
    size_t fl = strcspn(v, ",\n");

    if (fl > n)
        fl = n;
    if (!c || c == v || (size_t)(c - v) >= fl || fl - (size_t)(c - v) - 1 >= sizeof(num))
        return 0;
    snprintf(num, sizeof(num), "%.*s", (int)(fl - (size_t)(c - v) - 1), c + 1);
    if (!num[0] || strspn(num, "0123456789.") != strlen(num))
        return 0;
    *gib = strtod(num, &end);
    *sl = (size_t)(c - v);
    return *end == 0 && *gib > 0;
}

static const char *const disk_buses[] = {"scsi", "virtio", "sata", "ide", NULL};

int guest_disk_key(int type, const char *k, size_t n)
{
    if (type == T_LXC)
        return (n == 6 && memcmp(k, "rootfs", 6) == 0) ||
               (n > 2 && memcmp(k, "mp", 2) == 0 && strspn(k + 2, "0123456789") == n - 2);
    for (int i = 0; disk_buses[i]; i++) {
        size_t l = strlen(disk_buses[i]);
        if (n > l && memcmp(k, disk_buses[i], l) == 0 && strspn(k + l, "0123456789") == n - l)
            return 1;
    }
    return 0;
}

int guest_free_disk_name(struct fs *fs, uint64_t vols, const char *vmid, int from, char *out,
                         size_t len)
{
    return guest_free_vol_name(fs, vols, "vm", vmid, from, out, len);
}

int guest_free_vol_name(struct fs *fs, uint64_t vols, const char *prefix, const char *vmid,
                        int from, char *out, size_t len)
{
    for (int i = from; i < 1000; i++) {
        static const char *const exts[] = {"", ".qcow2", ".raw", ".vmdk"};
        int used = 0;
        memdb_rdlock(fs->mem);
        for (int x = 0; x < 4 && !used; x++) {
            char n[128];
            snprintf(n, sizeof(n), "%s-%.15s-disk-%d%s", prefix, vmid, i, exts[x]);
            used = memdb_lookup(fs->mem, vols, n) != NULL;
        }
        memdb_unlock(fs->mem);
        if (!used) {
            snprintf(out, len, "%s-%.15s-disk-%d", prefix, vmid, i);
            return i;
        }
    }
    snprintf(out, len, "%s-%.15s-disk-x", prefix, vmid);
    return 1000;
}

/* The directory of storage sid, and of its volumes in *vdir; 0 when there is none. */
static uint64_t storage_volumes(struct fs *fs, const char *sid, uint64_t *vdir)
{
    const struct memdb_entry *st, *sd, *vols;
    uint64_t sdir = 0;

    *vdir = 0;
    memdb_rdlock(fs->mem);
    st = memdb_lookup(fs->mem, MEMDB_ROOT, "storage");
    sd = st ? memdb_lookup(fs->mem, st->inode, sid) : NULL;
    vols = sd ? memdb_lookup(fs->mem, sd->inode, "volumes") : NULL;
    if (vols) {
        sdir = sd->inode;
        *vdir = vols->inode;
    }
    memdb_unlock(fs->mem);
    return sdir;
}

/* A disk line that asks for a new volume must name a storage that exists: no later line
 * can change that, so it is refused at the write that completes it. */
int guest_config_check(const struct pv_obj *o, const char *doc, size_t len, int partial,
                       struct pv_err *e)
{
    (void)partial;
    for (const char *p = doc, *end = doc + len; p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *c, *v;
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), sl;
        double gib;
        uint64_t vdir;
        char sid[64];
        c = memchr(p, ':', l);
        v = c ? c + 1 + (c + 1 < p + l && c[1] == ' ') : NULL;
        if (p[0] != '[' && c && guest_disk_key(o->type, p, (size_t)(c - p)) &&
            new_volume_request(v, l - (size_t)(v - p), &sl, &gib)) {
            snprintf(sid, sizeof(sid), "%.*s", (int)sl, v);
            if (!storage_volumes(o->fs, sid, &vdir))
                return pv_fail(e, ENOENT, "%.*s: no storage named %s", (int)(c - p), p, sid);
        }
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

int qemu_config_before(const struct pv_obj *o, char **doc, size_t *len, struct pv_err *e)
{
    struct pv_buf b = {0};
    int changed = 0, rc = 0;

    for (const char *p = *doc, *end = *doc + *len; p && p < end && !rc;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *c, *v;
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), sl;
        double gib;
        c = memchr(p, ':', l);
        v = c ? c + 1 + (c + 1 < p + l && c[1] == ' ') : NULL;
        if (p[0] != '[' && c && guest_disk_key(o->type, p, (size_t)(c - p)) &&
            new_volume_request(v, l - (size_t)(v - p), &sl, &gib)) {
            uint64_t sdir, vdir;
            char sid[64], name[64], cmd[160];
            const char *opts = v + strcspn(v, ",\n");
            snprintf(sid, sizeof(sid), "%.*s", (int)sl, v);
            if (!(sdir = storage_volumes(o->fs, sid, &vdir))) {
                rc = pv_fail(e, ENOENT, "%.*s: no storage named %s", (int)(c - p), p, sid);
                break;
            }
            /* a container's volume is a directory it runs from (subvol), a VM's an image */
            guest_free_vol_name(o->fs, vdir, o->type == T_LXC ? "subvol" : "vm", o->name, 0, name,
                                sizeof(name));
            int cn = snprintf(cmd, sizeof(cmd), "alloc %s %lluM", name,
                              (unsigned long long)(gib * 1024 + 0.5));
            if ((rc = fs_cmd(o->fs, sdir, "ctl", cmd, (size_t)cn, e)))
                break;
            pv_buf_printf(&b, "%.*s: %s:%s%.*s", (int)(c - p), p, sid, name, (int)(p + l - opts),
                          opts);
            /* the size, as Proxmox records it on the line */
            if (!memmem(opts, (size_t)(p + l - opts), "size=", 5))
                pv_buf_printf(&b, ",size=%lluM", (unsigned long long)(gib * 1024 + 0.5));
            pv_buf_printf(&b, "\n");
            changed = 1;
        } else {
            pv_buf_printf(&b, "%.*s\n", (int)l, p);
        }
        p = nl ? nl + 1 : NULL;
    }
    if (rc || !changed || b.oom) {
        pv_buf_free(&b);
        return rc ? rc : b.oom ? pv_fail(e, ENOMEM, "out of memory") : 0;
    }
    free(*doc);
    *doc = b.p;
    *len = b.len;
    return 0;
}

void qemu_config_after(const struct pv_obj *o)
{
    struct pv_err e = {0};

    /* the VM's node hot-plugs what it can; the rest shows in pending */
    if (fs_cmd(o->fs, o->dir, "ctl", "apply", 5, &e))
        clog_append("qemu", "vm %s: config stored, not applied: %s", o->name, e.msg);
}
