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

static char open_err[QEMU_ERRLEN] = "the QEMU driver was not started";

int drv_qemu_start(const struct qemu_env *env)
{
    int rc = qemu_open(env, open_err, sizeof(open_err));

    return rc;
}

void drv_qemu_stop(void)
{
    qemu_close();
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
    (void)argc;
    (void)argv;
    return qemu_start(g->id, g->config ? g->config : "", g->config_len, err, n);
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

const struct drv_guest_ops drv_qemu = {
    .snaps = q_snaps,
    .block_resize = q_block_resize,
    .name = "qemu",
    .state = q_state,
    .action = q_action,
    .status = q_status,
};
