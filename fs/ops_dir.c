/*
 * ops_dir: mkdir, rmdir, unlink and rename, and the skeleton made at start-up.
 *
 * mkdir of an object creates its directory, its stored files (with their initial
 * content) and its fixed subdirectories in one store batch, so every node sees
 * the object appear whole.
 */
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cluster/clog.h"
#include "conf.h"
#include "files.h"
#include "notify.h"

static struct fs *get_fs(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

static struct msg_op *add_op(struct msg_batch *b, uint8_t code, uint64_t inode, const char *name)
{
    struct msg_op *op = &b->ops[b->nops++];

    memset(op, 0, sizeof(*op));
    op->code = code;
    op->inode = inode;
    if (name)
        snprintf(op->name, sizeof(op->name), "%s", name);
    return op;
}

/*
 * Adds the ops that create an object of type tid named name in parent: its
 * directory, stored files and fixed subdirectories. bufs keeps the initial
 * contents alive until the batch is committed.
 */
static int object_ops(struct fs *fs, uint64_t parent, const char *name, uint16_t tid,
                      const char *record, struct msg_batch *b, struct pv_buf *bufs,
                      struct pv_err *e)
{
    const struct pv_type *t = pv_type(tid);
    uint64_t self = MSG_REF | b->nops;
    struct msg_op *op;
    struct pv_obj o;
    int nb = 0;

    add_op(b, MSG_CREATE, parent, name)->kind = MEMDB_DIR;
    op = &b->ops[b->nops - 1];
    op->objtype = tid;
    op->mode = t->mode;
    fs_obj(fs, parent, &o);
    snprintf(o.name, sizeof(o.name), "%s", name);
    o.type = tid;
    if (tid == T_NODE)
        snprintf(o.node, sizeof(o.node), "%s", name);
    for (int r = 0; t->files[r].name; r++) {
        const struct pv_file *f = &t->files[r];
        if (f->kind != PK_CONFIG)
            continue;
        if ((f->flags & PF_RECORD) && record && pv_buf_add(&bufs[nb], record, strlen(record)))
            return pv_fail(e, ENOMEM, "cannot build the initial %s", f->name);
        if (f->initial && f->initial(&o, &bufs[nb]))
            return pv_fail(e, ENOMEM, "cannot build the initial %s", f->name);
        op = add_op(b, MSG_CREATE, self, f->name);
        op->kind = MEMDB_FILE;
        op->objtype = T_FILE;
        op->mode = f->mode;
        op->data = (const uint8_t *)bufs[nb].p;
        op->size = (uint32_t)bufs[nb].len;
        nb++;
    }
    for (int s = 0; t->subs[s].name; s++) {
        op = add_op(b, MSG_CREATE, self, t->subs[s].name);
        op->kind = MEMDB_DIR;
        op->objtype = t->subs[s].type;
        op->mode = pv_type(t->subs[s].type)->mode;
    }
    return 0;
}

static void reply_entry(fuse_req_t req, struct fs *fs, uint64_t ino)
{
    struct fuse_entry_param ep;
    struct fs_node n;

    if (fs_resolve(fs, ino, &n)) {
        fuse_reply_err(req, EIO);
        return;
    }
    fs_fill_entry(fs, &n, &ep);
    fuse_reply_entry(req, &ep);
}

/* A friendlier EEXIST than the store's: say where the id is used. The store rechecks. */
static int id_in_use(struct fs *fs, uint16_t tid, const char *name, struct pv_err *e)
{
    uint32_t cls = pv_type(tid)->uniq;
    const struct memdb_entry *o;
    char where[1024] = "";

    memdb_rdlock(fs->mem);
    o = cls ? memdb_uniq(fs->mem, cls, name) : NULL;
    if (o) {
        struct pv_obj obj;
        fs_obj_locked(fs, o->inode, &obj);
        snprintf(where, sizeof(where), "%s", obj.path);
    }
    memdb_unlock(fs->mem);
    return o ? pv_fail(e, EEXIST, "id %s is already used by %s", name, where) : 0;
}

void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    struct fs *fs = get_fs(req);
    struct msg_batch b = {0};
    struct pv_buf bufs[MSG_MAX_OPS] = {{0}};
    struct memdb_result res;
    struct pv_err e = {0};
    struct fs_node dir;
    char path[1024];

    (void)mode; /* a directory's mode comes from its object type */
    fs_child_path(fs, parent, name, path, sizeof(path));
    if (fs_resolve(fs, parent, &dir) || dir.what != N_STORED || dir.kind != MEMDB_DIR) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    if (fs_may_write(req, fs, &e))
        goto fail;
    if (!dir.type->child) {
        pv_fail(&e, EPERM, "cannot create directories here: %s",
                dir.type->nomkdir ? dir.type->nomkdir : "fixed directory");
        goto fail;
    }
    if (pv_type_file(dir.type, name) >= 0) {
        pv_fail(&e, EEXIST, "%s exists", name);
        goto fail;
    }
    if (dir.type->create) {
        const struct memdb_entry *k;
        uint64_t ino = 0;
        if (pv_type_child_ok(dir.type, name, &e) || dir.type->create(fs, parent, name, &e))
            goto fail;
        memdb_rdlock(fs->mem);
        if ((k = memdb_lookup(fs->mem, parent, name)))
            ino = k->inode;
        memdb_unlock(fs->mem);
        clog_append("tree", "created %s", path);
        if (ino)
            reply_entry(req, fs, ino);
        else
            fuse_reply_err(req, EIO);
        return;
    }
    if (pv_type_child_ok(dir.type, name, &e) || id_in_use(fs, dir.type->child, name, &e) ||
        object_ops(fs, parent, name, dir.type->child, NULL, &b, bufs, &e) ||
        fs_commit(fs, &b, &res, &e))
        goto fail;
    for (int i = 0; i < MSG_MAX_OPS; i++)
        pv_buf_free(&bufs[i]);
    clog_append("tree", "created %s", path);
    reply_entry(req, fs, res.created[0]);
    return;
fail:
    for (int i = 0; i < MSG_MAX_OPS; i++)
        pv_buf_free(&bufs[i]);
    fs_reply_fail(req, fs, path, &e);
}

