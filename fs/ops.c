/* ops: the FUSE low-level operations table and connection set-up. */
#include "fs.h"

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    (void)userdata;
    /* NFS re-export: file handles decoded through LOOKUP(ino, ".") and "..". */
    if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
        conn->want |= FUSE_CAP_EXPORT_SUPPORT;
    /* open(O_TRUNC) arrives whole, so a config handle knows to start empty. */
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    /* Write errors must reach write(2): never let the kernel cache writes. */
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
    if (conn->capable & FUSE_CAP_READDIRPLUS)
        conn->want |= FUSE_CAP_READDIRPLUS;
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    /* Node ids resolve without kernel references, so there is nothing to drop. */
    (void)ino;
    (void)nlookup;
    fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    (void)count;
    (void)forgets;
    fuse_reply_none(req);
}

/* No xattr handlers: the kernel then answers EOPNOTSUPP itself and stops asking. */
const struct fuse_lowlevel_ops fs_ops = {
    .init = op_init,
    .lookup = fs_op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = fs_op_getattr,
    .setattr = fs_op_setattr,
    .readlink = fs_op_readlink,
    .mkdir = fs_op_mkdir,
    .unlink = fs_op_unlink,
    .rmdir = fs_op_rmdir,
    .rename = fs_op_rename,
    .open = fs_op_open,
    .read = fs_op_read,
    .write = fs_op_write,
    .flush = fs_op_flush,
    .release = fs_op_release,
    .fsync = fs_op_fsync,
    .readdir = fs_op_readdir,
    .readdirplus = fs_op_readdirplus,
    .statfs = fs_op_statfs,
    .create = fs_op_create,
    .poll = fs_op_poll,
};
