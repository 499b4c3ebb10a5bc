/*
 * ha_sm: the manager's round, placement and the LRM's plan (see ha_sm.h).
 *
 * Divisions: config helpers; status lookups; placement; the service state
 * machine; node fencing; the round; the LRM plan. Names, config parsing and the
 * status text live in ha_sm_text.c. Services and nodes stay sorted by name so every loop, and so
 * every event log, comes out in the same order.
 */
#include "ha_sm.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRIO_OUTSIDE (INT_MIN / 2) /* a node outside an unrestricted group: last resort */
#define PRIO_NONE    INT_MIN       /* not a candidate */

struct ctx {
    const struct ha_input *in;
    struct ha_status *st;
    struct ha_output *out;
};

/* ---- config helpers ---- */

int ha_timeouts_check(const struct ha_timeouts *to, char *err, size_t errlen)
{
    if (!to->round_ms || !to->lease_ms || !to->self_fence_ms) {
        snprintf(err, errlen, "round, lease and self-fence times must be positive");
        return -EINVAL;
    }
    /* an LRM notices a failed renewal up to a round late; it must still be dead before expiry */
    if (to->self_fence_ms + to->round_ms > to->lease_ms) {
        snprintf(err, errlen,
                 "self-fence %llu ms plus a round %llu ms exceeds the lease %llu ms: "
                 "a node could still run guests when its lease is claimed",
                 (unsigned long long)to->self_fence_ms, (unsigned long long)to->round_ms,
                 (unsigned long long)to->lease_ms);
        return -EINVAL;
    }
    return 0;
}

const struct ha_group *ha_config_group(const struct ha_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ngroups; i++)
        if (!strcmp(cfg->groups[i].name, name))
            return &cfg->groups[i];
    return NULL;
}

static const struct ha_resource *cfg_res(const struct ha_config *cfg, const char *sid)
{
    for (size_t i = 0; i < cfg->nres; i++)
        if (!strcmp(cfg->res[i].sid, sid))
            return &cfg->res[i];
    return NULL;
}

/* ---- status and input lookups ---- */

__attribute__((format(printf, 2, 3))) static void event(struct ctx *c, const char *fmt, ...)
{
    va_list ap;

    if (c->out->nevent == HA_MAX_EVENTS)
        return;
    va_start(ap, fmt);
    vsnprintf(c->out->event[c->out->nevent++], HA_EVENT_LEN, fmt, ap);
    va_end(ap);
}

static const struct ha_node_in *node_in(const struct ha_input *in, const char *name)
{
    for (size_t i = 0; i < in->nnodes; i++)
        if (!strcmp(in->nodes[i].name, name))
            return &in->nodes[i];
    return NULL;
}

static const struct ha_lrm_report *lrm_of(const struct ha_input *in, const char *node)
{
    for (size_t i = 0; i < in->nlrm; i++)
        if (!strcmp(in->lrm[i].node, node))
            return &in->lrm[i];
    return NULL;
}

static const struct ha_lrm_svc *lrm_svc(const struct ha_lrm_report *rep, const char *sid)
{
    for (size_t i = 0; rep && i < rep->n; i++)
        if (!strcmp(rep->svc[i].sid, sid))
            return &rep->svc[i];
    return NULL;
}

static struct ha_node_status *st_node(struct ha_status *st, const char *name)
{
    for (size_t i = 0; i < st->nnodes; i++)
        if (!strcmp(st->nodes[i].name, name))
            return &st->nodes[i];
    return NULL;
}

static int online(const struct ha_status *st, const char *name)
{
    for (size_t i = 0; i < st->nnodes; i++)
        if (!strcmp(st->nodes[i].name, name))
            return st->nodes[i].state == HA_N_ONLINE;
    return 0;
}

static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        if (strcspn(p, ",") == n && !strncmp(p, name, n))
            return 1;
    }
    return 0;
}

static void set_state(struct ctx *c, struct ha_svc_status *s, enum ha_svc_state to, const char *why)
{
    event(c, "service %s: %s -> %s%s%s%s", s->sid, ha_svc_state_name(s->state),
          ha_svc_state_name(to), why ? " (" : "", why ? why : "", why ? ")" : "");
    s->state = to;
}

