/*
 * files_guest: the generated files of a guest (state, status, ctl) and the
 * initial config of a new one. Actions go to the guest's driver (drivers/drv.h)
 * through one table of verbs, which checks arity and arguments first.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../cluster/clog.h"
#include "../cluster/kvs.h"
#include "../drivers/drv.h"
#include "../drivers/stor.h"
#include "conf.h"
#include "files.h"
#include "fs.h"
#include "notify.h"
#include "guest.h"

const char *guest_kind(const struct pv_obj *o)
{
    return o->type == T_LXC ? "lxc" : "qemu";
}

void guest_of(const struct pv_obj *o, struct drv_guest *g)
{
    memset(g, 0, sizeof(*g));
    g->kind = guest_kind(o);
    g->node = o->node;
    g->id = o->name;
}

/* A malloc'd copy of the guest's stored config (for a driver action), or NULL. */
char *guest_config_copy(const struct pv_obj *o, size_t *len)
{
    const struct memdb_entry *c;
    char *p = NULL;

    memdb_rdlock(o->fs->mem);
    c = memdb_lookup(o->fs->mem, o->dir, "config");
    if (c && (p = malloc(c->size + 1))) {
        if (c->size)
            memcpy(p, c->data, c->size);
        p[c->size] = 0;
        *len = c->size;
    }
    memdb_unlock(o->fs->mem);
    return p;
}

int is_remote(const struct pv_obj *o)
{
    return o->node[0] && strcmp(o->node, o->fs->node) != 0;
}

/*
 * A guest on another node: its owner publishes "guest.<kind>.<id>: <state> <k>=<v>..."
 * on the status channel. Fills state and, if lines, its "k: v" lines. 0 or -ENOENT.
 */
int remote_guest(const struct pv_obj *o, char *state, size_t slen, struct pv_buf *lines)
{
    struct kvs *k = fs_cluster_kvs(o->fs);
    char key[128], *text = NULL;
    size_t len = 0, kl;
    int64_t age = 0;
    int online = 0, rc = -ENOENT;

    if (!k || kvs_status(k, o->node, &text, &len, &online, &age))
        return -ENOENT;
    kl = (size_t)snprintf(key, sizeof(key), "guest.%s.%s: ", guest_kind(o), o->name);
    for (const char *p = text; p && p < text + len && rc;) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
        if (l > kl && memcmp(p, key, kl) == 0) {
            const char *v = p + kl, *end = p + l;
            size_t w = strcspn(v, " \n");
            snprintf(state, slen, "%.*s", (int)w, v);
            for (v += w; v < end && lines;) {
                const char *eq, *sp;
                while (v < end && *v == ' ')
                    v++;
                sp = memchr(v, ' ', (size_t)(end - v));
                sp = sp ? sp : end;
                eq = memchr(v, '=', (size_t)(sp - v));
                if (eq)
                    pv_buf_printf(lines, "%.*s: %.*s\n", (int)(eq - v), v, (int)(sp - eq - 1),
                                  eq + 1);
                v = sp;
            }
            rc = 0;
        }
        p = nl ? nl + 1 : NULL;
    }
    free(text);
    if (rc == 0 && !online)
        snprintf(state, slen, "unknown");
    return rc;
}

void guest_publish_lines(struct fs *fs, struct pv_buf *out)
{
    static const char *const kinds[] = {"qemu", "lxc"};
    const struct memdb_entry *self, *list;
    char ids[512][16];
    size_t n[2] = {0, 0}, base = 0;

    memdb_rdlock(fs->mem);
    self = memdb_get(fs->mem, fs->node_dir);
    for (int k = 0; k < 2; k++) {
        list = self ? memdb_lookup(fs->mem, self->inode, kinds[k]) : NULL;
        for (uint32_t i = 0; list && i < list->nkids && base + n[k] < 512; i++)
            snprintf(ids[base + n[k]++], sizeof(ids[0]), "%.15s", list->kids[i]->name);
        base += n[k];
    }
    memdb_unlock(fs->mem);
    base = 0;
    for (int k = 0; k < 2; k++) {
        const struct drv_guest_ops *d = drv_guest(kinds[k]);
        for (size_t i = 0; i < n[k]; i++) {
            struct drv_guest g = {.kind = kinds[k], .node = fs->node, .id = ids[base + i]};
            struct pv_buf st = {0};
            char state[32];
            if (d->state(&g, state, sizeof(state)))
                snprintf(state, sizeof(state), "unknown");
            pv_buf_printf(out, "guest.%s.%s: %s", kinds[k], g.id, state);
            if (d->status)
                d->status(&g, &st);
            /* "k: v" lines become " k=v" pairs on one line */
            for (const char *p = st.p, *end = st.p + st.len; p && p < end;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p)), *c;
                size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
                if ((c = memchr(p, ':', l)) && !memchr(c + 2, ' ', l - (size_t)(c + 2 - p)))
                    pv_buf_printf(out, " %.*s=%.*s", (int)(c - p), p,
                                  (int)(l - (size_t)(c + 2 - p)), c + 2);
                p += l + 1;
            }
            pv_buf_printf(out, "\n");
            pv_buf_free(&st);
        }
        base += n[k];
    }
}

