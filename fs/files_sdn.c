/*
 * files_sdn: sdn/ — zones, VNets and subnets (replicated configs), "apply" through
 * sdn/ctl, and the status of each VNet on each node.
 *
 * As with Proxmox, edits are pending until "apply": it checks the whole set
 * (drivers/sdn_cfg.c), and stores it as sdn/running with a new generation. Every
 * node's SDN monitor (fs/sdn_mon.c) then reconciles its own Linux state with the
 * running set and publishes its result per VNet on the status channel.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cluster/clog.h"
#include "../cluster/kvs.h"
#include "../drivers/sdn.h"
#include "conf.h"
#include "files.h"
#include "fs.h"
#include "notify.h"

/* "k: v" lines of doc as "<prefix>.<k>: v" lines, always with ": " after the key: an IPv6
 * subnet in the prefix holds colons, so the parser splits at the first ": " (sdn_cfg.c). */
static void flatten(struct pv_buf *out, const char *prefix, const char *doc, size_t len)
{
    for (const char *p = doc, *end = doc + len; p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *colon = l && p[0] != '#' ? memchr(p, ':', l) : NULL;
        if (colon) {
            const char *v = colon + 1;
            while (v < p + l && *v == ' ')
                v++;
            pv_buf_printf(out, "%s.%.*s: %.*s\n", prefix, (int)(colon - p), p, (int)(p + l - v), v);
        }
        p = nl ? nl + 1 : NULL;
    }
}

/* The config file of dir: the override when dir is the one being written. */
static void config_of(struct fs *fs, uint64_t dir, uint64_t odir, const char *odoc, size_t olen,
                      const char **doc, size_t *len)
{
    const struct memdb_entry *c = memdb_lookup(fs->mem, dir, "config");

    *doc = "";
    *len = 0;
    if (dir == odir && odoc) {
        *doc = odoc;
        *len = olen;
    } else if (c && c->data) {
        *doc = (const char *)c->data;
        *len = c->size;
    }
}

/*
 * The SDN configuration in the tree, as running text (without generation), with the
 * config of directory odir replaced by odoc (a write being checked).
 */
static int collect(struct fs *fs, uint64_t odir, const char *odoc, size_t olen, struct pv_buf *out)
{
    const struct memdb_entry *sdn, *zones, *vnets;
    char prefix[256];

    memdb_rdlock(fs->mem);
    sdn = memdb_lookup(fs->mem, MEMDB_ROOT, "sdn");
    zones = sdn ? memdb_lookup(fs->mem, sdn->inode, "zones") : NULL;
    vnets = sdn ? memdb_lookup(fs->mem, sdn->inode, "vnets") : NULL;
    for (uint32_t i = 0; zones && i < zones->nkids; i++) {
        const char *doc;
        size_t len;
        config_of(fs, zones->kids[i]->inode, odir, odoc, olen, &doc, &len);
        snprintf(prefix, sizeof(prefix), "zone.%s", zones->kids[i]->name);
        flatten(out, prefix, doc, len);
    }
    for (uint32_t i = 0; vnets && i < vnets->nkids; i++) {
        const struct memdb_entry *v = vnets->kids[i], *subs;
        const char *doc;
        size_t len;
        config_of(fs, v->inode, odir, odoc, olen, &doc, &len);
        snprintf(prefix, sizeof(prefix), "vnet.%s", v->name);
        flatten(out, prefix, doc, len);
        if (!len) /* a VNet just made: it exists, with no options yet */
            pv_buf_printf(out, "vnet.%s.zone: \n", v->name);
        subs = memdb_lookup(fs->mem, v->inode, "subnets");
        for (uint32_t j = 0; subs && j < subs->nkids; j++) {
            config_of(fs, subs->kids[j]->inode, odir, odoc, olen, &doc, &len);
            snprintf(prefix, sizeof(prefix), "subnet.%s.%s", v->name, subs->kids[j]->name);
            flatten(out, prefix, doc, len);
            if (!len)
                pv_buf_printf(out, "subnet.%s.%s.type: subnet\n", v->name, subs->kids[j]->name);
        }
    }
    memdb_unlock(fs->mem);
    return out->oom ? -ENOMEM : 0;
}