/* May directory d (of type t) be removed by rmdir? Lock held. */
static int removable_locked(const struct memdb_entry *d, const struct pv_type *t, struct pv_err *e)
{
    for (uint32_t i = 0; i < d->nkids; i++) {
        const struct memdb_entry *k = d->kids[i];
        int row = pv_type_file(t, k->name), fixed = 0;
        if (row >= 0 && t->files[row].kind == PK_CONFIG)
            continue;
        for (int s = 0; t->subs[s].name; s++)
            fixed |= strcmp(t->subs[s].name, k->name) == 0;
        if (!fixed || k->nkids)
            return pv_fail(e, ENOTEMPTY, "directory not empty: %s%s", k->name,
                           fixed ? " has entries" : " is not part of the object");
    }
    return 0;
}

void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fs *fs = get_fs(req);
    struct msg_batch b = {0};
    struct memdb_result res;
    const struct memdb_entry *d;
    struct pv_err e = {0};
    struct pv_obj o = {0};
    uint64_t ino = 0;
    char path[1024];
    int rc;

    fs_child_path(fs, parent, name, path, sizeof(path));
    if (fs_may_write(req, fs, &e))
        goto fail;
    memdb_rdlock(fs->mem);
    d = memdb_lookup(fs->mem, parent, name);
    if (!d)
        rc = pv_fail(&e, ENOENT, "no such directory");
    else if (d->kind != MEMDB_DIR)
        rc = pv_fail(&e, ENOTDIR, "not a directory");
    else if (!(pv_type(d->objtype)->flags & PT_RMDIR))
        rc = pv_fail(&e, EPERM, "%s is a fixed part of the tree", name);
    else if (pv_type(d->objtype)->destroy) {
        rc = 0;
        fs_obj_locked(fs, d->inode, &o);
    } else if (!(rc = removable_locked(d, pv_type(d->objtype), &e))) {
        ino = d->inode;
        fs_obj_locked(fs, ino, &o);
    }
    memdb_unlock(fs->mem);
    if (rc)
        goto fail;
    if (pv_type(o.type)->destroy) {
        if (pv_type(o.type)->destroy(&o, &e))
            goto fail;
        clog_append("tree", "removed %s", path);
        fuse_reply_err(req, 0);
        return;
    }
    if ((pv_type(o.type)->flags & PT_GUEST) && guest_may_destroy(&o, &e))
        goto fail;
    add_op(&b, MSG_DELETE, ino, NULL)->flags = MSG_F_RECURSIVE;
    if (fs_commit(fs, &b, &res, &e))
        goto fail;
    clog_append("tree", "removed %s", path);
    fuse_reply_err(req, 0);
    return;
