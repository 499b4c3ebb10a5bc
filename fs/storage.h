/*
 * storage: what the storage files (files_storage.c, files_volume.c, files_ceph.c)
 * and the storage monitor (stor_mon.c) share.
 */
#ifndef PV_STORAGE_H
#define PV_STORAGE_H

#include "../drivers/ceph.h"
#include "../drivers/qemu.h"
#include "../drivers/stor.h"
#include "fs.h"

/* A storage definition as the catalog holds it. */
struct storage_def {
    struct stor_cfg cfg;
    uint64_t dir;     /* storage/<id> */
    uint64_t volumes; /* storage/<id>/volumes */
    int shared, disable;
    char nodes[512]; /* "" = every node */
    char content[128];
};

/* Loads storage/<id> (dir: its inode). Fills e (ENOENT, EINVAL) on failure. */
int storage_load(struct fs *fs, uint64_t dir, struct storage_def *d, struct pv_err *e);
/* 1 if storage d is meant to be active on node. */
int storage_on_node(const struct storage_def *d, const char *node);
/* How this node reaches the cluster's own Ceph (ceph/config, else the defaults). */
void storage_ceph_target(struct fs *fs, struct ceph_target *t);

/* Refuses (EACCES, EHOSTUNREACH) a storage that this node must not use. */
int storage_usable_here(struct fs *fs, const struct storage_def *d, struct pv_err *e);
/* Records volume v in the catalog: a new entry (vol_dir 0) or a new record for vol_dir. */
int storage_record_volume(struct fs *fs, const struct storage_def *d, const struct stor_vol *v,
                          uint64_t vol_dir, struct pv_err *e);

/* Resolves a disk's volid ("local:vm-100-disk-0", "local:100/vm-100-disk-0.qcow2", a path)
 * for the QEMU driver (a qemu_resolve_fn; arg is the struct fs). */
int storage_resolve(void *arg, const char *volid, struct qemu_disk *out, char *err, size_t errlen);

/* The guests whose configs name volume (or, with vol NULL, any volume of) storage sid. */
int storage_users(struct fs *fs, const char *sid, const struct stor_vol *vol, struct pv_buf *out);

/*
 * Volume copies between nodes (vol_xfer.c). vol_send_start serves directory path once
 * and fills where with "<addr> <port> <token>" for the target's import-volume;
 * vol_send_end waits for the sender (or stops it waiting) and gives its result.
 */
struct vol_send;
int vol_send_start(struct fs *fs, const char *path, struct vol_send **out, char *where, size_t wlen,
                   struct pv_err *e);
int vol_send_end(struct vol_send *s, struct pv_err *e);
/* Node ctl: import-volume <storage>:<volume> <addr> <port> <token>. */
int vol_xfer_import(const struct pv_obj *o, const char *rest, struct pv_err *e);

/* Node-local figures of a storage, kept by the monitor; never touches the backend. */
struct stor_fig {
    int known, active;
    struct stor_usage u;
    char err[256];
};

/* Starts/stops the monitor thread (collects figures, keeps nodes/<self>/storage and
 * ceph/pools, ceph/osds in step with the backends). */
int stor_mon_start(struct fs *fs);
void stor_mon_stop(struct fs *fs);
/* Re-reads Ceph's status, pools and OSDs now (after a change made through pvefs). */
void stor_mon_ceph_refresh(struct fs *fs);
/* Held around a change to Ceph and its catalog entry, so mirroring cannot interleave. */
void stor_mon_ceph_lock(void);
void stor_mon_ceph_unlock(void);
/* Asks the monitor to run a cycle soon (after a change). */
void stor_mon_kick(void);
/* This node's last figures of storage id. */
void stor_mon_fig(const char *id, struct stor_fig *f);
/* Figures of storage id on node (this node: the monitor; others: the status channel). */
void stor_fig_of(struct fs *fs, const char *node, const char *id, struct stor_fig *f);
/* Appends "storage.<id>: active total used avail" lines for the status channel. */
void stor_mon_publish_lines(struct pv_buf *out);
/* The last ceph status text (or why there is none); 0 if Ceph answered. */
int stor_mon_ceph_status(struct pv_buf *out);
/* The last figures of pool name / OSD id; -ENOENT if unknown. */
int stor_mon_pool(const char *name, struct ceph_pool *p);
int stor_mon_osd(int id, struct ceph_osd *o);

#endif
