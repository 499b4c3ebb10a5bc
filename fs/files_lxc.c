/*
 * files_lxc: what containers add to the guest files: a rootfs made from a template
 * when the config asks for one ("rootfs: local:8" with "ostemplate: local:vztmpl/x"),
 * and snapshots the Proxmox way: each volume of the container is snapshotted by its
 * storage, and the config keeps a "[name]" section with what the container was then.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cluster/clog.h"
#include "../drivers/drv.h"
#include "conf.h"
#include "files.h"
#include "fs.h"
#include "guest.h"
#include "notify.h"

#define MAX_VOLS 64

void lxc_event(void *arg, const char *ctid, const char *state, const char *why)
{
    struct fs *fs = arg;

    clog_append("lxc", "ct %s on %s is %s (%s)", ctid, fs->node, state, why);
    notify_kick(fs);
}

/* Line l (without its newline) of the main section, if its key is k. */
static int is_key(const char *p, size_t l, const char *k)
{
    size_t n = strlen(k);

    return l > n && memcmp(p, k, n) == 0 && p[n] == ':';
}

/* The value of a "key: value" line. */
static const char *value_of(const char *p, size_t l, size_t *vl)
{
    const char *c = memchr(p, ':', l);

    if (!c)
        return NULL;
    c++;
    if (c < p + l && *c == ' ')
        c++;
    *vl = (size_t)(p + l - c);
    return c;
}

/* 1 if the rootfs value asks for a new volume ("<storage>:<GiB>[,...]"). */
static int rootfs_alloc(const char *v, size_t vl)
{
    size_t fl = strcspn(v, ",\n"), c = strcspn(v, ":");

    return fl < vl + 1 && c < fl && strspn(v + c + 1, "0123456789.") == fl - c - 1;
}

/* An ostemplate is unpacked into a new rootfs: one named as an existing volume contradicts
 * it for good, a rootfs not written yet may still come. */
int lxc_config_check(const struct pv_obj *o, const char *doc, size_t len, int partial,
                     struct pv_err *e)
{
    char tmpl[8], root[512];
    int rl;

    if (guest_config_check(o, doc, len, partial, e))
        return -e->err;
    if (conf_get(doc, len, "ostemplate", tmpl, sizeof(tmpl)) < 0)
        return 0;
    rl = conf_get(doc, len, "rootfs", root, sizeof(root));
    if ((rl < 0 && partial) || (rl >= 0 && rootfs_alloc(root, (size_t)rl)))
        return 0;
    return pv_fail(e, EINVAL,
                   "ostemplate is unpacked into a new rootfs: give rootfs as <storage>:<GiB> "
                   "in the same write");
}

int lxc_config_before(const struct pv_obj *o, char **doc, size_t *len, struct pv_err *e)
{
    struct pv_buf b = {0};
    char tmpl[512] = "", vol[512] = "", cmd[700];
    int rc;
    uint64_t vdir;

    /* ostemplate is a create-time request, never part of the stored config */
    for (const char *p = *doc, *end = *doc + *len; p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *v;
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), vl;
        if (!l || p[0] != '[') {
            if (is_key(p, l, "ostemplate") && (v = value_of(p, l, &vl))) {
                snprintf(tmpl, sizeof(tmpl), "%.*s", (int)vl, v);
            } else if (l > 3 && !memcmp(p, "net", 3) && (v = value_of(p, l, &vl)) &&
                       !memmem(v, vl, "hwaddr=", 7)) {
                /* as Proxmox does: a NIC gets its MAC once, so restarts and moves keep it */
                char mac[24];
                guest_random_mac(mac, sizeof(mac));
                pv_buf_printf(&b, "%.*s,hwaddr=%s\n", (int)l, p, mac);
            } else {
                pv_buf_printf(&b, "%.*s\n", (int)l, p);
            }
        } else {
            pv_buf_add(&b, p, (size_t)(end - p));
            break;
        }
        p = nl ? nl + 1 : NULL;
    }
    if (b.oom)
        return pv_buf_free(&b), pv_fail(e, ENOMEM, "out of memory");
    free(*doc);
    *doc = b.p ? b.p : strdup("");
    *len = b.len;
    if ((rc = qemu_config_before(o, doc, len, e)) || !tmpl[0])
        return rc;
    conf_get(*doc, *len, "rootfs", vol, sizeof(vol));
    vol[strcspn(vol, ",")] = 0;
    if (!(vdir = volume_dir_of(o->fs, vol, strlen(vol))))
        return pv_fail(e, EIO, "the new rootfs %s is missing from the catalog", vol);
    int n = snprintf(cmd, sizeof(cmd), "extract %s", tmpl);
    if ((rc = fs_cmd(o->fs, vdir, "ctl", cmd, (size_t)n, e))) {
        struct pv_err ig = {0};
        fs_cmd(o->fs, vdir, "ctl", "free", 4, &ig);
    }
    return rc;
}

