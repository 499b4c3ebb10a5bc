/*
 * lxc: the container driver, through liblxc.
 *
 * lxc_conf.c turns a pct config into the LXC config pvefs owns (pure; no I/O).
 * lxc_cg.c reads a container's cgroups (v2 first, v1 as the fallback) and freezes it.
 * lxc_worker.c is a process forked before the daemon starts threads: it enters the
 * node's view of the system (a fresh sysfs of this network namespace, the cgroup tree
 * kept) and runs each liblxc call in a short-lived child of its own, so liblxc never
 * moves a daemon thread between cgroups and a slow shutdown never blocks a start.
 * lxc.c owns lifecycle and a stats thread that samples every container once a second,
 * so status reads never touch liblxc.
 */
#ifndef PV_LXC_H
#define PV_LXC_H

#include <stddef.h>
#include <stdint.h>

#include "../fs/buf.h"
#include "qemu.h"

#define LXC_ERRLEN 512

/* What lxc_conf_build needs beyond the pct config. */
struct lxc_conf_opts {
    const char *ctid;
    const char *cgroup; /* container cgroups go to <cgroup>/<ctid> */
    int cgroup2_memory; /* the v2 hierarchy has the memory controller (use lxc.cgroup2.*) */
    int memsw;          /* v1 memory.memsw exists (swap can be limited) */
    int apparmor;       /* the kernel has AppArmor */
    int host_cpus;
    const char *halt_signal; /* what the rootfs's init takes as "power off" */
    qemu_resolve_fn resolve; /* volids of rootfs and mount points */
    void *arg;
    qemu_bridge_fn bridge; /* checks each netN's bridge; NULL: not checked */
    void *bridge_arg;
};

/*
 * Builds the LXC config for a pct config (main section). Understood: arch, hostname,
 * memory, swap, cores, cpulimit, cpuunits, rootfs, mpN, netN (name, bridge, hwaddr,
 * ip, gw, ip6, gw6, tag, mtu, link_down, type), tty, unprivileged (refused: -EOPNOTSUPP),
 * and raw "lxc.*" lines, which are passed through. Returns 0, or -errno with err.
 */
int lxc_conf_build(const char *config, size_t len, const struct lxc_conf_opts *o,
                   struct pv_buf *out, char *err, size_t errlen);

/* The host side of netN's veth: "veth<ctid>i<N>", as Proxmox names it. */
void lxc_veth_name(const char *ctid, int n, char *buf, size_t len);

/* ---- cgroups (lxc_cg.c) ---- */

struct lxc_cg_layout {
    int v2_memory, v2_cpu, v2_pids; /* controllers enabled in the v2 hierarchy */
    int v1_freezer, v1_memory, v1_cpuacct, v1_pids, memsw;
    char v2root[64]; /* /sys/fs/cgroup or /sys/fs/cgroup/unified, "" if none */
};

void lxc_cg_detect(struct lxc_cg_layout *l);

struct lxc_cg_figures {
    int exists;    /* the container's cgroup is there */
    int populated; /* it holds processes */
    int frozen;
    int init_pid; /* the process whose parent is outside the cgroup; 0 if none */
    uint64_t cpu_ns, mem, swap, pids;
};

int lxc_cg_read(const struct lxc_cg_layout *l, const char *dir, struct lxc_cg_figures *f);
/* Removes the empty cgroups dir left by a container whose monitor died (a crash, kill -9):
 * LXC refuses to start while they exist. */
void lxc_cg_prune(const char *dir);
/* Freezes (on = 1) or thaws dir and waits up to timeout_ms for it to settle. */
int lxc_cg_freeze(const struct lxc_cg_layout *l, const char *dir, int on, int timeout_ms, char *err,
                  size_t errlen);

/* ---- the worker (lxc_worker.c) ---- */

enum lxc_op { LXC_OP_START = 1, LXC_OP_STOP, LXC_OP_SHUTDOWN, LXC_OP_REBOOT, LXC_OP_ATTACH };

/* Forks the worker: call before any thread starts. 0, or -errno with err. */
int lxc_worker_spawn(const char *lxcpath, char *err, size_t errlen);
/* Runs op for ctid in the worker; arg is a timeout in seconds (shutdown, reboot). Fills
 * *pid with the init pid after a start. For ATTACH, cmd is a shell command and out gets
 * its output (up to outlen) and *pid its exit status. 0 or -errno with err. */
int lxc_worker_call(enum lxc_op op, const char *ctid, int arg, const char *cmd, int *pid, char *out,
                    size_t outlen, char *err, size_t errlen);
int lxc_worker_ready(void);

/* ---- the driver (lxc.c) ---- */

struct lxc_stats {
    int known;
    char state[16]; /* running, paused, stopped */
    int pid;
    uint64_t uptime_s;
    double cpu; /* share of one host CPU over the last cycle */
    uint64_t mem, swap, pids;
    uint64_t netin, netout; /* bytes, as the container sees them */
    char ips[256];          /* its addresses, space separated */
};

typedef void (*lxc_event_fn)(void *arg, const char *ctid, const char *state, const char *why);

struct lxc_env {
    const char *node;
    const char *lxcpath; /* <data>/lxc: one <ctid>/config per container */
    const char *cgroup;  /* cgroup parent of the containers ("lxc") */
    qemu_resolve_fn resolve;
    void *resolve_arg;
    qemu_bridge_fn bridge; /* netN bridges are checked before LXC is asked */
    void *bridge_arg;
    lxc_event_fn on_event;
    void *event_arg;
};

int lxc_open(const struct lxc_env *env, char *err, size_t errlen);
void lxc_close(void);
int lxc_ready(void);

int lxc_state(const char *ctid, char *buf, size_t len);
int lxc_stats(const char *ctid, struct lxc_stats *s);

int lxc_start(const char *ctid, const char *config, size_t len, char *err, size_t errlen);
int lxc_stop(const char *ctid, char *err, size_t errlen);
int lxc_shutdown(const char *ctid, int timeout_s, int force, char *err, size_t errlen);
int lxc_reboot(const char *ctid, char *err, size_t errlen);
int lxc_suspend(const char *ctid, char *err, size_t errlen);
int lxc_resume(const char *ctid, char *err, size_t errlen);
/* Runs cmd with /bin/sh -c inside the running container; out gets what it printed. */
int lxc_exec(const char *ctid, const char *cmd, int *status, char *out, size_t outlen, char *err,
             size_t errlen);
/* Drops what the driver keeps for ctid (its LXC config); the container must be stopped. */
int lxc_forget(const char *ctid, char *err, size_t errlen);

int drv_lxc_start(const struct lxc_env *env);
void drv_lxc_stop(void);

#endif