/* Problems as lines "<why>\n" (sdn_problems's callback), less those a write may leave. */
struct plist {
    struct pv_buf buf;
    const struct sdn_cfg *c;
    int whole;        /* the set is applied: every problem counts */
    const char *open; /* the VNet whose config is still being written, or NULL */
};

static void problem_line(void *ctx, const char *vnet, int missing, const char *why)
{
    struct plist *l = ctx;
    int i = 0;

    while (vnet && i < l->c->nvnets && strcmp(l->c->vnets[i].name, vnet) != 0)
        i++;
    /* a VNet made and not configured yet (no zone) is fine until it is applied, and the one
     * being written may still get the value it lacks */
    if (missing && !l->whole && vnet && i < l->c->nvnets &&
        (!l->c->vnets[i].zone[0] || (l->open && !strcmp(l->open, vnet))))
        return;
    pv_buf_printf(&l->buf, "%s\n", why);
}

/* The problems of the tree (with odoc as odir's config) as lines; 0, or -errno with err. */
static int problems_of(struct fs *fs, uint64_t odir, const char *odoc, size_t olen,
                       struct sdn_cfg *c, struct plist *list, char *err, size_t errlen)
{
    struct pv_buf b = {0};
    int rc;

    list->c = c;
    if (!(rc = collect(fs, odir, odoc, olen, &b)) &&
        !(rc = sdn_parse(b.p ? b.p : "", b.len, c, err, errlen)))
        sdn_problems(c, problem_line, list);
    pv_buf_free(&b);
    return rc ? rc : list->buf.oom ? -ENOMEM : 0;
}

/* 1 if the lines of list hold line (l bytes, its newline included). */
static int has_line(const struct pv_buf *list, const char *line, size_t l)
{
    for (const char *p = list->p; p && p < list->p + list->len;) {
        const char *nl = memchr(p, '\n', (size_t)(list->p + list->len - p));
        size_t pl = nl ? (size_t)(nl - p) + 1 : (size_t)(list->p + list->len - p);
        if (pl == l && memcmp(p, line, l) == 0)
            return 1;
        p += pl;
    }
    return 0;
}

/*
 * Checks the tree with doc as dir's config: 0, or -EINVAL with e filled. A write is refused
 * only for a problem it brings: one the stored tree has already (an entry stored before a
 * rule existed, a VNet made and not yet configured) does not block unrelated writes. open:
 * the VNet whose config is still being written (see struct plist).
 */
static int check_with(const struct pv_obj *o, const char *doc, size_t len, const char *open,
                      struct pv_err *e)
{
    struct sdn_cfg *c = malloc(sizeof(*c));
    struct plist before = {.open = open}, after = {.open = open};
    char err[SDN_ERRLEN] = "", e2[SDN_ERRLEN];
    int rc;

    if (!c)
        return pv_fail(e, ENOMEM, "out of memory");
    /* a stored tree that does not parse has no problems to forgive: before stays empty */
    if (!(rc = problems_of(o->fs, o->dir, doc, len, c, &after, err, sizeof(err))) &&
        problems_of(o->fs, 0, NULL, 0, c, &before, e2, sizeof(e2)))
        before.buf.len = 0;
    for (const char *p = after.buf.p, *end = p + after.buf.len; !rc && p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        if (!has_line(&before.buf, p, l)) {
            snprintf(err, sizeof(err), "%.*s", (int)(l - 1), p);
            rc = -EINVAL;
        }
        p += l;
    }
    free(c);
    pv_buf_free(&before.buf);
    pv_buf_free(&after.buf);
    return rc ? pv_fail(e, -rc, "%s", err[0] ? err : "out of memory") : 0;
}

int sdn_config_check(const struct pv_obj *o, const char *doc, size_t len, int partial,
                     struct pv_err *e)
{
    char type[16];

    /* a zone's type decides what its VNets may be: until its line comes, nothing can be
     * judged against them (canonical order puts type after bridge, mtu and nodes) */
    if (partial && o->type == T_ZONE && conf_get(doc, len, "type", type, sizeof(type)) < 0)
        return 0;
    return check_with(o, doc, len, partial && o->type == T_VNET ? o->name : NULL, e);
}

