/* memdb: the in-memory config tree and the apply of store batches; see memdb.h. */
#include "memdb_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

static struct memdb_entry **next_of(struct memdb_entry *e, enum chain c)
{
    return c == BY_INO ? &e->next_ino : c == BY_NAME ? &e->next_name : &e->next_uniq;
}

static uint64_t key_hash(uint64_t a, const char *name)
{
    XXH3_state_t st;

    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, &a, sizeof(a));
    if (name)
        XXH3_64bits_update(&st, name, strlen(name));
    return XXH3_64bits_digest(&st);
}

static uint64_t uniq_key(uint32_t cls)
{
    return ~(uint64_t)cls;
}

static uint64_t entry_key(struct memdb *m, struct memdb_entry *e, enum chain c)
{
    switch (c) {
    case BY_INO:
        return key_hash(e->inode, NULL);
    case BY_NAME:
        return key_hash(e->parent, e->name);
    default:
        return key_hash(uniq_key(m->uniq(e->objtype)), e->name);
    }
}

static int htab_grow(struct memdb *m, enum chain c)
{
    struct htab *t = &m->tab[c];
    size_t nb = t->nb ? t->nb * 2 : 1024;
    struct memdb_entry **b = calloc(nb, sizeof(*b));

    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < t->nb; i++) {
        struct memdb_entry *e = t->b[i], *next;
        for (; e; e = next) {
            size_t h = entry_key(m, e, c) & (nb - 1);
            next = *next_of(e, c);
            *next_of(e, c) = b[h];
            b[h] = e;
        }
    }
    free(t->b);
    t->b = b;
    t->nb = nb;
    return 0;
}

static int htab_add(struct memdb *m, enum chain c, struct memdb_entry *e)
{
    struct htab *t = &m->tab[c];
    size_t h;

    if (t->n + 1 > t->nb && htab_grow(m, c))
        return -ENOMEM;
    h = entry_key(m, e, c) & (t->nb - 1);
    *next_of(e, c) = t->b[h];
    t->b[h] = e;
    t->n++;
    return 0;
}

static void htab_del(struct memdb *m, enum chain c, struct memdb_entry *e)
{
    struct htab *t = &m->tab[c];
    struct memdb_entry **pp;

    if (!t->nb)
        return;
    for (pp = &t->b[entry_key(m, e, c) & (t->nb - 1)]; *pp; pp = next_of(*pp, c)) {
        if (*pp == e) {
            *pp = *next_of(e, c);
            t->n--;
            return;
        }
    }
}

uint32_t memdb_uniq_class(struct memdb *m, uint16_t objtype)
{
    return m->uniq ? m->uniq(objtype) : 0;
}

static uint32_t uniq_class(struct memdb *m, const struct memdb_entry *e)
{
    return memdb_uniq_class(m, e->objtype);
}

uint64_t memdb_row_hash(const struct db_row *r)
{
    XXH3_state_t st;
    uint8_t hdr[8];
    uint64_t f[] = {r->inode,  r->parent, r->version, (uint64_t)r->mtime,
                    r->writer, r->kind,   r->objtype, r->mode,
                    r->uid,    r->gid,    r->size};

    /* Explicit little-endian field encoding keeps digests equal across hosts. */
    XXH3_64bits_reset(&st);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        for (int j = 0; j < 8; j++)
            hdr[j] = (uint8_t)(f[i] >> (8 * j));
        XXH3_64bits_update(&st, hdr, 8);
    }
    XXH3_64bits_update(&st, r->name, strlen(r->name) + 1);
    if (r->size)
        XXH3_64bits_update(&st, r->data, r->size);
    return XXH3_64bits_digest(&st);
}

static void entry_rehash(struct memdb *m, struct memdb_entry *e, int add)
{
    struct db_row r = memdb_row_of(e);

    m->digest -= e->hash;
    e->hash = add ? memdb_row_hash(&r) : 0;
    m->digest += e->hash;
}

static int kids_insert(struct memdb_entry *dir, struct memdb_entry *e)
{
    uint32_t at = memdb_kid_after(dir, e->inode);

    if (dir->nkids == dir->capkids) {
        uint32_t cap = dir->capkids ? dir->capkids * 2 : 8;
        struct memdb_entry **k = realloc(dir->kids, cap * sizeof(*k));
        if (!k)
            return -ENOMEM;
        dir->kids = k;
        dir->capkids = cap;
    }
    memmove(dir->kids + at + 1, dir->kids + at, (dir->nkids - at) * sizeof(*dir->kids));
    dir->kids[at] = e;
    dir->nkids++;
    return 0;
}