fail:
    fs_reply_fail(req, fs, path, &e);
}

void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fs *fs = get_fs(req);
    struct msg_batch b = {0};
    struct memdb_result res;
    const struct memdb_entry *f;
    struct pv_err e = {0};
    struct fs_node dir;
    uint64_t ino = 0;
    char path[1024];

    fs_child_path(fs, parent, name, path, sizeof(path));
    if (fs_may_write(req, fs, &e))
        goto fail;
    memdb_rdlock(fs->mem);
    if (fs_resolve_locked(fs, parent, &dir))
        pv_fail(&e, ENOENT, "no such directory");
    else if (pv_type_file(dir.type, name) >= 0)
        pv_fail(&e, EPERM, "%s is part of the object and cannot be removed%s", name,
                dir.type->flags & PT_GUEST ? " (rmdir the guest to destroy it)" : "");
    else if (!(f = memdb_lookup(fs->mem, parent, name)))
        pv_fail(&e, ENOENT, "no such file");
    else if (f->kind == MEMDB_DIR)
        pv_fail(&e, EISDIR, "is a directory");
    else
        ino = f->inode;
    memdb_unlock(fs->mem);
    if (!ino)
        goto fail;
    add_op(&b, MSG_DELETE, ino, NULL);
    if (fs_commit(fs, &b, &res, &e))
        goto fail;
    fuse_reply_err(req, 0);
    return;
fail:
    fs_reply_fail(req, fs, path, &e);
}

/*
 * mv of a guest's directory to another node's qemu/ or lxc/ is a migration: it runs
 * on the guest's node, which moves the directory when the guest has moved. Returns 1
 * when the rename is not such a move, else 0 or -errno (e filled).
 */
static int guest_move(struct fs *fs, uint64_t parent, const char *name, uint64_t newparent,
                      const char *newname, struct pv_err *e)
{
    const struct memdb_entry *src, *dst;
    struct pv_obj to;
    uint64_t guest = 0;
    char cmd[128];
    int n;

    memdb_rdlock(fs->mem);
    src = memdb_lookup(fs->mem, parent, name);
    dst = memdb_get(fs->mem, newparent);
    if (src && dst && (pv_type(src->objtype)->flags & PT_GUEST) &&
        pv_type(dst->objtype)->child == src->objtype)
        guest = src->inode;
    memdb_unlock(fs->mem);
    if (!guest)
        return 1;
    if (strcmp(name, newname) != 0)
        return pv_fail(e, EINVAL, "a guest keeps its id: move %s to another node's directory",
                       name);
    fs_obj(fs, newparent, &to);
    n = snprintf(cmd, sizeof(cmd), "migrate %.64s", to.node);
    return fs_cmd(fs, guest, "ctl", cmd, (size_t)n, e);
}

/* Plans a rename; fills b. canon receives a validated config body to free. */
static int plan_rename(struct fs *fs, uint64_t parent, const char *name, uint64_t newparent,
                       const char *newname, unsigned flags, struct msg_batch *b, char **canon,
                       struct pv_err *e)
{
    const struct memdb_entry *src;
    struct fs_node sdir, ddir;
    const struct pv_file *drow = NULL;
    char msg[CONF_ERRLEN];
    size_t clen = 0;
    struct msg_op *op;
    int row, rc = 0;

