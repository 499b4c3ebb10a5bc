/* types: the object-type tables that define the /pve tree; see types.h. */
#include "types.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "files.h"

/* One row per file kind; each names what a file of that kind needs. */
#define PV_STATUS(n, fn, fl)                                                                       \
    {                                                                                              \
        .name = (n), .mode = 0444, .kind = PK_STATUS, .flags = (fl), .render = (fn)                \
    }
#define PV_CTL(n, fn)                                                                              \
    {                                                                                              \
        .name = (n), .mode = 0200, .kind = PK_CTL, .apply = (fn)                                   \
    }
#define PV_STATE(n, rd, wr)                                                                        \
    {                                                                                              \
        .name = (n), .mode = 0644, .kind = PK_STATE, .flags = PF_VOLATILE, .render = (rd),         \
        .apply = (wr)                                                                              \
    }
#define PV_CONFIG(n, sch, init)                                                                    \
    {                                                                                              \
        .name = (n), .mode = 0644, .kind = PK_CONFIG, .schema = (sch), .initial = (init)           \
    }
#define PV_LOG(n)                                                                                  \
    {                                                                                              \
        .name = (n), .mode = 0444, .kind = PK_LOG                                                  \
    }
#define PV_LINK(n, fn)                                                                             \
    {                                                                                              \
        .name = (n), .mode = 0777, .kind = PK_LINK, .render = (fn)                                 \
    }
#define PV_END                                                                                     \
    {                                                                                              \
        .name = NULL                                                                               \
    }

static const struct pv_file NOFILES[] = {PV_END};
static const struct pv_sub NOSUBS[] = {{NULL, 0}};

static const struct pv_file root_files[] = {
    PV_LINK("local", root_local_render),
    PV_END,
};

static const struct pv_sub root_subs[] = {
    {"cluster", T_CLUSTER},
    {"nodes", T_NODES},
    {"vms", T_VMS},
    {"storage", T_STORAGE_LIST},
    {"ceph", T_CEPH},
    {"sdn", T_SDN},
    {"ha", T_HA},
    {"priv", T_PRIV},
    {NULL, 0},
};

static const struct pv_file cluster_files[] = {
    PV_STATUS("name", cluster_name_render, 0),
    PV_STATUS("quorate", cluster_quorate_render, PF_VOLATILE),
    PV_STATUS("members", cluster_members_render, PF_VOLATILE),
    PV_LOG("log"),
    PV_STATUS("errors", cluster_errors_render, PF_VOLATILE),
    PV_STATUS("metrics", cluster_metrics_render, PF_VOLATILE),
    PV_END,
};

static const struct pv_file node_files[] = {
    PV_STATUS("status", node_status_render, PF_VOLATILE),
    PV_CTL("ctl", node_ctl_apply),
    /* the node's HA LRM: its lease and its report (ha.h), written by pvefs only */
    {.name = "lrm_lock", .mode = 0444, .kind = PK_CONFIG, .flags = PF_RECORD},
    {.name = "lrm_status", .mode = 0444, .kind = PK_CONFIG, .flags = PF_RECORD},
    PV_END,
};

static const struct pv_sub node_subs[] = {
    {"qemu", T_QEMU_LIST},   {"lxc", T_LXC_LIST}, {"storage", T_NODE_STORAGE},
    {"network", T_NODE_NET}, {NULL, 0},
};

static const struct pv_file qemu_files[] = {
    {.name = "config",
     .mode = 0644,
     .kind = PK_CONFIG,
     .schema = &conf_qemu_schema,
     .initial = qemu_config_initial,
     .check = guest_config_check,
     .before_commit = qemu_config_before,
     .after_commit = qemu_config_after},
    PV_STATUS("pending", guest_pending_render, PF_VOLATILE),
    PV_STATE("state", guest_state_render, guest_state_apply),
    PV_CTL("ctl", guest_ctl_apply),
    PV_STATUS("status", guest_status_render, PF_VOLATILE),
    PV_END,
};

static const struct pv_file lxc_files[] = {
    {.name = "config",
     .mode = 0644,
     .kind = PK_CONFIG,
     .schema = &conf_lxc_schema,
     .initial = lxc_config_initial,
     .check = lxc_config_check,
     .before_commit = lxc_config_before},
    PV_STATE("state", guest_state_render, guest_state_apply),
    PV_CTL("ctl", guest_ctl_apply),
    PV_STATUS("status", guest_status_render, PF_VOLATILE),
    PV_END,
};

