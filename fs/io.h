/*
 * io: open file handles. A handle holds a snapshot rendered at open (generated
 * files), or the buffered content of a stored file: writes land in the buffer,
 * config lines are checked as each write completes them, and the whole document
 * is committed once, at flush, fsync or release; never per chunk.
 */
#ifndef PV_IO_H
#define PV_IO_H

#include <pthread.h>
#include <stdint.h>

#include "fs.h"

enum io_kind { H_STORED, H_GEN, H_LOG, H_CMD };

struct io_handle {
    pthread_mutex_t lock;
    enum io_kind kind;
    struct fs *fs;
    uint64_t ino, dir;
    const struct pv_file *file; /* the row; NULL for a scratch file */
    char *buf;                  /* protected by lock */
    size_t len, cap;
    size_t checked, checked_lines; /* config: bytes and lines already validated */
    int writable, dirty, served;
    int wrote;     /* data arrived since open: flush commits only then (bash flushes first) */
    int append;    /* O_APPEND: the kernel's offset may predate a canonical rewrite; use ours */
    int poisoned;  /* errno of a failed write: nothing will be committed */
    uint64_t hash; /* content hash of the snapshot, for poll */
    struct fuse_pollhandle *ph;    /* protected by the notifier's lock */
    struct io_handle *prev, *next; /* fs->handles, protected by fs->hlock */
};

void io_handle_stat(struct fuse_file_info *fi, struct stat *st);
int io_truncate(fuse_req_t req, struct fs *fs, const struct fs_node *n, struct fuse_file_info *fi,
                uint64_t size, struct pv_err *e);
/* Frees the handles the kernel never released (at unmount). */
void io_free_all(struct fs *fs);
/* Hash of what a fresh open of ino would read now (for pollers), or 0. */
uint64_t io_current_hash(struct fs *fs, uint64_t ino);

#endif
