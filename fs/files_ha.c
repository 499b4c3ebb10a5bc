/*
 * files_ha: ha/ in the tree. mkdir ha/resources/<sid> puts a guest under HA
 * (rmdir takes it out); ha/groups/<group>/ holds a group's config; ha/status
 * and ha/resources/<sid>/status render what the manager last stored.
 *
 * What needs the tree is checked here, at mkdir and at commit: that a sid names
 * an existing guest of its kind, and that a resource's group exists. Syntax is
 * the schemas' (conf_ha.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cluster/clog.h"
#include "conf.h"
#include "files.h"
#include "fs.h"
#include "ha.h"

int ha_sid_ok(const char *name, struct pv_err *e)
{
    struct ha_resource r;
    const char *id = name + 3;

    if (ha_resource_init(&r, name, "-") || id[0] < '1' || id[0] > '9' || strlen(id) < 3)
        return pv_fail(e, EINVAL,
                       "'%s' is not an HA service id: vm:<vmid> for a VM, ct:<ctid> for a "
                       "container (ids 100..999999999)",
                       name);
    return 0;
}

int ha_group_name_ok(const char *name, struct pv_err *e)
{
    size_t n = strlen(name);

    if (!n || n >= HA_NAME_LEN ||
        !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')) ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != n)
        return pv_fail(e, EINVAL,
                       "'%s' is not a group name: a letter, then letters, digits, '-', '_' or "
                       "'.', at most %d",
                       name, HA_NAME_LEN - 1);
    return 0;
}

int ha_resource_create(struct fs *fs, uint64_t dir, const char *name, struct pv_err *e)
{
    const struct memdb_entry *g;
    char node[64];
    uint16_t kind = 0;

    if (ha_guest_dir(fs, name, node, sizeof(node)))
        return fs_catalog_create(fs, dir, name, T_HA_RESOURCE, NULL, NULL, e);
    memdb_rdlock(fs->mem);
    g = memdb_uniq(fs->mem, U_GUEST_ID, name + 3);
    if (g)
        kind = g->objtype;
    memdb_unlock(fs->mem);
    if (kind)
        return pv_fail(e, EINVAL, "%s names no VM: %s is a %s (use %s:%s)", name, name + 3,
                       kind == T_LXC ? "container" : "VM", kind == T_LXC ? "ct" : "vm", name + 3);
    return pv_fail(e, EINVAL, "%s names no existing %s", name, name[0] == 'v' ? "VM" : "container");
}

int ha_resource_initial(const struct pv_obj *o, struct pv_buf *out)
{
    (void)o;
    return pv_buf_printf(out, "state: started\n");
}

/* The group a resource names must exist when the config is stored. */
int ha_resource_check(const struct pv_obj *o, const char *doc, size_t len, int partial,
                      struct pv_err *e)
{
    struct ha_config *cfg;
    char group[HA_NAME_LEN];
    int found = 0;

    (void)partial;
    if (conf_get(doc, len, "group", group, sizeof(group)) < 0)
        return 0;
    cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return pv_fail(e, ENOMEM, "out of memory reading the HA groups");
    if (ha_config_load(o->fs, cfg) == 0)
        found = ha_config_group(cfg, group) != NULL;
    free(cfg);
    if (!found)
        return pv_fail(e, EINVAL, "group '%s' does not exist (mkdir ha/groups/%s first)", group,
                       group);
    return 0;
}

/* A group in use stays: its resources would fall into error. */
int ha_group_destroy(const struct pv_obj *o, struct pv_err *e)
{
    struct ha_config *cfg = calloc(1, sizeof(*cfg));
    const char *user = NULL;

    if (!cfg)
        return pv_fail(e, ENOMEM, "out of memory reading the HA resources");
    if (ha_config_load(o->fs, cfg) == 0)
        for (size_t i = 0; i < cfg->nres && !user; i++)
            if (!strcmp(cfg->res[i].group, o->name))
                user = cfg->res[i].sid;
    if (user) {
        pv_fail(e, EBUSY, "group %s is used by %s", o->name, user);
        free(cfg);
        return -EBUSY;
    }
    free(cfg);
    return fs_catalog_remove(o->fs, o->dir, e);
}

/* The stored manager status, parsed; 0 with an empty status before the first round. */
static int load_status(struct fs *fs, struct ha_status *st)
{
    char *text = malloc(HA_STATUS_MAX), err[160];
    int len, rc = 0;

    memset(st, 0, sizeof(*st));
    if (!text)
        return -ENOMEM;
    len = ha_file_read(fs, ha_dir(fs), HA_MANAGER_STATUS, text, HA_STATUS_MAX, NULL);
    if (len > 0 && ha_status_parse(st, text, err, sizeof(err)))
        rc = -EBADMSG;
    free(text);
    return rc;
}

int ha_status_file_render(const struct pv_obj *o, struct pv_buf *out)
{
    struct ha_status *st = calloc(1, sizeof(*st));
    char *text = malloc(HA_STATUS_MAX);
    int rc = -ENOMEM;

    if (st && text) {
        rc = load_status(o->fs, st);
        if (rc == 0) {
            size_t n = ha_status_render(st, text, HA_STATUS_MAX);
            rc = pv_buf_add(out, text, n < HA_STATUS_MAX ? n : HA_STATUS_MAX - 1);
        } else if (rc == -EBADMSG) {
            rc = pv_buf_printf(out, "master: -\nerror: the stored manager status is damaged\n");
        }
    }
    free(st);
    free(text);
    return rc;
}

int ha_resource_status_render(const struct pv_obj *o, struct pv_buf *out)
{
    struct ha_status *st = calloc(1, sizeof(*st));
    const struct ha_svc_status *s = NULL;
    char node[64] = "-";
    int rc;

    if (!st)
        return -ENOMEM;
    rc = load_status(o->fs, st);
    for (size_t i = 0; rc == 0 && i < st->nsvc && !s; i++)
        if (!strcmp(st->svc[i].sid, o->name))
            s = &st->svc[i];
    ha_guest_dir(o->fs, o->name, node, sizeof(node));
    pv_buf_printf(out, "sid: %s\nguest-node: %s\n", o->name, node);
    if (s)
        rc = pv_buf_printf(out,
                           "state: %s\nnode: %s\ntarget: %s\nrestarts: %d\nrelocates: %d\n"
                           "failed: %s\nmaster: %s\n",
                           ha_svc_state_name(s->state), s->node, s->target[0] ? s->target : "-",
                           s->restarts, s->relocates, s->failed[0] ? s->failed : "-",
                           st->master[0] ? st->master : "-");
    else
        rc = pv_buf_printf(out, "state: queued\n"); /* the manager has not taken it yet */
    free(st);
    return rc;
}

/* migrate|relocate <node>: a request the manager takes at its next round (ha/requests). */
int ha_resource_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e)
{
    char line[256], *argv[4];
    int argc, known;

    if (pv_cmdline(in, len, line, sizeof(line), e))
        return -e->err;
    argc = pv_split(line, argv, 4);
    if (argc != 2 || (strcmp(argv[0], "migrate") != 0 && strcmp(argv[0], "relocate") != 0))
        return pv_fail(e, EINVAL, "commands: migrate <node> | relocate <node>");
    known = ha_node_dir(o->fs, argv[1]) != 0;
    if (!known)
        return pv_fail(e, EINVAL, "no node named '%.64s'", argv[1]);
    if (ha_request_add(o->fs, o->name, argv[0], argv[1], e))
        return -e->err;
    clog_append("ha", "%s of %s to %s requested", argv[0], o->name, argv[1]);
    return 0;
}
