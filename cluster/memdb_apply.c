/*
 * memdb_apply: applies one store batch to the tree and to SQLite.
 *
 * Each op checks everything it needs before it mutates, so a failing op changes
 * nothing; a batch stops at its first failing op. SQLite sees the whole batch
 * in one transaction.
 */
#include "memdb_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct apply {
    struct memdb *m;
    const struct msg_batch *b;
    struct memdb_result *res;
    struct memdb_change *chg;
    int nchg, capchg;
    int dberr;
};

static int op_fail(struct apply *a, int err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(a->res->msg, sizeof(a->res->msg), fmt, ap);
    va_end(ap);
    return err;
}

static struct memdb_entry *resolve(struct apply *a, uint64_t ino)
{
    if (ino & MSG_REF) {
        unsigned k = (unsigned)(ino & 0xffff);
        ino = k < MSG_MAX_OPS ? a->res->created[k] : 0;
    }
    return (struct memdb_entry *)memdb_get(a->m, ino);
}

static void record(struct apply *a, uint8_t code, const struct memdb_entry *e, uint64_t old_parent,
                   const char *old_name)
{
    struct memdb_change *c;

    if (a->nchg == a->capchg) {
        int cap = a->capchg ? a->capchg * 2 : 8;
        struct memdb_change *n = realloc(a->chg, (size_t)cap * sizeof(*n));
        if (!n)
            return; /* only invalidation hints are lost */
        a->chg = n;
        a->capchg = cap;
    }
    c = &a->chg[a->nchg++];
    memset(c, 0, sizeof(*c));
    c->code = code;
    c->writer = a->b->writer;
    c->inode = e->inode;
    c->parent = e->parent;
    c->old_parent = old_parent;
    snprintf(c->name, sizeof(c->name), "%s", e->name);
    if (old_name)
        snprintf(c->old_name, sizeof(c->old_name), "%s", old_name);
}

/* Bumps the store version and stamps e with it. */
static void touch(struct apply *a, struct memdb_entry *e)
{
    e->version = a->m->version;
    e->mtime = a->b->mtime;
    e->writer = a->b->writer;
}

static void save(struct apply *a, struct memdb_entry *e)
{
    memdb_rehash(a->m, e);
    if (!a->dberr && memdb_persist(a->m, e))
        a->dberr = 1;
}

static int check_unique(struct apply *a, const struct memdb_entry *self, uint16_t objtype,
                        const char *name)
{
    uint32_t cls = memdb_uniq_class(a->m, objtype);
    const struct memdb_entry *o = cls ? memdb_uniq(a->m, cls, name) : NULL;

    if (o && o != self)
        return op_fail(a, -EEXIST, "'%s' already exists (inode %llu)", name,
                       (unsigned long long)o->inode);
    return 0;
}

static int do_create(struct apply *a, const struct msg_op *op, int idx)
{
    struct memdb_entry *p = resolve(a, op->inode), *e;
    struct db_row r = {0};
    int rc;

    if (!p)
        return op_fail(a, -ENOENT, "parent directory does not exist");
    if (p->kind != MEMDB_DIR)
        return op_fail(a, -ENOTDIR, "parent is not a directory");
    if (op->kind != MEMDB_DIR && op->kind != MEMDB_FILE)
        return op_fail(a, -EINVAL, "bad entry kind %u", op->kind);
    if (memdb_lookup(a->m, p->inode, op->name))
        return op_fail(a, -EEXIST, "'%s' already exists", op->name);
    if ((rc = check_unique(a, NULL, op->objtype, op->name)))
        return rc;

    r.inode = a->m->version + 1;
    r.parent = p->inode;
    r.version = r.inode;
    r.writer = a->b->writer;
    r.mtime = a->b->mtime;
    r.kind = op->kind;
    r.objtype = op->objtype;
    r.mode = op->mode & 07777;
    r.uid = op->uid;
    r.gid = op->gid;
    r.name = op->name;
    r.data = op->data;
    r.size = op->kind == MEMDB_FILE ? op->size : 0;
    e = memdb_entry_new(&r);
    if (!e)
        return op_fail(a, -ENOMEM, "out of memory");
    if ((rc = memdb_link(a->m, e))) {
        memdb_entry_free(e);
        return op_fail(a, rc, "cannot link the new entry");
    }
    a->m->version++;
    a->res->created[idx] = e->inode;
    save(a, e);
    touch(a, p);
    save(a, p);
    record(a, MSG_CREATE, e, 0, NULL);
    return 0;
}