#define PV_RECORD(n)                                                                               \
    {                                                                                              \
        .name = (n), .mode = 0444, .kind = PK_CONFIG, .flags = PF_RECORD                           \
    }

static const struct pv_file storage_files[] = {
    PV_CONFIG("config", &conf_storage_schema, storage_config_initial),
    PV_STATUS("status", storage_status_render, PF_VOLATILE),
    PV_CTL("ctl", storage_ctl_apply),
    PV_END,
};

static const struct pv_file volume_files[] = {
    PV_RECORD("status"),
    PV_STATE("size", volume_size_render, volume_size_apply),
    PV_STATUS("format", volume_format_render, 0),
    PV_STATUS("used_by", volume_used_by_render, PF_VOLATILE),
    PV_CTL("ctl", volume_ctl_apply),
    PV_END,
};

static const struct pv_file node_storage_files[] = {
    PV_STATUS("status", node_storage_status_render, PF_VOLATILE),
    PV_END,
};

static const struct pv_file gsnap_files[] = {
    PV_RECORD("status"),
    PV_END,
};

static const struct pv_file iface_files[] = {
    PV_RECORD("status"),
    {.name = "config",
     .mode = 0644,
     .kind = PK_CONFIG,
     .schema = &conf_network_schema,
     .initial = iface_config_initial,
     .check = iface_config_check,
     .before_commit = iface_config_before},
    PV_STATUS("counters", iface_counters_render, PF_VOLATILE),
    PV_CTL("ctl", iface_ctl_apply),
    PV_END,
};

static const struct pv_file ceph_files[] = {
    PV_CONFIG("config", &conf_ceph_schema, ceph_config_initial),
    PV_STATUS("status", ceph_status_render, PF_VOLATILE),
    PV_END,
};

static const struct pv_file ceph_pool_files[] = {
    PV_STATUS("status", ceph_pool_status_render, PF_VOLATILE),
    PV_STATE("size", ceph_pool_value_render, ceph_pool_value_apply),
    PV_STATE("min_size", ceph_pool_value_render, ceph_pool_value_apply),
    PV_STATE("pg_num", ceph_pool_value_render, ceph_pool_value_apply),
    PV_END,
};

static const struct pv_file ceph_osd_files[] = {
    PV_STATUS("status", ceph_osd_status_render, PF_VOLATILE),
    PV_CTL("ctl", ceph_osd_ctl_apply),
    PV_END,
};

static const struct pv_sub guest_subs[] = {{"snapshots", T_SNAPS}, {NULL, 0}};
static const struct pv_sub storage_subs[] = {{"volumes", T_VOLUMES}, {NULL, 0}};
static const struct pv_sub volume_subs[] = {{"snapshots", T_VOL_SNAPS}, {NULL, 0}};
static const struct pv_sub ceph_subs[] = {
    {"pools", T_CEPH_POOLS}, {"osds", T_CEPH_OSDS}, {NULL, 0}};
static const struct pv_sub sdn_subs[] = {{"zones", T_ZONES}, {"vnets", T_VNETS}, {NULL, 0}};
static const struct pv_sub vnet_subs[] = {{"subnets", T_SUBNETS}, {NULL, 0}};

static const struct pv_file sdn_files[] = {
    PV_CTL("ctl", sdn_ctl_apply),
    PV_STATUS("status", sdn_status_render, PF_VOLATILE),
    PV_RECORD("running"),
    PV_END,
};

#define SDN_CONFIG(s)                                                                              \
    {                                                                                              \
        .name = "config", .mode = 0644, .kind = PK_CONFIG, .schema = (s),                          \
        .check = sdn_config_check                                                                  \
    }

static const struct pv_file zone_files[] = {SDN_CONFIG(&conf_zone_schema), PV_END};
static const struct pv_file vnet_files[] = {
    SDN_CONFIG(&conf_vnet_schema),
    PV_STATUS("status", sdn_vnet_status_render, PF_VOLATILE),
    PV_END,
};
static const struct pv_file subnet_files[] = {SDN_CONFIG(&conf_subnet_schema), PV_END};
static const struct pv_sub ha_subs[] = {
    {"groups", T_HA_GROUPS}, {"resources", T_HA_RESOURCES}, {NULL, 0}};