/* Value of key in the guest's stored config, or def. */
void guest_config_value(const struct pv_obj *o, const char *key, const char *def, char *val,
                        size_t len)
{
    const struct memdb_entry *c;
    int rc = -ENOENT;

    memdb_rdlock(o->fs->mem);
    c = memdb_lookup(o->fs->mem, o->dir, "config");
    if (c)
        rc = conf_get((const char *)c->data, c->size, key, val, len);
    memdb_unlock(o->fs->mem);
    if (rc < 0)
        snprintf(val, len, "%s", def);
}

void guest_random_mac(char *buf, size_t len)
{
    unsigned char r[6] = {0};

    if (getrandom(r, sizeof(r), 0) != sizeof(r))
        for (int i = 0; i < 6; i++)
            r[i] = (unsigned char)rand();
    r[0] = (unsigned char)((r[0] & 0xfc) | 0x02); /* locally administered, unicast */
    snprintf(buf, len, "%02X:%02X:%02X:%02X:%02X:%02X", r[0], r[1], r[2], r[3], r[4], r[5]);
}

void guest_uuid(char *buf, size_t len)
{
    unsigned char r[16] = {0};

    if (getrandom(r, sizeof(r), 0) != sizeof(r))
        for (int i = 0; i < 16; i++)
            r[i] = (unsigned char)rand();
    r[6] = (r[6] & 0x0f) | 0x40;
    r[8] = (r[8] & 0x3f) | 0x80;
    snprintf(buf, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

int qemu_config_initial(const struct pv_obj *o, struct pv_buf *out)
{
    char u1[40], u2[40];

    /* Random ids are chosen here, on the writer, so every node stores the same bytes. */
    guest_uuid(u1, sizeof(u1));
    guest_uuid(u2, sizeof(u2));
    return pv_buf_printf(out,
                         "cores: 1\nmemory: 512\nname: vm%s\nostype: l26\nscsihw: "
                         "virtio-scsi-single\nsmbios1: uuid=%s\nsockets: 1\nvmgenid: %s\n",
                         o->name, u1, u2);
}

int lxc_config_initial(const struct pv_obj *o, struct pv_buf *out)
{
    return pv_buf_printf(out,
                         "arch: amd64\ncores: 1\nhostname: ct%s\nmemory: 512\nostype: debian\n"
                         "swap: 512\n",
                         o->name);
}

int guest_state_render(const struct pv_obj *o, struct pv_buf *out)
{
    struct drv_guest g;
    char st[32];
    int rc;

    if (is_remote(o)) {
        if (remote_guest(o, st, sizeof(st), NULL))
            snprintf(st, sizeof(st), "unknown");
        return pv_buf_printf(out, "%s\n", st);
    }
    guest_of(o, &g);
    if ((rc = drv_guest(g.kind)->state(&g, st, sizeof(st))))
        return rc;
    return pv_buf_printf(out, "%s\n", st);
}

int guest_status_render(const struct pv_obj *o, struct pv_buf *out)
{
    const struct drv_guest_ops *d;
    char st[32], mem[32], cores[32], sockets[32], name[128];
    struct drv_guest g;

    struct pv_buf live = {0};

    guest_of(o, &g);
    d = drv_guest(g.kind);
    if (is_remote(o)) {
        if (remote_guest(o, st, sizeof(st), &live))
            snprintf(st, sizeof(st), "unknown");
    } else {
        if (d->state(&g, st, sizeof(st)))
            snprintf(st, sizeof(st), "unknown");
        if (d->status)
            d->status(&g, &live);
    }
    guest_config_value(o, "memory", "512", mem, sizeof(mem));
    guest_config_value(o, "cores", "1", cores, sizeof(cores));
    guest_config_value(o, "sockets", "1", sockets, sizeof(sockets));
    guest_config_value(o, o->type == T_LXC ? "hostname" : "name", "", name, sizeof(name));
    pv_buf_printf(out,
                  "vmid: %s\ntype: %s\nnode: %s\nname: %s\nstate: %s\ndriver: %s\n"
                  "cpus: %ld\nmaxmem: %llu\n",
                  o->name, g.kind, o->node, name, st, d->name,
                  strtol(cores, NULL, 10) * (o->type == T_LXC ? 1 : strtol(sockets, NULL, 10)),
                  strtoull(mem, NULL, 10) * 1024 * 1024);
    if (live.len)
        pv_buf_add(out, live.p, live.len);
    pv_buf_free(&live);
    return out->oom ? -ENOMEM : 0;
}

static int snapname_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 2 || n > 40 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static int node_exists(const struct pv_obj *o, const char *node)
{
    const struct memdb_entry *nodes;
    int ok;

    memdb_rdlock(o->fs->mem);
    nodes = memdb_lookup(o->fs->mem, MEMDB_ROOT, "nodes");
    ok = nodes && memdb_lookup(o->fs->mem, nodes->inode, node) != NULL;
    memdb_unlock(o->fs->mem);
    return ok;
}

static void mirror_snaps(const struct pv_obj *o, const struct drv_guest *g);

/* snapshots/ holds what the driver has: after each snapshot verb, add and drop entries. */
struct snapset {
    char names[64][64];
    char recs[64][256];
    int n;
};

static int collect_snap(void *arg, const char *name, const char *parent, long long time, int ram)
{
    struct snapset *s = arg;

    if (s->n >= 64)
        return 1;
    snprintf(s->names[s->n], sizeof(s->names[0]), "%.63s", name);
    snprintf(s->recs[s->n], sizeof(s->recs[0]), "parent: %.63s\nram: %d\nsnaptime: %lld\n",
             parent[0] ? parent : "", ram, time);
    s->n++;
    return 0;
}

void guest_mirror_snaps(const struct pv_obj *o)
{
    struct drv_guest g;
    char *cfg;

    guest_of(o, &g);
    cfg = guest_config_copy(o, &g.config_len);
    g.config = cfg;
    mirror_snaps(o, &g);
    free(cfg);
}

static void mirror_snaps(const struct pv_obj *o, const struct drv_guest *g)
{
    const struct drv_guest_ops *d = drv_guest(g->kind);
    const struct memdb_entry *sd;
    struct snapset *s = calloc(1, sizeof(*s));
    uint64_t dir = 0, drop[64];
    int ndrop = 0;
    struct pv_err e = {0};

    if (!s || !d->snaps || d->snaps(g, collect_snap, s) < 0) {
        free(s);
        return;
    }
    memdb_rdlock(o->fs->mem);
    if ((sd = memdb_lookup(o->fs->mem, o->dir, "snapshots"))) {
        dir = sd->inode;
        for (uint32_t k = 0; k < sd->nkids && ndrop < 64; k++) {
            int i;
            for (i = 0; i < s->n && strcmp(s->names[i], sd->kids[k]->name) != 0; i++)
                ;
            if (i == s->n)
                drop[ndrop++] = sd->kids[k]->inode;
        }
    }
    memdb_unlock(o->fs->mem);
    for (int i = 0; dir && i < s->n; i++) {
        const struct memdb_entry *k;
        uint64_t ino = 0;
        memdb_rdlock(o->fs->mem);
        if ((k = memdb_lookup(o->fs->mem, dir, s->names[i])))
            ino = k->inode;
        memdb_unlock(o->fs->mem);
        if (ino)
            fs_catalog_record(o->fs, ino, s->recs[i], &e);
        else
            fs_catalog_create(o->fs, dir, s->names[i], T_GSNAP, s->recs[i], NULL, &e);
    }
    for (int i = 0; i < ndrop; i++)
        fs_catalog_remove(o->fs, drop[i], &e);
    free(s);
}

enum {
    ARG_SNAP = 1,
    ARG_NODE = 2,
    ARG_INT = 3,
    ARG_SHUTDOWN = 4,
    ARG_DISK = 5,
    ARG_CLONE = 6,   /* <newid> [full]: files_clone.c */
    ARG_TEMPLATE = 7 /* no arguments: files_clone.c */
};

/* Verbs that make a guest run: a template never runs, it is only cloned. */
enum { VF_RUNS = 1 };

static const struct guest_verb {
    const char *verb;
    int min, max;
    int arg; /* what the first argument must be */
    unsigned flags;
} guest_verbs[] = {
    {"start", 0, 0, 0, VF_RUNS},
    {"stop", 0, 0, 0, 0},
    {"shutdown", 0, 2, ARG_SHUTDOWN, 0},
    {"reboot", 0, 0, 0, 0},
    {"reset", 0, 0, 0, 0},
    {"suspend", 0, 0, 0, 0},
    {"resume", 0, 0, 0, 0},
    {"migrate", 1, 2, ARG_NODE, 0},
    {"snapshot", 1, 1, ARG_SNAP, 0},
    {"rollback", 1, 1, ARG_SNAP, 0},
    {"delsnapshot", 1, 1, ARG_SNAP, 0},
    {"resize", 2, 2, ARG_DISK, 0},
    {"apply", 0, 0, 0, 0},
    {"clone", 1, 2, ARG_CLONE, 0},
    {"template", 0, 0, ARG_TEMPLATE, 0},
};

static int run_verb(const struct pv_obj *o, const struct guest_verb *v, int argc, char **argv,
                    struct pv_err *e)
{
    struct drv_guest g;
    char *end, *cfg;
    int rc;

    if (argc < v->min || argc > v->max)
        return pv_fail(e, EINVAL, "%s takes %d to %d arguments", v->verb, v->min, v->max);
    if (argc && v->arg == ARG_SNAP && !snapname_ok(argv[0]))
        return pv_fail(e, EINVAL, "'%.64s' is not a valid snapshot name", argv[0]);
    if (argc && v->arg == ARG_NODE && !node_exists(o, argv[0]))
        return pv_fail(e, EINVAL, "no node named '%.64s'", argv[0]);
    if (argc && v->arg == ARG_INT && (strtol(argv[0], &end, 10) < 0 || *end))
        return pv_fail(e, EINVAL, "'%.64s' is not a number of seconds", argv[0]);
    for (int i = 0; v->arg == ARG_SHUTDOWN && i < argc; i++)
        if (strcmp(argv[i], "--force") != 0 &&
            (strtol(argv[i], &end, 10) <= 0 || *end || !isdigit((unsigned char)argv[i][0])))
            return pv_fail(e, EINVAL, "shutdown takes [<seconds>] [--force], not '%.64s'", argv[i]);
    if (v->arg == ARG_SNAP && argc && o->type == T_LXC)
        return lxc_snap_verb(o, v->verb, argv[0], e);
    if (v->arg == ARG_DISK && argc == 2)
        return guest_resize(o, argv[0], argv[1], e);
    if (v->arg == ARG_NODE && argc >= 1)
        return guest_migrate(o, argv[0], argc > 1 ? argv[1] : NULL, e);
    if (v->arg == ARG_CLONE && argc >= 1)
        return guest_clone(o, argv[0], argc > 1 ? argv[1] : NULL, e);
    if (v->arg == ARG_TEMPLATE)
        return guest_template(o, e);
    if ((v->flags & VF_RUNS) && guest_is_template(o))
        return pv_fail(e, EINVAL, "vm %s is a template: it does not run; clone it (clone <newid>)",
                       o->name);
    guest_of(o, &g);
    cfg = guest_config_copy(o, &g.config_len);
    g.config = cfg;
    if ((rc = drv_guest(g.kind)->action(&g, v->verb, argc, argv, e->msg, sizeof(e->msg))))
        e->err = -rc;
    else
        clog_append(g.kind, "%s %s on %s: done", v->verb, o->name, o->fs->node);
    if (v->arg == ARG_SNAP)
        mirror_snaps(o, &g);
    free(cfg);
    notify_kick(o->fs);
    return rc;
}

int guest_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e)
{
    char line[4096], *argv[8];
    int argc;

    if (pv_cmdline(in, len, line, sizeof(line), e))
        return -e->err;
    argc = pv_split(line, argv, 8);
    for (size_t i = 0; argc && i < sizeof(guest_verbs) / sizeof(guest_verbs[0]); i++)
        if (strcmp(guest_verbs[i].verb, argv[0]) == 0)
            return run_verb(o, &guest_verbs[i], argc - 1, argv + 1, e);
    return pv_fail(e, EINVAL, "unknown command '%.64s'", argc ? argv[0] : "");
}

/* The verbs that take a guest from one state to another: {from, to, verbs...}. */
static const struct {
    const char *from, *to;
    const char *verbs[2];
} transitions[] = {
    {"stopped", "running", {"start", NULL}},  {"paused", "running", {"resume", NULL}},
    {"running", "stopped", {"stop", NULL}},   {"paused", "stopped", {"stop", NULL}},
    {"running", "paused", {"suspend", NULL}}, {"stopped", "paused", {"start", "suspend"}},
};

static const struct guest_verb *verb_named(const char *name)
{
    for (size_t j = 0; j < sizeof(guest_verbs) / sizeof(guest_verbs[0]); j++)
        if (strcmp(guest_verbs[j].verb, name) == 0)
            return &guest_verbs[j];
    return NULL;
}

int guest_state_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e)
{
    static const char *const states[] = {"running", "stopped", "paused"};
    const char *want = NULL;
    struct drv_guest g;
    char cur[32];
    int rc;

    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        if (strlen(states[i]) == len && memcmp(states[i], in, len) == 0)
            want = states[i];
    if (!want)
        return pv_fail(e, EINVAL, "'%.*s' is not a state (running, stopped, paused)",
                       (int)(len > 64 ? 64 : len), in);
    guest_of(o, &g);
    if (drv_guest(g.kind)->state(&g, cur, sizeof(cur)))
        return pv_fail(e, EIO, "cannot tell the state of %s %s", g.kind, o->name);
    if (strcmp(cur, want) == 0)
        return 0; /* already there: writing the desired state is idempotent */
    for (size_t i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++) {
        if (strcmp(transitions[i].from, cur) != 0 || strcmp(transitions[i].to, want) != 0)
            continue;
        for (int v = 0; v < 2 && transitions[i].verbs[v]; v++)
            if ((rc = run_verb(o, verb_named(transitions[i].verbs[v]), 0, NULL, e)))
                return rc;
        return 0;
    }
    return pv_fail(e, EIO, "%s %s is %s; no way from there to %s", g.kind, o->name, cur, want);
}