/* The volumes (storage:volume) a config section names in rootfs and mpN. */
struct vols {
    char v[MAX_VOLS][256];
    int n;
};

static void section_vols(const char *doc, size_t len, const char *section, struct vols *out)
{
    int in = section == NULL;
    size_t sl = section ? strlen(section) : 0;

    out->n = 0;
    for (const char *p = doc, *end = doc + len; p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *c, *v;
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), vl;
        if (l && p[0] == '[') {
            if (in)
                break;
            in = l == sl + 2 && memcmp(p + 1, section, sl) == 0;
        } else if (in && (c = memchr(p, ':', l)) && guest_disk_key(T_LXC, p, (size_t)(c - p)) &&
                   (v = value_of(p, l, &vl)) && out->n < MAX_VOLS) {
            size_t fl = strcspn(v, ",\n");
            if (fl > vl)
                fl = vl;
            if (v[0] != '/' && memchr(v, ':', fl)) /* a host path is bound, not snapshotted */
                snprintf(out->v[out->n++], sizeof(out->v[0]), "%.*s", (int)fl, v);
        }
        p = nl ? nl + 1 : NULL;
    }
}

static int vols_cmd(const struct pv_obj *o, const struct vols *vs, const char *verb,
                    const char *name, int *done, struct pv_err *e)
{
    char cmd[128];
    int n = snprintf(cmd, sizeof(cmd), "%s %s", verb, name), rc;

    for (*done = 0; *done < vs->n; (*done)++) {
        uint64_t d = volume_dir_of(o->fs, vs->v[*done], strlen(vs->v[*done]));
        if (!d)
            return pv_fail(e, ENOENT, "no volume %s in the storage catalog", vs->v[*done]);
        if ((rc = fs_cmd(o->fs, d, "ctl", cmd, (size_t)n, e)))
            return rc;
    }
    return 0;
}

/* Copies the lines of section (NULL: the main one) into b, except parent and snaptime. */
static void copy_section(const char *doc, size_t len, const char *section, struct pv_buf *b)
{
    int in = section == NULL;
    size_t sl = section ? strlen(section) : 0;

    for (const char *p = doc, *end = doc + len; p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l && p[0] == '[') {
            if (in)
                return;
            in = l == sl + 2 && memcmp(p + 1, section, sl) == 0;
        } else if (in && l && !is_key(p, l, "parent") && !is_key(p, l, "snaptime")) {
            pv_buf_printf(b, "%.*s\n", (int)l, p);
        }
        p = nl ? nl + 1 : NULL;
    }
}

/* Copies every snapshot section but drop; parents that named drop get drop's parent. */
static void copy_snapshots(const char *doc, size_t len, const char *drop, const char *dparent,
                           struct pv_buf *b)
{
    int keep = 0;

    for (const char *p = doc, *end = doc + len; p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *v;
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), vl;
        if (l && p[0] == '[')
            keep = !(drop && l == strlen(drop) + 2 && memcmp(p + 1, drop, l - 2) == 0);
        if (keep && drop && is_key(p, l, "parent") && (v = value_of(p, l, &vl)) &&
            vl == strlen(drop) && memcmp(v, drop, vl) == 0) {
            if (dparent[0])
                pv_buf_printf(b, "parent: %s\n", dparent);
        } else if (keep) {
            pv_buf_printf(b, "%.*s\n", (int)l, p);
        }
        p = nl ? nl + 1 : NULL;
    }
}

static int has_section(const char *doc, size_t len, const char *name)
{
    char h[80];
    int n = snprintf(h, sizeof(h), "\n[%s]\n", name);

    return memmem(doc, len, h, (size_t)n) != NULL ||
           (len >= (size_t)n - 1 && memcmp(doc, h + 1, (size_t)n - 1) == 0);
}

/* The parent key of section (NULL: main). */
static void section_parent(const char *doc, size_t len, const char *section, char *out, size_t olen)
{
    int in = section == NULL;
    size_t sl = section ? strlen(section) : 0;

    out[0] = 0;
    for (const char *p = doc, *end = doc + len; p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *v;
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), vl;
        if (l && p[0] == '[') {
            if (in)
                break;
            in = l == sl + 2 && memcmp(p + 1, section, sl) == 0;
        } else if (in && is_key(p, l, "parent") && (v = value_of(p, l, &vl))) {
            snprintf(out, olen, "%.*s", (int)vl, v);
        }
        p = nl ? nl + 1 : NULL;
    }
}

static int ct_state(const struct pv_obj *o, char *st, size_t len)
{
    struct drv_guest g;

    guest_of(o, &g);
    return drv_guest("lxc")->state(&g, st, len);
}

static int drv_verb(const struct pv_obj *o, const char *verb, struct pv_err *e)
{
    struct drv_guest g;
    int rc;

    guest_of(o, &g);
    if ((rc = drv_guest("lxc")->action(&g, verb, 0, NULL, e->msg, sizeof(e->msg))))
        e->err = -rc;
    return rc;
}

