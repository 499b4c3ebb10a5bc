/*
 * drv_qemu: the guest driver interface (drv.h) for QEMU, over drivers/qemu.h.
 * The verbs are checked in fs/files_guest.c; here each maps to one call. When
 * libvirt could not be reached at start-up, every action says why, and nothing
 * is faked: state reads "stopped" because nothing here can have started a guest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv.h"
#include "qemu.h"
#include "../fs/conf.h"

#include <pthread.h>

static char open_err[QEMU_ERRLEN] = "the QEMU driver was not started";

int drv_qemu_start(const struct qemu_env *env)
{
    int rc = qemu_open(env, open_err, sizeof(open_err));

    return rc;
}

/*
 * What each running guest was started with, plus what was hot-plugged since: the
 * config it effectively runs. Its difference from the stored config is "pending".
 */
static struct {
    pthread_mutex_t lock;
    struct eff {
        char vmid[16];
        char *doc; /* main-section "key: value" lines */
    } v[256];
    int n;
} effs = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Keys that take effect without a restart (pvefs reads them from the stored config). */
static const char *const live_keys[] = {"name",    "onboot",      "tags", "protection",
                                        "startup", "description", "lock", NULL};

static int live_key(const char *k, size_t n)
{
    for (int i = 0; live_keys[i]; i++)
        if (strlen(live_keys[i]) == n && memcmp(live_keys[i], k, n) == 0)
            return 1;
    return 0;
}

/* A copy of config's main section (comments and sections dropped). */
static char *main_section(const char *doc, size_t len)
{
    struct pv_buf b = {0};
    char *out;

    for (const char *p = doc, *end = doc + len; p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l && p[0] == '[')
            break;
        if (l && p[0] != '#')
            pv_buf_printf(&b, "%.*s\n", (int)l, p);
        p = nl ? nl + 1 : NULL;
    }
    out = strdup(b.p ? b.p : "");
    pv_buf_free(&b);
    return out;
}

static struct eff *eff_find(const char *vmid)
{
    for (int i = 0; i < effs.n; i++)
        if (strcmp(effs.v[i].vmid, vmid) == 0)
            return &effs.v[i];
    return NULL;
}

static void eff_set(const char *vmid, char *doc)
{
    struct eff *e;

    pthread_mutex_lock(&effs.lock);
    if (!(e = eff_find(vmid)) && effs.n < 256) {
        e = &effs.v[effs.n++];
        snprintf(e->vmid, sizeof(e->vmid), "%s", vmid);
        e->doc = NULL;
    }
    if (e) {
        free(e->doc);
        e->doc = doc;
    } else {
        free(doc);
    }
    pthread_mutex_unlock(&effs.lock);
}

/* Sets key's line in vmid's effective config to the one in cur (hot-plugged). */
static void eff_take(const char *vmid, const char *cur, size_t len, const char *key)
{
    struct pv_buf b = {0};
    struct eff *e;
    char val[1024];
    size_t kl = strlen(key);

    if (conf_get(cur, len, key, val, sizeof(val)) < 0)
        return;
    pthread_mutex_lock(&effs.lock);
    if ((e = eff_find(vmid)) && e->doc) {
        for (const char *p = e->doc; *p;) {
            size_t l = strcspn(p, "\n");
            if (!(l > kl && memcmp(p, key, kl) == 0 && p[kl] == ':'))
                pv_buf_printf(&b, "%.*s\n", (int)l, p);
            p += l + (p[l] == '\n');
        }
        pv_buf_printf(&b, "%s: %s\n", key, val);
        free(e->doc);
        e->doc = strdup(b.p ? b.p : "");
    }
    pthread_mutex_unlock(&effs.lock);
    pv_buf_free(&b);
}

typedef void (*diff_fn)(void *arg, const char *key, const char *val, int deleted);

/* Calls fn for each key whose stored value differs from what the guest runs. 0, or -ENOENT
 * when the guest has no effective config here (not started by this daemon). */