static const struct pv_file ha_files[] = {
    PV_STATUS("status", ha_status_file_render, PF_VOLATILE),
    PV_RECORD("manager_status"),
    PV_RECORD("manager_lock"),
    PV_END,
};

static const struct pv_file ha_group_files[] = {
    PV_CONFIG("config", &conf_ha_group_schema, NULL),
    PV_END,
};

static const struct pv_file ha_resource_files[] = {
    {.name = "config",
     .mode = 0644,
     .kind = PK_CONFIG,
     .schema = &conf_ha_resource_schema,
     .initial = ha_resource_initial,
     .check = ha_resource_check},
    PV_STATUS("status", ha_resource_status_render, PF_VOLATILE),
    PV_CTL("ctl", ha_resource_ctl_apply),
    PV_END,
};

#define LATER(what) "this build has no " what " yet; it lands with its own driver"

static const struct pv_type types[T_MAX] = {
    [T_ROOT] = {"root", 0755, root_files, root_subs},
    [T_CLUSTER] = {"cluster", 0755, cluster_files, NOSUBS},
    [T_NODES] = {"nodes", 0755, NOFILES, NOSUBS, .nomkdir = "nodes join through the cluster tools"},
    [T_NODE] = {"node", 0755, node_files, node_subs},
    [T_QEMU_LIST] = {"qemu", 0755, NOFILES, NOSUBS, T_QEMU, .flags = PT_MKDIR_ID},
    [T_QEMU] = {"qemu-guest", 0755, qemu_files, guest_subs, .uniq = U_GUEST_ID,
                .flags = PT_SCRATCH | PT_RMDIR | PT_GUEST},
    [T_LXC_LIST] = {"lxc", 0755, NOFILES, NOSUBS, T_LXC, .flags = PT_MKDIR_ID},
    [T_LXC] = {"lxc-guest", 0755, lxc_files, guest_subs, .uniq = U_GUEST_ID,
               .flags = PT_SCRATCH | PT_RMDIR | PT_GUEST},
    [T_SNAPS] = {"snapshots", 0755, NOFILES, NOSUBS, T_GSNAP, .name_ok = volsnap_name_ok,
                 .create = gsnap_create},
    [T_GSNAP] = {"guest-snapshot", 0755, gsnap_files, NOSUBS, .flags = PT_RMDIR,
                 .destroy = gsnap_destroy},
    [T_NODE_STORAGE] = {"node-storage", 0755, NOFILES, NOSUBS,
                        .nomkdir =
                            "a storage shows here when storage/<id>/config covers this node"},
    [T_NODE_STOR] = {"node-storage-item", 0755, node_storage_files, NOSUBS},
    [T_NODE_NET] = {"node-network", 0755, NOFILES, NOSUBS, T_NODE_IFACE, .name_ok = iface_name_ok,
                    .create = iface_create},
    [T_NODE_IFACE] = {"node-interface", 0755, iface_files, NOSUBS, .flags = PT_RMDIR | PT_MIRRORED,
                      .destroy = iface_destroy},
    [T_STORAGE_LIST] = {"storage", 0755, NOFILES, NOSUBS, T_STORAGE, .name_ok = storage_id_ok},
    [T_STORAGE] = {"storage-item", 0755, storage_files, storage_subs,
                   .flags = PT_SCRATCH | PT_RMDIR, .destroy = storage_destroy},
    [T_VOLUMES] = {"volumes", 0755, NOFILES, NOSUBS, T_VOLUME, .name_ok = volume_name_ok,
                   .create = volume_create},
    [T_VOLUME] = {"volume", 0755, volume_files, volume_subs, .flags = PT_RMDIR | PT_OWNED,
                  .destroy = volume_destroy},
    [T_VOL_SNAPS] = {"volume-snapshots", 0755, NOFILES, NOSUBS, T_VOL_SNAP,
                     .name_ok = volsnap_name_ok, .create = volsnap_create},
    [T_VOL_SNAP] = {"volume-snapshot", 0755, NOFILES, NOSUBS, .flags = PT_RMDIR,
                    .destroy = volsnap_destroy},
    [T_CEPH] = {"ceph", 0755, ceph_files, ceph_subs, .flags = PT_SCRATCH},
    [T_CEPH_POOLS] = {"ceph-pools", 0755, NOFILES, NOSUBS, T_CEPH_POOL,
                      .name_ok = ceph_pool_name_ok, .create = ceph_pool_create_hook},
    [T_CEPH_POOL] = {"ceph-pool", 0755, ceph_pool_files, NOSUBS, .flags = PT_RMDIR,
                     .destroy = ceph_pool_destroy},
    [T_CEPH_OSDS] = {"ceph-osds", 0755, NOFILES, NOSUBS,
                     .nomkdir = "OSDs are made with Ceph's own tools; they show here"},
    [T_CEPH_OSD] = {"ceph-osd", 0755, ceph_osd_files, NOSUBS},
    [T_SDN] = {"sdn", 0755, sdn_files, sdn_subs},
    [T_ZONES] = {"sdn-zones", 0755, NOFILES, NOSUBS, T_ZONE, .name_ok = sdn_id_ok},
    [T_ZONE] = {"sdn-zone", 0755, zone_files, NOSUBS, .flags = PT_SCRATCH | PT_RMDIR,
                .destroy = sdn_zone_destroy},
    [T_VNETS] = {"sdn-vnets", 0755, NOFILES, NOSUBS, T_VNET, .name_ok = sdn_id_ok},
    [T_VNET] = {"sdn-vnet", 0755, vnet_files, vnet_subs, .flags = PT_SCRATCH | PT_RMDIR},
    [T_SUBNETS] = {"sdn-subnets", 0755, NOFILES, NOSUBS, T_SUBNET, .name_ok = sdn_subnet_ok},
    [T_SUBNET] = {"sdn-subnet", 0755, subnet_files, NOSUBS, .flags = PT_SCRATCH | PT_RMDIR},
    [T_HA] = {"ha", 0755, ha_files, ha_subs},
    [T_HA_GROUPS] = {"ha-groups", 0755, NOFILES, NOSUBS, T_HA_GROUP, .name_ok = ha_group_name_ok},
    [T_HA_GROUP] = {"ha-group", 0755, ha_group_files, NOSUBS, .flags = PT_SCRATCH | PT_RMDIR,
                    .destroy = ha_group_destroy},
    [T_HA_RESOURCES] = {"ha-resources", 0755, NOFILES, NOSUBS, T_HA_RESOURCE, .name_ok = ha_sid_ok,
                        .create = ha_resource_create},
    [T_HA_RESOURCE] = {"ha-resource", 0755, ha_resource_files, NOSUBS,
                       .flags = PT_SCRATCH | PT_RMDIR},
    [T_PRIV] = {"priv", 0700, NOFILES, NOSUBS, T_PLAIN, .flags = PT_SCRATCH},
    [T_PLAIN] = {"plain", 0700, NOFILES, NOSUBS, T_PLAIN, .flags = PT_SCRATCH | PT_RMDIR},
    [T_VMS] = {"vms", 0755, NOFILES, NOSUBS, .flags = PT_VMS,
               .nomkdir = "vms/ lists the VMs; mkdir nodes/<node>/qemu/<vmid> creates one"},
};