static void issue(struct ctx *c, struct ha_svc_status *s, enum ha_cmd_kind kind)
{
    struct ha_cmd *cmd = &c->out->cmd[c->out->ncmd];

    if (!c->st->next_uid)
        c->st->next_uid = 1;
    s->cmd = kind;
    s->uid = c->st->next_uid++;
    if (c->out->ncmd == HA_MAX_SERVICES)
        return; /* still in the status, which is what the LRMs read */
    c->out->ncmd++;
    cmd->kind = kind;
    cmd->uid = s->uid;
    memcpy(cmd->sid, s->sid, sizeof(cmd->sid));
    memcpy(cmd->node, s->node, sizeof(cmd->node));
    memcpy(cmd->target, s->target, sizeof(cmd->target));
}

/* ---- placement ---- */

/* Services that run, or are about to, on node: what "fewest services" counts. */
static int load_of(const struct ha_status *st, const char *node, const struct ha_svc_status *skip)
{
    int n = 0;

    for (size_t i = 0; i < st->nsvc; i++) {
        const struct ha_svc_status *t = &st->svc[i];
        int moving = t->state == HA_S_MIGRATE || t->state == HA_S_RELOCATE;

        if (t == skip || !(moving || t->state == HA_S_STARTED || t->state == HA_S_FREEZE))
            continue;
        n += !strcmp(moving ? t->target : t->node, node);
    }
    return n;
}

static int prio_of(const struct ha_group *g, const char *node)
{
    if (!g)
        return 0;
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->node[i], node))
            return g->prio[i];
    return g->restricted ? PRIO_NONE : PRIO_OUTSIDE;
}

int ha_select_node(const struct ha_input *in, const struct ha_status *st,
                   const struct ha_svc_status *svc, int skip_failed)
{
    const struct ha_resource *res = cfg_res(in->cfg, svc->sid);
    const struct ha_group *g = res && res->group[0] ? ha_config_group(in->cfg, res->group) : NULL;
    int best = -1, best_prio = PRIO_NONE, best_load = 0, cur = -1, cur_prio = PRIO_NONE;

    for (size_t i = 0; i < st->nnodes; i++) {
        const struct ha_node_status *n = &st->nodes[i];
        const struct ha_lrm_report *rep = lrm_of(in, n->name);
        const struct ha_node_in *ni = node_in(in, n->name);
        int prio = prio_of(g, n->name), load;

        /* a node whose lease the manager still holds can run nothing until it is handed back */
        if (n->state != HA_N_ONLINE || (rep && rep->mode == HA_LRM_SHUTDOWN) ||
            (ni && ni->lease == HA_LEASE_CLAIMED) || prio == PRIO_NONE ||
            (skip_failed && in_list(svc->failed, n->name)))
            continue;
        load = load_of(st, n->name, svc);
        if (!strcmp(n->name, svc->node)) {
            cur = (int)i;
            cur_prio = prio;
        }
        if (best < 0 || prio > best_prio || (prio == best_prio && load < best_load)) {
            best = (int)i;
            best_prio = prio;
            best_load = load;
        }
    }
    /* staying put is free: move only for a better priority, never to even out load */
    if (cur >= 0 && (cur_prio == best_prio || (g && g->nofailback)))
        return cur;
    return best;
}

/* The node's report if it was written since the node (last) came online, else NULL. */
static const struct ha_lrm_report *fresh_lrm(const struct ctx *c, const struct ha_node_status *n)
{
    const struct ha_lrm_report *rep = lrm_of(c->in, n->name);

    return rep && n->state == HA_N_ONLINE && rep->time >= n->since ? rep : NULL;
}

/* An online node whose LRM reports sid running: after a lost migration it may be the target. */
static int running_on(const struct ctx *c, const char *sid)
{
    for (size_t i = 0; i < c->st->nnodes; i++) {
        const struct ha_lrm_svc *ls = lrm_svc(fresh_lrm(c, &c->st->nodes[i]), sid);

        if (ls && ls->run == HA_RUN_RUNNING)
            return (int)i;
    }
    return -1;
}

/* ---- the service state machine ---- */

/* States in which the guest may run on its node, or should be kept (stopped) under HA. */
static int needs_fence(const struct ha_svc_status *s, enum ha_req req)
{
    switch (s->state) {
    case HA_S_STARTED:
    case HA_S_REQUEST_STOP:
    case HA_S_MIGRATE:
    case HA_S_RELOCATE:
        return 1;
    case HA_S_STOPPED:
        return req == HA_REQ_STARTED || req == HA_REQ_STOPPED;
    default:
        return 0;
    }
}