static int diff(const char *vmid, const char *cur, size_t len, diff_fn fn, void *arg)
{
    char *eff, key[64], a[1024], b[1024];
    struct eff *e;

    pthread_mutex_lock(&effs.lock);
    e = eff_find(vmid);
    eff = e && e->doc ? strdup(e->doc) : NULL;
    pthread_mutex_unlock(&effs.lock);
    if (!eff)
        return -ENOENT;
    for (int pass = 0; pass < 2; pass++) {
        const char *src = pass ? eff : cur;
        size_t slen = pass ? strlen(eff) : len;
        for (const char *p = src, *end = src + slen; p && p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p)), *c;
            size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
            if (l && p[0] == '[')
                break;
            c = memchr(p, ':', l);
            if (c && p[0] != '#' && (size_t)(c - p) < sizeof(key) &&
                !live_key(p, (size_t)(c - p))) {
                int ina, inb;
                snprintf(key, sizeof(key), "%.*s", (int)(c - p), p);
                ina = conf_get(cur, len, key, a, sizeof(a)) >= 0;
                inb = conf_get(eff, strlen(eff), key, b, sizeof(b)) >= 0;
                if (!pass && ina && (!inb || strcmp(a, b) != 0))
                    fn(arg, key, a, 0);
                else if (pass && inb && !ina)
                    fn(arg, key, b, 1);
            }
            p = nl ? nl + 1 : NULL;
        }
    }
    free(eff);
    return 0;
}

void drv_qemu_stop(void)
{
    qemu_close();
    pthread_mutex_lock(&effs.lock);
    for (int i = 0; i < effs.n; i++)
        free(effs.v[i].doc);
    effs.n = 0;
    pthread_mutex_unlock(&effs.lock);
}

static int q_state(const struct drv_guest *g, char *buf, size_t len)
{
    if (!qemu_ready()) {
        snprintf(buf, len, "stopped");
        return 0;
    }
    return qemu_state(g->id, buf, len);
}

static int a_start(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    int rc;

    (void)argc;
    (void)argv;
    rc = qemu_start(g->id, g->config ? g->config : "", g->config_len, err, n);
    if (rc == 0 && g->config)
        eff_set(g->id, main_section(g->config, g->config_len));
    return rc;
}

/* Disks and NICs the guest does not have yet are hot-plugged; the rest waits for a restart. */
static const char *const plug_prefixes[] = {"scsi", "virtio", "sata", "ide", "net", NULL};

struct plug {
    char keys[32][64];
    int n;
};

static void want_plug(void *arg, const char *key, const char *val, int deleted)
{
    struct plug *p = arg;

    (void)val;
    if (deleted || p->n >= 32)
        return;
    for (int i = 0; plug_prefixes[i]; i++) {
        size_t l = strlen(plug_prefixes[i]);
        /* only new devices: a changed one would need an unplug first */
        if (strncmp(key, plug_prefixes[i], l) == 0 && key[l] >= '0' && key[l] <= '9')
            snprintf(p->keys[p->n++], sizeof(p->keys[0]), "%s", key);
    }
}

/* migrate <dest-uri> <stream-uri>: the fs layer found the target node's libvirt for us. */
static int a_migrate(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    if (argc < 1)
        return snprintf(err, n, "migrate needs the target's libvirt URI"), -EINVAL;
    return qemu_migrate(g->id, argv[0], argc > 1 ? argv[1] : NULL, err, n);
}

static int a_apply(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    struct plug p = {.n = 0};
    char st[16], why[QEMU_ERRLEN];
    int failed = 0;

    (void)argc;
    (void)argv;
    if (qemu_state(g->id, st, sizeof(st)) || strcmp(st, "stopped") == 0 || !g->config)
        return 0; /* a stopped guest takes the whole config at its next start */
    if (diff(g->id, g->config, g->config_len, want_plug, &p))
        return 0;
    for (int i = 0; i < p.n; i++) {
        char val[1024];
        /* the key is new only if the effective config lacks it */
        pthread_mutex_lock(&effs.lock);
        struct eff *e = eff_find(g->id);
        int had = e && e->doc && conf_get(e->doc, strlen(e->doc), p.keys[i], val, sizeof(val)) >= 0;
        pthread_mutex_unlock(&effs.lock);
        if (had)
            continue;
        if (qemu_hotplug(g->id, g->config, g->config_len, p.keys[i], why, sizeof(why)) == 0)
            eff_take(g->id, g->config, g->config_len, p.keys[i]);
        else if (!failed++)
            snprintf(err, n, "%s stays pending: %s", p.keys[i], why);
    }
    return 0;
}

static int a_stop(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    (void)argc;
    (void)argv;
    return qemu_stop(g->id, err, n);
}

/* shutdown [<seconds>] [--force] */
static int a_shutdown(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    int timeout = 60, force = 0;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            force = 1;
        else
            timeout = atoi(argv[i]);
    }
    return qemu_shutdown(g->id, timeout, force, err, n);
}

static int a_reboot(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    (void)argc;
    (void)argv;
    return qemu_reboot(g->id, err, n);
}

