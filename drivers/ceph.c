/*
 * ceph: cluster status, pools and OSDs through mon commands. Commands are built
 * and replies parsed with json-c; errors keep librados's -errno and carry the
 * mon's status text.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ceph.h"

/* A new command object {"prefix": prefix, "format": "json"}. */
static json_object *cmd_new(const char *prefix)
{
    json_object *o = json_object_new_object();

    if (o) {
        json_object_object_add(o, "prefix", json_object_new_string(prefix));
        json_object_object_add(o, "format", json_object_new_string("json"));
    }
    return o;
}

static void cmd_str(json_object *o, const char *key, const char *val)
{
    json_object_object_add(o, key, json_object_new_string(val));
}

/*
 * Runs cmd (consumed) and, when reply is not NULL, parses the answer into it.
 * what names the operation for messages ("read the cluster status").
 */
static int run(rados_t c, json_object *cmd, json_object **reply, const char *what, char *err,
               size_t errlen)
{
    char st[512], *out = NULL;
    const char *text;
    size_t len = 0;
    int r;

    if (reply)
        *reply = NULL;
    if (!cmd || !(text = json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN))) {
        json_object_put(cmd);
        snprintf(err, errlen, "cannot %s: out of memory building the mon command", what);
        return -ENOMEM;
    }
    r = ceph_mon(c, text, reply ? &out : NULL, &len, st, sizeof(st));
    json_object_put(cmd);
    if (r < 0) {
        snprintf(err, errlen, "cannot %s: %s", what, st);
        return r;
    }
    if (!reply)
        return 0;
    json_tokener *tok = json_tokener_new();
    if (tok) {
        *reply = json_tokener_parse_ex(tok, out, (int)len);
        if (json_tokener_get_error(tok) != json_tokener_success) {
            json_object_put(*reply);
            *reply = NULL;
        }
        json_tokener_free(tok);
    }
    if (!*reply) {
        snprintf(err, errlen, "cannot %s: the mon's reply is not JSON: %.80s", what, out);
        r = -EPROTO;
    }
    free(out);
    return r;
}

/* The member at a dotted path ("pgmap.num_pgs"), or NULL. */
static json_object *get(json_object *o, const char *path)
{
    char key[64];

    while (o && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof(key), "%.*s", (int)n, path);
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &o))
            return NULL;
        path += n + (path[n] == '.');
    }
    return o;
}

/* json_object_array_length asserts on a non-array; replies may lack a member. */
static size_t arr_len(json_object *o)
{
    return json_object_is_type(o, json_type_array) ? json_object_array_length(o) : 0;
}

static int64_t get_i64(json_object *o, const char *path)
{
    return json_object_get_int64(get(o, path));
}

static uint64_t get_u64(json_object *o, const char *path)
{
    return json_object_get_uint64(get(o, path));
}

static const char *get_str(json_object *o, const char *path)
{
    json_object *v = get(o, path);

    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* Pool and application names: the characters our files and commands can carry. */
static int name_ok(const char *what, const char *name, size_t max, char *err, size_t errlen)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n >= max ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789_.-") != n ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        snprintf(err, errlen, "invalid %s name '%.*s': use 1-%zu of A-Z a-z 0-9 _ . -", what,
                 (int)(n > 80 ? 80 : n), name ? name : "", max - 1);
        return -EINVAL;
    }
    return 0;
}

enum stat_kind { S_STR, S_NUM, S_KEYS, S_NAMES, S_PGS };