    if (flags & ~(unsigned)RENAME_NOREPLACE)
        return pv_fail(e, EINVAL, "rename flags 0x%x are not supported", flags);
    memdb_rdlock(fs->mem);
    if (fs_resolve_locked(fs, parent, &sdir) || fs_resolve_locked(fs, newparent, &ddir) ||
        ddir.what != N_STORED || ddir.kind != MEMDB_DIR) {
        rc = pv_fail(e, ENOENT, "no such directory");
        goto out;
    }
    if (pv_type_file(sdir.type, name) >= 0) {
        rc = pv_fail(e, EPERM, "%s is part of the object and cannot be moved", name);
        goto out;
    }
    if (!(src = memdb_lookup(fs->mem, parent, name))) {
        rc = pv_fail(e, ENOENT, "no such file or directory");
        goto out;
    }
    if ((row = pv_type_file(ddir.type, newname)) >= 0) {
        drow = &ddir.type->files[row];
        if (drow->kind != PK_CONFIG || (drow->flags & PF_RECORD) || src->kind != MEMDB_FILE) {
            rc = pv_fail(e, EPERM, "cannot replace the generated file %s", newname);
            goto out;
        }
    }
    if (src->kind == MEMDB_DIR) {
        const struct pv_type *st = pv_type(src->objtype);
        if (ddir.type->child != src->objtype)
            rc = pv_fail(e, EXDEV, "a %s directory cannot move into %s", st->name, ddir.type->name);
        else if ((st->flags & PT_GUEST) && strcmp(name, newname) != 0)
            rc = pv_fail(e, EINVAL, "a guest keeps its id: move %s to another node's %s/", name,
                         ddir.type->name);
    } else if (!drow && !(ddir.type->flags & PT_SCRATCH)) {
        rc = pv_fail(e, EACCES, "this directory takes no new files");
    } else if (drow && drow->schema) {
        /* A tool's temp file renamed over a config: validate and store it canonical. */
        if ((rc = conf_canonicalize(drow->schema, src->data ? (const char *)src->data : "",
                                    src->size, canon, &clen, msg, sizeof(msg))))
            rc = pv_fail(e, -rc, "%s", msg);
        else {
            op = add_op(b, MSG_WRITE, src->inode, NULL);
            op->data = (const uint8_t *)*canon;
            op->size = (uint32_t)clen;
        }
    }
    if (!rc) {
        op = add_op(b, MSG_RENAME, src->inode, newname);
        op->dst_parent = newparent;
        op->flags = (flags & RENAME_NOREPLACE) ? MSG_F_NOREPLACE : 0;
        if (drow && src->kind == MEMDB_FILE)
            op->mode = drow->mode;
    }
out:
    memdb_unlock(fs->mem);
    return rc;
}

void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                  const char *newname, unsigned int flags)
{
    struct fs *fs = get_fs(req);
    struct msg_batch b = {0};
    struct memdb_result res;
    struct pv_err e = {0};
    char path[1024], *canon = NULL;

    fs_child_path(fs, newparent, newname, path, sizeof(path));
    if (fs_may_write(req, fs, &e) == 0 && parent != newparent &&
        guest_move(fs, parent, name, newparent, newname, &e) != 1) {
        if (e.err) {
            fs_reply_fail(req, fs, path, &e);
            return;
        }
        fuse_reply_err(req, 0);
        return;
    }
    e.err = 0;
    if (fs_may_write(req, fs, &e) ||
        plan_rename(fs, parent, name, newparent, newname, flags, &b, &canon, &e) ||
        fs_commit(fs, &b, &res, &e)) {
        free(canon);
        fs_reply_fail(req, fs, path, &e);
        return;
    }
    /* The kernel sized the renamed inode by what the tool wrote; the stored form may differ. */
    if (canon)
        notify_inval(fs, b.ops[0].inode);
    free(canon);
    fuse_reply_err(req, 0);
}

/* Creates the missing stored files and fixed subdirectories of dir (of type tid), recursively. */
static int ensure_subs(struct fs *fs, uint64_t dir, uint16_t tid, char *err, size_t errlen)
{
    const struct pv_type *t = pv_type(tid);
    struct memdb_result res;
    struct pv_err e = {0};

    for (int r = 0; t->files[r].name; r++) {
        struct msg_batch b = {0};
        struct msg_op *op;
        int have;
        if (t->files[r].kind != PK_CONFIG)
            continue;
        memdb_rdlock(fs->mem);
        have = memdb_lookup(fs->mem, dir, t->files[r].name) != NULL;
        memdb_unlock(fs->mem);
        if (have)
            continue;
        struct pv_buf init = {0};
        struct pv_obj o;
        int rc;
        fs_obj(fs, dir, &o);
        if (t->files[r].initial)
            t->files[r].initial(&o, &init);
        op = add_op(&b, MSG_CREATE, dir, t->files[r].name);
        op->kind = MEMDB_FILE;
        op->objtype = T_FILE;
        op->mode = t->files[r].mode;
        op->data = (const uint8_t *)init.p;
        op->size = (uint32_t)init.len;
        rc = fs_commit(fs, &b, &res, &e);
        pv_buf_free(&init);
        if (rc && e.err != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", t->files[r].name, e.msg);
            return -e.err;
        }
    }

    for (int s = 0; t->subs[s].name; s++) {
        const struct memdb_entry *k;
        uint64_t ino = 0;

        memdb_rdlock(fs->mem);
        if ((k = memdb_lookup(fs->mem, dir, t->subs[s].name)))
            ino = k->inode;
        memdb_unlock(fs->mem);
        if (!ino) {
            struct msg_batch b = {0};
            struct msg_op *op = add_op(&b, MSG_CREATE, dir, t->subs[s].name);
            op->kind = MEMDB_DIR;
            op->objtype = t->subs[s].type;
            op->mode = pv_type(t->subs[s].type)->mode;
            if (fs_commit(fs, &b, &res, &e)) {
                snprintf(err, errlen, "cannot create %s: %s", t->subs[s].name, e.msg);
                return -e.err;
            }
            ino = res.created[0];
        }
        if (ensure_subs(fs, ino, t->subs[s].type, err, errlen))
            return -EIO;
    }
    return 0;
}

