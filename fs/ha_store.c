/*
 * ha_store: reading HA state out of the tree: stored files by directory, the
 * HA config (resources and groups) as ha_sm wants it, where a guest lives, and
 * the timeouts from the daemon's environment. Writes are ha_env_real.c's.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ha.h"

int ha_file_read(struct fs *fs, uint64_t dir, const char *name, char *buf, size_t len,
                 uint64_t *version)
{
    const struct memdb_entry *f;
    int rc = -ENOENT;

    if (len)
        buf[0] = 0;
    memdb_rdlock(fs->mem);
    f = dir ? memdb_lookup(fs->mem, dir, name) : NULL;
    if (f && f->kind == MEMDB_FILE && len) {
        size_t n = f->size < len - 1 ? f->size : len - 1;
        if (n)
            memcpy(buf, f->data, n);
        buf[n] = 0;
        rc = (int)n;
        if (version)
            *version = f->version;
    }
    memdb_unlock(fs->mem);
    return rc;
}

uint64_t ha_dir(struct fs *fs)
{
    return fs_child(fs, MEMDB_ROOT, "ha");
}

uint64_t ha_node_dir(struct fs *fs, const char *node)
{
    return fs_child(fs, fs_child(fs, MEMDB_ROOT, "nodes"), node);
}

uint64_t ha_guest_dir(struct fs *fs, const char *sid, char *node, size_t len)
{
    const struct memdb_entry *g, *list, *n;
    uint16_t want = !strncmp(sid, "ct:", 3) ? T_LXC : T_QEMU;
    uint64_t ino = 0;

    memdb_rdlock(fs->mem);
    g = strlen(sid) > 3 ? memdb_uniq(fs->mem, U_GUEST_ID, sid + 3) : NULL;
    list = g && g->objtype == want ? memdb_get(fs->mem, g->parent) : NULL;
    n = list ? memdb_get(fs->mem, list->parent) : NULL;
    if (n) {
        ino = g->inode;
        if (node)
            snprintf(node, len, "%s", n->name);
    }
    memdb_unlock(fs->mem);
    return ino;
}

static void conf_str(const struct memdb_entry *c, const char *key, char *val, size_t len)
{
    val[0] = 0;
    if (c && c->data)
        conf_get((const char *)c->data, c->size, key, val, len);
}

static int conf_bool(const struct memdb_entry *c, const char *key)
{
    char v[8];

    conf_str(c, key, v, sizeof(v));
    return v[0] == '1' || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "true");
}

static void load_groups(struct fs *fs, const struct memdb_entry *list, struct ha_config *cfg)
{
    for (uint32_t i = 0; list && i < list->nkids && cfg->ngroups < HA_MAX_GROUPS; i++) {
        const struct memdb_entry *c = memdb_lookup(fs->mem, list->kids[i]->inode, "config");
        struct ha_group *g = &cfg->groups[cfg->ngroups];
        char spec[HA_MAX_NODES * (HA_NAME_LEN + 8)], err[128];

        memset(g, 0, sizeof(*g));
        snprintf(g->name, sizeof(g->name), "%s", list->kids[i]->name);
        conf_str(c, "nodes", spec, sizeof(spec));
        /* a group whose node list does not parse (none yet) prefers no node */
        if (spec[0] && ha_group_set_nodes(g, spec, err, sizeof(err)))
            g->n = 0;
        g->restricted = conf_bool(c, "restricted");
        g->nofailback = conf_bool(c, "nofailback");
        cfg->ngroups++;
    }
}

static void load_resources(struct fs *fs, const struct memdb_entry *list, struct ha_config *cfg)
{
    for (uint32_t i = 0; list && i < list->nkids && cfg->nres < HA_MAX_SERVICES; i++) {
        const struct memdb_entry *d = list->kids[i];
        const struct memdb_entry *c = memdb_lookup(fs->mem, d->inode, "config");
        const struct memdb_entry *g, *gl, *gn;
        struct ha_resource *r = &cfg->res[cfg->nres];
        char v[32];

        /* where the guest lives now; a sid whose guest is gone is left out */
        g = strlen(d->name) > 3 ? memdb_uniq(fs->mem, U_GUEST_ID, d->name + 3) : NULL;
        gl = g ? memdb_get(fs->mem, g->parent) : NULL;
        gn = gl ? memdb_get(fs->mem, gl->parent) : NULL;
        if (!gn || ha_resource_init(r, d->name, gn->name))
            continue;
        conf_str(c, "group", r->group, sizeof(r->group));
        conf_str(c, "state", v, sizeof(v));
        if (v[0])
            ha_req_parse(v, &r->req);
        conf_str(c, "max_restart", v, sizeof(v));
        if (v[0])
            r->max_restart = atoi(v);
        conf_str(c, "max_relocate", v, sizeof(v));
        if (v[0])
            r->max_relocate = atoi(v);
        cfg->nres++;
    }
}

int ha_config_load(struct fs *fs, struct ha_config *cfg)
{
    const struct memdb_entry *ha;

    memset(cfg, 0, sizeof(*cfg));
    memdb_rdlock(fs->mem);
    ha = memdb_lookup(fs->mem, MEMDB_ROOT, "ha");
    if (ha) {
        load_groups(fs, memdb_lookup(fs->mem, ha->inode, "groups"), cfg);
        load_resources(fs, memdb_lookup(fs->mem, ha->inode, "resources"), cfg);
    }
    memdb_unlock(fs->mem);
    return ha ? 0 : -ENOENT;
}

static int env_ms(const char *name, uint64_t *ms, char *err, size_t errlen)
{
    const char *v = getenv(name);
    char *end;
    double s;

    if (!v || !*v)
        return 0;
    s = strtod(v, &end);
    if (*end || !isfinite(s) || s <= 0 || s > 86400) {
        snprintf(err, errlen, "%s=%s: want seconds, e.g. 10 or 0.5", name, v);
        return -EINVAL;
    }
    *ms = (uint64_t)(s * 1000 + 0.5);
    return 0;
}

int ha_timeouts_env(struct ha_timeouts *to, char *err, size_t errlen)
{
    *to = (struct ha_timeouts)HA_TIMEOUTS_DEFAULT;
    if (env_ms("PVEFS_HA_ROUND", &to->round_ms, err, errlen) ||
        env_ms("PVEFS_HA_LEASE", &to->lease_ms, err, errlen) ||
        env_ms("PVEFS_HA_FENCE", &to->self_fence_ms, err, errlen) ||
        env_ms("PVEFS_HA_MARGIN", &to->fence_margin_ms, err, errlen))
        return -EINVAL;
    return ha_timeouts_check(to, err, errlen);
}
