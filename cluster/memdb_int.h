/* memdb internals shared by memdb.c (indexes, load) and memdb_apply.c (changes). */
#ifndef PV_MEMDB_INT_H
#define PV_MEMDB_INT_H

#include <pthread.h>

#include "memdb.h"

enum chain { BY_INO, BY_NAME, BY_UNIQ };

struct htab {
    struct memdb_entry **b;
    size_t nb, n;
};

struct memdb {
    pthread_rwlock_t lock;
    struct db *db;      /* may be NULL */
    memdb_uniq_fn uniq; /* may be NULL */
    memdb_change_fn on_change;
    void *change_arg;
    struct htab tab[3];    /* protected by lock */
    uint64_t version;      /* protected by lock */
    uint64_t digest;       /* protected by lock */
    uint64_t count, bytes; /* protected by lock */
    uint32_t epoch;
    int broken; /* a commit failed: memory and disk may differ */
};

struct memdb_entry *memdb_entry_new(const struct db_row *r);
void memdb_entry_free(struct memdb_entry *e);
/* Adds e to the indexes and to its parent, and its hash to the digest. */
int memdb_link(struct memdb *m, struct memdb_entry *e);
void memdb_unlink(struct memdb *m, struct memdb_entry *e);
/* Moves e to a new parent and name, keeping every index right. */
int memdb_move(struct memdb *m, struct memdb_entry *e, uint64_t parent, const char *name);
/* Recomputes e's hash after a change and updates the digest. */
void memdb_rehash(struct memdb *m, struct memdb_entry *e);
/* Adds (sign 1) or removes (-1) e's size from the byte count. */
void memdb_account(struct memdb *m, const struct memdb_entry *e, int sign);
int memdb_persist(struct memdb *m, const struct memdb_entry *e);
/* The two halves of memdb_link, for loads and syncs that link in two passes. */
int memdb_link_ino(struct memdb *m, struct memdb_entry *e);
/* Takes e out of its parent's child list only. */
void memdb_detach_kid(struct memdb *m, struct memdb_entry *e);
int memdb_link_rest(struct memdb *m, struct memdb_entry *e);
/* Drops the tree and loads it again from SQLite (lock held). */
int memdb_reload(struct memdb *m, char *err, size_t errlen);

uint32_t memdb_uniq_class(struct memdb *m, uint16_t objtype);
/* e as a row (pointers into e). */
struct db_row memdb_row_of(const struct memdb_entry *e);
/* The digest contribution of an entry with these fields. */
uint64_t memdb_row_hash(const struct db_row *r);

#endif
