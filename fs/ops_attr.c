/*
 * ops_attr: lookup, getattr, setattr, readlink, readdir and statfs.
 *
 * readdir offsets are positions that stay valid without opendir (NFS resumes a
 * listing from a cookie): 1 ".", 2 "..", 3 + row for generated files, and
 * DIR_KIDS + inode for stored children and vms/ links (inodes only grow).
 */
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "../cluster/clog.h"
#include "io.h"

#define DIR_KIDS 100

static struct fs *get_fs(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

void fs_fill_entry(struct fs *fs, const struct fs_node *n, struct fuse_entry_param *e)
{
    memset(e, 0, sizeof(*e));
    e->ino = n->ino;
    e->generation = memdb_epoch(fs->mem);
    fs_stat(fs, n, &e->attr);
    e->attr_timeout = fs_attr_timeout(n);
    e->entry_timeout = fs_entry_timeout(fs, n);
}

double fs_entry_timeout(struct fs *fs, const struct fs_node *n)
{
    /* Other nodes change names behind the kernel's back, and names are never invalidated. */
    if (fs->cl || !n || (n->type && (n->type->flags & PT_MIRRORED)))
        return 0.0;
    /* A standalone node's names change only through the kernel (or a monitor, above). */
    return n->what == N_VMLINK ? 1.0 : 10.0;
}

/* Finds name in directory parent; returns its node id or 0. Lock held. */
static uint64_t child_ino(struct fs *fs, const struct fs_node *dir, const char *name)
{
    const struct memdb_entry *e;
    int row;

    if (dir->type->flags & PT_VMS) {
        e = memdb_uniq(fs->mem, U_GUEST_ID, name);
        return e && e->objtype == T_QEMU ? INO_VMLINK | e->inode : 0;
    }
    row = pv_type_file(dir->type, name);
    if (row >= 0 && dir->type->files[row].kind != PK_CONFIG)
        return fs_vfile_ino(dir->ino, row);
    e = memdb_lookup(fs->mem, dir->ino, name);
    return e ? e->inode : 0;
}

void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fs *fs = get_fs(req);
    struct fs_node dir, n;
    struct fuse_entry_param e;
    uint64_t ino = 0;

    memdb_rdlock(fs->mem);
    if (fs_resolve_locked(fs, parent, &dir)) {
        memdb_unlock(fs->mem);
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (dir.what != N_STORED || dir.kind != MEMDB_DIR) {
        /* NFS decodes a handle of any kind with LOOKUP(ino, "."). */
        memdb_unlock(fs->mem);
        if (strcmp(name, ".") == 0) {
            fs_fill_entry(fs, &dir, &e);
            fuse_reply_entry(req, &e);
        } else
            fuse_reply_err(req, ENOTDIR);
        return;
    }
    if (strcmp(name, ".") == 0)
        ino = dir.ino;
    else if (strcmp(name, "..") == 0)
        ino = dir.parent ? dir.parent : MEMDB_ROOT;
    else
        ino = child_ino(fs, &dir, name);
    if (!ino || fs_resolve_locked(fs, ino, &n)) {
        memdb_unlock(fs->mem);
        memset(&e, 0, sizeof(e));
        /* never cache a miss: drivers create names (volumes, snapshots, clones) behind
         * the kernel's back, from ctl writes and the storage monitor */
        e.entry_timeout = 0.0;
        fuse_reply_entry(req, &e);
        return;
    }
    memdb_unlock(fs->mem);
    fs_fill_entry(fs, &n, &e);
    fuse_reply_entry(req, &e);
}

void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct fs *fs = get_fs(req);
    struct fs_node n;
    struct stat st;

    if (fs_resolve(fs, ino, &n)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fs_stat(fs, &n, &st);
    /* An open handle reports the size of its own snapshot. */
    if (fi && fi->fh)
        io_handle_stat(fi, &st);
    fuse_reply_attr(req, &st, fs_attr_timeout(&n));
}

void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                   struct fuse_file_info *fi)
{
    struct fs *fs = get_fs(req);
    struct msg_batch b = {.nops = 1};
    struct msg_op *op = &b.ops[0];
    struct memdb_result res;
    struct pv_err e = {0};
    struct fs_node n;
    struct stat st;
    char path[1024];

    if (fs_resolve(fs, ino, &n)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if ((to_set & ~(FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) && fs_may_write(req, fs, &e))
        goto fail;
    if (to_set & FUSE_SET_ATTR_SIZE) {
        if (io_truncate(req, fs, &n, fi, (uint64_t)attr->st_size, &e))
            goto fail;
        fs_resolve(fs, ino, &n);
    }
    op->code = MSG_SETATTR;
    op->inode = n.ino;
    if (to_set & FUSE_SET_ATTR_MODE) {
        op->mask |= MSG_SET_MODE;
        op->mode = attr->st_mode & 07777;
    }
    if (to_set & FUSE_SET_ATTR_UID) {
        op->mask |= MSG_SET_UID;
        op->uid = attr->st_uid;
    }
    if (to_set & FUSE_SET_ATTR_GID) {
        op->mask |= MSG_SET_GID;
        op->gid = attr->st_gid;
    }
    if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        const struct timespec *t = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? &now : &attr->st_mtim;
        op->mask |= MSG_SET_MTIME;
        op->mtime = (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
    }
    /* Generated files take their attributes from their type; accepting keeps tools happy. */
    if (op->mask && n.what == N_STORED) {
        if (fs_commit(fs, &b, &res, &e))
            goto fail;
        fs_resolve(fs, ino, &n);
    }
    fs_stat(fs, &n, &st);
    if (fi && fi->fh)
        io_handle_stat(fi, &st);
    fuse_reply_attr(req, &st, fs_attr_timeout(&n));
    return;
fail:
    fs_path(fs, ino, path, sizeof(path));
    fs_reply_fail(req, fs, path, &e);
}

void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    struct fs *fs = get_fs(req);
    struct pv_buf b = {0};
    struct fs_node n;

    if (fs_resolve(fs, ino, &n)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (!(n.what == N_VMLINK || (n.what == N_VFILE && n.file->kind == PK_LINK)) ||
        fs_render(fs, &n, &b)) {
        pv_buf_free(&b);
        fuse_reply_err(req, EINVAL);
        return;
    }
    fuse_reply_readlink(req, b.p);
    pv_buf_free(&b);
}

struct dent {
    uint64_t ino;
    off_t off;
    char name[256];
};

static int by_ino(const void *a, const void *b)
{
    const struct memdb_entry *x = *(const struct memdb_entry *const *)a;
    const struct memdb_entry *y = *(const struct memdb_entry *const *)b;

    return x->inode < y->inode ? -1 : x->inode > y->inode;
}

/* Every VM in the tree, sorted by inode (lock held). */
static int vms_collect(struct fs *fs, uint64_t after, struct dent *out, int max)
{
    const struct memdb_entry *nodes = memdb_lookup(fs->mem, MEMDB_ROOT, "nodes");
    const struct memdb_entry **all = NULL;
    size_t n = 0, cap = 0;
    int got = 0;

    for (uint32_t i = 0; nodes && i < nodes->nkids; i++) {
        const struct memdb_entry *q = memdb_lookup(fs->mem, nodes->kids[i]->inode, "qemu");
        for (uint32_t j = 0; q && j < q->nkids; j++) {
            if (q->kids[j]->objtype != T_QEMU || q->kids[j]->inode <= after)
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                const struct memdb_entry **na = realloc(all, ncap * sizeof(*na));
                if (!na)
                    goto listed; /* list what fits */
                all = na;
                cap = ncap;
            }
            all[n++] = q->kids[j];
        }
    }
listed:
    if (all && n)
        qsort(all, n, sizeof(*all), by_ino);
    for (size_t i = 0; i < n && got < max; i++, got++) {
        out[got].ino = INO_VMLINK | all[i]->inode;
        out[got].off = DIR_KIDS + (off_t)all[i]->inode;
        snprintf(out[got].name, sizeof(out[got].name), "%s", all[i]->name);
    }
    free(all);
    return got;
}

/* Collects up to max entries of dir after offset off. */
static int dir_collect(struct fs *fs, const struct fs_node *dir, off_t off, struct dent *out,
                       int max)
{
    const struct memdb_entry *d;
    int got = 0;

    if (off < 1 && got < max)
        out[got++] = (struct dent){dir->ino, 1, "."};
    if (off < 2 && got < max)
        out[got++] = (struct dent){dir->parent ? dir->parent : MEMDB_ROOT, 2, ".."};
    for (int r = 0; dir->type->files[r].name && got < max; r++) {
        if (off >= 3 + r || dir->type->files[r].kind == PK_CONFIG)
            continue;
        out[got].ino = fs_vfile_ino(dir->ino, r);
        out[got].off = 3 + r;
        snprintf(out[got].name, sizeof(out[got].name), "%s", dir->type->files[r].name);
        got++;
    }
    if (got >= max)
        return got;
    if (dir->type->flags & PT_VMS)
        return got + vms_collect(fs, off > DIR_KIDS ? (uint64_t)(off - DIR_KIDS) : 0, out + got,
                                 max - got);
    d = memdb_get(fs->mem, dir->ino);
    for (uint32_t i = memdb_kid_after(d, off > DIR_KIDS ? (uint64_t)(off - DIR_KIDS) : 0);
         d && i < d->nkids && got < max; i++, got++) {
        out[got].ino = d->kids[i]->inode;
        out[got].off = DIR_KIDS + (off_t)d->kids[i]->inode;
        snprintf(out[got].name, sizeof(out[got].name), "%s", d->kids[i]->name);
    }
    return got;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
    struct fs *fs = get_fs(req);
    /* A dirent takes at least 24 bytes (plus 128 with attributes) and a name. */
    int max = (int)(size / (plus ? 152 : 32)) + 2, got;
    struct dent *ents = malloc((size_t)max * sizeof(*ents));
    char *buf = malloc(size);
    struct fs_node dir;
    size_t used = 0;

    if (!ents || !buf) {
        free(ents);
        free(buf);
        fuse_reply_err(req, ENOMEM);
        return;
    }
    memdb_rdlock(fs->mem);
    if (fs_resolve_locked(fs, ino, &dir) || dir.what != N_STORED || dir.kind != MEMDB_DIR) {
        memdb_unlock(fs->mem);
        free(ents);
        free(buf);
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    got = dir_collect(fs, &dir, off, ents, max);
    memdb_unlock(fs->mem);

    for (int i = 0; i < got; i++) {
        struct fuse_entry_param e;
        struct fs_node n;
        size_t need;

        if (fs_resolve(fs, ents[i].ino, &n))
            continue;
        fs_fill_entry(fs, &n, &e);
        if (i < 2 && ents[i].off <= 2)
            e.ino = 0; /* "." and "..": no lookup reference */
        if (plus)
            need =
                fuse_add_direntry_plus(req, buf + used, size - used, ents[i].name, &e, ents[i].off);
        else
            need =
                fuse_add_direntry(req, buf + used, size - used, ents[i].name, &e.attr, ents[i].off);
        if (need > size - used)
            break;
        used += need;
    }
    fuse_reply_buf(req, buf, used);
    free(ents);
    free(buf);
}

void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
    (void)fi;
    do_readdir(req, ino, size, off, 0);
}

void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    (void)fi;
    do_readdir(req, ino, size, off, 1);
}

void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct fs *fs = get_fs(req);
    struct statvfs sv, host;
    uint64_t count;

    (void)ino;
    memset(&sv, 0, sizeof(sv));
    memdb_rdlock(fs->mem);
    count = memdb_count(fs->mem);
    memdb_unlock(fs->mem);
    /* Space is the data directory's filesystem's: that is where the store lives. */
    if (statvfs(fs->datadir, &host) == 0) {
        sv.f_bsize = host.f_bsize;
        sv.f_frsize = host.f_frsize;
        sv.f_blocks = host.f_blocks;
        sv.f_bfree = host.f_bfree;
        sv.f_bavail = host.f_bavail;
    }
    sv.f_files = count + (1u << 20);
    sv.f_ffree = 1u << 20;
    sv.f_favail = sv.f_ffree;
    sv.f_namemax = MSG_MAX_NAME;
    fuse_reply_statfs(req, &sv);
}
