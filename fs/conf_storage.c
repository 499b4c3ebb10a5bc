/*
 * conf_storage: key tables for storage/<id>/config (the fields of one section
 * of Proxmox's storage.cfg, written "key: value") and for ceph/config.
 *
 * Options belong to storage types; a whole-document check refuses an option
 * the storage's type does not have, and a type's missing required option.
 */
#include "conf_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int pat_abspath(const char *v, size_t n)
{
    return n > 1 && n < 1000 && v[0] == '/' && !memchr(v, ',', n);
}

static int pat_name(const char *v, size_t n)
{
    if (!n || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(v[i] >= 'a' && v[i] <= 'z') && !(v[i] >= 'A' && v[i] <= 'Z') &&
            !(v[i] >= '0' && v[i] <= '9') && v[i] != '-' && v[i] != '_' && v[i] != '.')
            return 0;
    return 1;
}

static int pat_nodes(const char *v, size_t n)
{
    return conf_list_ok(v, n, ',', pat_name);
}

static const char *const content_words[] = {"images",   "rootdir", "vztmpl", "iso", "backup",
                                            "snippets", "import",  "none",   NULL};

static int pat_content_word(const char *v, size_t n)
{
    for (int i = 0; content_words[i]; i++)
        if (strlen(content_words[i]) == n && memcmp(content_words[i], v, n) == 0)
            return 1;
    return 0;
}

static int pat_content(const char *v, size_t n)
{
    return conf_list_ok(v, n, ',', pat_content_word);
}