int fs_skeleton(struct fs *fs, char *err, size_t errlen)
{
    const struct memdb_entry *nodes, *self;
    struct pv_buf bufs[MSG_MAX_OPS] = {{0}};
    struct memdb_result res;
    struct msg_batch b = {0};
    struct pv_err e = {0};
    uint64_t nodes_ino, self_ino = 0;
    int rc;

    if ((rc = ensure_subs(fs, MEMDB_ROOT, T_ROOT, err, errlen)))
        return rc;
    memdb_rdlock(fs->mem);
    nodes = memdb_lookup(fs->mem, MEMDB_ROOT, "nodes");
    nodes_ino = nodes ? nodes->inode : 0;
    self = nodes ? memdb_lookup(fs->mem, nodes_ino, fs->node) : NULL;
    if (self)
        self_ino = self->inode;
    memdb_unlock(fs->mem);
    if (!self_ino) {
        if (object_ops(fs, nodes_ino, fs->node, T_NODE, NULL, &b, bufs, &e) ||
            fs_commit(fs, &b, &res, &e)) {
            snprintf(err, errlen, "cannot create nodes/%s: %s", fs->node, e.msg);
            return -EIO;
        }
        self_ino = res.created[0];
    }
    fs->node_dir = self_ino;
    return ensure_subs(fs, self_ino, T_NODE, err, errlen);
}

int fs_catalog_create(struct fs *fs, uint64_t dir, const char *name, uint16_t tid,
                      const char *record, uint64_t *ino, struct pv_err *e)
{
    struct pv_buf bufs[MSG_MAX_OPS] = {{0}};
    struct memdb_result res;
    struct msg_batch b = {0};
    int rc;

    rc = object_ops(fs, dir, name, tid, record, &b, bufs, e);
    if (!rc)
        rc = fs_commit(fs, &b, &res, e);
    for (int i = 0; i < MSG_MAX_OPS; i++)
        pv_buf_free(&bufs[i]);
    if (!rc && ino)
        *ino = res.created[0];
    return rc;
}

int fs_catalog_record(struct fs *fs, uint64_t dir, const char *record, struct pv_err *e)
{
    const struct pv_type *t;
    const struct memdb_entry *d, *f = NULL;
    struct memdb_result res;
    struct msg_batch b = {0};
    struct msg_op *op = NULL;

    memdb_rdlock(fs->mem);
    if ((d = memdb_get(fs->mem, dir))) {
        t = pv_type(d->objtype);
        for (int r = 0; t->files[r].name && !f; r++)
            if (t->files[r].flags & PF_RECORD)
                f = memdb_lookup(fs->mem, dir, t->files[r].name);
    }
    if (f)
        op = add_op(&b, MSG_WRITE, f->inode, NULL);
    memdb_unlock(fs->mem);
    if (!op)
        return pv_fail(e, ENOENT, "the object was removed meanwhile");
    op->data = (const uint8_t *)record;
    op->size = (uint32_t)strlen(record);
    return fs_commit(fs, &b, &res, e);
}

int fs_catalog_remove(struct fs *fs, uint64_t dir, struct pv_err *e)
{
    struct memdb_result res;
    struct msg_batch b = {0};

    add_op(&b, MSG_DELETE, dir, NULL)->flags = MSG_F_RECURSIVE;
    return fs_commit(fs, &b, &res, e);
}
