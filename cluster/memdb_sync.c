/*
 * memdb_sync: the tree side of a state sync. A follower lists (inode, hash) of
 * every entry; the leader sends the rows that differ and the inodes to drop; the
 * follower installs them and commits only if its digest then equals the leader's.
 */
#include "memdb_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ixbuf {
    struct memdb_ix *a;
    size_t n;
};

static void ix_add(void *arg, const struct memdb_entry *e)
{
    struct ixbuf *b = arg;

    b->a[b->n].inode = e->inode;
    b->a[b->n].hash = e->hash;
    b->n++;
}

static int ix_cmp(const void *x, const void *y)
{
    const struct memdb_ix *a = x, *b = y;

    return a->inode < b->inode ? -1 : a->inode > b->inode;
}

int memdb_index(struct memdb *m, struct memdb_ix **out, size_t *n, uint64_t *version,
                uint64_t *digest)
{
    struct ixbuf b = {0};

    pthread_rwlock_rdlock(&m->lock);
    b.a = malloc((m->count ? m->count : 1) * sizeof(*b.a));
    if (!b.a) {
        pthread_rwlock_unlock(&m->lock);
        return -ENOMEM;
    }
    memdb_for_each(m, ix_add, &b);
    *version = m->version;
    *digest = m->digest;
    pthread_rwlock_unlock(&m->lock);
    qsort(b.a, b.n, sizeof(*b.a), ix_cmp);
    *out = b.a;
    *n = b.n;
    return 0;
}

int memdb_export(struct memdb *m, const uint64_t *inodes, size_t n,
                 int (*fn)(void *arg, const struct db_row *row), void *arg)
{
    int rc = 0;

    pthread_rwlock_rdlock(&m->lock);
    for (size_t i = 0; i < n && !rc; i++) {
        const struct memdb_entry *e = memdb_get(m, inodes[i]);
        if (e) {
            struct db_row r = memdb_row_of(e);
            rc = fn(arg, &r);
        }
    }
    pthread_rwlock_unlock(&m->lock);
    return rc;
}

/* Overwrites e's fields (not its links) with row r. */
static int set_fields(struct memdb_entry *e, const struct db_row *r)
{
    char *name = strdup(r->name);
    uint8_t *data = r->size ? malloc(r->size) : NULL;

    if (!name || (r->size && !data)) {
        free(name);
        free(data);
        return -ENOMEM;
    }
    if (r->size)
        memcpy(data, r->data, r->size);
    free(e->name);
    free(e->data);
    e->name = name;
    e->data = data;
    e->size = r->size;
    e->parent = r->parent;
    e->version = r->version;
    e->writer = r->writer;
    e->mtime = r->mtime;
    e->kind = r->kind;
    e->objtype = r->objtype;
    e->mode = r->mode;
    e->uid = r->uid;
    e->gid = r->gid;
    return 0;
}

static void note(struct memdb_change *c, uint8_t code, const struct memdb_entry *e)
{
    memset(c, 0, sizeof(*c));
    c->code = code;
    c->writer = 0; /* never this node: the kernel must be told */
    c->inode = e->inode;
    c->parent = e->parent;
    snprintf(c->name, sizeof(c->name), "%s", e->name);
}

/* Unlinks every entry in del and every existing entry that a row replaces. */
static int detach(struct memdb *m, const struct db_row *rows, size_t nrows, const uint64_t *del,
                  size_t ndel, struct memdb_entry **pend, struct memdb_change *chg, int *nchg)
{
    /* First out of their parents' lists, while every parent can still be found. */
    for (size_t i = 0; i < ndel + nrows; i++) {
        uint64_t ino = i < ndel ? del[i] : rows[i - ndel].inode;
        struct memdb_entry *e = (struct memdb_entry *)memdb_get(m, ino);
        if (e && e->inode != MEMDB_ROOT)
            memdb_detach_kid(m, e);
    }
    for (size_t i = 0; i < ndel; i++) {
        struct memdb_entry *e = (struct memdb_entry *)memdb_get(m, del[i]);
        if (!e || e->inode == MEMDB_ROOT)
            continue;
        note(&chg[(*nchg)++], MSG_DELETE, e);
        memdb_unlink(m, e);
        if (m->db && db_delete(m->db, e->inode))
            return -EIO;
        /* children that stay are in rows with their new parent: they are relinked */
        e->nkids = 0;
        memdb_entry_free(e);
    }
    for (size_t i = 0; i < nrows; i++) {
        struct memdb_entry *e = (struct memdb_entry *)memdb_get(m, rows[i].inode);
        if (e) {
            note(&chg[(*nchg)++], MSG_DELETE, e);
            memdb_unlink(m, e);
            if (set_fields(e, &rows[i]))
                return -ENOMEM;
        } else if (!(e = memdb_entry_new(&rows[i]))) {
            return -ENOMEM;
        }
        pend[i] = e;
    }
    return 0;
}