const struct pv_type *pv_type(uint16_t id)
{
    static const struct pv_type unknown = {
        .name = "unknown", .mode = 0555, .files = NOFILES, .subs = NOSUBS};

    return id < T_MAX && types[id].name ? &types[id] : &unknown;
}

int pv_type_file(const struct pv_type *t, const char *name)
{
    for (int i = 0; t->files[i].name; i++)
        if (strcmp(t->files[i].name, name) == 0)
            return i;
    return -1;
}

uint32_t pv_type_uniq(uint16_t objtype)
{
    return pv_type(objtype)->uniq;
}

int pv_fail(struct pv_err *e, int err, const char *fmt, ...)
{
    va_list ap;

    e->err = err;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -err;
}

int pv_type_child_ok(const struct pv_type *t, const char *name, struct pv_err *e)
{
    char *end;
    unsigned long long id;

    if (t->name_ok)
        return t->name_ok(name, e);
    if (!(t->flags & PT_MKDIR_ID))
        return 0;
    /* Proxmox guest ids: 100 .. 999999999, decimal, no sign or leading zero. */
    id = strtoull(name, &end, 10);
    if (*end || name[0] < '1' || name[0] > '9' || id < 100 || id > 999999999)
        return pv_fail(e, EINVAL, "'%s' is not a valid guest id (100..999999999)", name);
    return 0;
}
