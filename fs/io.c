/* io: open, read, write, flush, release, fsync, create and poll; see io.h. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "../cluster/clog.h"
#include "../cluster/kvs.h"
#include "conf.h"
#include "notify.h"

#define MAX_FILE (1u << 20) /* per-file limit, as pmxcfs */
#define MAX_CMD  4096

static struct fs *get_fs(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

static struct io_handle *handle_of(struct fuse_file_info *fi)
{
    return (struct io_handle *)(uintptr_t)fi->fh;
}

static uint64_t hash_of(const char *p, size_t n)
{
    return XXH3_64bits(p, n) | 1; /* 0 means "no snapshot" */
}

static int buf_reserve(struct io_handle *h, size_t n)
{
    size_t cap = h->cap ? h->cap : 4096;
    char *p;

    if (n <= h->cap)
        return 0;
    while (cap < n)
        cap *= 2;
    if (!(p = realloc(h->buf, cap)))
        return -ENOMEM;
    h->buf = p;
    h->cap = cap;
    return 0;
}

static int buf_set(struct io_handle *h, const void *data, size_t n)
{
    if (buf_reserve(h, n))
        return -ENOMEM;
    if (n)
        memcpy(h->buf, data, n);
    h->len = n;
    return 0;
}

/* Snapshot of a stored file's data into h (lock not held). */
static int load_stored(struct io_handle *h)
{
    const struct memdb_entry *e;
    int rc = -ENOENT;

    memdb_rdlock(h->fs->mem);
    e = memdb_get(h->fs->mem, h->ino);
    if (e)
        rc = buf_set(h, e->data, e->size);
    memdb_unlock(h->fs->mem);
    h->hash = rc ? 0 : hash_of(h->buf, h->len);
    return rc;
}

static int render_into(struct io_handle *h)
{
    struct pv_buf b = {0};
    struct fs_node n;
    int rc;

    if ((rc = fs_resolve(h->fs, h->ino, &n)) || (rc = fs_render(h->fs, &n, &b)) ||
        (rc = buf_set(h, b.p, b.len))) {
        pv_buf_free(&b);
        return rc;
    }
    pv_buf_free(&b);
    h->hash = hash_of(h->buf, h->len);
    return 0;
}

uint64_t io_current_hash(struct fs *fs, uint64_t ino)
{
    struct pv_buf b = {0};
    const struct memdb_entry *e;
    struct fs_node n;
    uint64_t hv = 0;

    if (fs_resolve(fs, ino, &n))
        return 0;
    if (n.what == N_STORED) {
        memdb_rdlock(fs->mem);
        if ((e = memdb_get(fs->mem, ino)))
            hv = hash_of((const char *)e->data, e->size);
        memdb_unlock(fs->mem);
        return hv;
    }
    if (n.what == N_VFILE && n.file->kind == PK_LOG)
        return clog_size(NULL) << 1 | 1;
    if (fs_render(fs, &n, &b) == 0)
        hv = hash_of(b.p, b.len);
    pv_buf_free(&b);
    return hv;
}

static void handle_destroy(struct io_handle *h)
{
    notify_poll_del(h->fs, h);
    pthread_mutex_destroy(&h->lock);
    free(h->buf);
    free(h);
}

static void handle_free(struct io_handle *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->fs->hlock);
    if (h->prev)
        h->prev->next = h->next;
    else
        h->fs->handles = h->next;
    if (h->next)
        h->next->prev = h->prev;
    pthread_mutex_unlock(&h->fs->hlock);
    handle_destroy(h);
}

static struct io_handle *handle_new(struct fs *fs, uint64_t ino, uint64_t dir, enum io_kind kind)
{
    struct io_handle *h = calloc(1, sizeof(*h));