static int a_reset(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    (void)argc;
    (void)argv;
    return qemu_reset(g->id, err, n);
}

static int a_suspend(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    (void)argc;
    (void)argv;
    return qemu_suspend(g->id, err, n);
}

static int a_resume(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    (void)argc;
    (void)argv;
    return qemu_resume(g->id, err, n);
}

static int a_snapshot(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    (void)argc;
    return qemu_snapshot(g->id, argv[0], err, n);
}

static int a_rollback(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    (void)argc;
    return qemu_rollback(g->id, argv[0], err, n);
}

static int a_delsnapshot(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    (void)argc;
    return qemu_delsnapshot(g->id, argv[0], err, n);
}

static const struct {
    const char *verb;
    int (*run)(const struct drv_guest *g, int argc, char **argv, char *err, size_t n);
} verbs[] = {
    {"start", a_start},       {"stop", a_stop},
    {"shutdown", a_shutdown}, {"reboot", a_reboot},
    {"reset", a_reset},       {"suspend", a_suspend},
    {"resume", a_resume},     {"snapshot", a_snapshot},
    {"rollback", a_rollback}, {"delsnapshot", a_delsnapshot},
    {"apply", a_apply},       {"migrate", a_migrate},
};

static int q_action(const struct drv_guest *g, const char *verb, int argc, char **argv, char *err,
                    size_t errlen)
{
    if (!qemu_ready()) {
        snprintf(err, errlen, "cannot %s vm %s: the QEMU driver is unavailable: %s", verb, g->id,
                 open_err);
        return -ENOTSUP;
    }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(verbs[i].verb, verb) == 0)
            return verbs[i].run(g, argc, argv, err, errlen);
    snprintf(err, errlen, "cannot %s vm %s: not supported by this QEMU driver yet", verb, g->id);
    return -ENOTSUP;
}

static int q_status(const struct drv_guest *g, struct pv_buf *out)
{
    struct qemu_stats s;

    if (!qemu_ready() || qemu_stats(g->id, &s) || !s.known)
        return 0;
    pv_buf_printf(out,
                  "pid: %d\nuptime: %llu\ncpu: %.4f\nmem: %llu\ndiskread: %llu\ndiskwrite: %llu\n"
                  "netin: %llu\nnetout: %llu\n",
                  s.pid, (unsigned long long)s.uptime_s, s.cpu, (unsigned long long)s.mem,
                  (unsigned long long)s.diskread, (unsigned long long)s.diskwrite,
                  (unsigned long long)s.netin, (unsigned long long)s.netout);
    if (s.migration[0])
        pv_buf_printf(out, "migration: %s\n", s.migration);
    return 0;
}

struct snap_relay {
    drv_snap_fn fn;
    void *arg;
};

static int relay(void *arg, const struct qemu_snapinfo *s)
{
    struct snap_relay *r = arg;

    return r->fn(r->arg, s->name, s->parent, (long long)s->time, s->vmstate);
}

static int q_snaps(const struct drv_guest *g, drv_snap_fn fn, void *arg)
{
    struct snap_relay r = {fn, arg};
    char err[QEMU_ERRLEN];

    if (!qemu_ready())
        return -ENOTSUP;
    return qemu_snapshots(g->id, relay, &r, err, sizeof(err));
}

static int q_block_resize(const struct drv_guest *g, const char *disk, unsigned long long size,
                          char *err, size_t errlen)
{
    return qemu_block_resize(g->id, disk, size, err, errlen);
}

struct pend {
    struct pv_buf *out, del;
};

static void show_pending(void *arg, const char *key, const char *val, int deleted)
{
    struct pend *p = arg;

    if (deleted)
        pv_buf_printf(&p->del, "%s%s", p->del.len ? "," : "", key);
    else
        pv_buf_printf(p->out, "%s: %s\n", key, val);
}

static int q_pending(const struct drv_guest *g, struct pv_buf *out)
{
    struct pend p = {.out = out};
    char st[16];

    if (!g->config || qemu_state(g->id, st, sizeof(st)) || strcmp(st, "stopped") == 0)
        return 0;
    diff(g->id, g->config, g->config_len, show_pending, &p);
    if (p.del.len)
        pv_buf_printf(out, "delete: %.*s\n", (int)p.del.len, p.del.p);
    pv_buf_free(&p.del);
    return 0;
}

const struct drv_guest_ops drv_qemu = {
    .pending = q_pending,
    .snaps = q_snaps,
    .block_resize = q_block_resize,
    .name = "qemu",
    .state = q_state,
    .action = q_action,
    .status = q_status,
};
