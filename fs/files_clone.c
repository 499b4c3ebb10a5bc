/*
 * files_clone: the VM ctl verbs "clone <newid> [full]" and "template".
 *
 * A template is a stopped VM whose config says "template: 1": it never runs, it is
 * the source of clones. A clone is a new VM on the source's node: the source's main
 * config section (snapshot and pending sections dropped) with a new name, smbios1
 * uuid and vmgenid, and new volumes vm-<newid>-disk-<k> made by each source volume's
 * own ctl "clone" verb, so the copy runs on the node that owns the volume.
 *
 * Only stopped VMs are cloned: a running VM's disks change while they are copied, and
 * a copy of a disk in mid-write is no disk to boot. Proxmox renames a template's
 * disks to base-<vmid>-disk-<n>; pvefs keeps their names (guests name volumes, and a
 * rename would have to rewrite every config and snapshot that names them).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cluster/clog.h"
#include "../drivers/drv.h"
#include "conf.h"
#include "files.h"
#include "fs.h"
#include "guest.h"
#include "notify.h"

/* The rbd snapshot that linked clones of a template share (Proxmox's name). */
#define BASE_SNAP "__base__"

#define MAX_DISKS 64

#define SCHEMA(o) ((o)->type == T_LXC ? &conf_lxc_schema : &conf_qemu_schema)

/* How a storage type clones a volume (dir: qemu-img convert, every clone a full copy). */
static const struct clone_way {
    const char *type;
    int linked;     /* a clone of a template's volume may share its data (copy on write) */
    int needs_snap; /* the backend clones a snapshot only, never the live image */
} clone_ways[] = {{"rbd", 1, 1}, {"dir", 0, 0}};

/* What a clone does with a key of the source's main section. */
enum key_act { K_KEEP, K_DROP, K_NAME, K_SMBIOS, K_VMGENID, K_DISK, K_NET };

/*
 * Dropped: "template" (a clone runs), "parent" (the source's current snapshot; the
 * clone has none), "lock", and "unusedN" (detached volumes of the source: not the
 * clone's to keep). Name, smbios1 uuid and vmgenid are the clone's own.
 */
static const struct {
    const char *key;
    int numbered; /* the key is a prefix followed by a number ("scsi0") */
    enum key_act act;
} clone_keys[] = {
    {"scsi", 1, K_DISK},       {"virtio", 1, K_DISK},  {"sata", 1, K_DISK},
    {"ide", 1, K_DISK},        {"efidisk", 1, K_DISK}, {"tpmstate", 1, K_DISK},
    {"template", 0, K_DROP},   {"parent", 0, K_DROP},  {"lock", 0, K_DROP},
    {"unused", 1, K_DROP},     {"name", 0, K_NAME},    {"smbios1", 0, K_SMBIOS},
    {"vmgenid", 0, K_VMGENID}, {"rootfs", 0, K_DISK},  {"mp", 1, K_DISK},
    {"hostname", 0, K_NAME},   {"net", 1, K_NET},
};

static enum key_act key_act(const char *k, size_t n)
{
    for (size_t i = 0; i < sizeof(clone_keys) / sizeof(clone_keys[0]); i++) {
        size_t l = strlen(clone_keys[i].key);
        if (clone_keys[i].numbered ? n > l && memcmp(k, clone_keys[i].key, l) == 0 &&
                                         strspn(k + l, "0123456789") == n - l
                                   : n == l && memcmp(k, clone_keys[i].key, l) == 0)
            return clone_keys[i].act;
    }
    return K_KEEP;
}

/* One disk of the source that the clone gets a copy of. */
struct cdisk {
    uint64_t src;    /* the source volume's catalog directory */
    char sid[64];    /* its storage */
    char name[64];   /* the new volume's name */
    size_t line;     /* which line of the main section names it */
    const char *opt; /* the line's options after the volume (",size=16M"), in the source doc */
    size_t optlen;
    int made;
};

struct clonejob {
    const struct pv_obj *o;
    const char *newid;
    int linked; /* a template cloned without "full" */
    struct cdisk d[MAX_DISKS];
    int n;
};