/* Enter the state the request asks for on the service's (online) node. */
static void settle(struct ctx *c, struct ha_svc_status *s, enum ha_req req, const char *why)
{
    char on[HA_EVENT_LEN];

    if (!why) {
        snprintf(on, sizeof(on), "on %s", s->node);
        why = on;
    }
    s->target[0] = 0;
    if (req == HA_REQ_STARTED) {
        set_state(c, s, HA_S_STARTED, why);
        issue(c, s, HA_CMD_START);
    } else if (online(c->st, s->node)) {
        set_state(c, s, HA_S_REQUEST_STOP, why);
        issue(c, s, HA_CMD_STOP);
    } else {
        set_state(c, s, HA_S_STOPPED, why);
        s->cmd = HA_CMD_NONE;
    }
}

static void fail(struct ctx *c, struct ha_svc_status *s, const struct ha_resource *res,
                 const char *what)
{
    char why[HA_EVENT_LEN];
    int to;

    if (s->restarts < res->max_restart) {
        s->restarts++;
        event(c, "service %s: %s on %s, restart %d of %d", s->sid, what, s->node, s->restarts,
              res->max_restart);
        issue(c, s, HA_CMD_START);
        return;
    }
    if (s->relocates >= res->max_relocate) {
        snprintf(why, sizeof(why), "%s on %s, no restarts or relocations left", what, s->node);
        set_state(c, s, HA_S_ERROR, why);
        s->cmd = HA_CMD_NONE;
        return;
    }
    if (!in_list(s->failed, s->node)) {
        size_t len = strlen(s->failed);
        snprintf(s->failed + len, sizeof(s->failed) - len, "%s%s", len ? "," : "", s->node);
    }
    to = ha_select_node(c->in, c->st, s, 1);
    if (to < 0) {
        snprintf(why, sizeof(why), "%s on %s, no other node to relocate to", what, s->node);
        set_state(c, s, HA_S_ERROR, why);
        s->cmd = HA_CMD_NONE;
        return;
    }
    s->relocates++;
    memcpy(s->target, c->st->nodes[to].name, sizeof(s->target));
    snprintf(why, sizeof(why), "%s on %s, relocation %d of %d to %s", what, s->node, s->relocates,
             res->max_relocate, s->target);
    set_state(c, s, HA_S_RELOCATE, why);
    issue(c, s, HA_CMD_RELOCATE);
}

static void recover(struct ctx *c, struct ha_svc_status *s, enum ha_req req)
{
    char why[HA_EVENT_LEN];
    int to;

    if (req == HA_REQ_DISABLED) {
        set_state(c, s, HA_S_STOPPED, "disabled while its node was fenced");
        return;
    }
    to = running_on(c, s->sid);
    if (to < 0)
        to = ha_select_node(c->in, c->st, s, 0);
    if (to < 0)
        return; /* no node may take it (yet); stay in recovery */
    snprintf(why, sizeof(why), "recovered from %s to %s", s->node, c->st->nodes[to].name);
    memcpy(s->node, c->st->nodes[to].name, sizeof(s->node));
    s->target[0] = 0;
    s->restarts = 0;
    if (req == HA_REQ_STARTED) {
        set_state(c, s, HA_S_STARTED, why);
        issue(c, s, HA_CMD_START);
    } else {
        set_state(c, s, HA_S_STOPPED, why);
        s->cmd = HA_CMD_NONE;
    }
}

/* Leaves ignored: adopt the node where the guest runs now, if any, then follow the request. */
static void unignore(struct ctx *c, struct ha_svc_status *s, enum ha_req req)
{
    int on = running_on(c, s->sid);

    if (on >= 0)
        memcpy(s->node, c->st->nodes[on].name, sizeof(s->node));
    s->restarts = s->relocates = 0;
    s->failed[0] = 0;
    settle(c, s, req, "managed again");
}

