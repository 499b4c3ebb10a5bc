/*
 * conf_ha: key tables for ha/resources/<sid>/config and ha/groups/<group>/config,
 * the fields of one section of Proxmox's ha/resources.cfg and ha/groups.cfg,
 * written "key: value". Checks here need no tree (syntax, ranges, the node
 * list); that a group exists is checked at commit (files_ha.c).
 */
#include "conf_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../cluster/ha_sm.h"
#include "conf.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const ha_states[] = {"started", "stopped", "disabled", "ignored", NULL};

/* Group names as ha-manager takes them: a letter, then letters, digits, '-', '_' or '.'. */
static int pat_group(const char *v, size_t n)
{
    return n > 0 && n < HA_NAME_LEN &&
           ((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z')) &&
           conf_in_set(v, n, "-_.");
}

static int pat_nodes(const char *v, size_t n)
{
    struct ha_group g;
    char spec[HA_MAX_NODES * (HA_NAME_LEN + 8)], err[128];

    if (!n || n >= sizeof(spec))
        return 0;
    memcpy(spec, v, n);
    spec[n] = 0;
    return ha_group_set_nodes(&g, spec, err, sizeof(err)) == 0;
}

static const struct conf_type t_state = CONF_ENUM(ha_states);
static const struct conf_type t_group = CONF_PAT(pat_group, "a group name");
static const struct conf_type t_count = CONF_INT(0, 10);
static const struct conf_type t_nodes =
    CONF_PAT(pat_nodes, "a node list like n1:2,n2,n3:1 (name[:priority], no repeats)");

/* Keys sorted bytewise, as canonical documents are. */
static const struct conf_key resource_keys[] = {
    {"comment", -1, &conf_t_str, 0},  {"group", -1, &t_group, 0}, {"max_relocate", -1, &t_count, 0},
    {"max_restart", -1, &t_count, 0}, {"state", -1, &t_state, 0},
};

const struct conf_schema conf_ha_resource_schema = {
    .keys = resource_keys,
    .nkeys = N(resource_keys),
    .flat = "an HA config",
};

static const struct conf_key group_keys[] = {
    {"comment", -1, &conf_t_str, 0},
    {"nodes", -1, &t_nodes, 0},
    {"nofailback", -1, &conf_t_bool, 0},
    {"restricted", -1, &conf_t_bool, 0},
};

static int group_check(const char *doc, size_t len, int partial, char *err, size_t errlen)
{
    char val[8];

    if (!partial && conf_get(doc, len, "nodes", val, sizeof(val)) < 0)
        return snprintf(err, errlen, "a group needs 'nodes:' (e.g. nodes: n1:2,n2)"), -EINVAL;
    return 0;
}

const struct conf_schema conf_ha_group_schema = {
    .keys = group_keys,
    .nkeys = N(group_keys),
    .flat = "an HA config",
    .doc_check = group_check,
};