    if (!h)
        return NULL;
    pthread_mutex_init(&h->lock, NULL);
    h->fs = fs;
    h->ino = ino;
    h->dir = dir;
    h->kind = kind;
    pthread_mutex_lock(&fs->hlock);
    h->next = fs->handles;
    if (h->next)
        h->next->prev = h;
    fs->handles = h;
    pthread_mutex_unlock(&fs->hlock);
    return h;
}

void io_free_all(struct fs *fs)
{
    struct io_handle *h, *next;

    pthread_mutex_lock(&fs->hlock);
    h = fs->handles;
    fs->handles = NULL;
    pthread_mutex_unlock(&fs->hlock);
    for (; h; h = next) {
        next = h->next;
        handle_destroy(h);
    }
}

static int open_handle(fuse_req_t req, struct fs *fs, const struct fs_node *n, int flags,
                       struct io_handle **out, struct pv_err *e)
{
    int acc = flags & O_ACCMODE, wr = acc != O_RDONLY, rd = acc != O_WRONLY;
    enum io_kind kind = H_STORED;
    struct io_handle *h;

    if (n->what == N_STORED && n->kind == MEMDB_DIR)
        return pv_fail(e, EISDIR, "is a directory");
    if (wr && fs_may_write(req, fs, e))
        return -e->err;
    if (n->what == N_VFILE) {
        switch (n->file->kind) {
        case PK_STATUS:
        case PK_LOG:
            if (wr)
                return pv_fail(e, EACCES, "%s is read-only", n->file->name);
            kind = n->file->kind == PK_LOG ? H_LOG : H_GEN;
            break;
        case PK_CTL:
            /* Reading a command file gives nothing; NFS servers open every entry to list. */
            if (rd && wr)
                return pv_fail(e, EACCES, "%s is write-only", n->file->name);
            kind = wr ? H_CMD : H_GEN;
            break;
        case PK_STATE:
            kind = wr ? H_CMD : H_GEN;
            break;
        default:
            return pv_fail(e, EINVAL, "%s cannot be opened", n->file->name);
        }
    } else if (n->what != N_STORED) {
        return pv_fail(e, ELOOP, "symbolic link");
    } else if (wr && n->file && (n->file->flags & PF_RECORD)) {
        return pv_fail(e, EACCES, "%s is read-only: pvefs writes it after the backend acts",
                       n->file->name);
    }
    if (!(h = handle_new(fs, n->ino, n->dir, kind)))
        return pv_fail(e, ENOMEM, "out of memory");
    h->file = n->file;
    h->writable = wr;
    h->append = (flags & O_APPEND) != 0;
    if (kind == H_GEN && n->file->kind == PK_CTL)
        h->hash = hash_of("", 0);
    else if (kind == H_GEN && render_into(h)) {
        handle_free(h);
        return pv_fail(e, EIO, "cannot render %s", n->file->name);
    }
    if (kind == H_STORED) {
        if (wr && (flags & O_TRUNC))
            h->dirty = 1; /* an empty document is committed even if nothing is written */
        else if (load_stored(h)) {
            handle_free(h);
            return pv_fail(e, ENOENT, "file was removed");
        }
    }
    *out = h;
    return 0;
}

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct fs *fs = get_fs(req);
    struct io_handle *h = NULL;
    struct pv_err e = {0};
    struct fs_node n;
    char path[1024];

    if (fs_resolve(fs, ino, &n)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (open_handle(req, fs, &n, fi->flags, &h, &e)) {
        fs_path(fs, ino, path, sizeof(path));
        /* Read-side refusals are normal probing (file managers); only log changes. */
        if ((fi->flags & O_ACCMODE) != O_RDONLY)
            fs_reply_fail(req, fs, path, &e);
        else
            fuse_reply_err(req, e.err);
        return;
    }
    fi->fh = (uintptr_t)h;
    fi->direct_io = 1; /* sizes and contents come from the handle, never the page cache */
    fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY; /* nothing to commit: save a round trip */
    if (fuse_reply_open(req, fi) == -ENOENT)
        handle_free(h); /* the opener was interrupted */
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    struct io_handle *h = handle_of(fi);
    char *tmp;
    size_t n;

    (void)ino;
    if (h->kind == H_CMD) {
        fuse_reply_err(req, EBADF);
        return;
    }
    if (h->kind == H_LOG) {
        if (!(tmp = malloc(size ? size : 1))) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        n = clog_read((uint64_t)off, tmp, size);
        pthread_mutex_lock(&h->lock);
        h->hash = ((uint64_t)off + n) << 1 | 1; /* poll wakes once the log grows past this */
        pthread_mutex_unlock(&h->lock);
        fuse_reply_buf(req, tmp, n);
        free(tmp);
        return;
    }
    pthread_mutex_lock(&h->lock);
    /* A re-read from the start after a first pass sees fresh content (as sysfs after poll). */
    if (off == 0 && h->served && !h->dirty) {
        if (h->kind == H_GEN)
            render_into(h);
        else
            load_stored(h);
    }
    h->served = 1;
    if ((size_t)off >= h->len)
        fuse_reply_buf(req, NULL, 0);
    else
        fuse_reply_buf(req, h->buf + off,
                       h->len - (size_t)off < size ? h->len - (size_t)off : size);
    pthread_mutex_unlock(&h->lock);
}