static int do_snapshot(const struct pv_obj *o, const char *doc, size_t len, const char *name,
                       struct pv_buf *b, struct pv_err *e)
{
    struct vols vs;
    char st[32], parent[64];
    int done = 0, rc, frozen = 0;

    if (has_section(doc, len, name))
        return pv_fail(e, EEXIST, "ct %s has a snapshot %s already", o->name, name);
    section_vols(doc, len, NULL, &vs);
    ct_state(o, st, sizeof(st));
    /* a running container holds still while its volumes are copied */
    if (strcmp(st, "running") == 0) {
        if ((rc = drv_verb(o, "suspend", e)))
            return rc;
        frozen = 1;
    }
    rc = vols_cmd(o, &vs, "snapshot", name, &done, e);
    if (frozen) {
        struct pv_err ig = {0};
        drv_verb(o, "resume", &ig);
    }
    if (rc) {
        struct pv_err ig = {0};
        struct vols part = vs;
        part.n = done;
        vols_cmd(o, &part, "delsnapshot", name, &done, &ig);
        return rc;
    }
    section_parent(doc, len, NULL, parent, sizeof(parent));
    copy_section(doc, len, NULL, b);
    pv_buf_printf(b, "parent: %s\n", name);
    copy_snapshots(doc, len, NULL, "", b);
    pv_buf_printf(b, "\n[%s]\n", name);
    copy_section(doc, len, NULL, b);
    if (parent[0])
        pv_buf_printf(b, "parent: %s\n", parent);
    pv_buf_printf(b, "snaptime: %lld\n", (long long)time(NULL));
    return 0;
}

static int do_rollback(const struct pv_obj *o, const char *doc, size_t len, const char *name,
                       struct pv_buf *b, struct pv_err *e)
{
    struct vols vs;
    char st[32];
    int done = 0, rc;

    if (!has_section(doc, len, name))
        return pv_fail(e, ENOENT, "ct %s has no snapshot %s", o->name, name);
    ct_state(o, st, sizeof(st));
    if (strcmp(st, "stopped") != 0)
        return pv_fail(e, EBUSY, "ct %s is %s; stop it before a rollback", o->name, st);
    section_vols(doc, len, name, &vs);
    if ((rc = vols_cmd(o, &vs, "rollback", name, &done, e)))
        return rc;
    copy_section(doc, len, name, b);
    pv_buf_printf(b, "parent: %s\n", name);
    copy_snapshots(doc, len, NULL, "", b);
    return 0;
}

static int do_delete(const struct pv_obj *o, const char *doc, size_t len, const char *name,
                     struct pv_buf *b, struct pv_err *e)
{
    struct vols vs;
    char parent[64], cur[64];
    int done = 0, rc;

    if (!has_section(doc, len, name))
        return pv_fail(e, ENOENT, "ct %s has no snapshot %s", o->name, name);
    section_vols(doc, len, name, &vs);
    if ((rc = vols_cmd(o, &vs, "delsnapshot", name, &done, e)))
        return rc;
    section_parent(doc, len, name, parent, sizeof(parent));
    section_parent(doc, len, NULL, cur, sizeof(cur));
    copy_section(doc, len, NULL, b);
    if (strcmp(cur, name) == 0 ? parent[0] != 0 : cur[0] != 0)
        pv_buf_printf(b, "parent: %s\n", strcmp(cur, name) == 0 ? parent : cur);
    copy_snapshots(doc, len, name, parent, b);
    return 0;
}

static const struct {
    const char *verb;
    int (*run)(const struct pv_obj *o, const char *doc, size_t len, const char *name,
               struct pv_buf *b, struct pv_err *e);
} snap_verbs[] = {
    {"snapshot", do_snapshot},
    {"rollback", do_rollback},
    {"delsnapshot", do_delete},
};

int lxc_snap_verb(const struct pv_obj *o, const char *verb, const char *name, struct pv_err *e)
{
    struct pv_buf b = {0};
    size_t len = 0;
    char *doc;
    int rc;
    size_t i;

    for (i = 0; i < sizeof(snap_verbs) / sizeof(snap_verbs[0]); i++)
        if (strcmp(snap_verbs[i].verb, verb) == 0)
            break;
    if (i == sizeof(snap_verbs) / sizeof(snap_verbs[0]))
        return pv_fail(e, EINVAL, "unknown snapshot verb %s", verb);
    if (!(doc = guest_config_copy(o, &len)))
        return pv_fail(e, ENOENT, "ct %s has no config", o->name);
    if (!(rc = snap_verbs[i].run(o, doc, len, name, &b, e)))
        rc = b.oom ? pv_fail(e, ENOMEM, "out of memory")
                   : guest_store_config(o->fs, o->dir, &conf_lxc_schema, b.p, b.len, e);
    if (!rc) {
        clog_append("lxc", "%s %s of ct %s on %s: done", verb, name, o->name, o->fs->node);
        guest_mirror_snaps(o);
    }
    pv_buf_free(&b);
    free(doc);
    notify_kick(o->fs);
    return rc;
}