static void step_started(struct ctx *c, struct ha_svc_status *s, const struct ha_resource *res,
                         const struct ha_lrm_report *rep, const struct ha_lrm_svc *ls, int done)
{
    int to;

    if (res->req != HA_REQ_STARTED) {
        s->restarts = s->relocates = 0;
        s->failed[0] = 0;
        settle(c, s, res->req, ha_req_name(res->req));
        return;
    }
    if (s->cmd != HA_CMD_NONE && !done)
        return; /* the LRM has not run it yet */
    if (done && ls->rc != 0) {
        fail(c, s, res, "start failed");
        return;
    }
    s->cmd = HA_CMD_NONE;
    if (ls && ls->run == HA_RUN_CRASHED) {
        fail(c, s, res, "crashed");
        return;
    }
    if ((!ls || ls->run == HA_RUN_STOPPED) && rep && rep->mode == HA_LRM_ACTIVE) {
        /* not a crash: the node rebooted or someone stopped it; no restart is used up */
        event(c, "service %s: not running on %s, starting it", s->sid, s->node);
        issue(c, s, HA_CMD_START);
        return;
    }
    to = ha_select_node(c->in, c->st, s, 0);
    if (to >= 0 && strcmp(c->st->nodes[to].name, s->node) != 0) {
        char why[HA_EVENT_LEN];

        memcpy(s->target, c->st->nodes[to].name, sizeof(s->target));
        snprintf(why, sizeof(why), "to %s, preferred by group %s", s->target, res->group);
        set_state(c, s, HA_S_MIGRATE, why);
        issue(c, s, HA_CMD_MIGRATE);
    }
}

static void step_moving(struct ctx *c, struct ha_svc_status *s, const struct ha_resource *res,
                        const struct ha_lrm_svc *ls)
{
    char why[HA_EVENT_LEN];

    if (ls->rc == 0) {
        snprintf(why, sizeof(why), "now on %s", s->target);
        memcpy(s->node, s->target, sizeof(s->node));
        s->restarts = 0;
        settle(c, s, res->req == HA_REQ_STARTED ? HA_REQ_STARTED : HA_REQ_STOPPED, why);
    } else if (s->state == HA_S_RELOCATE && s->relocates) {
        set_state(c, s, HA_S_ERROR, "could not stop it for relocation");
        s->cmd = HA_CMD_NONE;
    } else {
        snprintf(why, sizeof(why), "%s to %s failed, staying on %s", ha_svc_state_name(s->state),
                 s->target, s->node);
        settle(c, s, res->req == HA_REQ_STARTED ? HA_REQ_STARTED : HA_REQ_STOPPED, why);
    }
}

static void step_service(struct ctx *c, struct ha_svc_status *s)
{
    const struct ha_resource *res = cfg_res(c->in->cfg, s->sid);
    const struct ha_node_status *n = st_node(c->st, s->node);
    const struct ha_lrm_report *last = lrm_of(c->in, s->node), *rep = n ? fresh_lrm(c, n) : NULL;
    const struct ha_lrm_svc *ls = lrm_svc(rep, s->sid), *last_ls = lrm_svc(last, s->sid);
    int up = n && n->state == HA_N_ONLINE;
    int done = up && s->cmd != HA_CMD_NONE && ls && ls->done_uid == s->uid;
    char why[HA_EVENT_LEN];

    if (res->req == HA_REQ_IGNORED) {
        if (s->state != HA_S_IGNORED)
            set_state(c, s, HA_S_IGNORED, "hands off");
        s->cmd = HA_CMD_NONE;
        return;
    }
    if (s->state == HA_S_IGNORED) {
        unignore(c, s, res->req);
        return;
    }
    /* disabling is how an operator takes a service out of error, so it goes on */
    if (res->group[0] && !ha_config_group(c->in->cfg, res->group) && res->req != HA_REQ_DISABLED) {
        if (s->state != HA_S_ERROR) {
            snprintf(why, sizeof(why), "group '%s' does not exist", res->group);
            set_state(c, s, HA_S_ERROR, why);
            s->cmd = HA_CMD_NONE;
        }
        return;
    }
    /* a clean shutdown stopped every guest before the LRM said so: nothing to fence */
    if (last && last->mode == HA_LRM_SHUTDOWN && (!last_ls || last_ls->run != HA_RUN_RUNNING) &&
        (s->state == HA_S_STARTED || s->state == HA_S_FENCE)) {
        set_state(c, s, HA_S_FREEZE, "its node shut down");
        s->cmd = HA_CMD_NONE;
        return;
    }
    if (!up && needs_fence(s, res->req)) {
        snprintf(why, sizeof(why), "node %s is not online", s->node);
        set_state(c, s, HA_S_FENCE, why);
        s->cmd = HA_CMD_NONE;
        return;
    }
    switch (s->state) {
    case HA_S_STOPPED:
        if (res->req == HA_REQ_STARTED && up)
            settle(c, s, HA_REQ_STARTED, NULL);
        break;
    case HA_S_REQUEST_STOP:
        if (done) {
            set_state(c, s, ls->rc ? HA_S_ERROR : HA_S_STOPPED, ls->rc ? "stop failed" : NULL);
            s->cmd = HA_CMD_NONE;
        }
        break;
    case HA_S_STARTED:
        step_started(c, s, res, rep, ls, done);
        break;
    case HA_S_FENCE:
        if (up)
            settle(c, s, res->req, "its node is back before it was fenced");
        break;
    case HA_S_RECOVERY:
        recover(c, s, res->req);
        break;
    case HA_S_MIGRATE:
    case HA_S_RELOCATE:
        if (done)
            step_moving(c, s, res, ls);
        break;
    case HA_S_FREEZE:
        if (up && rep && rep->mode == HA_LRM_ACTIVE)
            settle(c, s, res->req == HA_REQ_STARTED ? HA_REQ_STARTED : HA_REQ_STOPPED,
                   "its node is back");
        break;
    case HA_S_ERROR:
        if (res->req == HA_REQ_DISABLED) {
            s->restarts = s->relocates = 0;
            s->failed[0] = 0;
            settle(c, s, HA_REQ_DISABLED, "disabled");
        }
        break;
    case HA_S_IGNORED:
        break;
    }
}