/* The clone_way of the storage that holds volume dir vol (dir-like if the type is unknown). */
static const struct clone_way *way_of(struct fs *fs, uint64_t vol)
{
    uint64_t sdir = fs_parent(fs, fs_parent(fs, vol));
    const struct memdb_entry *c;
    char type[32] = "";

    memdb_rdlock(fs->mem);
    c = memdb_lookup(fs->mem, sdir, "config");
    if (c && c->data)
        conf_get((const char *)c->data, c->size, "type", type, sizeof(type));
    memdb_unlock(fs->mem);
    for (size_t i = 0; i < sizeof(clone_ways) / sizeof(clone_ways[0]); i++)
        if (strcmp(clone_ways[i].type, type) == 0)
            return &clone_ways[i];
    return &clone_ways[sizeof(clone_ways) / sizeof(clone_ways[0]) - 1];
}

static int vol_cmd(struct fs *fs, uint64_t vol, struct pv_err *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Runs a command on a volume's ctl, on the node that owns the volume. */
static int vol_cmd(struct fs *fs, uint64_t vol, struct pv_err *e, const char *fmt, ...)
{
    char cmd[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);

    if (n < 0 || (size_t)n >= sizeof(cmd))
        return pv_fail(e, ENAMETOOLONG, "volume command too long");
    return fs_cmd(fs, vol, "ctl", cmd, (size_t)n, e);
}

static const char *guest_state(const struct pv_obj *o, char *st, size_t len)
{
    struct drv_guest g = {.kind = guest_kind(o), .node = o->node, .id = o->name};

    if (drv_guest(g.kind)->state(&g, st, len))
        snprintf(st, len, "unknown");
    return st;
}

/* Validates doc (a whole config) and stores it as the config of guest directory dir. */
int guest_store_config(struct fs *fs, uint64_t dir, const struct conf_schema *schema,
                       const char *doc, size_t len, struct pv_err *e)
{
    struct msg_batch b = {.nops = 1};
    struct memdb_result res;
    char msg[CONF_ERRLEN], *canon = NULL;
    size_t clen = 0;
    uint64_t ino = fs_child(fs, dir, "config");
    int rc;

    if (!ino)
        return pv_fail(e, ENOENT, "the guest's config was removed meanwhile");
    if ((rc = conf_canonicalize(schema, doc, len, &canon, &clen, msg, sizeof(msg))))
        return pv_fail(e, -rc, "the new config is invalid: %s", msg);
    memset(&b.ops[0], 0, sizeof(b.ops[0]));
    b.ops[0].code = MSG_WRITE;
    b.ops[0].inode = ino;
    b.ops[0].data = (const uint8_t *)canon;
    b.ops[0].size = (uint32_t)clen;
    rc = fs_commit(fs, &b, &res, e);
    free(canon);
    if (!rc)
        notify_inval(fs, ino);
    return rc;
}

int guest_is_template(const struct pv_obj *o)
{
    char v[8];

    guest_config_value(o, "template", "0", v, sizeof(v));
    return strcmp(v, "1") == 0;
}

int guest_template(const struct pv_obj *o, struct pv_err *e)
{
    struct pv_buf b = {0};
    char st[32], *doc;
    size_t len = 0;
    int rc, in_main = 1;

    if (guest_is_template(o))
        return 0; /* already one: asking again changes nothing */
    if (strcmp(guest_state(o, st, sizeof(st)), "stopped") != 0)
        return pv_fail(e, EBUSY, "vm %s is %s; a template never runs: stop it first", o->name, st);
    if (!(doc = guest_config_copy(o, &len)))
        return pv_fail(e, ENOENT, "vm %s has no config", o->name);
    /* the main section gets "template: 1"; snapshot and pending sections stay as they are */
    for (const char *p = doc, *end = doc + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        if (in_main && p[0] == '[') {
            pv_buf_printf(&b, "template: 1\n");
            in_main = 0;
        }
        if (!in_main || strncmp(p, "template:", 9) != 0)
            pv_buf_add(&b, p, l);
        p += l;
    }
    if (in_main)
        pv_buf_printf(&b, "template: 1\n");
    free(doc);
    rc = b.oom ? pv_fail(e, ENOMEM, "out of memory")
               : guest_store_config(o->fs, o->dir, SCHEMA(o), b.p, b.len, e);
    pv_buf_free(&b);
    if (!rc)
        clog_append(guest_kind(o), "%s %s on %s is a template now", guest_kind(o), o->name,
                    o->fs->node);
    return rc;
}

/*
 * Finds the disks of the main section that name a volume (not a cdrom, "none" or a
 * path). Fills j->d; fails (ENOENT, EINVAL) on a disk the clone cannot copy.
 */
static int find_disks(struct clonejob *j, const char *doc, size_t len, struct pv_err *e)
{
    size_t line = 0;

    for (const char *p = doc, *end = doc + len; p < end && p[0] != '['; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), vl;
        const char *c = memchr(p, ':', l), *v, *le = p + l;
        struct cdisk *d;
        if (!c || p[0] == '#' || key_act(p, (size_t)(c - p)) != K_DISK) {
            p = le + 1;
            continue;
        }
        v = c + 1 + (c + 1 < le && c[1] == ' ');
        if (le - v > 5 && memcmp(v, "file=", 5) == 0)
            v += 5;
        vl = strcspn(v, ",\n");
        if (vl > (size_t)(le - v))
            vl = (size_t)(le - v);
        if (memmem(v + vl, (size_t)(le - v) - vl, "media=cdrom", 11) ||
            (vl == 4 && memcmp(v, "none", 4) == 0)) {
            p = le + 1;
            continue; /* an ISO or an empty drive is shared, not copied */
        }
        if (v[0] == '/' || !memchr(v, ':', vl))
            return pv_fail(e, EINVAL,
                           "%.*s: '%.*s' is no volume of a pvefs storage; cannot copy it",
                           (int)(c - p), p, (int)vl, v);
        if (j->n >= MAX_DISKS)
            return pv_fail(e, E2BIG, "vm %s has more than %d disks", j->o->name, MAX_DISKS);
        d = &j->d[j->n];
        memset(d, 0, sizeof(*d));
        if (!(d->src = volume_dir_of(j->o->fs, v, vl)))
            return pv_fail(e, ENOENT, "%.*s: no volume %.*s in the storage catalog", (int)(c - p),
                           p, (int)vl, v);
        snprintf(d->sid, sizeof(d->sid), "%.*s", (int)(strchr(v, ':') - v), v);
        d->line = line;
        d->opt = v + vl;
        d->optlen = (size_t)(le - d->opt);
        j->n++;
        p = le + 1;
    }
    return 0;
}