/*
 * The one gate for commands to objects another node owns: it forwards them over the
 * status channel (cluster mode), so the apply callbacks always run on their owner.
 */
static int forward_cmd(struct fs *fs, const struct pv_obj *o, const char *file, const char *buf,
                       size_t n, int timeout_ms, struct pv_err *e)
{
    struct kvs *k = fs_cluster_kvs(fs);
    char path[sizeof(o->path) + 256];
    int rc;

    if (!k)
        return pv_fail(e, EHOSTUNREACH, "node %s is not reachable", o->node);
    snprintf(path, sizeof(path), "%s/%s", o->path, file);
    rc = kvs_forward(k, o->node, path, buf, n, timeout_ms, e->msg, sizeof(e->msg));
    if (rc == 0)
        return 0;
    e->err = rc < 0 ? -rc : EIO;
    if (!e->msg[0])
        snprintf(e->msg, sizeof(e->msg), "node %s: %s", o->node, strerror(e->err));
    return -e->err;
}

int fs_cmd(struct fs *fs, uint64_t dir, const char *file, const char *cmd, size_t n,
           struct pv_err *e)
{
    return fs_cmd_wait(fs, dir, file, cmd, n, KVS_TIMEOUT_MS, e);
}

int fs_cmd_wait(struct fs *fs, uint64_t dir, const char *file, const char *cmd, size_t n,
                int timeout_ms, struct pv_err *e)
{
    const struct pv_file *f;
    struct pv_obj o;
    int row;

    fs_obj(fs, dir, &o);
    row = pv_type_file(pv_type(o.type), file);
    f = row >= 0 ? &pv_type(o.type)->files[row] : NULL;
    if (!f || !f->apply)
        return pv_fail(e, EINVAL, "%s/%s takes no commands", o.path, file);
    o.file = f->name;
    if (o.node[0] && strcmp(o.node, fs->node) != 0)
        return forward_cmd(fs, &o, file, cmd, n, timeout_ms, e);
    return f->apply(&o, cmd, n, e);
}

/* A command write: applied whole, now, on the node that owns the object. */
static int write_cmd(struct io_handle *h, const char *buf, size_t size, struct pv_err *e)
{
    size_t n = size;

    if (size > MAX_CMD)
        return pv_fail(e, EINVAL, "command too long (%zu bytes, at most %u)", size, MAX_CMD);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    if (!pv_text_ok(buf, n))
        return pv_fail(e, EINVAL, "binary data in a command (control characters or bad UTF-8)");
    if (n == 0)
        return pv_fail(e, EINVAL, "empty command");
    return fs_cmd(h->fs, h->dir, h->file->name, buf, n, e);
}

