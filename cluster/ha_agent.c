/*
 * ha_agent: the CRM and LRM rounds of one node over an ha_env (ha_env.h).
 * All decisions are ha_sm's; this file only gathers input, takes leases and
 * carries out what the state machine returned, in that order, so that
 * nothing is done that the stored status does not already say.
 */
#include "ha_env.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static void say(struct ha_agent *a, const char *role,
                                                      const char *fmt, ...)
{
    char msg[HA_EVENT_LEN + 64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    a->env->ops->log(a->env, role, msg);
}

static void lrm_lock(const char *node, char *buf, size_t len)
{
    snprintf(buf, len, "lrm:%s", node);
}

/* Everything one manager round reads and writes; too big for the stack of a daemon thread. */
struct crm_round {
    struct ha_config cfg;
    struct ha_status st;
    struct ha_output out;
    struct ha_node_in nodes[HA_MAX_NODES];
    struct ha_lrm_report lrm[HA_MAX_NODES];
    struct ha_request req[HA_MAX_SERVICES];
    char text[HA_STATUS_MAX], err[160];
};

static int crm_lead(struct ha_agent *a)
{
    struct ha_env *e = a->env;

    if (!e->ops->quorate(e) || e->ops->lease(e, HA_LOCK_MANAGER, e->node, 1) != 0) {
        if (a->master)
            say(a, "crm", "no longer master: %s",
                e->ops->quorate(e) ? "lost the manager lease" : "lost quorum");
        a->master = 0;
        return 0;
    }
    if (!a->master)
        say(a, "crm", "became master");
    a->master = 1;
    return 1;
}

static void crm_apply(struct ha_agent *a, struct crm_round *r)
{
    struct ha_env *e = a->env;
    char lock[HA_NAME_LEN + 8];

    for (size_t i = 0; i < r->out.nevent; i++)
        say(a, "crm", "%s", r->out.event[i]);
    for (size_t i = 0; i < r->out.nclaim; i++) {
        lrm_lock(r->out.claim[i], lock, sizeof(lock));
        if (e->ops->lease(e, lock, HA_LEASE_CRM, 1) != 0)
            say(a, "crm", "could not claim %s; will retry", lock);
    }
    for (size_t i = 0; i < r->out.nrelease; i++) {
        lrm_lock(r->out.release[i], lock, sizeof(lock));
        e->ops->lease(e, lock, HA_LEASE_CRM, 0);
    }
    if (ha_status_format(&r->st, r->text, sizeof(r->text)) >= sizeof(r->text) ||
        e->ops->write_status(e, r->text) != 0) {
        say(a, "crm", "could not store the manager status; its commands are dropped");
        return;
    }
    if (r->out.ncmd)
        e->ops->send_commands(e, r->out.cmd, r->out.ncmd);
}

void ha_crm_round(struct ha_agent *a)
{
    struct ha_env *e = a->env;
    struct crm_round *r;
    struct ha_input in;
    int len;

    if (!crm_lead(a))
        return;
    r = calloc(1, sizeof(*r));
    if (!r) {
        say(a, "crm", "out of memory for a round; skipping it");
        return;
    }
    len = e->ops->read_status(e, r->text, sizeof(r->text));
    if (len < 0 || (len > 0 && ha_status_parse(&r->st, r->text, r->err, sizeof(r->err)) != 0)) {
        /* acting on a status we cannot read could undo a recovery: wait for an operator */
        say(a, "crm", "manager status unreadable (%s); not acting",
            len < 0 ? strerror(-len) : r->err);
        free(r);
        return;
    }
    if (e->ops->read_config(e, &r->cfg) != 0) {
        say(a, "crm", "HA config unreadable; not acting");
        free(r);
        return;
    }
    in = (struct ha_input){.now = e->ops->now(e), .master = e->node, .to = e->to, .cfg = &r->cfg};
    in.nodes = r->nodes;
    in.nnodes = e->ops->nodes(e, r->nodes, HA_MAX_NODES);
    in.lrm = r->lrm;
    for (size_t i = 0; i < in.nnodes; i++)
        if (e->ops->read_lrm(e, r->nodes[i].name, &r->lrm[in.nlrm]) == 0)
            in.nlrm++;
    in.req = r->req;
    in.nreq = e->ops->take_requests(e, r->req, HA_MAX_SERVICES);
    ha_manager_step(&in, &r->st, &r->out);
    crm_apply(a, r);
    free(r);
}

static struct ha_lrm_svc *rep_svc(struct ha_lrm_report *rep, const char *sid)
{
    for (size_t i = 0; i < rep->n; i++)
        if (!strcmp(rep->svc[i].sid, sid))
            return &rep->svc[i];
    if (rep->n == HA_MAX_SERVICES)
        return NULL;
    memset(&rep->svc[rep->n], 0, sizeof(rep->svc[0]));
    snprintf(rep->svc[rep->n].sid, HA_NAME_LEN, "%s", sid);
    return &rep->svc[rep->n++];
}

/* Runs what the status asks of this node; returns whether any HA guest runs here after. */
static int lrm_work(struct ha_agent *a, const struct ha_status *st)
{
    struct ha_env *e = a->env;
    struct ha_cmd cmd[HA_MAX_SERVICES];
    size_t n = ha_lrm_plan(st, e->node, &a->rep, cmd, HA_MAX_SERVICES);
    int running = 0;

    for (size_t i = 0; i < n; i++) {
        struct ha_lrm_svc *ls = rep_svc(&a->rep, cmd[i].sid);
        int rc = e->ops->exec(e, &cmd[i]);

        /* a long command (a shutdown) must not stop the lease renewals that keep us alive */
        if (rc == HA_EXEC_PENDING)
            continue;
        say(a, "lrm", "uid %llu: %s %s%s%s: %s", (unsigned long long)cmd[i].uid,
            ha_cmd_name(cmd[i].kind), cmd[i].sid, cmd[i].target[0] ? " to " : "", cmd[i].target,
            rc ? "failed" : "ok");
        if (ls) {
            ls->done_uid = cmd[i].uid;
            ls->rc = rc;
        }
    }
    for (size_t i = 0; i < st->nsvc; i++)
        rep_svc(&a->rep, st->svc[i].sid);
    for (size_t i = 0; i < a->rep.n; i++) {
        a->rep.svc[i].run = e->ops->guest(e, a->rep.svc[i].sid);
        running |= a->rep.svc[i].run == HA_RUN_RUNNING;
    }
    return running;
}

/* After a boot the store knows which uids ran here; local memory does not. */
static void lrm_load(struct ha_agent *a)
{
    struct ha_env *e = a->env;

    if (a->report_loaded)
        return;
    if (e->ops->read_lrm(e, e->node, &a->rep) != 0 || strcmp(a->rep.node, e->node) != 0) {
        memset(&a->rep, 0, sizeof(a->rep));
        snprintf(a->rep.node, sizeof(a->rep.node), "%s", e->node);
    }
    a->report_loaded = 1;
}

void ha_lrm_round(struct ha_agent *a)
{
    struct ha_env *e = a->env;
    char lock[HA_NAME_LEN + 8], *text;
    struct ha_status *st;
    int rc, len, running;

    lrm_lock(e->node, lock, sizeof(lock));
    rc = e->ops->quorate(e) ? e->ops->lease(e, lock, e->node, 1) : -EACCES;
    if (rc != 0) {
        if (a->lrm_active)
            say(a, "lrm", "lost the lease (%s); the watchdog decides now",
                rc == -EBUSY ? "claimed by the manager" : "no quorum");
        a->lrm_active = 0;
        /* claimed while we are quorate: the manager counts on us being dead already */
        if (rc == -EBUSY) {
            for (size_t i = 0; i < a->rep.n; i++)
                if (e->ops->guest(e, a->rep.svc[i].sid) == HA_RUN_RUNNING) {
                    e->ops->fence_self(e, "the manager claimed our lease");
                    return;
                }
        }
        return;
    }
    if (!a->lrm_active)
        say(a, "lrm", "got the lease, active");
    a->lrm_active = 1;
    lrm_load(a);
    st = calloc(1, sizeof(*st));
    text = malloc(HA_STATUS_MAX);
    if (!st || !text) {
        say(a, "lrm", "out of memory for a round; skipping it");
        free(st);
        free(text);
        return;
    }
    len = e->ops->read_status(e, text, HA_STATUS_MAX);
    if (len > 0 && ha_status_parse(st, text, text, HA_STATUS_MAX) != 0) {
        say(a, "lrm", "manager status unreadable; running nothing");
        memset(st, 0, sizeof(*st));
    }
    running = lrm_work(a, st);
    e->ops->watchdog(e, running);
    a->rep.mode = HA_LRM_ACTIVE;
    a->rep.time = e->ops->now(e);
    if (e->ops->write_lrm(e, &a->rep) != 0)
        say(a, "lrm", "could not store the report; the manager will ask again");
    free(st);
    free(text);
}

int ha_lrm_shutdown(struct ha_agent *a)
{
    struct ha_env *e = a->env;
    char lock[HA_NAME_LEN + 8];

    lrm_load(a);
    for (size_t i = 0; i < a->rep.n; i++) {
        struct ha_cmd stop = {.kind = HA_CMD_STOP};

        if (e->ops->guest(e, a->rep.svc[i].sid) != HA_RUN_RUNNING)
            continue;
        memcpy(stop.sid, a->rep.svc[i].sid, sizeof(stop.sid));
        memcpy(stop.node, e->node, sizeof(stop.node));
        e->ops->exec(e, &stop);
        say(a, "lrm", "shutdown: stopped %s", stop.sid);
    }
    for (size_t i = 0; i < a->rep.n; i++)
        a->rep.svc[i].run = e->ops->guest(e, a->rep.svc[i].sid);
    a->rep.mode = HA_LRM_SHUTDOWN;
    a->rep.time = e->ops->now(e);
    if (e->ops->write_lrm(e, &a->rep) != 0)
        return -EACCES; /* the manager cannot know: it will fence, which is still safe */
    e->ops->watchdog(e, 0);
    lrm_lock(e->node, lock, sizeof(lock));
    e->ops->lease(e, lock, e->node, 0);
    a->lrm_active = 0;
    return 0;
}
