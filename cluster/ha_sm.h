/*
 * ha_sm: the pure high-availability state machine. No I/O, no clock, no
 * allocation: every call takes what it needs as input and writes into caller
 * buffers, so the real daemon and the simulator (tests/unit/ha_sim.c) run the
 * very same decisions.
 *
 * Roles. One CRM (the manager) runs on the node that holds the cluster-wide
 * manager lease; it calls ha_manager_step() once per round with the config,
 * the quorum membership, every node's LRM lease and report, and the manager
 * status it stored last time, and stores the status it gets back. One LRM per
 * node calls ha_lrm_plan() to learn which commands of that status it still has
 * to run. A command is (kind, sid, node, uid); the uid is unique for the life
 * of the status, and an LRM reports the last uid it ran per service, so every
 * command runs exactly once even across a new master or a rebooted node.
 *
 * Fencing. A service whose node is not online goes to `fence`. It may only be
 * recovered once that node provably cannot run it any more: its LRM lease was
 * last renewed at R, the node's LRM stops its guests (watchdog) no later than
 * R + self_fence_ms, and the manager claims the lease (ha_output.claim) no
 * earlier than R + lease_ms + fence_margin_ms. Once the claim shows up in the
 * input (HA_LEASE_CLAIMED) the node is fenced and its services go to
 * `recovery`, then to the best node of their group. A claimed lease is
 * released when the node is back online, so its LRM can work again.
 *
 * Placement: online nodes with an active LRM and their own lease, restricted groups only on their
 * nodes, highest group priority first, then fewest services, then node order.
 *
 * Status text (ha_status_format / ha_status_parse), one "key: value" a line in
 * this order:
 *     master: <node>
 *     time: <ms>
 *     next-uid: <n>
 *     node/<name>: <state> since=<ms>                      (sorted by name)
 *     service/<sid>: <state> node=<n> target=<n|-> cmd=<start|stop|migrate|relocate|->
 *         uid=<n> restarts=<n> relocates=<n> failed=<n1,n2|->       (one line, sorted by sid)
 *
 * ha/status text (ha_status_render), for people and scripts:
 *     master: <node>
 *     node <name>: <online|unknown|fence|gone>
 *     service <sid>: <state> on <node>[ -> <target>]
 */
#ifndef PV_HA_SM_H
#define PV_HA_SM_H

#include <stddef.h>
#include <stdint.h>

#define HA_NAME_LEN     32
#define HA_MAX_NODES    16
#define HA_MAX_SERVICES 64
#define HA_MAX_GROUPS   16
#define HA_MAX_EVENTS   128
#define HA_EVENT_LEN    160
#define HA_FAILED_LEN   128
#define HA_LEASE_CRM    "crm" /* the holder name the manager claims an LRM lease with */

/*
 * Timeouts. Defaults (HA_TIMEOUTS_DEFAULT): a round every 2 s; a lease lives 20 s
 * without renewal; an LRM that could not renew for 10 s fences itself (its guests
 * are killed, and the hardware watchdog, where there is one, is set to reset the
 * node by then); the manager waits 4 s more than the lease life before claiming.
 * Recovery thus starts 24-26 s after a node's last renewal, while the node stopped
 * its guests 10 s after it: the 14 s between cover a late round, watchdog latency,
 * store delivery and clock drift (the clocks must agree; NTP keeps them within
 * milliseconds). HA_TIMEOUTS_PROXMOX are Proxmox's (10/120/60 s, +10 s margin), which
 * the simulator scenarios use. ha_timeouts_check() enforces the order.
 */
struct ha_timeouts {
    uint64_t round_ms;      /* how often the CRM and every LRM act */
    uint64_t lease_ms;      /* a lease not renewed for this long is free */
    uint64_t self_fence_ms; /* an LRM with guests fences itself this long after its last renewal */
    uint64_t fence_margin_ms; /* extra wait after a lease expired before claiming it */
};
#define HA_TIMEOUTS_DEFAULT                                                                        \
    {                                                                                              \
        2000, 20000, 10000, 4000                                                                   \
    }
#define HA_TIMEOUTS_PROXMOX                                                                        \
    {                                                                                              \
        10000, 120000, 60000, 10000                                                                \
    }