/* Checks the config lines that the buffer now completes. */
static int check_lines(struct io_handle *h, struct pv_err *e)
{
    char msg[CONF_ERRLEN];

    while (h->checked < h->len) {
        char *nl = memchr(h->buf + h->checked, '\n', h->len - h->checked);
        size_t ll;
        if (!nl)
            break;
        ll = (size_t)(nl - (h->buf + h->checked));
        h->checked_lines++;
        if (conf_check_line(h->file->schema, h->buf + h->checked, ll, (int)h->checked_lines, msg,
                            sizeof(msg)))
            return pv_fail(e, EINVAL, "%s", msg);
        h->checked += ll + 1;
    }
    return 0;
}

/*
 * The document so far (its complete lines, from offset 0) against every rule a later line
 * cannot repair, so that the write(2) completing a contradiction fails: bash, Python's
 * implicit close and most tools never look at what close(2) returns.
 */
static int check_prefix(struct io_handle *h, struct pv_err *e)
{
    char msg[CONF_ERRLEN], *canon = NULL;
    size_t clen = 0;
    struct pv_obj o;
    int rc;

    if ((rc = conf_canonicalize_prefix(h->file->schema, h->buf, h->checked, &canon, &clen, msg,
                                       sizeof(msg))))
        return pv_fail(e, -rc, "%s", msg);
    if (h->file->check) {
        fs_obj(h->fs, h->dir, &o);
        rc = h->file->check(&o, canon ? canon : "", clen, 1, e);
    }
    free(canon);
    return rc;
}

static int write_stored(struct io_handle *h, const char *buf, size_t size, off_t off,
                        struct pv_err *e)
{
    size_t was;
    int rc;

    size_t end = (size_t)off + size;

    if (end > MAX_FILE)
        return pv_fail(e, EFBIG, "file would be %zu bytes; the limit is %u", end, MAX_FILE);
    if (buf_reserve(h, end))
        return pv_fail(e, ENOMEM, "out of memory");
    if ((size_t)off > h->len)
        memset(h->buf + h->len, 0, (size_t)off - h->len);
    memcpy(h->buf + off, buf, size);
    if (end > h->len)
        h->len = end;
    h->dirty = h->wrote = 1;
    if (!h->file || !h->file->schema)
        return 0;
    if ((size_t)off < h->checked) { /* rewrote checked bytes: check from scratch */
        h->checked = 0;
        h->checked_lines = 0;
    }
    was = h->checked;
    if ((rc = check_lines(h, e)) || h->checked == was)
        return rc;
    return check_prefix(h, e);
}

void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                 struct fuse_file_info *fi)
{
    struct io_handle *h = handle_of(fi);
    struct pv_err e = {0};
    char path[1024];
    int rc;

    pthread_mutex_lock(&h->lock);
    if (h->poisoned)
        rc = pv_fail(&e, h->poisoned, "an earlier write to this open file failed");
    else if (h->kind == H_CMD)
        rc = write_cmd(h, buf, size, &e);
    else if (h->kind == H_STORED && h->writable)
        rc = write_stored(h, buf, size, h->append ? (off_t)h->len : off, &e);
    else
        rc = pv_fail(&e, EBADF, "not open for writing");
    /* A failed write spoils the whole document: nothing of it will be stored. */
    if (rc && h->kind == H_STORED && !h->poisoned)
        h->poisoned = e.err;
    pthread_mutex_unlock(&h->lock);
    if (rc) {
        fs_path(h->fs, ino, path, sizeof(path));
        fs_reply_fail(req, h->fs, path, &e);
        return;
    }
    fuse_reply_write(req, size);
}

