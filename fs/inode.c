/* inode: resolving FUSE node ids to the tree, paths, attributes; see fs.h. */
#include "fs.h"
#include "conf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../cluster/clog.h"

static int nfiles(const struct pv_type *t)
{
    int n = 0;

    while (t->files[n].name)
        n++;
    return n;
}

static void copy_stored(struct fs_node *n, const struct memdb_entry *e)
{
    n->what = N_STORED;
    n->parent = e->parent;
    n->version = e->version;
    n->kind = e->kind;
    n->objtype = e->objtype;
    n->mode = e->mode;
    n->uid = e->uid;
    n->gid = e->gid;
    n->size = e->size;
    n->mtime = e->mtime;
    snprintf(n->name, sizeof(n->name), "%s", e->name);
}

int fs_resolve_locked(struct fs *fs, uint64_t ino, struct fs_node *n)
{
    const struct memdb_entry *e, *p;

    memset(n, 0, sizeof(*n));
    n->ino = ino;
    n->row = -1;
    if (ino & INO_VFILE) {
        uint64_t dir = (ino & ~INO_VFILE) >> 8;
        int row = (int)(ino & 0xff);
        e = memdb_get(fs->mem, dir);
        if (!e || e->kind != MEMDB_DIR)
            return -ENOENT;
        n->type = pv_type(e->objtype);
        if (row >= nfiles(n->type) || n->type->files[row].kind == PK_CONFIG)
            return -ENOENT;
        copy_stored(n, e);
        n->what = N_VFILE;
        n->dir = dir;
        n->row = row;
        n->file = &n->type->files[row];
        return 0;
    }
    if (ino & INO_VMLINK) {
        e = memdb_get(fs->mem, ino & INO_MASK);
        if (!e || e->objtype != T_QEMU)
            return -ENOENT;
        copy_stored(n, e);
        n->what = N_VMLINK;
        n->dir = e->inode;
        n->type = pv_type(T_VMS);
        return 0;
    }
    if (!(e = memdb_get(fs->mem, ino)))
        return -ENOENT;
    copy_stored(n, e);
    if (e->kind == MEMDB_DIR) {
        n->type = pv_type(e->objtype);
        n->dir = e->inode;
    } else {
        p = memdb_get(fs->mem, e->parent);
        n->type = pv_type(p ? p->objtype : T_NONE);
        n->dir = e->parent;
        n->row = pv_type_file(n->type, e->name);
        if (n->row >= 0 && n->type->files[n->row].kind == PK_CONFIG)
            n->file = &n->type->files[n->row];
        else
            n->row = -1;
    }
    return 0;
}

int fs_resolve(struct fs *fs, uint64_t ino, struct fs_node *n)
{
    int rc;

    memdb_rdlock(fs->mem);
    rc = fs_resolve_locked(fs, ino, n);
    memdb_unlock(fs->mem);
    return rc;
}

static void path_locked(struct fs *fs, uint64_t dir, char *buf, size_t len)
{
    const char *parts[64];
    int n = 0;
    size_t off = 0;

    for (const struct memdb_entry *e = memdb_get(fs->mem, dir);
         e && e->inode != MEMDB_ROOT && n < 64; e = memdb_get(fs->mem, e->parent))
        parts[n++] = e->name;
    buf[0] = 0;
    while (n-- > 0 && off < len)
        off += (size_t)snprintf(buf + off, len - off, "/%s", parts[n]);
    if (!buf[0])
        snprintf(buf, len, "/");
}

void fs_child_path(struct fs *fs, uint64_t dir, const char *name, char *buf, size_t len)
{
    size_t off;

    memdb_rdlock(fs->mem);
    path_locked(fs, dir, buf, len);
    memdb_unlock(fs->mem);
    off = strlen(buf);
    if (off == 1)
        off = 0;
    snprintf(buf + off, len - off, "/%s", name);
}

void fs_path(struct fs *fs, uint64_t ino, char *buf, size_t len)
{
    struct fs_node n;

    if (fs_resolve(fs, ino, &n)) {
        snprintf(buf, len, "(inode %llu)", (unsigned long long)ino);
        return;
    }
    if (n.what == N_VFILE)
        fs_child_path(fs, n.dir, n.file->name, buf, len);
    else if (n.what == N_VMLINK)
        snprintf(buf, len, "/vms/%s", n.name);
    else {
        memdb_rdlock(fs->mem);
        path_locked(fs, ino, buf, len);
        memdb_unlock(fs->mem);
    }
}

void fs_obj_locked(struct fs *fs, uint64_t dir, struct pv_obj *o)
{
    const struct memdb_entry *e = memdb_get(fs->mem, dir);

    memset(o, 0, sizeof(*o));
    o->fs = fs;
    o->dir = dir;
    if (!e)
        return;
    o->type = e->objtype;
    snprintf(o->name, sizeof(o->name), "%s", e->name);
    path_locked(fs, dir, o->path, sizeof(o->path));
    for (; e; e = e->parent ? memdb_get(fs->mem, e->parent) : NULL) {
        if (pv_type(e->objtype)->flags & PT_OWNED) {
            const struct memdb_entry *r = memdb_lookup(fs->mem, e->inode, "status");
            if (r && r->data)
                conf_get((const char *)r->data, r->size, "node", o->node, sizeof(o->node));
            break;
        }
        if (e->objtype == T_NODE) {
            snprintf(o->node, sizeof(o->node), "%s", e->name);
            break;
        }
    }
}