/* ---- nodes and fencing ---- */

static struct ha_node_status *add_node(struct ha_status *st, const char *name)
{
    size_t at = 0;

    if (st->nnodes == HA_MAX_NODES)
        return NULL;
    while (at < st->nnodes && strcmp(st->nodes[at].name, name) < 0)
        at++;
    memmove(&st->nodes[at + 1], &st->nodes[at], (st->nnodes - at) * sizeof(st->nodes[0]));
    st->nnodes++;
    memset(&st->nodes[at], 0, sizeof(st->nodes[at]));
    snprintf(st->nodes[at].name, HA_NAME_LEN, "%s", name);
    return &st->nodes[at];
}

static void set_node(struct ctx *c, struct ha_node_status *n, enum ha_node_state to)
{
    event(c, "node %s: %s -> %s", n->name, ha_node_state_name(n->state), ha_node_state_name(to));
    n->state = to;
    n->since = c->in->now;
}

static int has_fence(const struct ha_status *st, const char *node)
{
    for (size_t i = 0; i < st->nsvc; i++)
        if (st->svc[i].state == HA_S_FENCE && !strcmp(st->svc[i].node, node))
            return 1;
    return 0;
}

static void update_nodes(struct ctx *c)
{
    const struct ha_input *in = c->in;

    for (size_t i = 0; i < in->nnodes; i++) {
        const struct ha_node_in *ni = &in->nodes[i];
        struct ha_node_status *n = st_node(c->st, ni->name);

        if (!n) {
            n = add_node(c->st, ni->name);
            if (!n) {
                event(c, "node %s: ignored, more than %d nodes", ni->name, HA_MAX_NODES);
                continue;
            }
            n->state = ni->member ? HA_N_ONLINE : HA_N_UNKNOWN;
            n->since = in->now;
            event(c, "node %s: new, %s", n->name, ha_node_state_name(n->state));
        } else if (ni->member && n->state != HA_N_ONLINE) {
            set_node(c, n, HA_N_ONLINE);
        } else if (!ni->member && n->state == HA_N_ONLINE) {
            set_node(c, n, HA_N_UNKNOWN);
        }
        /* a fenced node is back: give its LRM the lease again (nothing of it is in fence) */
        if (ni->member && ni->lease == HA_LEASE_CLAIMED && !has_fence(c->st, ni->name) &&
            c->out->nrelease < HA_MAX_NODES) {
            event(c, "node %s: online again, releasing its lease", ni->name);
            memcpy(c->out->release[c->out->nrelease++], ni->name, HA_NAME_LEN);
        }
    }
    for (size_t i = 0; i < c->st->nnodes; i++)
        if (!node_in(in, c->st->nodes[i].name) && c->st->nodes[i].state != HA_N_GONE)
            set_node(c, &c->st->nodes[i], HA_N_GONE);
}