/* Commits the buffered document of h (lock held). */
static int commit(struct io_handle *h, struct pv_err *e)
{
    struct msg_batch b = {.nops = 1};
    struct memdb_result res;
    char msg[CONF_ERRLEN], *canon = NULL;
    size_t clen = 0;
    int rc;

    struct pv_obj o;

    fs_obj(h->fs, h->dir, &o);
    if (h->file && h->file->schema) {
        if ((rc = conf_canonicalize(h->file->schema, h->buf ? h->buf : "", h->len, &canon, &clen,
                                    msg, sizeof(msg))))
            return pv_fail(e, -rc, "%s", msg);
        if (h->file->check && (rc = h->file->check(&o, canon, clen, 0, e))) {
            free(canon);
            return rc;
        }
        if (h->file->before_commit && (rc = h->file->before_commit(&o, &canon, &clen, e))) {
            free(canon);
            return rc;
        }
    }
    b.ops[0].code = MSG_WRITE;
    b.ops[0].inode = h->ino;
    b.ops[0].data = (const uint8_t *)(canon ? canon : h->buf);
    b.ops[0].size = (uint32_t)(canon ? clen : h->len);
    rc = fs_commit(h->fs, &b, &res, e);
    if (!rc) {
        if (canon)
            buf_set(h, canon, clen);
        h->hash = hash_of(h->buf, h->len);
        h->dirty = h->wrote = 0;
        h->checked = h->checked_lines = 0;
        notify_inval(h->fs, h->ino);
        if (h->file && h->file->after_commit)
            h->file->after_commit(&o);
    }
    free(canon);
    return rc;
}

/* final: at release, where an O_TRUNC open with no write commits the empty file. */
static int flush_handle(struct io_handle *h, int final, struct pv_err *e)
{
    int rc = 0;

    pthread_mutex_lock(&h->lock);
    if (h->kind == H_STORED && h->poisoned)
        rc = pv_fail(e, h->poisoned, "not stored: an earlier write failed");
    else if (h->kind == H_STORED && h->dirty && (h->wrote || final) && (rc = commit(h, e)))
        h->poisoned = e->err;
    pthread_mutex_unlock(&h->lock);
    return rc;
}

void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct io_handle *h = handle_of(fi);
    struct pv_err e = {0};
    int was_poisoned = h->poisoned;
    char path[1024];

    if (flush_handle(h, 0, &e)) {
        if (was_poisoned) { /* already reported by the failing write */
            fuse_reply_err(req, e.err);
            return;
        }
        fs_path(h->fs, ino, path, sizeof(path));
        fs_reply_fail(req, h->fs, path, &e);
        return;
    }
    fuse_reply_err(req, 0);
}

void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)datasync;
    fs_op_flush(req, ino, fi);
}

void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct io_handle *h = handle_of(fi);
    struct pv_err e = {0};
    char path[1024];

    /* Normally flush has committed already; this catches a close without flush. */
    if (!h->poisoned && flush_handle(h, 1, &e)) {
        fs_path(h->fs, ino, path, sizeof(path));
        clog_error(path, e.err, e.msg);
    }
    handle_free(h);
    fuse_reply_err(req, 0);
}

void io_handle_stat(struct fuse_file_info *fi, struct stat *st)
{
    struct io_handle *h = handle_of(fi);

    if (h->kind != H_GEN && !(h->kind == H_STORED && h->dirty))
        return;
    pthread_mutex_lock(&h->lock);
    st->st_size = (off_t)h->len;
    st->st_blocks = (st->st_size + 511) / 512;
    pthread_mutex_unlock(&h->lock);
}

