/*
 * ha_env: everything the HA agents need from the world, as a table of function
 * pointers, so the same CRM and LRM rounds (ha_agent.c) run over the real
 * cluster or over the simulator (tests/unit/ha_sim.c).
 *
 * Contract for an implementation:
 *  - now() is store time in ms, the clock lease renewals are stamped with;
 *    every node must agree on it to within the fence margin.
 *  - lease() acquires or renews (take=1) or releases (take=0) a named lock in
 *    the replicated store. It succeeds only with quorum; a lock not renewed for
 *    lease_ms is free for anyone; holder names are node names or HA_LEASE_CRM.
 *    Locks: HA_LOCK_MANAGER for the master, "lrm:<node>" for each LRM.
 *  - nodes() lists every configured node with its membership as seen from here
 *    and the state of its LRM lease (free/held/claimed, and when it was renewed).
 *  - writes (status, LRM report) fail without quorum.
 *  - watchdog(arm) is called by the LRM right after every successful renewal;
 *    once armed, the node must reset itself (stopping every guest) if the next
 *    call does not come within self_fence_ms: that is what makes recovery on
 *    another node safe. arm=0 disarms (no HA guest runs here).
 *  - fence_self() stops every HA guest now and does not return to HA work
 *    until the node restarted (the real one resets the node).
 */
#ifndef PV_HA_ENV_H
#define PV_HA_ENV_H

#include "ha_sm.h"

#include <stddef.h>
#include <stdint.h>

#define HA_LOCK_MANAGER "ha-manager"
#define HA_STATUS_MAX   32768 /* room for the status text of HA_MAX_SERVICES services */
#define HA_EXEC_PENDING (-1)  /* exec: started, not finished; the LRM keeps renewing its lease */

struct ha_env;

struct ha_env_ops {
    uint64_t (*now)(struct ha_env *e);
    int (*quorate)(struct ha_env *e);
    size_t (*nodes)(struct ha_env *e, struct ha_node_in *out, size_t max);
    /* 0, -EBUSY if someone else holds it, -EACCES without quorum */
    int (*lease)(struct ha_env *e, const char *lock, const char *holder, int take);

    int (*read_config)(struct ha_env *e, struct ha_config *cfg);
    /* the status text's length, 0 if there is none yet, or -errno */
    int (*read_status)(struct ha_env *e, char *buf, size_t len);
    int (*write_status)(struct ha_env *e, const char *text);
    /* admin requests (migrate/relocate) not yet taken; taking them removes them */
    size_t (*take_requests)(struct ha_env *e, struct ha_request *out, size_t max);
    /* a hint that LRMs have new work; they read the commands from the status */
    void (*send_commands)(struct ha_env *e, const struct ha_cmd *cmd, size_t n);
    int (*read_lrm)(struct ha_env *e, const char *node, struct ha_lrm_report *out);
    int (*write_lrm)(struct ha_env *e, const struct ha_lrm_report *rep);

    /* on this node: run a command (0 or a failure code 1..255, or HA_EXEC_PENDING while it
     * still runs: the LRM then asks again with the same command next round and records the
     * uid only once a result comes), a guest's state, self-protection */
    int (*exec)(struct ha_env *e, const struct ha_cmd *cmd);
    enum ha_run (*guest)(struct ha_env *e, const char *sid);
    void (*watchdog)(struct ha_env *e, int arm);
    void (*fence_self)(struct ha_env *e, const char *why);

    void (*log)(struct ha_env *e, const char *role, const char *msg);
};

struct ha_env {
    const struct ha_env_ops *ops;
    const char *node; /* this node's name */
    const struct ha_timeouts *to;
    void *priv; /* the implementation's own state */
};

/*
 * The agents of one node: a CRM candidate and an LRM, each called once per
 * round (ha_agent.c). Zero it at boot; nothing in it survives a reset.
 */
struct ha_agent {
    struct ha_env *env;
    int master;               /* this CRM holds the manager lease */
    int lrm_active;           /* the LRM holds its lease since boot */
    int report_loaded;        /* rep came from the store after boot */
    struct ha_lrm_report rep; /* what the LRM last wrote */
};

void ha_crm_round(struct ha_agent *a);
void ha_lrm_round(struct ha_agent *a);
/* A clean stop (node shutdown): stop every HA guest, report HA_LRM_SHUTDOWN, give the lease back.
 */
int ha_lrm_shutdown(struct ha_agent *a);

#endif
