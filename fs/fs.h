/*
 * fs: the FUSE front's shared state and the mapping from FUSE inodes to the tree.
 *
 * FUSE node ids are stable identities that can be resolved at any time, without
 * any per-lookup memory (so FORGET is a no-op and NFS file handles survive a cache
 * drop or a daemon restart):
 *   - a stored entry's id is its store inode (never reused);
 *   - a generated file's id is INO_VFILE | dir << 8 | row, its directory's inode
 *     and its row in the directory type's file table;
 *   - a vms/<vmid> symlink's id is INO_VMLINK | the VM directory's inode.
 * The generation is the store's random epoch, so handles from another store fail.
 */
#ifndef PV_FS_H
#define PV_FS_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../cluster/memdb.h"
#include "../cluster/store.h"
#include "types.h"

#define INO_VFILE  (1ull << 63)
#define INO_VMLINK (1ull << 62)
#define INO_MASK   ((1ull << 54) - 1)

struct notify;
struct io_handle;
struct cl_glue;

struct fs {
    struct store *st;
    struct memdb *mem;
    const char *node;
    uint64_t node_dir; /* inode of nodes/<this node> */
    struct fuse_session *se;
    struct notify *nt;
    int64_t start_ns;
    const char *datadir;
    struct cl_glue *cl;        /* cluster mode: quorum, status channel, forwarding; else NULL */
    pthread_mutex_t hlock;     /* guards handles */
    struct io_handle *handles; /* every open handle, freed at unmount if the kernel did not */
};

enum fs_what { N_STORED, N_VFILE, N_VMLINK };

/* What an inode is, copied out of the tree so it can be used without the lock. */
struct fs_node {
    uint64_t ino;
    enum fs_what what;
    uint64_t dir;               /* N_VFILE: the directory; N_VMLINK: the VM directory */
    const struct pv_type *type; /* the object type of ino's directory (or of ino if a dir) */
    const struct pv_file *file; /* N_VFILE row, or the row of a typed stored file */
    int row;
    /* N_STORED */
    uint64_t parent, version;
    uint16_t kind, objtype;
    uint32_t mode, uid, gid, size;
    int64_t mtime;
    char name[256];
};

static inline uint64_t fs_vfile_ino(uint64_t dir, int row)
{
    return INO_VFILE | dir << 8 | (uint64_t)row;
}

/* Resolves ino. Returns 0 or -ENOENT. Takes the read lock itself. */
int fs_resolve(struct fs *fs, uint64_t ino, struct fs_node *n);
/* Same, for a caller that already holds the read lock. */
int fs_resolve_locked(struct fs *fs, uint64_t ino, struct fs_node *n);

/* The directory that holds stored entry ino, or 0. */
uint64_t fs_parent(struct fs *fs, uint64_t ino);
/* Stored entry name in directory dir (0: none), or 0. */
uint64_t fs_child(struct fs *fs, uint64_t dir, const char *name);

/* The path of ino under the mount ("/nodes/n1/qemu/100/config"). */
void fs_path(struct fs *fs, uint64_t ino, char *buf, size_t len);
/* The path of name inside directory dir. */
void fs_child_path(struct fs *fs, uint64_t dir, const char *name, char *buf, size_t len);

/* Fills the object context of directory dir (lock held by caller). */
void fs_obj_locked(struct fs *fs, uint64_t dir, struct pv_obj *o);
void fs_obj(struct fs *fs, uint64_t dir, struct pv_obj *o);

/* Attributes of a resolved node; renders generated files to get their size. */
void fs_stat(struct fs *fs, const struct fs_node *n, struct stat *st);
/* The entry reply (attributes, timeouts, generation) for n. */
void fs_fill_entry(struct fs *fs, const struct fs_node *n, struct fuse_entry_param *e);
/* Seconds the kernel may cache the name of n (n NULL: a miss). */
double fs_entry_timeout(struct fs *fs, const struct fs_node *n);
/* Seconds attributes of n may be cached by the kernel. */
double fs_attr_timeout(const struct fs_node *n);

/* Renders a generated file into out. */
int fs_render(struct fs *fs, const struct fs_node *n, struct pv_buf *out);

/* Records a refused change in cluster/errors, replies to req and returns. */
void fs_reply_fail(fuse_req_t req, struct fs *fs, const char *path, const struct pv_err *e);

/* Commits a batch and turns the result into a pv_err. */
int fs_commit(struct fs *fs, struct msg_batch *b, struct memdb_result *res, struct pv_err *e);

/*
 * Runs command cmd on file of directory dir: on this node, or forwarded to the
 * node that owns the object. Returns 0 or -errno with e filled.
 */
int fs_cmd(struct fs *fs, uint64_t dir, const char *file, const char *cmd, size_t n,
           struct pv_err *e);
/* The same, waiting up to timeout_ms for a forwarded command (a volume copy). */
int fs_cmd_wait(struct fs *fs, uint64_t dir, const char *file, const char *cmd, size_t n,
                int timeout_ms, struct pv_err *e);

/*
 * Catalog changes made by drivers after the backend acted (ops_dir.c): creates
 * object name of type tid in dir, its stored files (a PF_RECORD file gets
 * record), and its fixed subdirectories, in one batch. *ino gets the new inode.
 */
int fs_catalog_create(struct fs *fs, uint64_t dir, const char *name, uint16_t tid,
                      const char *record, uint64_t *ino, struct pv_err *e);
/* Replaces the PF_RECORD file of object dir. */
int fs_catalog_record(struct fs *fs, uint64_t dir, const char *record, struct pv_err *e);
/* Removes object dir and everything under it. */
int fs_catalog_remove(struct fs *fs, uint64_t dir, struct pv_err *e);

/* 0 if the caller may change the tree, else fills e (EACCES, EROFS). */
int fs_may_write(fuse_req_t req, struct fs *fs, struct pv_err *e);

/* Creates the fixed skeleton (top directories, this node) where it is missing. */
int fs_skeleton(struct fs *fs, char *err, size_t errlen);

/*
 * Cluster mode (fs/cluster.c): tracks quorum and membership, publishes this node's
 * status on the status channel, and forwards commands to their owner node.
 */
int fs_cluster_start(struct fs *fs, char *err, size_t errlen);
/* Call after the notifier is stopped: fs_cluster_tick runs on its thread. */
void fs_cluster_stop(struct fs *fs);
/* Publishes this node's status when it changed or is a second old (notifier thread). */
void fs_cluster_tick(struct fs *fs);
/* The status channel and the quorum tracker (cluster/kvs.h, cluster/quorum.h); NULL if local. */
struct kvs *fs_cluster_kvs(struct fs *fs);
struct qrm *fs_cluster_qrm(struct fs *fs);

extern const struct fuse_lowlevel_ops fs_ops;

/* Per-op groups, wired together in fs_ops (ops.c). */
void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                   struct fuse_file_info *fi);
void fs_op_readlink(fuse_req_t req, fuse_ino_t ino);
void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                   struct fuse_file_info *fi);
void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi);
void fs_op_statfs(fuse_req_t req, fuse_ino_t ino);
void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                  const char *newname, unsigned int flags);
void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                  struct fuse_file_info *fi);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                 struct fuse_file_info *fi);
void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void fs_op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
                struct fuse_pollhandle *ph);

#endif