/* Appends the value at path in kind's form; lists are comma-separated. */
static void stat_value(struct pv_buf *out, json_object *st, enum stat_kind kind, const char *path)
{
    json_object *v = get(st, path);
    size_t n = 0;

    switch (kind) {
    case S_STR:
        pv_buf_printf(out, " %s", get_str(st, path));
        break;
    case S_NUM:
        pv_buf_printf(out, " %llu", (unsigned long long)json_object_get_uint64(v));
        break;
    case S_KEYS:
        if (json_object_is_type(v, json_type_object)) {
            json_object_object_foreach(v, key, val)
            {
                (void)val;
                pv_buf_printf(out, "%s%s", n++ ? "," : " ", key);
            }
        }
        break;
    case S_NAMES:
        for (; n < arr_len(v); n++)
            pv_buf_printf(out, "%s%s", n ? "," : " ",
                          json_object_get_string(json_object_array_get_idx(v, n)));
        break;
    case S_PGS:
        for (; n < arr_len(v); n++) {
            json_object *e = json_object_array_get_idx(v, n);
            pv_buf_printf(out, "%s%s=%llu", n ? "," : " ", get_str(e, "state_name"),
                          (unsigned long long)get_u64(e, "count"));
        }
        break;
    }
}

int ceph_status_text(rados_t c, struct pv_buf *out, char *err, size_t errlen)
{
    static const struct {
        const char *key;
        enum stat_kind kind;
        const char *path;
    } lines[] = {
        {"health", S_STR, "health.status"},          {"checks", S_KEYS, "health.checks"},
        {"monitors", S_NUM, "monmap.num_mons"},      {"quorum", S_NAMES, "quorum_names"},
        {"osds", S_NUM, "osdmap.num_osds"},          {"osds_up", S_NUM, "osdmap.num_up_osds"},
        {"osds_in", S_NUM, "osdmap.num_in_osds"},    {"pgs", S_NUM, "pgmap.num_pgs"},
        {"pg_states", S_PGS, "pgmap.pgs_by_state"},  {"objects", S_NUM, "pgmap.num_objects"},
        {"bytes_used", S_NUM, "pgmap.bytes_used"},   {"bytes_avail", S_NUM, "pgmap.bytes_avail"},
        {"bytes_total", S_NUM, "pgmap.bytes_total"},
    };
    json_object *st, *osdmap;
    int r;

    if ((r = run(c, cmd_new("status"), &st, "read the Ceph status", err, errlen)) < 0)
        return r;
    /* releases before pacific nest the osdmap one level deeper */
    if ((osdmap = get(st, "osdmap.osdmap")))
        json_object_object_add(st, "osdmap", json_object_get(osdmap));
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        pv_buf_printf(out, "%s:", lines[i].key);
        stat_value(out, st, lines[i].kind, lines[i].path);
        pv_buf_printf(out, "\n");
    }
    json_object_put(st);
    if (out->oom) {
        snprintf(err, errlen, "cannot render the Ceph status: out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* Fills p's usage from a df reply (pools[] matched by id). */
static void pool_usage(json_object *df, struct ceph_pool *p)
{
    json_object *pools = get(df, "pools");

    for (size_t i = 0; i < arr_len(pools); i++) {
        json_object *e = json_object_array_get_idx(pools, i);
        if (get_i64(e, "id") != p->id)
            continue;
        p->stored = get_u64(e, "stats.stored");
        p->objects = get_u64(e, "stats.objects");
        p->max_avail = get_u64(e, "stats.max_avail");
        return;
    }
}

int ceph_pools(rados_t c, ceph_pool_fn fn, void *arg, char *err, size_t errlen)
{
    json_object *ls, *df, *cmd = cmd_new("osd pool ls");
    int r;

    if (cmd)
        cmd_str(cmd, "detail", "detail");
    if ((r = run(c, cmd, &ls, "list the Ceph pools", err, errlen)) < 0)
        return r;
    if ((r = run(c, cmd_new("df"), &df, "read the Ceph pool usage", err, errlen)) < 0) {
        json_object_put(ls);
        return r;
    }
    for (size_t i = 0; r == 0 && i < arr_len(ls); i++) {
        json_object *e = json_object_array_get_idx(ls, i), *apps;
        struct ceph_pool p = {.id = get_i64(e, "pool_id")};
        size_t n = 0;

        snprintf(p.name, sizeof(p.name), "%s", get_str(e, "pool_name"));
        p.size = (int)get_i64(e, "size");
        p.min_size = (int)get_i64(e, "min_size");
        p.pg_num = (int)get_i64(e, "pg_num");
        /* a pool may be tagged with several applications: comma-separated */
        if ((apps = get(e, "application_metadata")) &&
            json_object_is_type(apps, json_type_object)) {
            json_object_object_foreach(apps, app, meta)
            {
                (void)meta;
                n += (size_t)snprintf(p.application + n, sizeof(p.application) - n, "%s%s",
                                      n ? "," : "", app);
                if (n >= sizeof(p.application))
                    break;
            }
        }
        pool_usage(df, &p);
        r = fn(arg, &p);
    }
    json_object_put(ls);
    json_object_put(df);
    return r;
}

/*
 * 0 and the pool's id if it exists, -ENOENT if not. Asks the mon: this client's
 * osdmap may not have seen a create or delete yet, and the mon answers 0 to
 * creating an existing or deleting a missing pool.
 */
static int pool_exists(rados_t c, const char *name, int64_t *id, const char *what, char *err,
                       size_t errlen)
{
    json_object *reply, *cmd = cmd_new("osd pool get");
    int r;

    if (cmd) {
        cmd_str(cmd, "pool", name);
        cmd_str(cmd, "var", "size");
    }
    if ((r = run(c, cmd, &reply, what, err, errlen)) < 0)
        return r;
    *id = get_i64(reply, "pool_id");
    json_object_put(reply);
    return 0;
}

int ceph_pool_open(rados_t c, const char *pool, rados_ioctx_t *io, char *err, size_t errlen)
{
    char what[200];
    int64_t id;
    int r;

    /* By id, after the mon (which has a timeout) confirmed the pool: by name, librados
     * waits without a timeout for an osdmap that has the pool when its own lacks it. */
    snprintf(what, sizeof(what), "open pool %s", pool);
    if ((r = pool_exists(c, pool, &id, what, err, errlen)) < 0)
        return r;
    if ((r = rados_ioctx_create2(c, id, io)) == -ENOENT && rados_wait_for_latest_osdmap(c) == 0)
        r = rados_ioctx_create2(c, id, io);
    if (r < 0)
        snprintf(err, errlen, "cannot open pool %s: %s", pool, strerror(-r));
    return r;
}

/* Deletes a pool without the emptiness check; what says why for messages. */
static int pool_delete(rados_t c, const char *name, char *err, size_t errlen)
{
    json_object *cmd = cmd_new("osd pool delete");
    char what[200];

    if (cmd) {
        cmd_str(cmd, "pool", name);
        cmd_str(cmd, "pool2", name);
        json_object_object_add(cmd, "yes_i_really_really_mean_it", json_object_new_boolean(1));
    }
    snprintf(what, sizeof(what), "delete pool %s", name);
    return run(c, cmd, NULL, what, err, errlen);
}

static int pool_set(rados_t c, const char *name, const char *key, int value, char *err,
                    size_t errlen)
{
    json_object *cmd = cmd_new("osd pool set");
    char what[200], val[16];

    snprintf(val, sizeof(val), "%d", value);
    if (cmd) {
        cmd_str(cmd, "pool", name);
        cmd_str(cmd, "var", key);
        cmd_str(cmd, "val", val);
        /* the caller asked for 1 explicitly; mon_allow_pool_size_one still gates it */
        if (strcmp(key, "size") == 0 && value == 1)
            json_object_object_add(cmd, "yes_i_really_mean_it", json_object_new_boolean(1));
    }
    snprintf(what, sizeof(what), "set %s=%d on pool %s", key, value, name);
    return run(c, cmd, NULL, what, err, errlen);
}

int ceph_pool_create(rados_t c, const char *name, int pg_num, int size, int min_size,
                     const char *app, char *err, size_t errlen)
{
    json_object *cmd;
    char what[200], why[512];
    int64_t id;
    int r;

    if ((r = name_ok("pool", name, sizeof(((struct ceph_pool *)0)->name), err, errlen)) < 0)
        return r;
    if (app && *app &&
        (r = name_ok("application", app, sizeof(((struct ceph_pool *)0)->application), err,
                     errlen)) < 0)
        return r;
    if (pg_num < 0 || pg_num > 65536 || size < 0 || size > 10 || min_size < 0 ||
        (size && min_size > size)) {
        snprintf(err, errlen,
                 "cannot create pool %s: pg_num %d, size %d, min_size %d out of range (pg_num "
                 "0-65536, size 0-10, min_size 0-size; 0 = cluster default)",
                 name, pg_num, size, min_size);
        return -EINVAL;
    }
    /* the mon answers 0 for an existing pool; settings below would then change it */
    snprintf(what, sizeof(what), "create pool %s", name);
    if ((r = pool_exists(c, name, &id, what, err, errlen)) != -ENOENT) {
        if (r == 0)
            snprintf(err, errlen, "cannot create pool %s: it already exists", name);
        return r == 0 ? -EEXIST : r;
    }
    if ((cmd = cmd_new("osd pool create"))) {
        cmd_str(cmd, "pool", name);
        cmd_str(cmd, "pool_type", "replicated");
        if (pg_num) {
            json_object_object_add(cmd, "pg_num", json_object_new_int(pg_num));
            json_object_object_add(cmd, "pgp_num", json_object_new_int(pg_num));
        }
    }
    if ((r = run(c, cmd, NULL, what, err, errlen)) < 0)
        return r;
    if (size && (r = pool_set(c, name, "size", size, err, errlen)) < 0)
        goto undo;
    if (min_size && (r = pool_set(c, name, "min_size", min_size, err, errlen)) < 0)
        goto undo;
    if (app && *app) {
        if ((cmd = cmd_new("osd pool application enable"))) {
            cmd_str(cmd, "pool", name);
            cmd_str(cmd, "app", app);
        }
        snprintf(what, sizeof(what), "enable application %s on pool %s", app, name);
        if ((r = run(c, cmd, NULL, what, err, errlen)) < 0)
            goto undo;
    }
    return 0;
undo:
    /* half-configured pools must not stay: the caller asked for all or nothing */
    snprintf(why, sizeof(why), "%s", err);
    if (pool_delete(c, name, err, errlen) < 0)
        snprintf(err + strlen(err), errlen - strlen(err), " (after: %s)", why);
    else
        snprintf(err, errlen, "%s; pool %s removed again", why, name);
    return r;
}

int ceph_pool_set(rados_t c, const char *name, const char *key, int value, char *err, size_t errlen)
{
    static const struct {
        const char *key;
        int min, max;
    } keys[] = {
        {"size", 1, 10},
        {"min_size", 1, 10},
        {"pg_num", 1, 65536},
    };
    size_t i;
    int r;

    if ((r = name_ok("pool", name, sizeof(((struct ceph_pool *)0)->name), err, errlen)) < 0)
        return r;
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i].key, key) == 0)
            break;
    if (i == sizeof(keys) / sizeof(keys[0])) {
        snprintf(err, errlen, "cannot set %.40s on pool %s: only size, min_size and pg_num", key,
                 name);
        return -EINVAL;
    }
    if (value < keys[i].min || value > keys[i].max) {
        snprintf(err, errlen, "cannot set %s=%d on pool %s: must be %d-%d", key, value, name,
                 keys[i].min, keys[i].max);
        return -EINVAL;
    }
    return pool_set(c, name, key, value, err, errlen);
}

