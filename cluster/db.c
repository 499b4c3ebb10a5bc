/* db: SQLite persistence of the config store; see db.h for the schema. */
#include "db.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

enum {
    ST_LOAD,
    ST_META_GET,
    ST_META_SET,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_PUT,
    ST_DELETE,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_LOAD] = "SELECT inode, parent, version, writer, mtime, kind, objtype, mode, uid, gid, "
                "name, data FROM tree ORDER BY inode",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_PUT] = "INSERT INTO tree(inode, parent, version, writer, mtime, kind, objtype, mode, uid, "
               "gid, name, data) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
               "ON CONFLICT(inode) DO UPDATE SET parent = excluded.parent, version = "
               "excluded.version, writer = excluded.writer, mtime = excluded.mtime, kind = "
               "excluded.kind, objtype = excluded.objtype, mode = excluded.mode, uid = "
               "excluded.uid, gid = excluded.gid, name = excluded.name, data = excluded.data",
    [ST_DELETE] = "DELETE FROM tree WHERE inode = ?1",
};

static const char schema_sql[] =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = NORMAL;"
    "CREATE TABLE IF NOT EXISTS tree("
    " inode INTEGER PRIMARY KEY, parent INTEGER NOT NULL, version INTEGER NOT NULL,"
    " writer INTEGER NOT NULL, mtime INTEGER NOT NULL, kind INTEGER NOT NULL,"
    " objtype INTEGER NOT NULL, mode INTEGER NOT NULL, uid INTEGER NOT NULL,"
    " gid INTEGER NOT NULL, name TEXT NOT NULL, data BLOB, UNIQUE(parent, name));"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);";

struct db {
    sqlite3 *conn;
    sqlite3_stmt *st[ST_COUNT];
};

static int run(struct db *db, int which)
{
    sqlite3_stmt *s = db->st[which];
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -EIO;
}

int db_open(struct db **out, const char *path, char *err, size_t errlen)
{
    struct db *db = calloc(1, sizeof(*db));
    char *msg = NULL;

    if (!db)
        return -ENOMEM;
    if (sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)) {
        snprintf(err, errlen, "cannot open %s: %s", path, sqlite3_errmsg(db->conn));
        goto out_close;
    }
    sqlite3_busy_timeout(db->conn, 5000);
    if (sqlite3_exec(db->conn, schema_sql, NULL, NULL, &msg)) {
        snprintf(err, errlen, "cannot set up schema in %s: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        goto out_close;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(db->conn, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->st[i],
                               NULL)) {
            snprintf(err, errlen, "cannot prepare statement %d: %s", i, sqlite3_errmsg(db->conn));
            goto out_close;
        }
    }
    *out = db;
    return 0;

out_close:
    db_close(db);
    return -EIO;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(db->st[i]);
    sqlite3_close(db->conn);
    free(db);
}

int db_load(struct db *db, int (*fn)(void *arg, const struct db_row *row), void *arg)
{
    sqlite3_stmt *s = db->st[ST_LOAD];
    int rc, ret = 0;

    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct db_row r = {
            .inode = (uint64_t)sqlite3_column_int64(s, 0),
            .parent = (uint64_t)sqlite3_column_int64(s, 1),
            .version = (uint64_t)sqlite3_column_int64(s, 2),
            .writer = (uint32_t)sqlite3_column_int64(s, 3),
            .mtime = sqlite3_column_int64(s, 4),
            .kind = (uint16_t)sqlite3_column_int(s, 5),
            .objtype = (uint16_t)sqlite3_column_int(s, 6),
            .mode = (uint32_t)sqlite3_column_int64(s, 7),
            .uid = (uint32_t)sqlite3_column_int64(s, 8),
            .gid = (uint32_t)sqlite3_column_int64(s, 9),
            .name = (const char *)sqlite3_column_text(s, 10),
            .data = sqlite3_column_blob(s, 11),
            .size = (uint32_t)sqlite3_column_bytes(s, 11),
        };
        if (!r.name)
            r.name = "";
        ret = fn(arg, &r);
        if (ret)
            break;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = -EIO;
    sqlite3_reset(s);
    return ret;
}

int db_meta_get(struct db *db, const char *key, uint64_t *val)
{
    sqlite3_stmt *s = db->st[ST_META_GET];
    int rc;

    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *val = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

int db_meta_set(struct db *db, const char *key, uint64_t val)
{
    sqlite3_stmt *s = db->st[ST_META_SET];

    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)val);
    return run(db, ST_META_SET);
}

int db_begin(struct db *db)
{
    return run(db, ST_BEGIN);
}

int db_commit(struct db *db)
{
    return run(db, ST_COMMIT);
}

void db_rollback(struct db *db)
{
    run(db, ST_ROLLBACK);
}

int db_put(struct db *db, const struct db_row *r)
{
    sqlite3_stmt *s = db->st[ST_PUT];

    sqlite3_bind_int64(s, 1, (sqlite3_int64)r->inode);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)r->parent);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)r->version);
    sqlite3_bind_int64(s, 4, r->writer);
    sqlite3_bind_int64(s, 5, r->mtime);
    sqlite3_bind_int(s, 6, r->kind);
    sqlite3_bind_int(s, 7, r->objtype);
    sqlite3_bind_int64(s, 8, r->mode);
    sqlite3_bind_int64(s, 9, r->uid);
    sqlite3_bind_int64(s, 10, r->gid);
    sqlite3_bind_text(s, 11, r->name, -1, SQLITE_STATIC);
    if (r->size)
        sqlite3_bind_blob(s, 12, r->data, (int)r->size, SQLITE_STATIC);
    else
        sqlite3_bind_zeroblob(s, 12, 0);
    return run(db, ST_PUT);
}

int db_delete(struct db *db, uint64_t inode)
{
    sqlite3_bind_int64(db->st[ST_DELETE], 1, (sqlite3_int64)inode);
    return run(db, ST_DELETE);
}

const char *db_errmsg(struct db *db)
{
    return sqlite3_errmsg(db->conn);
}
