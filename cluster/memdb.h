/*
 * memdb: the in-memory config tree, the one place that applies store batches.
 *
 * Every entry lives in three hash chains: by inode, by (parent, name), and, for
 * object types that have a uniqueness class, by (class, name), which is how VM
 * and CT ids stay unique tree-wide. Directories keep their children sorted by
 * inode; inodes only grow, so readdir offsets derived from them stay valid.
 *
 * Apply is deterministic: given the same state and the same batch, every node
 * reaches the same state, version and digest, including on failure (a batch
 * stops at its first failing op; earlier ops stay applied everywhere alike).
 *
 * The tree digest is the wrapping sum of an XXH3 hash of each entry, so it is
 * updated in O(changed entries).
 *
 * Locking: lock (a rwlock) guards everything. Readers call memdb_rdlock around
 * any use of returned entries. memdb_apply takes the write lock itself and
 * persists the batch in one SQLite transaction before it returns.
 */
#ifndef PV_MEMDB_H
#define PV_MEMDB_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "msg.h"

#define MEMDB_ROOT 1

enum memdb_kind { MEMDB_DIR = 1, MEMDB_FILE = 2 };

struct memdb_entry {
    uint64_t inode, parent, version;
    int64_t mtime;
    uint32_t writer;
    uint16_t kind, objtype;
    uint32_t mode, uid, gid;
    char *name;
    uint8_t *data;
    uint32_t size;

    /* private to memdb */
    uint64_t hash;
    struct memdb_entry *next_ino, *next_name, *next_uniq;
    struct memdb_entry **kids; /* dirs: sorted by inode */
    uint32_t nkids, capkids;
};

/* One change made by apply, for cache invalidation and pollers. */
struct memdb_change {
    uint8_t code; /* MSG_* */
    uint32_t writer;
    uint64_t inode, parent, old_parent;
    char name[MSG_MAX_NAME + 1], old_name[MSG_MAX_NAME + 1];
};

struct memdb_result {
    int err;       /* 0 or negative errno of the failing op */
    int failed_op; /* index of the failing op, -1 if none */
    char msg[256]; /* why the op failed */
    uint64_t created[MSG_MAX_OPS];
};

/* Maps an object type to its uniqueness class (0: names need not be unique). */
typedef uint32_t (*memdb_uniq_fn)(uint16_t objtype);
typedef void (*memdb_change_fn)(void *arg, const struct memdb_change *c, int n);

struct memdb;

/* Loads the tree from db (may be NULL for a memory-only tree, as in unit tests). */
int memdb_open(struct memdb **out, struct db *db, memdb_uniq_fn uniq, char *err, size_t errlen);
void memdb_close(struct memdb *m);
void memdb_on_change(struct memdb *m, memdb_change_fn fn, void *arg);

void memdb_rdlock(struct memdb *m);
void memdb_unlock(struct memdb *m);

/* Lookups: call under memdb_rdlock. */
const struct memdb_entry *memdb_get(struct memdb *m, uint64_t inode);
const struct memdb_entry *memdb_lookup(struct memdb *m, uint64_t parent, const char *name);
const struct memdb_entry *memdb_uniq(struct memdb *m, uint32_t cls, const char *name);
uint64_t memdb_version(struct memdb *m);
uint64_t memdb_digest(struct memdb *m);
uint64_t memdb_count(struct memdb *m);
uint64_t memdb_bytes(struct memdb *m);
uint32_t memdb_epoch(struct memdb *m);

/* Calls fn for every entry, in no particular order (under memdb_rdlock). */
void memdb_for_each(struct memdb *m, void (*fn)(void *arg, const struct memdb_entry *e), void *arg);

/* Index of the first child whose inode is greater than after. */
uint32_t memdb_kid_after(const struct memdb_entry *dir, uint64_t after);

/* State sync (memdb_sync.c): what a node has, what it sends, and installing it. */
struct memdb_ix {
    uint64_t inode, hash;
};
/* Every entry's (inode, hash), sorted by inode; also version and digest. Takes the lock. */
int memdb_index(struct memdb *m, struct memdb_ix **out, size_t *n, uint64_t *version,
                uint64_t *digest);
/* Calls fn with the row of each listed inode that exists (under the read lock). */
int memdb_export(struct memdb *m, const uint64_t *inodes, size_t n,
                 int (*fn)(void *arg, const struct db_row *row), void *arg);
/*
 * Installs the leader's state: rows replace or add entries, del drops them, the
 * version becomes version. Committed to SQLite only if the tree digest then
 * equals digest; otherwise the tree is reloaded from SQLite and -EBADMSG returned.
 */
int memdb_sync_apply(struct memdb *m, const struct db_row *rows, size_t nrows, const uint64_t *del,
                     size_t ndel, uint64_t version, uint64_t digest, char *err, size_t errlen);

/* Applies b (takes the write lock). Returns res->err. */
int memdb_apply(struct memdb *m, const struct msg_batch *b, struct memdb_result *res);

#endif