/* Creates snapshot BASE_SNAP of a template's volume once, protected, for its linked clones. */
static int base_snap(struct fs *fs, uint64_t vol, struct pv_err *e)
{
    struct pv_err ig = {0};
    int rc;

    if (fs_child(fs, fs_child(fs, vol, "snapshots"), BASE_SNAP))
        return 0;
    if ((rc = vol_cmd(fs, vol, e, "snapshot %s", BASE_SNAP)))
        return rc;
    if ((rc = vol_cmd(fs, vol, e, "protect %s", BASE_SNAP)))
        vol_cmd(fs, vol, &ig, "delsnapshot %s", BASE_SNAP);
    return rc;
}

/*
 * A full copy on a backend that clones snapshots only: clone a temporary snapshot,
 * flatten the clone so it owns all its data, then drop the snapshot.
 */
static int full_from_snap(struct fs *fs, const struct clonejob *j, const struct cdisk *d,
                          struct pv_err *e)
{
    struct pv_err ig = {0};
    char snap[64];
    uint64_t nv = 0;
    int rc;

    snprintf(snap, sizeof(snap), "pvefs-clone-%.15s", j->newid);
    if ((rc = vol_cmd(fs, d->src, e, "snapshot %s", snap)))
        return rc;
    rc = vol_cmd(fs, d->src, e, "clone %s %s", d->name, snap);
    if (!rc && !(nv = fs_child(fs, fs_parent(fs, d->src), d->name)))
        rc = pv_fail(e, EIO, "clone %s is missing from the catalog", d->name);
    if (!rc && (rc = vol_cmd(fs, nv, e, "flatten")))
        vol_cmd(fs, nv, &ig, "free");
    /* the backend may have protected the snapshot for the clone; it goes either way */
    vol_cmd(fs, d->src, &ig, "unprotect %s", snap);
    if (vol_cmd(fs, d->src, &ig, "delsnapshot %s", snap))
        clog_append("storage", "clone of vm %s: temporary snapshot %s of %s:%s stays: %s",
                    j->o->name, snap, d->sid, d->name, ig.msg);
    return rc;
}