static int do_write(struct apply *a, const struct msg_op *op)
{
    struct memdb_entry *e = resolve(a, op->inode);
    uint8_t *data = NULL;

    if (!e)
        return op_fail(a, -ENOENT, "no such file (it was removed)");
    if (e->kind != MEMDB_FILE)
        return op_fail(a, -EISDIR, "is a directory");
    if ((op->flags & MSG_F_IFVERSION) && e->version != op->if_version)
        return op_fail(a, -ESTALE, "changed meanwhile (version %llu, expected %llu)",
                       (unsigned long long)e->version, (unsigned long long)op->if_version);
    if (op->size && !(data = malloc(op->size)))
        return op_fail(a, -ENOMEM, "out of memory");
    if (op->size)
        memcpy(data, op->data, op->size);
    memdb_account(a->m, e, -1);
    free(e->data);
    e->data = data;
    e->size = op->size;
    memdb_account(a->m, e, 1);
    a->m->version++;
    touch(a, e);
    save(a, e);
    record(a, MSG_WRITE, e, 0, NULL);
    return 0;
}

static int do_setattr(struct apply *a, const struct msg_op *op)
{
    struct memdb_entry *e = resolve(a, op->inode);

    if (!e)
        return op_fail(a, -ENOENT, "no such file or directory");
    a->m->version++;
    e->version = a->m->version;
    e->writer = a->b->writer;
    if (op->mask & MSG_SET_MODE)
        e->mode = op->mode & 07777;
    if (op->mask & MSG_SET_UID)
        e->uid = op->uid;
    if (op->mask & MSG_SET_GID)
        e->gid = op->gid;
    e->mtime = op->mask & MSG_SET_MTIME ? op->mtime : e->mtime;
    save(a, e);
    record(a, MSG_SETATTR, e, 0, NULL);
    return 0;
}

static void delete_tree(struct apply *a, struct memdb_entry *e)
{
    while (e->nkids)
        delete_tree(a, e->kids[e->nkids - 1]);
    record(a, MSG_DELETE, e, 0, NULL);
    memdb_unlink(a->m, e);
    if (!a->dberr && a->m->db && db_delete(a->m->db, e->inode))
        a->dberr = 1;
    memdb_entry_free(e);
}

static int do_delete(struct apply *a, const struct msg_op *op)
{
    struct memdb_entry *e = resolve(a, op->inode), *p;

    if (!e)
        return op_fail(a, -ENOENT, "no such file or directory");
    if (e->inode == MEMDB_ROOT)
        return op_fail(a, -EBUSY, "cannot remove the root");
    if (e->nkids && !(op->flags & MSG_F_RECURSIVE))
        return op_fail(a, -ENOTEMPTY, "directory not empty");
    p = (struct memdb_entry *)memdb_get(a->m, e->parent);
    a->m->version++;
    delete_tree(a, e);
    if (p) {
        touch(a, p);
        save(a, p);
    }
    return 0;
}

static int is_ancestor(struct memdb *m, const struct memdb_entry *anc, const struct memdb_entry *e)
{
    while (e) {
        if (e == anc)
            return 1;
        e = e->parent ? memdb_get(m, e->parent) : NULL;
    }
    return 0;
}

