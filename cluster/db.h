/*
 * db: the SQLite persistence of the config store.
 *
 * Schema (one row per file or directory; inode numbers are never reused):
 *
 *   tree(inode   INTEGER PRIMARY KEY,  -- = store version at creation
 *        parent  INTEGER NOT NULL,     -- 0 for the root
 *        version INTEGER NOT NULL,     -- store version of the last change
 *        writer  INTEGER NOT NULL,     -- node id that made it
 *        mtime   INTEGER NOT NULL,     -- ns since the epoch
 *        kind    INTEGER NOT NULL,     -- 1 dir, 2 file
 *        objtype INTEGER NOT NULL,     -- fs-layer object type
 *        mode, uid, gid INTEGER NOT NULL,
 *        name    TEXT NOT NULL,
 *        data    BLOB,
 *        UNIQUE(parent, name))
 *   meta(key TEXT PRIMARY KEY, value INTEGER)  -- "version", "epoch"
 *
 * WAL mode with synchronous=NORMAL: a committed transaction survives a crash of
 * the process (kill -9); power loss may lose the last transactions, which the
 * cluster restores from the other nodes. Every statement is prepared once.
 * Not thread-safe: the caller (memdb) serialises all calls.
 */
#ifndef PV_DB_H
#define PV_DB_H

#include <stddef.h>
#include <stdint.h>

struct db;

struct db_row {
    uint64_t inode, parent, version;
    uint32_t writer;
    int64_t mtime;
    uint16_t kind, objtype;
    uint32_t mode, uid, gid;
    const char *name;
    const void *data;
    uint32_t size;
};

int db_open(struct db **out, const char *path, char *err, size_t errlen);
void db_close(struct db *db);

/* Calls fn for each row in inode order; stops and returns fn's value if non-zero. */
int db_load(struct db *db, int (*fn)(void *arg, const struct db_row *row), void *arg);

int db_meta_get(struct db *db, const char *key, uint64_t *val);
int db_meta_set(struct db *db, const char *key, uint64_t val);

int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
int db_put(struct db *db, const struct db_row *row);
int db_delete(struct db *db, uint64_t inode);

/* The last error message of this connection. */
const char *db_errmsg(struct db *db);

#endif