static int clone_disk(struct clonejob *j, struct cdisk *d, int *next, struct pv_err *e)
{
    struct fs *fs = j->o->fs;
    const struct clone_way *w = way_of(fs, d->src);
    int rc;

    /* numbered across all the clone's disks, so two storages never hand out one name */
    *next = guest_free_vol_name(fs, fs_parent(fs, d->src), j->o->type == T_LXC ? "subvol" : "vm",
                                j->newid, *next, d->name, sizeof(d->name)) +
            1;
    if (w->linked && j->linked) {
        if ((rc = base_snap(fs, d->src, e)))
            return rc;
        rc = vol_cmd(fs, d->src, e, "clone %s %s", d->name, BASE_SNAP);
    } else if (w->needs_snap) {
        rc = full_from_snap(fs, j, d, e);
    } else {
        rc = vol_cmd(fs, d->src, e, "clone %s", d->name);
    }
    d->made = rc == 0;
    return rc;
}

/* The new main section: the source's, with new volumes, identity and name. */
static int clone_config(const struct clonejob *j, const char *doc, size_t len, struct pv_buf *b)
{
    char name[128] = "", u[40], smb[512] = "";
    size_t line = 0;
    int k = 0;

    if (j->o->type == T_LXC) {
        /* a container's hostname is its name on the network: the clone gets its own */
        pv_buf_printf(b, "hostname: ct%s\n", j->newid);
    } else {
        conf_get(doc, len, "name", name, sizeof(name));
        if (name[0])
            pv_buf_printf(b, "name: %.50s-clone\n", name);
        else
            pv_buf_printf(b, "name: clone-of-%s\n", j->o->name);
        /* smbios1 keeps the source's other fields; the uuid is the clone's own */
        guest_uuid(u, sizeof(u));
        pv_buf_printf(b, "smbios1: uuid=%s", u);
        conf_get(doc, len, "smbios1", smb, sizeof(smb));
        for (char *save = NULL, *f = strtok_r(smb, ",", &save); f; f = strtok_r(NULL, ",", &save))
            if (strncmp(f, "uuid=", 5) != 0)
                pv_buf_printf(b, ",%s", f);
        pv_buf_printf(b, "\n");
    }
    for (const char *p = doc, *end = doc + len; p < end && p[0] != '['; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *c = memchr(p, ':', l);
        enum key_act a = c && p[0] != '#' ? key_act(p, (size_t)(c - p)) : K_KEEP;
        if (k < j->n && j->d[k].line == line) {
            const struct cdisk *d = &j->d[k++];
            pv_buf_printf(b, "%.*s: %s:%s%.*s\n", (int)(c - p), p, d->sid, d->name, (int)d->optlen,
                          d->opt);
        } else if (a == K_NET && j->o->type == T_LXC) {
            /* a container's MAC is its own: the clone gets a new one */
            char mac[24];
            guest_random_mac(mac, sizeof(mac));
            pv_buf_printf(b, "%.*s: hwaddr=%s", (int)(c - p), p, mac);
            for (const char *f = c + 1, *le = p + l; f < le;) {
                const char *fe = memchr(f, ',', (size_t)(le - f));
                size_t fl = fe ? (size_t)(fe - f) : (size_t)(le - f);
                const char *w = f + (*f == ' ');
                if (strncmp(w, "hwaddr=", 7) != 0)
                    pv_buf_printf(b, ",%.*s", (int)(fl - (size_t)(w - f)), w);
                f += fl + 1;
            }
            pv_buf_printf(b, "\n");
        } else if (a == K_VMGENID) {
            guest_uuid(u, sizeof(u));
            pv_buf_printf(b, "vmgenid: %s\n", u);
        } else if (a == K_KEEP || a == K_DISK || a == K_NET) {
            pv_buf_printf(b, "%.*s\n", (int)l, p);
        }
        p += l + 1;
    }
    return b->oom ? -ENOMEM : 0;
}