int io_truncate(fuse_req_t req, struct fs *fs, const struct fs_node *n, struct fuse_file_info *fi,
                uint64_t size, struct pv_err *e)
{
    struct io_handle *h = fi && fi->fh ? handle_of(fi) : NULL, *tmp = NULL;
    int rc = 0;

    if (n->what == N_VFILE)
        return n->file->kind == PK_CTL || n->file->kind == PK_STATE
                   ? 0 /* "> ctl" truncates first; the command comes with write */
                   : pv_fail(e, EACCES, "%s is read-only", n->file->name);
    if (n->kind == MEMDB_DIR)
        return pv_fail(e, EISDIR, "is a directory");
    if (size > MAX_FILE)
        return pv_fail(e, EFBIG, "size %llu exceeds the limit of %u bytes",
                       (unsigned long long)size, MAX_FILE);
    if (!h || h->kind != H_STORED || !h->writable) {
        /* truncate(2) by path: a one-shot handle committed at once */
        if (open_handle(req, fs, n, O_RDWR, &tmp, e))
            return -e->err;
        h = tmp;
    }
    if (!h)
        return pv_fail(e, EIO, "no handle");
    pthread_mutex_lock(&h->lock);
    if (buf_reserve(h, (size_t)size))
        rc = pv_fail(e, ENOMEM, "out of memory");
    else {
        if (size > h->len)
            memset(h->buf + h->len, 0, (size_t)size - h->len);
        h->len = (size_t)size;
        h->dirty = h->wrote = 1;
        if (h->checked > h->len)
            h->checked = h->checked_lines = 0;
        if (tmp)
            rc = commit(h, e);
    }
    pthread_mutex_unlock(&h->lock);
    handle_free(tmp);
    return rc;
}

void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                  struct fuse_file_info *fi)
{
    struct fs *fs = get_fs(req);
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    struct msg_batch b = {.nops = 1};
    struct fuse_entry_param ep;
    struct memdb_result res;
    struct io_handle *h = NULL;
    struct pv_err e = {0};
    struct fs_node dir, n;
    char path[1024];

    fs_child_path(fs, parent, name, path, sizeof(path));
    if (fs_resolve(fs, parent, &dir) || dir.what != N_STORED || dir.kind != MEMDB_DIR) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (fs_may_write(req, fs, &e))
        goto fail;
    if (pv_type_file(dir.type, name) >= 0 &&
        dir.type->files[pv_type_file(dir.type, name)].kind != PK_CONFIG) {
        pv_fail(&e, EEXIST, "%s is a generated file", name);
        goto fail;
    }
    if (!(dir.type->flags & PT_SCRATCH)) {
        pv_fail(&e, EACCES, "this directory takes no new files");
        goto fail;
    }
    b.ops[0] = (struct msg_op){.code = MSG_CREATE,
                               .inode = parent,
                               .kind = MEMDB_FILE,
                               .objtype = T_FILE,
                               .mode = mode & 07777,
                               .uid = ctx->uid,
                               .gid = ctx->gid};
    snprintf(b.ops[0].name, sizeof(b.ops[0].name), "%s", name);
    if (fs_commit(fs, &b, &res, &e))
        goto fail;
    if (fs_resolve(fs, res.created[0], &n) ||
        open_handle(req, fs, &n, (fi->flags & ~O_TRUNC) | O_RDWR, &h, &e) || !h) {
        pv_fail(&e, EIO, "created file vanished");
        goto fail;
    }
    h->writable = (fi->flags & O_ACCMODE) != O_RDONLY;
    fi->fh = (uintptr_t)h;
    fi->direct_io = 1;
    fs_fill_entry(fs, &n, &ep);
    if (fuse_reply_create(req, &ep, fi) == -ENOENT)
        handle_free(h);
    return;
fail:
    fs_reply_fail(req, fs, path, &e);
}

void fs_op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
                struct fuse_pollhandle *ph)
{
    struct io_handle *h = handle_of(fi);
    uint64_t now = io_current_hash(h->fs, ino), seen;
    unsigned revents = 0;

    pthread_mutex_lock(&h->lock);
    if (!h->hash)
        h->hash = now;
    seen = h->hash;
    pthread_mutex_unlock(&h->lock);
    if (h->kind == H_CMD)
        revents = POLLOUT;
    else if (now != seen)
        revents = POLLIN | POLLPRI | POLLRDNORM;
    if (ph) {
        if (revents)
            fuse_pollhandle_destroy(ph);
        else
            notify_poll_add(h->fs, h, ph);
    }
    fuse_reply_poll(req, revents);
}
