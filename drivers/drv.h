/*
 * drv: the driver interface. A guest driver turns control writes into actions on
 * a real hypervisor (QEMU through libvirt, LXC through liblxc) and reports the
 * guest's actual state. Each kind has one ops table; the fs layer only calls
 * through it. Until a real driver is built in, drv_none answers every action
 * with ENOTSUP and says so: it never fakes a success.
 */
#ifndef PV_DRV_H
#define PV_DRV_H

#include <stddef.h>

struct drv_guest {
    const char *kind;   /* "qemu" or "lxc" */
    const char *node;   /* owning node */
    const char *id;     /* vmid / ctid */
    const char *config; /* its stored config (actions only; NULL for state reads) */
    size_t config_len;
};

struct pv_buf;

/* One snapshot: its name, parent ("" for none), creation time and whether it holds RAM. */
typedef int (*drv_snap_fn)(void *arg, const char *name, const char *parent, long long time,
                           int ram);

struct drv_guest_ops {
    const char *name;
    /* Writes the actual state ("running", "stopped", "paused") into buf. */
    int (*state)(const struct drv_guest *g, char *buf, size_t len);
    /* Runs verb with its arguments; returns 0 or -errno with err filled. */
    int (*action)(const struct drv_guest *g, const char *verb, int argc, char **argv, char *err,
                  size_t errlen);
    /* Appends live "key: value" lines (pid, uptime, cpu, mem, ...); NULL if none. Never blocks. */
    int (*status)(const struct drv_guest *g, struct pv_buf *out);
    /* Lists the guest's snapshots (oldest first); NULL if the driver keeps none. */
    int (*snaps)(const struct drv_guest *g, drv_snap_fn fn, void *arg);
    /* Grows a disk of the running guest (its image path, or rbd "pool/image"); NULL if none. */
    int (*block_resize)(const struct drv_guest *g, const char *disk, unsigned long long size,
                        char *err, size_t errlen);
    /* Appends the changes of g->config that the running guest does not have yet, as
     * "key: value" lines and a "delete: k1,k2" line; NULL if the driver tracks none. */
    int (*pending)(const struct drv_guest *g, struct pv_buf *out);
};

extern const struct drv_guest_ops drv_qemu;
extern const struct drv_guest_ops drv_lxc;

/* The driver for guests of kind ("qemu", "lxc"). */
const struct drv_guest_ops *drv_guest(const char *kind);

extern const struct drv_guest_ops drv_none;

/* drv_fork.c: periodic background work (shared) against calls that fork in-process
 * (exclusive). A thread must not fork-enter while it holds bg. */
void drv_bg_enter(void);
void drv_bg_leave(void);
void drv_fork_enter(void);
void drv_fork_leave(void);

#endif