/* Undoes a failed clone: frees the volumes made, removes the new VM's directory. */
static void undo(struct clonejob *j, uint64_t newdir)
{
    struct fs *fs = j->o->fs;
    struct pv_err ig = {0};

    for (int i = 0; i < j->n; i++) {
        uint64_t v = j->d[i].made ? fs_child(fs, fs_parent(fs, j->d[i].src), j->d[i].name) : 0;
        if (v && vol_cmd(fs, v, &ig, "free"))
            clog_append("qemu", "failed clone of vm %s: volume %s:%s stays: %s", j->o->name,
                        j->d[i].sid, j->d[i].name, ig.msg);
    }
    if (newdir && fs_catalog_remove(fs, newdir, &ig))
        clog_append("qemu", "failed clone of vm %s: vm %s stays: %s", j->o->name, j->newid, ig.msg);
}

int guest_clone(const struct pv_obj *o, const char *newid, const char *mode, struct pv_err *e)
{
    const struct memdb_entry *used;
    struct clonejob *j;
    struct pv_buf b = {0};
    char st[32], where[1024] = "", *doc;
    uint64_t newdir = 0;
    size_t len = 0;
    int rc, next = 0;

    if (mode && strcmp(mode, "full") != 0)
        return pv_fail(e, EINVAL, "clone takes <newid> [full], not '%.32s'", mode);
    if (pv_type_child_ok(pv_type(o->type == T_LXC ? T_LXC_LIST : T_QEMU_LIST), newid, e))
        return -e->err;
    memdb_rdlock(o->fs->mem);
    if ((used = memdb_uniq(o->fs->mem, U_GUEST_ID, newid))) {
        struct pv_obj u;
        fs_obj_locked(o->fs, used->inode, &u);
        snprintf(where, sizeof(where), "%s", u.path);
    }
    memdb_unlock(o->fs->mem);
    if (where[0])
        return pv_fail(e, EEXIST, "id %s is already used by %s", newid, where);
    if (strcmp(guest_state(o, st, sizeof(st)), "stopped") != 0)
        return pv_fail(e, EBUSY,
                       "vm %s is %s; only a stopped VM is cloned (its disks would change while "
                       "they are copied)",
                       o->name, st);
    if (!(doc = guest_config_copy(o, &len)))
        return pv_fail(e, ENOENT, "vm %s has no config", o->name);
    if (!(j = calloc(1, sizeof(*j)))) {
        free(doc);
        return pv_fail(e, ENOMEM, "out of memory");
    }
    j->o = o;
    j->newid = newid;
    j->linked = !mode && guest_is_template(o);
    /* the directory first: it claims the id, so a racing mkdir or clone gets EEXIST */
    if ((rc = find_disks(j, doc, len, e)) ||
        (rc = fs_catalog_create(o->fs, fs_parent(o->fs, o->dir), newid, o->type, NULL, &newdir, e)))
        goto out;
    for (int i = 0; i < j->n && !rc; i++)
        rc = clone_disk(j, &j->d[i], &next, e);
    if (!rc && clone_config(j, doc, len, &b))
        rc = pv_fail(e, ENOMEM, "out of memory");
    if (!rc)
        rc = guest_store_config(o->fs, newdir, SCHEMA(o), b.p, b.len, e);
    if (rc) {
        undo(j, newdir);
        goto out;
    }
    clog_append(guest_kind(o), "cloned %s %s to %s on %s (%d disk%s, %s)", guest_kind(o), o->name,
                newid, o->fs->node, j->n, j->n == 1 ? "" : "s",
                j->linked ? "linked where the storage can" : "full");
    notify_kick(o->fs);
out:
    pv_buf_free(&b);
    free(doc);
    free(j);
    return rc;
}
