/* files: the render and apply callbacks that the type tables (types.c) point to. */
#ifndef PV_FILES_H
#define PV_FILES_H

#include "types.h"

struct conf_schema;

/* cluster/ */
int cluster_name_render(const struct pv_obj *o, struct pv_buf *out);
int cluster_quorate_render(const struct pv_obj *o, struct pv_buf *out);
int cluster_members_render(const struct pv_obj *o, struct pv_buf *out);
int cluster_errors_render(const struct pv_obj *o, struct pv_buf *out);
int cluster_metrics_render(const struct pv_obj *o, struct pv_buf *out);
int root_local_render(const struct pv_obj *o, struct pv_buf *out);

/* nodes/<node>/ */
int node_status_render(const struct pv_obj *o, struct pv_buf *out);
int node_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e);
/* Samples /proc/stat; called about once a second by the notifier. */
void node_sample_cpu(void);

/* Live figures of this host, from /proc. */
struct node_fig {
    double uptime, cpu, load[3];
    int cpus;
    unsigned long long memtotal, memused, memfree, swaptotal, swapused, roottotal, rootused;
    char kernel[128];
};
void node_figures(struct node_fig *f);

/* guests: nodes/<node>/{qemu,lxc}/<id>/ */
int guest_state_render(const struct pv_obj *o, struct pv_buf *out);
int guest_state_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e);
int guest_status_render(const struct pv_obj *o, struct pv_buf *out);
int guest_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e);
int qemu_config_initial(const struct pv_obj *o, struct pv_buf *out);
/* "scsi1: local:4" allocates a 4 GiB volume and names it; after a change the owner applies
 * what it can to the running VM (hot-plug) and shows the rest in pending. */
int qemu_config_before(const struct pv_obj *o, char **doc, size_t *len, struct pv_err *e);
void qemu_config_after(const struct pv_obj *o);
int lxc_config_before(const struct pv_obj *o, char **doc, size_t *len, struct pv_err *e);
int guest_config_check(const struct pv_obj *o, const char *doc, size_t len, int partial,
                       struct pv_err *e);
int lxc_config_check(const struct pv_obj *o, const char *doc, size_t len, int partial,
                     struct pv_err *e);
void lxc_event(void *arg, const char *ctid, const char *state, const char *why);
void guest_mirror_snaps(const struct pv_obj *o);

/* sdn/ (files_sdn.c, sdn_mon.c) */
int sdn_config_check(const struct pv_obj *o, const char *doc, size_t len, int partial,
                     struct pv_err *e);
int sdn_id_ok(const char *name, struct pv_err *e);
int sdn_subnet_ok(const char *name, struct pv_err *e);
int sdn_zone_destroy(const struct pv_obj *o, struct pv_err *e);
int sdn_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e);
int sdn_status_render(const struct pv_obj *o, struct pv_buf *out);
int sdn_vnet_status_render(const struct pv_obj *o, struct pv_buf *out);
/* The running text (malloc'd) and its generation; NULL if never applied. */
char *sdn_running(struct fs *fs, uint64_t *generation);
void sdn_mon_publish_lines(struct pv_buf *out);
int sdn_mon_start(struct fs *fs);
void sdn_mon_stop(void);
int lxc_snap_verb(const struct pv_obj *o, const char *verb, const char *name, struct pv_err *e);
/* Disk keys of a guest's config that name volumes: scsiN... for VMs, rootfs and mpN for
 * containers. */
int guest_disk_key(int type, const char *k, size_t n);
int guest_pending_render(const struct pv_obj *o, struct pv_buf *out);
int lxc_config_initial(const struct pv_obj *o, struct pv_buf *out);

/* Helpers of files_guest.c that files_clone.c shares. */
/* A malloc'd, NUL-terminated copy of the guest's stored config (*len: its size), or NULL. */
char *guest_config_copy(const struct pv_obj *o, size_t *len);
/* Value of key in the main section of the guest's stored config, or def. */
void guest_config_value(const struct pv_obj *o, const char *key, const char *def, char *val,
                        size_t len);
/* A random (version 4) UUID, as Proxmox writes them into smbios1 and vmgenid. */
void guest_uuid(char *buf, size_t len);
/* A random locally administered unicast MAC ("BA:xx:..."), for a NIC the config left
 * without one: chosen once, on the writer, so a guest keeps it across restarts and moves. */
void guest_random_mac(char *buf, size_t len);
/* The catalog directory of the volume a volid names ("local:vm-100-disk-0"), or 0. */
uint64_t volume_dir_of(struct fs *fs, const char *volid, size_t n);
/* The first vm-<vmid>-disk-<i>, i >= from, that catalog directory vols lacks; returns i. */
int guest_free_disk_name(struct fs *fs, uint64_t vols, const char *vmid, int from, char *out,
                         size_t len);

/* clone and template of a VM (files_clone.c): verbs of its ctl. */
/* clone <newid> [full]: a new VM newid on the same node with copies of the disks. */
int guest_free_vol_name(struct fs *fs, uint64_t vols, const char *prefix, const char *vmid,
                        int from, char *out, size_t len);
