/*
 * drv_lxc: the guest driver interface (drv.h) for containers, over drivers/lxc.h.
 * Snapshots, rollback and clones are the storage's (fs/files_lxc.c drives them);
 * here are lifecycle, live figures and the snapshot list kept in the pct config.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv.h"
#include "lxc.h"

static char open_err[LXC_ERRLEN] = "the LXC driver was not started";

int drv_lxc_start(const struct lxc_env *env)
{
    return lxc_open(env, open_err, sizeof(open_err));
}

void drv_lxc_stop(void)
{
    lxc_close();
}

static int c_state(const struct drv_guest *g, char *buf, size_t len)
{
    if (!lxc_ready()) {
        snprintf(buf, len, "stopped");
        return 0;
    }
    return lxc_state(g->id, buf, len);
}

static int a_start(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    (void)argc;
    (void)argv;
    if (!g->config)
        return snprintf(err, n, "ct %s has no config", g->id), -ENOENT;
    return lxc_start(g->id, g->config, g->config_len, err, n);
}

static int a_stop(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    (void)argc;
    (void)argv;
    return lxc_stop(g->id, err, n);
}

/* shutdown [<seconds>] [--force]; the verb table in fs/files_guest.c checked the words */
static int a_shutdown(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    int timeout = 60, force = 0;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            force = 1;
        else
            timeout = atoi(argv[i]);
    }
    return lxc_shutdown(g->id, timeout, force, err, n);
}

static int a_reboot(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    (void)argc;
    (void)argv;
    return lxc_reboot(g->id, err, n);
}

static int a_suspend(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    (void)argc;
    (void)argv;
    return lxc_suspend(g->id, err, n);
}

static int a_resume(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    (void)argc;
    (void)argv;
    return lxc_resume(g->id, err, n);
}

/* A stopped container takes its whole config at the next start: nothing to apply. */
static int a_apply(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    (void)g;
    (void)argc;
    (void)argv;
    (void)err;
    (void)n;
    return 0;
}

/* Not a user verb: the fs layer calls it when the container left this node. */
static int a_forget(const struct drv_guest *g, int argc, char **argv, char *err, size_t n)
{
    (void)argc;
    (void)argv;
    return lxc_forget(g->id, err, n);
}

static const struct {
    const char *verb;
    int (*run)(const struct drv_guest *g, int argc, char **argv, char *err, size_t n);
} verbs[] = {
    {"start", a_start},     {"stop", a_stop},     {"shutdown", a_shutdown}, {"reboot", a_reboot},
    {"suspend", a_suspend}, {"resume", a_resume}, {"apply", a_apply},       {"forget", a_forget},
};

static int c_action(const struct drv_guest *g, const char *verb, int argc, char **argv, char *err,
                    size_t n)
{
    if (!lxc_ready())
        return snprintf(err, n, "cannot %s ct %s: %s", verb, g->id, open_err), -ENOTSUP;
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(verbs[i].verb, verb) == 0)
            return verbs[i].run(g, argc, argv, err, n);
    return snprintf(err, n, "containers have no '%s' (Proxmox's pct has none either)", verb),
           -EOPNOTSUPP;
}

static int c_status(const struct drv_guest *g, struct pv_buf *out)
{
    struct lxc_stats s;

    if (!lxc_ready() || lxc_stats(g->id, &s) || strcmp(s.state, "stopped") == 0)
        return 0;
    pv_buf_printf(out,
                  "pid: %d\nuptime: %llu\ncpu: %.3f\nmem: %llu\nswap: %llu\npids: %llu\n"
                  "netin: %llu\nnetout: %llu\n",
                  s.pid, (unsigned long long)s.uptime_s, s.cpu, (unsigned long long)s.mem,
                  (unsigned long long)s.swap, (unsigned long long)s.pids,
                  (unsigned long long)s.netin, (unsigned long long)s.netout);
    /* one word per address, so the line survives the status channel's k=v form */
    if (s.ips[0]) {
        pv_buf_printf(out, "ips: ");
        for (const char *p = s.ips; *p; p++)
            pv_buf_printf(out, "%c", *p == ' ' ? ',' : *p);
        pv_buf_printf(out, "\n");
    }
    return 0;
}

/* Snapshots are the pct config's "[name]" sections (with snaptime and parent). */
static int c_snaps(const struct drv_guest *g, drv_snap_fn fn, void *arg)
{
    const char *p = g->config, *end = g->config ? g->config + g->config_len : NULL;
    char name[64] = "", parent[64] = "";
    long long t = 0;
    int in = 0;

    for (; p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l > 2 && p[0] == '[') {
            if (in && fn(arg, name, parent, t, 0))
                return 0;
            snprintf(name, sizeof(name), "%.*s", (int)(l - 2), p + 1);
            parent[0] = 0;
            t = 0;
            in = strcmp(name, "pve:pending") != 0;
        } else if (in && l > 9 && strncmp(p, "snaptime:", 9) == 0) {
            t = atoll(p + 9);
        } else if (in && l > 7 && strncmp(p, "parent:", 7) == 0) {
            snprintf(parent, sizeof(parent), "%.*s", (int)(l - 7 - (p[7] == ' ')),
                     p + 7 + (p[7] == ' '));
        }
        p = nl ? nl + 1 : NULL;
    }
    if (in)
        fn(arg, name, parent, t, 0);
    return 0;
}

const struct drv_guest_ops drv_lxc = {
    .name = "lxc",
    .state = c_state,
    .action = c_action,
    .status = c_status,
    .snaps = c_snaps,
};