/* Objects rbd keeps in every pool it has used, images or not. */
static int rbd_bookkeeping(const char *oid)
{
    static const char *const names[] = {"rbd_directory", "rbd_info",      "rbd_children",
                                        "rbd_trash",     "rbd_mirroring", "rbd_namespace"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(oid, names[i]) == 0)
            return 1;
    return 0;
}

/* -ENOTEMPTY if pool id holds an object, in any namespace, other than rbd's bookkeeping. */
static int pool_empty(rados_t c, const char *name, int64_t id, char *err, size_t errlen)
{
    rados_list_ctx_t ls;
    rados_ioctx_t io;
    const char *entry;
    int r;

    /*
     * By id: opening by name waits without any timeout for a newer osdmap when the
     * pool is not in ours. The mon has just answered, so that wait is short here.
     */
    if ((r = rados_ioctx_create2(c, id, &io)) == -ENOENT && rados_wait_for_latest_osdmap(c) == 0)
        r = rados_ioctx_create2(c, id, &io);
    if (r < 0) {
        snprintf(err, errlen, "cannot delete pool %s: cannot open it: %s", name, strerror(-r));
        return r;
    }
    /* a listing, not the stats: those lag writes by a second or two */
    rados_ioctx_set_namespace(io, LIBRADOS_ALL_NSPACES);
    if ((r = rados_nobjects_list_open(io, &ls)) < 0) {
        snprintf(err, errlen, "cannot delete pool %s: cannot check that it is empty: %s", name,
                 strerror(-r));
        goto out;
    }
    while ((r = rados_nobjects_list_next(ls, &entry, NULL, NULL)) == 0 && rbd_bookkeeping(entry))
        ;
    rados_nobjects_list_close(ls);
    if (r == 0) {
        snprintf(err, errlen, "cannot delete pool %s: it holds objects (%s, ...)", name, entry);
        r = -ENOTEMPTY;
    } else if (r == -ENOENT) {
        r = 0;
    } else {
        snprintf(err, errlen, "cannot delete pool %s: cannot check that it is empty: %s", name,
                 strerror(-r));
    }
out:
    rados_ioctx_destroy(io);
    return r;
}

