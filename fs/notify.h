/*
 * notify: the notifier thread. It wakes pollers whose file changed, refreshes
 * the kernel's caches after changes (never from inside a request handler, where
 * an invalidation of the same inode could deadlock), and samples CPU usage.
 */
#ifndef PV_NOTIFY_H
#define PV_NOTIFY_H

#include "fs.h"
#include "io.h"

int notify_start(struct fs *fs);
void notify_stop(struct fs *fs);
/* Frees the notifier: after the store is closed (its thread still reports changes). */
void notify_free(struct fs *fs);

/* Registers (or replaces) the poll handle of h. */
void notify_poll_add(struct fs *fs, struct io_handle *h, struct fuse_pollhandle *ph);
/* Drops h's registration; call before freeing h. */
void notify_poll_del(struct fs *fs, struct io_handle *h);

/* Store change callback (memdb_change_fn). */
void notify_changes(void *arg, const struct memdb_change *c, int n);

/* Makes the notifier re-check pollers now (a guest's state changed). */
void notify_kick(struct fs *fs);

/* Asks the kernel to drop cached attributes and data of ino. */
void notify_inval(struct fs *fs, uint64_t ino);
/* Same for every stored entry: mode bits follow quorum, which no single change reports. */
void notify_inval_all(struct fs *fs);

#endif