/* Zone and VNet ids as Proxmox takes them: a letter, then up to 7 letters or digits. */
int sdn_id_ok(const char *name, struct pv_err *e)
{
    size_t n = strlen(name);

    if (n < 1 || n > 8 || name[0] < 'a' || name[0] > 'z' ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789") != n)
        return pv_fail(e, EINVAL,
                       "'%.64s' is not an SDN id: a lowercase letter, then up to 7 lowercase "
                       "letters or digits",
                       name);
    return 0;
}

int sdn_subnet_ok(const char *name, struct pv_err *e)
{
    char cidr[80];

    if (sdn_subnet_cidr(name, cidr, sizeof(cidr)))
        return pv_fail(e, EINVAL,
                       "'%.64s' is not a subnet: write the network as <address>-<prefix> "
                       "(10.0.0.0-24 for 10.0.0.0/24), with no host bits set",
                       name);
    return 0;
}

/* A zone goes only when no VNet names it. */
int sdn_zone_destroy(const struct pv_obj *o, struct pv_err *e)
{
    const struct memdb_entry *sdn, *vnets;
    char users[256] = "";
    size_t ul = 0;

    memdb_rdlock(o->fs->mem);
    sdn = memdb_lookup(o->fs->mem, MEMDB_ROOT, "sdn");
    vnets = sdn ? memdb_lookup(o->fs->mem, sdn->inode, "vnets") : NULL;
    for (uint32_t i = 0; vnets && i < vnets->nkids; i++) {
        const struct memdb_entry *c = memdb_lookup(o->fs->mem, vnets->kids[i]->inode, "config");
        char z[32];
        if (c && c->data && conf_get((const char *)c->data, c->size, "zone", z, sizeof(z)) > 0 &&
            strcmp(z, o->name) == 0 && ul + 20 < sizeof(users))
            ul += (size_t)snprintf(users + ul, sizeof(users) - ul, " %s", vnets->kids[i]->name);
    }
    memdb_unlock(o->fs->mem);
    if (ul)
        return pv_fail(e, EBUSY, "zone %s is used by VNet(s)%s", o->name, users);
    return fs_catalog_remove(o->fs, o->dir, e);
}

/* The running text and its generation; NULL if never applied. */
char *sdn_running(struct fs *fs, uint64_t *generation)
{
    const struct memdb_entry *sdn, *r;
    char *t = NULL, g[32];

    *generation = 0;
    memdb_rdlock(fs->mem);
    sdn = memdb_lookup(fs->mem, MEMDB_ROOT, "sdn");
    r = sdn ? memdb_lookup(fs->mem, sdn->inode, "running") : NULL;
    if (r && r->size && (t = malloc(r->size + 1))) {
        memcpy(t, r->data, r->size);
        t[r->size] = 0;
        if (conf_get(t, r->size, "generation", g, sizeof(g)) > 0)
            *generation = strtoull(g, NULL, 10);
    }
    memdb_unlock(fs->mem);
    return t;
}

/* 1 when the tree's SDN config differs from the running one. */
static int pending(struct fs *fs)
{
    struct pv_buf b = {0};
    uint64_t gen;
    char *run = sdn_running(fs, &gen), *body;
    int differ;

    collect(fs, 0, NULL, 0, &b);
    body = run ? strchr(run, '\n') : NULL;
    differ = !run ? b.len != 0 : strcmp(body ? body + 1 : "", b.p ? b.p : "") != 0;
    free(run);
    pv_buf_free(&b);
    return differ;
}

static int store_running(struct fs *fs, const char *text, struct pv_err *e)
{
    struct msg_batch b = {.nops = 1};
    struct memdb_result res;
    const struct memdb_entry *sdn, *r;
    uint64_t dir = 0, file = 0;

    memdb_rdlock(fs->mem);
    if ((sdn = memdb_lookup(fs->mem, MEMDB_ROOT, "sdn"))) {
        dir = sdn->inode;
        file = (r = memdb_lookup(fs->mem, dir, "running")) ? r->inode : 0;
    }
    memdb_unlock(fs->mem);
    if (!dir)
        return pv_fail(e, ENOENT, "sdn/ is missing");
    memset(&b.ops[0], 0, sizeof(b.ops[0]));
    if (file) {
        b.ops[0].code = MSG_WRITE;
        b.ops[0].inode = file;
    } else { /* a tree made before sdn/running existed */
        b.ops[0].code = MSG_CREATE;
        b.ops[0].inode = dir;
        b.ops[0].kind = MEMDB_FILE;
        b.ops[0].objtype = T_FILE;
        b.ops[0].mode = 0444;
        snprintf(b.ops[0].name, sizeof(b.ops[0].name), "running");
    }
    b.ops[0].data = (const uint8_t *)text;
    b.ops[0].size = (uint32_t)strlen(text);
    return fs_commit(fs, &b, &res, e);
}

/* The problem lines of list as one "; "-joined message, in out. */
static void join_lines(const struct pv_buf *list, struct pv_buf *out)
{
    for (const char *p = list->p; p && p < list->p + list->len;) {
        const char *nl = memchr(p, '\n', (size_t)(list->p + list->len - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(list->p + list->len - p);
        pv_buf_printf(out, "%s%.*s", p == list->p ? "" : "; ", (int)l, p);
        p += l + 1;
    }
}

/*
 * Stores the tree's SDN config as the running one, with a new generation. What breaks a
 * rule is stored too and every node reports its VNet as an error (the same rules run
 * there) while the rest applies; the write then fails, naming what was left out.
 */
static int sdn_apply_all(const struct pv_obj *o, struct pv_err *e)
{
    struct pv_buf b = {0}, out = {0};
    struct sdn_cfg *c = malloc(sizeof(*c));
    struct plist list = {.c = c, .whole = 1};
    char err[SDN_ERRLEN] = "";
    uint64_t gen;
    char *run;
    int rc;

    if (!c)
        return pv_fail(e, ENOMEM, "out of memory");
    if (!(rc = collect(o->fs, 0, NULL, 0, &b)) &&
        !(rc = sdn_parse(b.p ? b.p : "", b.len, c, err, sizeof(err))))
        sdn_problems(c, problem_line, &list);
    if (rc || list.buf.oom) {
        rc = pv_fail(e, rc ? -rc : ENOMEM, "nothing applied: %s", err[0] ? err : "out of memory");
        goto out;
    }
    run = sdn_running(o->fs, &gen);
    free(run);
    pv_buf_printf(&out, "generation: %llu\n", (unsigned long long)gen + 1);
    if (b.len)
        pv_buf_add(&out, b.p, b.len);
    if (out.oom || !out.p) {
        rc = pv_fail(e, ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = store_running(o->fs, out.p, e)))
        goto out;
    clog_append("sdn", "apply: generation %llu (%d zones, %d VNets, %d subnets)",
                (unsigned long long)gen + 1, c->nzones, c->nvnets, c->nsubs);
    if (list.buf.len) {
        struct pv_buf msg = {0};
        join_lines(&list.buf, &msg);
        rc = pv_fail(e, EINVAL,
                     "generation %llu applied without what breaks a rule (see sdn/status): %.400s",
                     (unsigned long long)gen + 1, msg.p ? msg.p : "out of memory");
        pv_buf_free(&msg);
    }
out:
    notify_kick(o->fs);
    pv_buf_free(&b);
    pv_buf_free(&out);
    pv_buf_free(&list.buf);
    free(c);
    return rc;
}

int sdn_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e)
{
    char line[256], *argv[4];
    int argc;

    if (pv_cmdline(in, len, line, sizeof(line), e))
        return -e->err;
    argc = pv_split(line, argv, 4);
    if (argc == 1 && strcmp(argv[0], "apply") == 0)
        return sdn_apply_all(o, e);
    return pv_fail(e, EINVAL, "unknown command '%.64s' (commands: apply)", argc ? argv[0] : "");
}

/* A node's status text (this node's own SDN lines for itself); NULL if it is offline. */
static char *node_text(struct fs *fs, const char *node, size_t *len, int *online)
{
    struct kvs *k = fs_cluster_kvs(fs);
    char *text = NULL;
    int64_t age;

    *online = 1;
    *len = 0;
    if (strcmp(node, fs->node) == 0) {
        struct pv_buf own = {0};
        sdn_mon_publish_lines(&own);
        *len = own.len;
        return own.p ? own.p : strdup("");
    }
    if (!k || kvs_status(k, node, &text, len, online, &age) || !*online) {
        free(text);
        *online = 0;
        return NULL;
    }
    return text;
}

/* A node's result for vnet (NULL: its count of errors) and the generation it applied. */
static int node_result(struct fs *fs, const char *node, const char *vnet, char *out, size_t len,
                       uint64_t *gen, int *online)
{
    char key[64], g[32] = "";
    size_t tl;
    char *text = node_text(fs, node, &tl, online);
    int errors = 0;

    out[0] = 0;
    *gen = 0;
    if (!text)
        return 0;
    if (conf_get(text, tl, "sdn", g, sizeof(g)) > 0)
        *gen = strtoull(g, NULL, 10);
    if (vnet) {
        snprintf(key, sizeof(key), "sdn.%s", vnet);
        conf_get(text, tl, key, out, len);
    }
    for (const char *p = text; (p = strstr(p, "\nsdn.")); p++) {
        const char *c = strchr(p + 1, ':');
        errors += c && strncmp(c, ": error", 7) == 0;
    }
    free(text);
    return errors;
}

static void node_names(struct fs *fs, char names[][64], int *n, int max)
{
    const struct memdb_entry *nodes;

    *n = 0;
    memdb_rdlock(fs->mem);
    nodes = memdb_lookup(fs->mem, MEMDB_ROOT, "nodes");
    for (uint32_t i = 0; nodes && i < nodes->nkids && *n < max; i++)
        snprintf(names[(*n)++], 64, "%.63s", nodes->kids[i]->name);
    memdb_unlock(fs->mem);
}

int sdn_vnet_status_render(const struct pv_obj *o, struct pv_buf *out)
{
    char names[64][64], res[300];
    uint64_t running, gen;
    int n, online;

    free(sdn_running(o->fs, &running));
    pv_buf_printf(out, "vnet: %s\ngeneration: %llu\npending: %s\n", o->name,
                  (unsigned long long)running, pending(o->fs) ? "yes" : "no");
    node_names(o->fs, names, &n, 64);
    for (int i = 0; i < n; i++) {
        node_result(o->fs, names[i], o->name, res, sizeof(res), &gen, &online);
        if (!online)
            pv_buf_printf(out, "node.%s: offline\n", names[i]);
        else if (!running)
            pv_buf_printf(out, "node.%s: none (no SDN config was ever applied)\n", names[i]);
        else if (gen < running)
            pv_buf_printf(out, "node.%s: pending (applied generation %llu)\n", names[i],
                          (unsigned long long)gen);
        else
            pv_buf_printf(out, "node.%s: %s\n", names[i], res[0] ? res : "not declared");
    }
    return out->oom ? -ENOMEM : 0;
}

int sdn_status_render(const struct pv_obj *o, struct pv_buf *out)
{
    char names[64][64], res[300];
    uint64_t running, gen;
    int n, online;

    free(sdn_running(o->fs, &running));
    pv_buf_printf(out, "generation: %llu\npending: %s\n", (unsigned long long)running,
                  pending(o->fs) ? "yes" : "no");
    node_names(o->fs, names, &n, 64);
    for (int i = 0; i < n; i++) {
        int errs = node_result(o->fs, names[i], NULL, res, sizeof(res), &gen, &online);
        if (!online)
            pv_buf_printf(out, "node.%s: offline\n", names[i]);
        else if (!running) /* generation 0: nothing was applied, so nothing is "applied" */
            pv_buf_printf(out, "node.%s: none (no SDN config was ever applied)\n", names[i]);
        else if (gen < running)
            pv_buf_printf(out, "node.%s: pending (applied generation %llu)\n", names[i],
                          (unsigned long long)gen);
        else if (errs)
            pv_buf_printf(out, "node.%s: error (%d VNets; see their status)\n", names[i], errs);
        else
            pv_buf_printf(out, "node.%s: applied\n", names[i]);
    }
    return out->oom ? -ENOMEM : 0;
}