int guest_may_destroy(const struct pv_obj *o, struct pv_err *e)
{
    char st[32], prot[8];
    struct drv_guest g;

    guest_config_value(o, "protection", "0", prot, sizeof(prot));
    if (strcmp(prot, "1") == 0)
        return pv_fail(e, EPERM, "%s %s has protection set", guest_kind(o), o->name);
    guest_of(o, &g);
    if (drv_guest(g.kind)->state(&g, st, sizeof(st)))
        return pv_fail(e, EIO, "cannot tell the state of %s", o->name);
    if (strcmp(st, "stopped") != 0)
        return pv_fail(e, EBUSY, "%s %s is %s; stop it first", guest_kind(o), o->name, st);
    return 0;
}

void guest_event(void *arg, const char *vmid, const char *state, const char *why)
{
    struct fs *fs = arg;

    clog_append("qemu", "vm %s on %s is %s (%s)", vmid, fs->node, state, why);
    notify_kick(fs);
}

int gsnap_create(struct fs *fs, uint64_t dir, const char *name, struct pv_err *e)
{
    char cmd[128];
    int n = snprintf(cmd, sizeof(cmd), "snapshot %s", name);

    return fs_cmd(fs, fs_parent(fs, dir), "ctl", cmd, (size_t)n, e);
}

int gsnap_destroy(const struct pv_obj *o, struct pv_err *e)
{
    char cmd[128];
    int n = snprintf(cmd, sizeof(cmd), "delsnapshot %s", o->name);

    return fs_cmd(o->fs, fs_parent(o->fs, fs_parent(o->fs, o->dir)), "ctl", cmd, (size_t)n, e);
}