int ceph_pool_delete(rados_t c, const char *name, char *err, size_t errlen)
{
    char what[200];
    int64_t id;
    int r;

    if ((r = name_ok("pool", name, sizeof(((struct ceph_pool *)0)->name), err, errlen)) < 0)
        return r;
    snprintf(what, sizeof(what), "delete pool %s", name);
    if ((r = pool_exists(c, name, &id, what, err, errlen)) < 0)
        return r;
    if ((r = pool_empty(c, name, id, err, errlen)) < 0)
        return r;
    return pool_delete(c, name, err, errlen);
}

int ceph_osds(rados_t c, ceph_osd_fn fn, void *arg, char *err, size_t errlen)
{
    json_object *dump, *osds;
    int r;

    if ((r = run(c, cmd_new("osd dump"), &dump, "read the Ceph OSD map", err, errlen)) < 0)
        return r;
    osds = get(dump, "osds");
    for (size_t i = 0; r == 0 && i < arr_len(osds); i++) {
        json_object *e = json_object_array_get_idx(osds, i);
        struct ceph_osd o = {
            .id = (int)get_i64(e, "osd"),
            .up = get_i64(e, "up") != 0,
            .in = get_i64(e, "in") != 0,
            .weight = json_object_get_double(get(e, "weight")),
        };
        snprintf(o.addr, sizeof(o.addr), "%s", get_str(e, "public_addr"));
        r = fn(arg, &o);
    }
    json_object_put(dump);
    return r;
}

static int find_osd(void *arg, const struct ceph_osd *o)
{
    return o->id == *(int *)arg;
}

int ceph_osd_inout(rados_t c, int id, int in, char *err, size_t errlen)
{
    const char *verb = in ? "in" : "out";
    json_object *cmd;
    char what[64], ids[16];
    int r, want = id;

    if (id < 0) {
        snprintf(err, errlen, "cannot mark osd.%d %s: OSD ids are not negative", id, verb);
        return -EINVAL;
    }
    snprintf(what, sizeof(what), "mark osd.%d %s", id, verb);
    /* the mon answers 0 for an unknown id */
    if ((r = ceph_osds(c, find_osd, &want, err, errlen)) < 0)
        return r;
    if (r == 0) {
        snprintf(err, errlen, "cannot %s: no such OSD", what);
        return -ENOENT;
    }
    snprintf(ids, sizeof(ids), "%d", id);
    if ((cmd = cmd_new(in ? "osd in" : "osd out"))) {
        json_object *a = json_object_new_array();
        json_object_array_add(a, json_object_new_string(ids));
        json_object_object_add(cmd, "ids", a);
    }
    return run(c, cmd, NULL, what, err, errlen);
}