/* ---- configuration (resources.cfg and groups.cfg) ---- */

enum ha_req { HA_REQ_STARTED, HA_REQ_STOPPED, HA_REQ_DISABLED, HA_REQ_IGNORED };

struct ha_group {
    char name[HA_NAME_LEN];
    size_t n;
    char node[HA_MAX_NODES][HA_NAME_LEN];
    int prio[HA_MAX_NODES]; /* higher is preferred; 0 when not given */
    int restricted;         /* never run outside these nodes */
    int nofailback;         /* do not move back when a preferred node returns */
};

struct ha_resource {
    char sid[HA_NAME_LEN];   /* "vm:<id>" or "ct:<id>" */
    char node[HA_NAME_LEN];  /* where it lives when first added; later the status rules */
    char group[HA_NAME_LEN]; /* "" for none */
    enum ha_req req;
    int max_restart;  /* restarts in place after a crash (default 1) */
    int max_relocate; /* moves to another node after restarts ran out (default 1) */
};

struct ha_config {
    size_t nres, ngroups;
    struct ha_resource res[HA_MAX_SERVICES];
    struct ha_group groups[HA_MAX_GROUPS];
};

/* ---- what the manager sees ---- */

enum ha_lease {
    HA_LEASE_FREE,    /* never taken, or not renewed for lease_ms */
    HA_LEASE_HELD,    /* held by the node's own LRM */
    HA_LEASE_CLAIMED, /* held by the manager: the node is fenced */
};

struct ha_node_in {
    char name[HA_NAME_LEN]; /* every configured node, member or not */
    int member;             /* in the master's quorate membership */
    enum ha_lease lease;
    uint64_t renewed; /* store time the lease was last taken or renewed, by anyone */
};

enum ha_run { HA_RUN_STOPPED, HA_RUN_RUNNING, HA_RUN_CRASHED };
enum ha_lrm_mode { HA_LRM_NONE, HA_LRM_ACTIVE, HA_LRM_SHUTDOWN };

struct ha_lrm_svc {
    char sid[HA_NAME_LEN];
    enum ha_run run;   /* CRASHED: died without being told to since this boot */
    uint64_t done_uid; /* the last command uid run for this service, 0 for none */
    int rc;            /* its result: 0 ok */
};

/* What an LRM last wrote. SHUTDOWN: it stopped all its guests and left cleanly. */
struct ha_lrm_report {
    char node[HA_NAME_LEN];
    enum ha_lrm_mode mode;
    uint64_t time; /* store time it was written: older than the node's return is stale */
    size_t n;
    struct ha_lrm_svc svc[HA_MAX_SERVICES];
};

enum ha_cmd_kind { HA_CMD_NONE, HA_CMD_START, HA_CMD_STOP, HA_CMD_MIGRATE, HA_CMD_RELOCATE };

/* An admin request (migrate/relocate a service), consumed by one step. */
struct ha_request {
    char sid[HA_NAME_LEN];
    enum ha_cmd_kind kind; /* HA_CMD_MIGRATE or HA_CMD_RELOCATE */
    char target[HA_NAME_LEN];
};

struct ha_input {
    uint64_t now;
    const char *master; /* the node running this step */
    const struct ha_timeouts *to;
    const struct ha_config *cfg;
    const struct ha_node_in *nodes;
    size_t nnodes;
    const struct ha_lrm_report *lrm;
    size_t nlrm;
    const struct ha_request *req;
    size_t nreq;
};

/* ---- the manager status (stored as text in the replicated store) ---- */

enum ha_node_state { HA_N_ONLINE, HA_N_UNKNOWN, HA_N_FENCE, HA_N_GONE };

enum ha_svc_state {
    HA_S_STOPPED,
    HA_S_REQUEST_STOP,
    HA_S_STARTED,
    HA_S_FENCE,
    HA_S_RECOVERY,
    HA_S_MIGRATE,
    HA_S_RELOCATE,
    HA_S_FREEZE,
    HA_S_ERROR,
    HA_S_IGNORED,
};

struct ha_node_status {
    char name[HA_NAME_LEN];
    enum ha_node_state state;
    uint64_t since; /* when it entered that state */
};