static void kids_remove(struct memdb_entry *dir, struct memdb_entry *e)
{
    uint32_t at = memdb_kid_after(dir, e->inode - 1);

    if (at < dir->nkids && dir->kids[at] == e) {
        memmove(dir->kids + at, dir->kids + at + 1, (dir->nkids - at - 1) * sizeof(*dir->kids));
        dir->nkids--;
    }
}

uint32_t memdb_kid_after(const struct memdb_entry *dir, uint64_t after)
{
    uint32_t lo = 0, hi = dir->nkids;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (dir->kids[mid]->inode <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void memdb_entry_free(struct memdb_entry *e)
{
    if (!e)
        return;
    free(e->name);
    free(e->data);
    free(e->kids);
    free(e);
}

/* Links a fully built entry into every index. The parent must exist (except root). */
/* Everything but the inode index: the entry is already findable by inode. */
int memdb_link_rest(struct memdb *m, struct memdb_entry *e)
{
    struct memdb_entry *p = e->parent ? (struct memdb_entry *)memdb_get(m, e->parent) : NULL;

    if (e->parent && (!p || p->kind != MEMDB_DIR))
        return -ENOENT;
    if (htab_add(m, BY_NAME, e))
        return -ENOMEM;
    if (uniq_class(m, e) && htab_add(m, BY_UNIQ, e))
        return -ENOMEM;
    if (p && kids_insert(p, e))
        return -ENOMEM;
    m->count++;
    m->bytes += e->size;
    entry_rehash(m, e, 1);
    return 0;
}

int memdb_link(struct memdb *m, struct memdb_entry *e)
{
    const struct memdb_entry *p = e->parent ? memdb_get(m, e->parent) : NULL;
    int rc;

    if (e->parent && (!p || p->kind != MEMDB_DIR))
        return -ENOENT;
    if (htab_add(m, BY_INO, e))
        return -ENOMEM;
    if ((rc = memdb_link_rest(m, e)))
        htab_del(m, BY_INO, e);
    return rc;
}

void memdb_unlink(struct memdb *m, struct memdb_entry *e)
{
    struct memdb_entry *p = (struct memdb_entry *)memdb_get(m, e->parent);

    if (p)
        kids_remove(p, e);
    htab_del(m, BY_INO, e);
    htab_del(m, BY_NAME, e);
    if (uniq_class(m, e))
        htab_del(m, BY_UNIQ, e);
    m->count--;
    m->bytes -= e->size;
    entry_rehash(m, e, 0);
}

const struct memdb_entry *memdb_get(struct memdb *m, uint64_t inode)
{
    struct htab *t = &m->tab[BY_INO];
    struct memdb_entry *e;

    if (!t->nb)
        return NULL;
    for (e = t->b[key_hash(inode, NULL) & (t->nb - 1)]; e; e = e->next_ino)
        if (e->inode == inode)
            return e;
    return NULL;
}

const struct memdb_entry *memdb_lookup(struct memdb *m, uint64_t parent, const char *name)
{
    struct htab *t = &m->tab[BY_NAME];
    struct memdb_entry *e;

    if (!t->nb)
        return NULL;
    for (e = t->b[key_hash(parent, name) & (t->nb - 1)]; e; e = e->next_name)
        if (e->parent == parent && strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

const struct memdb_entry *memdb_uniq(struct memdb *m, uint32_t cls, const char *name)
{
    struct htab *t = &m->tab[BY_UNIQ];
    struct memdb_entry *e;

    if (!t->nb || !cls)
        return NULL;
    for (e = t->b[key_hash(uniq_key(cls), name) & (t->nb - 1)]; e; e = e->next_uniq)
        if (uniq_class(m, e) == cls && strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

uint64_t memdb_version(struct memdb *m)
{
    return m->version;
}

uint64_t memdb_digest(struct memdb *m)
{
    return m->digest;
}

uint64_t memdb_count(struct memdb *m)
{
    return m->count;
}

uint64_t memdb_bytes(struct memdb *m)
{
    return m->bytes;
}

uint32_t memdb_epoch(struct memdb *m)
{
    return m->epoch;
}

void memdb_rdlock(struct memdb *m)
{
    pthread_rwlock_rdlock(&m->lock);
}

void memdb_unlock(struct memdb *m)
{
    pthread_rwlock_unlock(&m->lock);
}

void memdb_on_change(struct memdb *m, memdb_change_fn fn, void *arg)
{
    m->on_change = fn;
    m->change_arg = arg;
}

struct memdb_entry *memdb_entry_new(const struct db_row *r)
{
    struct memdb_entry *e = calloc(1, sizeof(*e));

    if (!e)
        return NULL;
    e->inode = r->inode;
    e->parent = r->parent;
    e->version = r->version;
    e->mtime = r->mtime;
    e->writer = r->writer;
    e->kind = r->kind;
    e->objtype = r->objtype;
    e->mode = r->mode;
    e->uid = r->uid;
    e->gid = r->gid;
    e->name = strdup(r->name);
    e->size = r->size;
    if (r->size) {
        e->data = malloc(r->size);
        if (e->data)
            memcpy(e->data, r->data, r->size);
    }
    if (!e->name || (r->size && !e->data)) {
        memdb_entry_free(e);
        return NULL;
    }
    return e;
}

/*
 * Loading runs in two passes: a rename can give an entry a parent with a higher
 * inode, so rows (read in inode order) are all made findable first, then linked.
 */
struct loader {
    struct memdb *m;
    struct memdb_entry **all;
    size_t n, cap;
};

static int load_row(void *arg, const struct db_row *r)
{
    struct loader *l = arg;
    struct memdb_entry *e = memdb_entry_new(r);

    if (!e)
        return -ENOMEM;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        struct memdb_entry **a = realloc(l->all, cap * sizeof(*a));
        if (!a) {
            memdb_entry_free(e);
            return -ENOMEM;
        }
        l->all = a;
        l->cap = cap;
    }
    if (htab_add(l->m, BY_INO, e)) {
        memdb_entry_free(e);
        return -ENOMEM;
    }
    l->all[l->n++] = e; /* owned by the inode index from here on */
    return 0;
}

static int load_tree(struct memdb *m, char *err, size_t errlen)
{
    struct loader l = {.m = m};
    int rc = db_load(m->db, load_row, &l);

    if (rc)
        snprintf(err, errlen, "cannot load the config tree: %s",
                 rc == -ENOMEM ? "out of memory" : db_errmsg(m->db));
    for (size_t i = 0; !rc && i < l.n; i++) {
        if ((rc = memdb_link_rest(m, l.all[i])))
            snprintf(err, errlen, "corrupt config tree: inode %llu '%s' has no parent %llu",
                     (unsigned long long)l.all[i]->inode, l.all[i]->name,
                     (unsigned long long)l.all[i]->parent);
    }
    free(l.all);
    return rc;
}

struct db_row memdb_row_of(const struct memdb_entry *e)
{
    struct db_row r = {
        .inode = e->inode,
        .parent = e->parent,
        .version = e->version,
        .writer = e->writer,
        .mtime = e->mtime,
        .kind = e->kind,
        .objtype = e->objtype,
        .mode = e->mode,
        .uid = e->uid,
        .gid = e->gid,
        .name = e->name,
        .data = e->data,
        .size = e->size,
    };
    return r;
}

int memdb_persist(struct memdb *m, const struct memdb_entry *e)
{
    struct db_row r = memdb_row_of(e);

    return m->db ? db_put(m->db, &r) : 0;
}

int memdb_open(struct memdb **out, struct db *db, memdb_uniq_fn uniq, char *err, size_t errlen)
{
    struct memdb *m = calloc(1, sizeof(*m));
    uint64_t v = 0;
    int rc;

    if (!m)
        return -ENOMEM;
    pthread_rwlock_init(&m->lock, NULL);
    m->db = db;
    m->uniq = uniq;
    if (db && (rc = load_tree(m, err, errlen))) {
        memdb_close(m);
        return rc;
    }
    if (db && db_meta_get(db, "version", &v) == 0)
        m->version = v;
    if (db && db_meta_get(db, "epoch", &v) == 0)
        m->epoch = (uint32_t)v;
    if (!m->epoch) {
        while (!m->epoch)
            if (getrandom(&m->epoch, sizeof(m->epoch), 0) != sizeof(m->epoch))
                m->epoch = 1;
    }
    if (!memdb_get(m, MEMDB_ROOT)) {
        struct db_row r = {.inode = MEMDB_ROOT,
                           .version = 1,
                           .kind = MEMDB_DIR,
                           .objtype = 1,
                           .mode = 0755,
                           .name = ""};
        struct memdb_entry *e = memdb_entry_new(&r);
        if (!e || memdb_link(m, e)) {
            memdb_entry_free(e);
            memdb_close(m);
            return -ENOMEM;
        }
        if (m->version < 1)
            m->version = 1;
        if (db && (db_begin(db) || memdb_persist(m, e) || db_meta_set(db, "version", m->version) ||
                   db_meta_set(db, "epoch", m->epoch) || db_commit(db))) {
            snprintf(err, errlen, "cannot initialise the store: %s", db_errmsg(db));
            memdb_close(m);
            return -EIO;
        }
    }
    *out = m;
    return 0;
}

static void free_entries(struct memdb *m)
{
    struct htab *t = &m->tab[BY_INO];

    for (size_t i = 0; i < t->nb; i++) {
        struct memdb_entry *e = t->b[i], *next;
        for (; e; e = next) {
            next = e->next_ino;
            memdb_entry_free(e);
        }
    }
    for (int c = 0; c < 3; c++) {
        free(m->tab[c].b);
        m->tab[c] = (struct htab){0};
    }
    m->digest = m->count = m->bytes = 0;
}

void memdb_close(struct memdb *m)
{
    if (!m)
        return;
    free_entries(m);
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

void memdb_detach_kid(struct memdb *m, struct memdb_entry *e)
{
    struct memdb_entry *p = (struct memdb_entry *)memdb_get(m, e->parent);

    if (p)
        kids_remove(p, e);
}

int memdb_link_ino(struct memdb *m, struct memdb_entry *e)
{
    return htab_add(m, BY_INO, e);
}

void memdb_for_each(struct memdb *m, void (*fn)(void *arg, const struct memdb_entry *e), void *arg)
{
    struct htab *t = &m->tab[BY_INO];

    for (size_t i = 0; i < t->nb; i++)
        for (const struct memdb_entry *e = t->b[i]; e; e = e->next_ino)
            fn(arg, e);
}

int memdb_reload(struct memdb *m, char *err, size_t errlen)
{
    uint64_t v = 0;
    int rc;

    free_entries(m);
    m->broken = 0;
    if (!m->db)
        return 0;
    if ((rc = load_tree(m, err, errlen))) {
        m->broken = 1;
        return rc;
    }
    if (db_meta_get(m->db, "version", &v) == 0)
        m->version = v;
    return 0;
}

void memdb_rehash(struct memdb *m, struct memdb_entry *e)
{
    entry_rehash(m, e, 1);
}

void memdb_account(struct memdb *m, const struct memdb_entry *e, int sign)
{
    if (sign > 0)
        m->bytes += e->size;
    else
        m->bytes -= e->size;
}

int memdb_move(struct memdb *m, struct memdb_entry *e, uint64_t parent, const char *name)
{
    struct memdb_entry *op = (struct memdb_entry *)memdb_get(m, e->parent);
    struct memdb_entry *np = (struct memdb_entry *)memdb_get(m, parent);
    char *nn = strdup(name);
    int uniq = uniq_class(m, e) != 0;

    if (!nn || !np)
        goto nomem;
    /* Reserve room first so no step below can fail half-way. */
    if (np->nkids == np->capkids) {
        uint32_t cap = np->capkids ? np->capkids * 2 : 8;
        struct memdb_entry **k = realloc(np->kids, cap * sizeof(*k));
        if (!k)
            goto nomem;
        np->kids = k;
        np->capkids = cap;
    }
    if (op)
        kids_remove(op, e);
    htab_del(m, BY_NAME, e);
    if (uniq)
        htab_del(m, BY_UNIQ, e);
    free(e->name);
    e->name = nn;
    e->parent = parent;
    kids_insert(np, e);
    /* The tables never shrink, so re-adding cannot need to grow them. */
    htab_add(m, BY_NAME, e);
    if (uniq)
        htab_add(m, BY_UNIQ, e);
    return 0;
nomem:
    free(nn);
    return -ENOMEM;
}