/*
 * The digest the tree would have after the install, computed without touching
 * it, so that a bad sync is refused before anything changes. A leader lists each
 * inode once (its rows and removals are disjoint sets); anything else fails here.
 */
static uint64_t predict(struct memdb *m, const struct db_row *rows, size_t nrows,
                        const uint64_t *del, size_t ndel)
{
    uint64_t d = m->digest;

    for (size_t i = 0; i < ndel + nrows; i++) {
        uint64_t ino = i < ndel ? del[i] : rows[i - ndel].inode;
        const struct memdb_entry *e = memdb_get(m, ino);
        if (e && !(i < ndel && ino == MEMDB_ROOT))
            d -= e->hash;
    }
    for (size_t i = 0; i < nrows; i++)
        d += memdb_row_hash(&rows[i]);
    return d;
}

int memdb_sync_apply(struct memdb *m, const struct db_row *rows, size_t nrows, const uint64_t *del,
                     size_t ndel, uint64_t version, uint64_t digest, char *err, size_t errlen)
{
    struct memdb_entry **pend = calloc(nrows ? nrows : 1, sizeof(*pend));
    struct memdb_change *chg = calloc(2 * nrows + ndel + 1, sizeof(*chg));
    int nchg = 0, rc;

    if (!pend || !chg) {
        free(pend);
        free(chg);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_rwlock_wrlock(&m->lock);
    if (predict(m, rows, nrows, del, ndel) != digest) {
        pthread_rwlock_unlock(&m->lock);
        snprintf(err, errlen, "the leader's rows do not add up to its digest %016llx",
                 (unsigned long long)digest);
        free(pend);
        free(chg);
        return -EBADMSG;
    }
    rc = m->db && db_begin(m->db) ? -EIO : 0;
    if (!rc)
        rc = detach(m, rows, nrows, del, ndel, pend, chg, &nchg);
    /* Two passes, as at load: a parent may come later in the list than its child. */
    for (size_t i = 0; i < nrows && !rc; i++)
        rc = memdb_link_ino(m, pend[i]);
    for (size_t i = 0; i < nrows && !rc; i++) {
        if ((rc = memdb_link_rest(m, pend[i])))
            snprintf(err, errlen, "synced entry %llu has no parent %llu",
                     (unsigned long long)pend[i]->inode, (unsigned long long)pend[i]->parent);
        else {
            note(&chg[nchg++], MSG_CREATE, pend[i]);
            if (m->db && memdb_persist(m, pend[i]))
                rc = -EIO;
        }
    }
    if (!rc && m->digest != digest) {
        snprintf(err, errlen, "digest after sync %016llx differs from the leader's %016llx",
                 (unsigned long long)m->digest, (unsigned long long)digest);
        rc = -EBADMSG;
    }
    if (!rc && m->db && (db_meta_set(m->db, "version", version) || db_commit(m->db)))
        rc = -EIO;
    if (!rc)
        m->version = version;
    if (rc) {
        char why[256];
        if (rc == -EIO)
            snprintf(err, errlen, "SQLite: %s", m->db ? db_errmsg(m->db) : "?");
        if (m->db)
            db_rollback(m->db);
        /* Entries half-linked above are owned by the tree or lost with it: start over from disk. */
        for (size_t i = 0; i < nrows; i++)
            if (pend[i] && !memdb_get(m, pend[i]->inode))
                memdb_entry_free(pend[i]);
        /* A memory-only tree (tests) cannot roll back; its next sync mends it. */
        if (m->db && memdb_reload(m, why, sizeof(why)))
            snprintf(err, errlen, "%s", why);
    }
    pthread_rwlock_unlock(&m->lock);
    if (!rc && nchg && m->on_change)
        m->on_change(m->change_arg, chg, nchg);
    free(pend);
    free(chg);
    return rc;
}
