/*
 * drv_none: the guest driver of a build without a hypervisor driver. Nothing
 * can run a guest here, so every guest is stopped, and every action is refused
 * with ENOTSUP and a message that says why.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "drv.h"

static int none_state(const struct drv_guest *g, char *buf, size_t len)
{
    (void)g;
    snprintf(buf, len, "stopped");
    return 0;
}

static int none_action(const struct drv_guest *g, const char *verb, int argc, char **argv,
                       char *err, size_t errlen)
{
    (void)argc;
    (void)argv;
    snprintf(err, errlen, "cannot %s %s %s: no %s driver in this build yet", verb, g->kind, g->id,
             g->kind);
    return -ENOTSUP;
}

const struct drv_guest_ops drv_none = {
    .name = "none",
    .state = none_state,
    .action = none_action,
};

static const struct {
    const char *kind;
    const struct drv_guest_ops *ops;
} drivers[] = {
    {"qemu", &drv_qemu},
    {"lxc", &drv_lxc},
};

const struct drv_guest_ops *drv_guest(const char *kind)
{
    for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
        if (strcmp(drivers[i].kind, kind) == 0)
            return drivers[i].ops;
    return &drv_none;
}