void fs_obj(struct fs *fs, uint64_t dir, struct pv_obj *o)
{
    memdb_rdlock(fs->mem);
    fs_obj_locked(fs, dir, o);
    memdb_unlock(fs->mem);
}

int fs_render(struct fs *fs, const struct fs_node *n, struct pv_buf *out)
{
    struct pv_obj o;
    int rc;

    if (n->what == N_VMLINK) {
        memdb_rdlock(fs->mem);
        fs_obj_locked(fs, n->dir, &o);
        memdb_unlock(fs->mem);
        return pv_buf_printf(out, "..%s", o.path);
    }
    if (n->what != N_VFILE || !n->file->render)
        return -EINVAL;
    fs_obj(fs, n->dir, &o);
    o.file = n->file->name;
    rc = n->file->render(&o, out);
    return rc ? rc : out->oom ? -ENOMEM : 0;
}

static void set_time(struct timespec *ts, int64_t ns)
{
    ts->tv_sec = (time_t)(ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
}

void fs_stat(struct fs *fs, const struct fs_node *n, struct stat *st)
{
    int64_t t = n->mtime;
    struct pv_buf b = {0};

    memset(st, 0, sizeof(*st));
    st->st_ino = n->ino;
    st->st_nlink = 1;
    st->st_blksize = 4096;
    st->st_uid = n->uid;
    st->st_gid = n->gid;
    switch (n->what) {
    case N_STORED:
        if (n->kind == MEMDB_DIR) {
            st->st_mode = S_IFDIR | (n->mode & 07777);
            st->st_nlink = 2;
            st->st_size = 4096;
        } else {
            st->st_mode = S_IFREG | (n->mode & 07777);
            st->st_size = n->size;
        }
        break;
    case N_VMLINK:
        st->st_mode = S_IFLNK | 0777;
        st->st_uid = st->st_gid = 0;
        if (fs_render(fs, n, &b) == 0)
            st->st_size = (off_t)b.len;
        break;
    case N_VFILE:
        st->st_mode = (n->file->kind == PK_LINK ? S_IFLNK : S_IFREG) | n->file->mode;
        st->st_uid = st->st_gid = 0;
        if (n->file->kind == PK_LOG)
            st->st_size = (off_t)clog_size(&t);
        else if (n->file->kind != PK_CTL && fs_render(fs, n, &b) == 0)
            st->st_size = (off_t)b.len;
        if (n->file->flags & PF_VOLATILE) {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            t = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
        }
        break;
    }
    pv_buf_free(&b);
    /* Without quorum nothing is writable; tools read the mode bits of local/ to tell. */
    if (!store_quorate(fs->st) && !S_ISLNK(st->st_mode))
        st->st_mode &= ~(mode_t)0222;
    st->st_blocks = (st->st_size + 511) / 512;
    set_time(&st->st_mtim, t);
    set_time(&st->st_ctim, t);
    set_time(&st->st_atim, t);
}

double fs_attr_timeout(const struct fs_node *n)
{
    if (n->what == N_VFILE && n->file->kind != PK_CTL && n->file->kind != PK_LINK)
        return 0.0; /* generated sizes change with their content */
    /* Stored entries change only through the kernel or with an explicit invalidation. */
    return n->what == N_STORED ? 10.0 : 1.0;
}

void fs_reply_fail(fuse_req_t req, struct fs *fs, const char *path, const struct pv_err *e)
{
    (void)fs;
    clog_error(path, e->err, e->msg);
    fuse_reply_err(req, e->err);
}

int fs_commit(struct fs *fs, struct msg_batch *b, struct memdb_result *res, struct pv_err *e)
{
    int rc = store_commit(fs->st, b, res);

    if (rc)
        return pv_fail(e, -rc, "%s", res->msg[0] ? res->msg : strerror(-rc));
    return 0;
}

int fs_may_write(fuse_req_t req, struct fs *fs, struct pv_err *e)
{
    const struct fuse_ctx *ctx = fuse_req_ctx(req);

    if (ctx->uid != 0)
        return pv_fail(e, EACCES, "only root may change /pve (uid %u)", (unsigned)ctx->uid);
    if (!store_quorate(fs->st))
        return pv_fail(e, EROFS, "cluster not quorate: /pve is read-only");
    return 0;
}

uint64_t fs_parent(struct fs *fs, uint64_t ino)
{
    const struct memdb_entry *e;
    uint64_t p = 0;

    memdb_rdlock(fs->mem);
    if ((e = memdb_get(fs->mem, ino)))
        p = e->parent;
    memdb_unlock(fs->mem);
    return p;
}

uint64_t fs_child(struct fs *fs, uint64_t dir, const char *name)
{
    const struct memdb_entry *e;
    uint64_t ino = 0;

    memdb_rdlock(fs->mem);
    if (dir && (e = memdb_lookup(fs->mem, dir, name)))
        ino = e->inode;
    memdb_unlock(fs->mem);
    return ino;
}