static int do_rename(struct apply *a, const struct msg_op *op)
{
    struct memdb_entry *e = resolve(a, op->inode), *dp = resolve(a, op->dst_parent), *t, *op_p;
    char old_name[MSG_MAX_NAME + 1];
    uint64_t old_parent;
    int rc;

    if (!e)
        return op_fail(a, -ENOENT, "source does not exist");
    if (!dp || dp->kind != MEMDB_DIR)
        return op_fail(a, -ENOENT, "target directory does not exist");
    if (e->inode == MEMDB_ROOT || (e->kind == MEMDB_DIR && is_ancestor(a->m, e, dp)))
        return op_fail(a, -EINVAL, "cannot move a directory into itself");
    t = (struct memdb_entry *)memdb_lookup(a->m, dp->inode, op->name);
    if (t == e)
        return 0;
    if (t && (op->flags & MSG_F_NOREPLACE))
        return op_fail(a, -EEXIST, "'%s' exists", op->name);
    if (t && t->kind == MEMDB_DIR && e->kind != MEMDB_DIR)
        return op_fail(a, -EISDIR, "target is a directory");
    if (t && t->kind != MEMDB_DIR && e->kind == MEMDB_DIR)
        return op_fail(a, -ENOTDIR, "target is not a directory");
    if (t && t->nkids)
        return op_fail(a, -ENOTEMPTY, "target directory not empty");
    if ((rc = check_unique(a, e, e->objtype, op->name)))
        return rc;

    a->m->version++;
    if (t)
        delete_tree(a, t);
    old_parent = e->parent;
    snprintf(old_name, sizeof(old_name), "%s", e->name);
    if ((rc = memdb_move(a->m, e, dp->inode, op->name)))
        return op_fail(a, rc, "out of memory");
    e->version = a->m->version;
    e->writer = a->b->writer;
    save(a, e);
    op_p = (struct memdb_entry *)memdb_get(a->m, old_parent);
    if (op_p) {
        touch(a, op_p);
        save(a, op_p);
    }
    if (dp != op_p) {
        touch(a, dp);
        save(a, dp);
    }
    record(a, MSG_RENAME, e, old_parent, old_name);
    return 0;
}

int memdb_apply(struct memdb *m, const struct msg_batch *b, struct memdb_result *res)
{
    struct apply a = {.m = m, .b = b, .res = res};

    memset(res, 0, sizeof(*res));
    res->failed_op = -1;
    pthread_rwlock_wrlock(&m->lock);
    if (m->broken) {
        pthread_rwlock_unlock(&m->lock);
        snprintf(res->msg, sizeof(res->msg), "the store had a disk error; restart pvefsd");
        return res->err = -EIO;
    }
    if (m->db && db_begin(m->db))
        a.dberr = 1;
    for (int i = 0; i < b->nops && !res->err; i++) {
        const struct msg_op *op = &b->ops[i];
        switch (op->code) {
        case MSG_CREATE:
            res->err = do_create(&a, op, i);
            break;
        case MSG_WRITE:
            res->err = do_write(&a, op);
            break;
        case MSG_SETATTR:
            res->err = do_setattr(&a, op);
            break;
        case MSG_DELETE:
            res->err = do_delete(&a, op);
            break;
        case MSG_RENAME:
            res->err = do_rename(&a, op);
            break;
        default:
            res->err = op_fail(&a, -EINVAL, "unknown op code %u", op->code);
        }
        if (res->err)
            res->failed_op = i;
    }
    if (m->db && !a.dberr && (db_meta_set(m->db, "version", m->version) || db_commit(m->db)))
        a.dberr = 1;
    if (m->db && a.dberr) {
        /* Memory is ahead of disk now; refuse further changes until a restart reloads. */
        snprintf(res->msg, sizeof(res->msg), "SQLite: %s", db_errmsg(m->db));
        db_rollback(m->db);
        m->broken = 1;
        res->err = -EIO;
    }
    pthread_rwlock_unlock(&m->lock);
    if (a.nchg && m->on_change)
        m->on_change(m->change_arg, a.chg, a.nchg);
    free(a.chg);
    return res->err;
}