/*
 * Nodes with services in fence: claim the lease once it provably expired; claimed = fenced.
 * Returns whether any service went to recovery.
 */
static int fence_nodes(struct ctx *c)
{
    const struct ha_timeouts *to = c->in->to;
    int recovered = 0;

    for (size_t i = 0; i < c->st->nnodes; i++) {
        struct ha_node_status *n = &c->st->nodes[i];
        const struct ha_node_in *ni = node_in(c->in, n->name);
        enum ha_lease lease = ni ? ni->lease : HA_LEASE_FREE;
        uint64_t renewed = ni ? ni->renewed : 0;

        if (n->state == HA_N_ONLINE)
            continue;
        if (!has_fence(c->st, n->name)) {
            if (n->state == HA_N_FENCE)
                set_node(c, n, HA_N_UNKNOWN);
            continue;
        }
        if (n->state != HA_N_FENCE && n->state != HA_N_GONE)
            set_node(c, n, HA_N_FENCE);
        if (lease == HA_LEASE_CLAIMED) {
            event(c, "node %s: fenced, its lease is ours", n->name);
            for (size_t j = 0; j < c->st->nsvc; j++)
                if (c->st->svc[j].state == HA_S_FENCE && !strcmp(c->st->svc[j].node, n->name))
                    set_state(c, &c->st->svc[j], HA_S_RECOVERY, NULL);
            recovered = 1;
            if (n->state == HA_N_FENCE)
                set_node(c, n, HA_N_UNKNOWN);
        } else if (lease == HA_LEASE_FREE &&
                   c->in->now >= renewed + to->lease_ms + to->fence_margin_ms &&
                   c->out->nclaim < HA_MAX_NODES) {
            event(c, "node %s: lease expired, claiming it", n->name);
            memcpy(c->out->claim[c->out->nclaim++], n->name, HA_NAME_LEN);
        }
    }
    return recovered;
}

/* ---- config and requests ---- */

static struct ha_svc_status *st_svc(struct ha_status *st, const char *sid)
{
    for (size_t i = 0; i < st->nsvc; i++)
        if (!strcmp(st->svc[i].sid, sid))
            return &st->svc[i];
    return NULL;
}

static struct ha_svc_status *add_svc(struct ha_status *st, const char *sid)
{
    size_t at = 0;

    if (st->nsvc == HA_MAX_SERVICES)
        return NULL;
    while (at < st->nsvc && strcmp(st->svc[at].sid, sid) < 0)
        at++;
    memmove(&st->svc[at + 1], &st->svc[at], (st->nsvc - at) * sizeof(st->svc[0]));
    st->nsvc++;
    memset(&st->svc[at], 0, sizeof(st->svc[at]));
    snprintf(st->svc[at].sid, HA_NAME_LEN, "%s", sid);
    return &st->svc[at];
}

static void sync_config(struct ctx *c)
{
    const struct ha_config *cfg = c->in->cfg;
    struct ha_status *st = c->st;

    for (size_t i = st->nsvc; i-- > 0;)
        if (!cfg_res(cfg, st->svc[i].sid)) {
            event(c, "service %s: removed from the config, no longer managed", st->svc[i].sid);
            memmove(&st->svc[i], &st->svc[i + 1], (st->nsvc - i - 1) * sizeof(st->svc[0]));
            st->nsvc--;
        }
    for (size_t i = 0; i < cfg->nres; i++) {
        const struct ha_resource *r = &cfg->res[i];
        struct ha_svc_status *s;

        if (st_svc(st, r->sid))
            continue;
        s = add_svc(st, r->sid);
        if (!s) {
            event(c, "service %s: ignored, more than %d services", r->sid, HA_MAX_SERVICES);
            continue;
        }
        memcpy(s->node, r->node, sizeof(s->node));
        s->state = HA_S_STOPPED;
        event(c, "service %s: added on %s", s->sid, s->node);
        if (!st_node(st, r->node))
            set_state(c, s, HA_S_ERROR, "its node is not a cluster node");
    }
}