/* Monitor addresses: host[:port] or [v2:..,v1:..] lists, split by space, ',' or ';'. */
static int pat_monhost(const char *v, size_t n)
{
    return n > 0 && n < 500 &&
           conf_in_set(v, n,
                       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:-[],; /");
}

static const char *const types[] = {"dir", "rbd", NULL};
static const char *const formats[] = {"qcow2", "raw", "vmdk", NULL};
static const char *const prealloc[] = {"off", "metadata", "falloc", "full", NULL};

static const struct conf_type t_type = CONF_ENUM(types);
static const struct conf_type t_format = CONF_ENUM(formats);
static const struct conf_type t_prealloc = CONF_ENUM(prealloc);
static const struct conf_type t_path = CONF_PAT(pat_abspath, "an absolute path");
static const struct conf_type t_nodes = CONF_PAT(pat_nodes, "a list of node names");
static const struct conf_type t_content = CONF_PAT(pat_content, "a list of content types");
static const struct conf_type t_name = CONF_PAT(pat_name, "a name");
static const struct conf_type t_monhost = CONF_PAT(pat_monhost, "a list of monitor addresses");

static const struct conf_sub prune_subs[] = {
    {"keep-all", &conf_t_bool, 0},    {"keep-last", &conf_t_uint, 0},
    {"keep-hourly", &conf_t_uint, 0}, {"keep-daily", &conf_t_uint, 0},
    {"keep-weekly", &conf_t_uint, 0}, {"keep-monthly", &conf_t_uint, 0},
    {"keep-yearly", &conf_t_uint, 0},
};
static const struct conf_fmt prune_fmt = {prune_subs, N(prune_subs), 0, NULL, NULL};
static const struct conf_type t_prune = CONF_PROP(prune_fmt);

static const struct conf_sub bw_subs[] = {
    {"default", &conf_t_uint, 0}, {"clone", &conf_t_uint, 0},   {"migration", &conf_t_uint, 0},
    {"move", &conf_t_uint, 0},    {"restore", &conf_t_uint, 0},
};
static const struct conf_fmt bw_fmt = {bw_subs, N(bw_subs), 0, NULL, NULL};
static const struct conf_type t_bwlimit = CONF_PROP(bw_fmt);

/* Keys sorted bytewise, as canonical documents are. */
static const struct conf_key storage_keys[] = {
    {"bwlimit", -1, &t_bwlimit, 0},
    {"content", -1, &t_content, 0},
    {"content-dirs", -1, &conf_t_str, 0},
    {"create-base-path", -1, &conf_t_bool, 0},
    {"create-subdirs", -1, &conf_t_bool, 0},
    {"data-pool", -1, &t_name, 0},
    {"disable", -1, &conf_t_bool, 0},
    {"format", -1, &t_format, 0},
    {"is_mountpoint", -1, &conf_t_str, 0},
    {"keyring", -1, &t_path, 0},
    {"krbd", -1, &conf_t_bool, 0},
    {"max-files", -1, &conf_t_uint, 0},
    {"maxfiles", -1, &conf_t_uint, 0}, /* the older spelling, still in many storage.cfg */
    {"mkdir", -1, &conf_t_bool, 0},
    {"monhost", -1, &t_monhost, 0},
    {"namespace", -1, &t_name, 0},
    {"nodes", -1, &t_nodes, 0},
    {"path", -1, &t_path, 0},
    {"pool", -1, &t_name, 0},
    {"preallocation", -1, &t_prealloc, 0},
    {"prune-backups", -1, &t_prune, 0},
    {"shared", -1, &conf_t_bool, 0},
    {"type", -1, &t_type, 0},
    {"username", -1, &t_name, 0},
};

enum { S_DIR = 1, S_RBD = 2, S_ALL = 3 };

/* Which types have which option, and what each type requires. */
static const struct {
    const char *key;
    unsigned types;
} key_types[] = {
    {"bwlimit", S_ALL},        {"content", S_ALL},
    {"content-dirs", S_DIR},   {"create-base-path", S_DIR},
    {"create-subdirs", S_DIR}, {"data-pool", S_RBD},
    {"disable", S_ALL},        {"format", S_DIR},
    {"is_mountpoint", S_DIR},  {"keyring", S_RBD},
    {"krbd", S_RBD},           {"max-files", S_DIR},
    {"maxfiles", S_DIR},       {"mkdir", S_DIR},
    {"monhost", S_RBD},        {"namespace", S_RBD},
    {"nodes", S_ALL},          {"path", S_DIR},
    {"pool", S_RBD},           {"preallocation", S_DIR},
    {"prune-backups", S_DIR},  {"shared", S_ALL},
    {"type", S_ALL},           {"username", S_RBD},
};

static const struct {
    const char *type;
    unsigned bit;
    const char *required; /* option that must be set, or NULL */
    const char *content;  /* content types the storage can hold */
} type_rules[] = {
    {"dir", S_DIR, "path", "images,rootdir,vztmpl,iso,backup,snippets,import,none"},
    {"rbd", S_RBD, NULL, "images,rootdir,none"},
};

static int in_list(const char *list, const char *w, size_t n)
{
    for (const char *p = list; *p;) {
        size_t l = strcspn(p, ",");
        if (l == n && memcmp(p, w, n) == 0)
            return 1;
        p += l + (p[l] == ',');
    }
    return 0;
}

static int storage_check(const char *doc, size_t len, int partial, char *err, size_t errlen)
{
    char type[16], val[256];
    size_t t;

    /* the type decides which options apply: nothing can be judged before it */
    if (conf_get(doc, len, "type", type, sizeof(type)) < 0)
        return partial ? 0 : (snprintf(err, errlen, "no 'type:' line (dir or rbd)"), -EINVAL);
    for (t = 0; t < N(type_rules) && strcmp(type_rules[t].type, type) != 0; t++)
        ;
    if (t == N(type_rules))
        return snprintf(err, errlen, "unknown storage type '%s'", type), -EINVAL;
    for (size_t k = 0; k < N(key_types); k++) {
        if ((key_types[k].types & type_rules[t].bit) ||
            conf_get(doc, len, key_types[k].key, val, sizeof(val)) < 0)
            continue;
        snprintf(err, errlen, "option '%s' does not apply to %s storage", key_types[k].key, type);
        return -EINVAL;
    }
    if (!partial && type_rules[t].required &&
        conf_get(doc, len, type_rules[t].required, val, sizeof(val)) < 0) {
        snprintf(err, errlen, "%s storage needs '%s:'", type, type_rules[t].required);
        return -EINVAL;
    }
    if (conf_get(doc, len, "content", val, sizeof(val)) >= 0) {
        for (const char *p = val; *p;) {
            size_t l = strcspn(p, ",");
            if (!in_list(type_rules[t].content, p, l)) {
                snprintf(err, errlen, "%s storage cannot hold content '%.*s' (it can: %s)", type,
                         (int)l, p, type_rules[t].content);
                return -EINVAL;
            }
            p += l + (p[l] == ',');
        }
    }
    return 0;
}

/* Proxmox's storage types, so a pasted storage.cfg header is recognised as one. */
static const char *const pve_types[] = {
    "dir",     "rbd",   "nfs",         "cifs",      "cephfs", "lvm", "lvmthin", "zfs",
    "zfspool", "iscsi", "iscsidirect", "glusterfs", "btrfs",  "pbs", "esxi",    NULL};

static int is_key(const char *w, size_t n)
{
    for (size_t i = 0; i < N(storage_keys); i++)
        if (strlen(storage_keys[i].name) == n && memcmp(storage_keys[i].name, w, n) == 0)
            return 1;
    return 0;
}

/*
 * storage.cfg's own form: a "<type>: <id>" header, then indented "key value" lines
 * (a bare key is a flag set to 1). The id is the directory's name, so it is dropped.
 */
static int storage_convert(const char *ln, size_t n, char *out, size_t cap)
{
    size_t i = 0, k, v;
    int w;

    if (n && (ln[0] == ' ' || ln[0] == '\t')) {
        while (i < n && (ln[i] == ' ' || ln[i] == '\t'))
            i++;
        if (i == n)
            return -1;
        for (k = i; k < n && ln[k] != ' ' && ln[k] != '\t'; k++)
            ;
        for (v = k; v < n && (ln[v] == ' ' || ln[v] == '\t'); v++)
            ;
        w = v < n ? snprintf(out, cap, "%.*s: %.*s", (int)(k - i), ln + i, (int)(n - v), ln + v)
                  : snprintf(out, cap, "%.*s: 1", (int)(k - i), ln + i);
        return w > 0 && (size_t)w < cap ? w : -1;
    }
    for (k = 0; k < n && ln[k] != ':'; k++)
        ;
    if (k == n || is_key(ln, k))
        return -1;
    for (int t = 0; pve_types[t]; t++)
        if (strlen(pve_types[t]) == k && memcmp(pve_types[t], ln, k) == 0) {
            w = snprintf(out, cap, "type: %.*s", (int)k, ln);
            return w > 0 && (size_t)w < cap ? w : -1;
        }
    return -1;
}

const struct conf_schema conf_storage_schema = {
    .convert_line = storage_convert,
    .keys = storage_keys,
    .nkeys = N(storage_keys),
    .pending = "PENDING",
    .key_dash = 1,
    .flat = "a storage config",
    .doc_check = storage_check,
};

static const struct conf_key ceph_keys[] = {
    {"conf", -1, &t_path, 0},
    {"keyring", -1, &t_path, 0},
    {"monhost", -1, &t_monhost, 0},
    {"username", -1, &t_name, 0},
};

const struct conf_schema conf_ceph_schema = {
    .keys = ceph_keys,
    .nkeys = N(ceph_keys),
    .flat = "ceph/config",
};