struct ha_svc_status {
    char sid[HA_NAME_LEN];
    enum ha_svc_state state;
    char node[HA_NAME_LEN];
    char target[HA_NAME_LEN]; /* migrate/relocate destination, else "" */
    enum ha_cmd_kind cmd;     /* the command the node's LRM must run, until it reports uid */
    uint64_t uid;
    int restarts, relocates;
    char failed[HA_FAILED_LEN]; /* nodes it crashed out of, "n1,n2" */
};

struct ha_status {
    char master[HA_NAME_LEN];
    uint64_t time, next_uid;
    size_t nnodes, nsvc;
    struct ha_node_status nodes[HA_MAX_NODES];
    struct ha_svc_status svc[HA_MAX_SERVICES];
};

struct ha_cmd {
    enum ha_cmd_kind kind;
    char sid[HA_NAME_LEN];
    char node[HA_NAME_LEN];   /* the LRM that runs it */
    char target[HA_NAME_LEN]; /* migrate/relocate only */
    uint64_t uid;
};

struct ha_output {
    size_t ncmd, nclaim, nrelease, nevent;
    struct ha_cmd cmd[HA_MAX_SERVICES];      /* issued this step */
    char claim[HA_MAX_NODES][HA_NAME_LEN];   /* take these LRM leases as HA_LEASE_CRM */
    char release[HA_MAX_NODES][HA_NAME_LEN]; /* give these claimed leases back */
    char event[HA_MAX_EVENTS][HA_EVENT_LEN]; /* the event log, in order */
};

/* ---- API ---- */

/* 0 if the timeouts keep the fencing guarantee, else -EINVAL with the reason in err. */
int ha_timeouts_check(const struct ha_timeouts *to, char *err, size_t errlen);

/* A resource with the defaults (started, max_restart 1, max_relocate 1). -EINVAL on a bad sid. */
int ha_resource_init(struct ha_resource *r, const char *sid, const char *node);
/* Parses "n1:2,n2,n3:1" into g's node list. -EINVAL with the reason in err. */
int ha_group_set_nodes(struct ha_group *g, const char *spec, char *err, size_t errlen);
const struct ha_group *ha_config_group(const struct ha_config *cfg, const char *name);

/*
 * One manager round: st (the stored status, zeroed for a fresh cluster) is
 * updated in place and out receives the commands, lease claims and releases
 * to carry out, and the events. Deterministic: same input, same output.
 */
void ha_manager_step(const struct ha_input *in, struct ha_status *st, struct ha_output *out);

/*
 * The node the service should run on, as the manager would choose it: online
 * with an active LRM, allowed by the group, not in svc->failed when
 * skip_failed; keeps svc->node if it is among the best (or at all, under
 * nofailback). Returns the index into st->nodes, or -1 if there is none.
 */
int ha_select_node(const struct ha_input *in, const struct ha_status *st,
                   const struct ha_svc_status *svc, int skip_failed);

/* The commands of st that node's LRM has not run yet (per rep), in sid order. */
size_t ha_lrm_plan(const struct ha_status *st, const char *node, const struct ha_lrm_report *rep,
                   struct ha_cmd *out, size_t max);

/* Status text. format returns the length written or needed (like snprintf). */
size_t ha_status_format(const struct ha_status *st, char *buf, size_t len);
int ha_status_parse(struct ha_status *st, const char *text, char *err, size_t errlen);
size_t ha_status_render(const struct ha_status *st, char *buf, size_t len);

/*
 * An LRM report as text (nodes/<node>/lrm_status), parse(format(r)) == r:
 *     node: <name>
 *     mode: none|active|shutdown
 *     time: <ms>
 *     service/<sid>: stopped|running|crashed uid=<n> rc=<n>     (one a line)
 */
size_t ha_lrm_format(const struct ha_lrm_report *rep, char *buf, size_t len);
int ha_lrm_parse(struct ha_lrm_report *rep, const char *text, char *err, size_t errlen);

const char *ha_svc_state_name(enum ha_svc_state s);
const char *ha_node_state_name(enum ha_node_state s);
const char *ha_cmd_name(enum ha_cmd_kind k);
const char *ha_req_name(enum ha_req r);
int ha_req_parse(const char *s, enum ha_req *out);

#endif