static const char *refuse_why(struct ctx *c, const struct ha_svc_status *s,
                              const struct ha_request *r)
{
    const struct ha_resource *res = cfg_res(c->in->cfg, s->sid);
    const struct ha_group *g = res->group[0] ? ha_config_group(c->in->cfg, res->group) : NULL;
    const struct ha_lrm_report *rep = lrm_of(c->in, r->target);

    if (s->state != HA_S_STARTED && s->state != HA_S_STOPPED)
        return "it is busy";
    if (!online(c->st, s->node))
        return "its node is not online";
    if (!strcmp(s->node, r->target))
        return "it is already there";
    if (!st_node(c->st, r->target))
        return "no such node";
    if (!online(c->st, r->target) || (rep && rep->mode == HA_LRM_SHUTDOWN))
        return "the target is not online";
    if (prio_of(g, r->target) == PRIO_NONE)
        return "its restricted group does not allow the target";
    return NULL;
}

static void apply_requests(struct ctx *c)
{
    char why[HA_EVENT_LEN];

    for (size_t i = 0; i < c->in->nreq; i++) {
        const struct ha_request *r = &c->in->req[i];
        struct ha_svc_status *s = st_svc(c->st, r->sid);
        const char *no;

        if (r->kind != HA_CMD_MIGRATE && r->kind != HA_CMD_RELOCATE) {
            event(c, "service %s: ignoring request %s: only migrate and relocate are requests",
                  r->sid, ha_cmd_name(r->kind));
            continue;
        }
        if (!s) {
            event(c, "service %s: refusing %s to %s: not an HA service", r->sid,
                  ha_cmd_name(r->kind), r->target);
            continue;
        }
        no = refuse_why(c, s, r);
        if (no) {
            event(c, "service %s: refusing %s to %s: %s", s->sid, ha_cmd_name(r->kind), r->target,
                  no);
            continue;
        }
        memcpy(s->target, r->target, sizeof(s->target));
        snprintf(why, sizeof(why), "to %s, requested", s->target);
        set_state(c, s, r->kind == HA_CMD_MIGRATE ? HA_S_MIGRATE : HA_S_RELOCATE, why);
        issue(c, s, r->kind);
    }
}

/* ---- the round ---- */

void ha_manager_step(const struct ha_input *in, struct ha_status *st, struct ha_output *out)
{
    struct ctx c = {in, st, out};

    memset(out, 0, sizeof(*out));
    if (!st->next_uid)
        st->next_uid = 1;
    if (st->master[0] && strcmp(st->master, in->master) != 0)
        event(&c, "taking over from master %s, continuing from its status", st->master);
    snprintf(st->master, sizeof(st->master), "%s", in->master);
    st->time = in->now;
    update_nodes(&c);
    sync_config(&c);
    apply_requests(&c);
    for (size_t i = 0; i < st->nsvc; i++)
        step_service(&c, &st->svc[i]);
    /* services fenced just now need not wait a round for their new node */
    if (fence_nodes(&c))
        for (size_t i = 0; i < st->nsvc; i++)
            if (st->svc[i].state == HA_S_RECOVERY)
                recover(&c, &st->svc[i], cfg_res(in->cfg, st->svc[i].sid)->req);
    for (size_t i = st->nnodes; i-- > 0;) {
        int used = 0;

        for (size_t j = 0; j < st->nsvc; j++)
            used |= !strcmp(st->svc[j].node, st->nodes[i].name) ||
                    !strcmp(st->svc[j].target, st->nodes[i].name);
        if (st->nodes[i].state == HA_N_GONE && !used) {
            event(&c, "node %s: gone and unused, dropped", st->nodes[i].name);
            memmove(&st->nodes[i], &st->nodes[i + 1], (st->nnodes - i - 1) * sizeof(st->nodes[0]));
            st->nnodes--;
        }
    }
}

/* ---- the LRM's plan ---- */

size_t ha_lrm_plan(const struct ha_status *st, const char *node, const struct ha_lrm_report *rep,
                   struct ha_cmd *out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < st->nsvc && n < max; i++) {
        const struct ha_svc_status *s = &st->svc[i];
        const struct ha_lrm_svc *ls = lrm_svc(rep, s->sid);

        /* uids only grow, so anything at or below the last one run is done */
        if (s->cmd == HA_CMD_NONE || strcmp(s->node, node) != 0 || (ls && ls->done_uid >= s->uid))
            continue;
        out[n].kind = s->cmd;
        out[n].uid = s->uid;
        memcpy(out[n].sid, s->sid, sizeof(out[n].sid));
        memcpy(out[n].node, s->node, sizeof(out[n].node));
        memcpy(out[n].target, s->target, sizeof(out[n].target));
        n++;
    }
    return n;
}