int guest_store_config(struct fs *fs, uint64_t dir, const struct conf_schema *schema,
                       const char *doc, size_t len, struct pv_err *e);
int guest_clone(const struct pv_obj *o, const char *newid, const char *mode, struct pv_err *e);
/* template: marks a stopped VM as a template ("template: 1"): it is cloned, never run. */
int guest_template(const struct pv_obj *o, struct pv_err *e);
/* 1 if the guest's config says "template: 1". */
int guest_is_template(const struct pv_obj *o);

/* storage/<id>/ and its volumes (files_storage.c, files_volume.c) */
int storage_id_ok(const char *name, struct pv_err *e);
int storage_config_initial(const struct pv_obj *o, struct pv_buf *out);
int storage_status_render(const struct pv_obj *o, struct pv_buf *out);
int storage_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e);
int storage_destroy(const struct pv_obj *o, struct pv_err *e);
int node_storage_status_render(const struct pv_obj *o, struct pv_buf *out);
int volume_name_ok(const char *name, struct pv_err *e);
int volume_create(struct fs *fs, uint64_t dir, const char *name, struct pv_err *e);
int volume_destroy(const struct pv_obj *o, struct pv_err *e);
int volume_size_render(const struct pv_obj *o, struct pv_buf *out);
int volume_size_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e);
int volume_format_render(const struct pv_obj *o, struct pv_buf *out);
int volume_used_by_render(const struct pv_obj *o, struct pv_buf *out);
int volume_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e);
int volsnap_name_ok(const char *name, struct pv_err *e);
int volsnap_create(struct fs *fs, uint64_t dir, const char *name, struct pv_err *e);
int volsnap_destroy(const struct pv_obj *o, struct pv_err *e);

/* ceph/ (files_ceph.c) */
int ceph_status_render(const struct pv_obj *o, struct pv_buf *out);
int ceph_config_initial(const struct pv_obj *o, struct pv_buf *out);
int ceph_pool_name_ok(const char *name, struct pv_err *e);
int ceph_pool_create_hook(struct fs *fs, uint64_t dir, const char *name, struct pv_err *e);
int ceph_pool_destroy(const struct pv_obj *o, struct pv_err *e);
int ceph_pool_status_render(const struct pv_obj *o, struct pv_buf *out);
int ceph_pool_value_render(const struct pv_obj *o, struct pv_buf *out);
int ceph_pool_value_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e);
int ceph_osd_status_render(const struct pv_obj *o, struct pv_buf *out);
int ceph_osd_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e);

/* ha/ (files_ha.c) */
int ha_sid_ok(const char *name, struct pv_err *e);
int ha_group_name_ok(const char *name, struct pv_err *e);
int ha_resource_create(struct fs *fs, uint64_t dir, const char *name, struct pv_err *e);
int ha_resource_initial(const struct pv_obj *o, struct pv_buf *out);
int ha_resource_check(const struct pv_obj *o, const char *doc, size_t len, int partial,
                      struct pv_err *e);
int ha_group_destroy(const struct pv_obj *o, struct pv_err *e);
int ha_status_file_render(const struct pv_obj *o, struct pv_buf *out);
int ha_resource_status_render(const struct pv_obj *o, struct pv_buf *out);
int ha_resource_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e);

/* nodes/<node>/network/<iface>/ (files_network.c; the monitor is net_mon.c, see network.h) */
int iface_name_ok(const char *name, struct pv_err *e);
int iface_create(struct fs *fs, uint64_t dir, const char *name, struct pv_err *e);
int iface_destroy(const struct pv_obj *o, struct pv_err *e);
int iface_config_check(const struct pv_obj *o, const char *doc, size_t len, int partial,
                       struct pv_err *e);
int iface_config_before(const struct pv_obj *o, char **doc, size_t *len, struct pv_err *e);
int iface_config_initial(const struct pv_obj *o, struct pv_buf *out);
int iface_counters_render(const struct pv_obj *o, struct pv_buf *out);
int iface_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e);

/* snapshots/<name>/ of a guest: mkdir takes one, rmdir deletes it (through the guest's ctl). */
int gsnap_create(struct fs *fs, uint64_t dir, const char *name, struct pv_err *e);
int gsnap_destroy(const struct pv_obj *o, struct pv_err *e);

/* A guest's state changed (driver event thread): log it, wake pollers. */
void guest_event(void *arg, const char *vmid, const char *state, const char *why);

/* Appends "guest.<kind>.<id>: <state> k=v..." lines of this node's guests (status channel). */
void guest_publish_lines(struct fs *fs, struct pv_buf *out);

/* 0 if the guest may be destroyed (it is stopped), else fills e (EBUSY). */
int guest_may_destroy(const struct pv_obj *o, struct pv_err *e);

/* Copies a one-line command into line (NUL-terminated). */
int pv_cmdline(const char *in, size_t len, char *line, size_t cap, struct pv_err *e);

/* Splits a command line into words in place (at most max). Returns the count. */
int pv_split(char *line, char **argv, int max);

#endif
