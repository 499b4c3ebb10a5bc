/*
 * ha_sim: the simulated ha_env and the scenario language (see ha_sim.h).
 *
 * Divisions: the cluster (partitions, quorum, log, invariant); the env ops;
 * the clock; the commands. Time moves in whole seconds; at every multiple of
 * the round each powered node runs its CRM, then each runs its LRM, in node
 * order. Watchdogs are checked every second, before the rounds.
 */
#include "ha_sim.h"

#include "../../cluster/ha_env.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_MAX_NODES 8
#define SIM_MAX_LOCKS (SIM_MAX_NODES + 1)

struct sim_node {
    char name[8];
    int power, net;
    int armed;    /* the watchdog: a reset unless petted within self_fence_ms */
    uint64_t pet; /* last pet, ms */
    struct ha_env env;
    struct ha_agent agent;
};

struct sim_guest {
    char sid[HA_NAME_LEN];
    enum ha_run run[SIM_MAX_NODES];
    int startfail[SIM_MAX_NODES];
    int doubled; /* a VIOLATION for two copies was logged; not again until it heals */
};

struct sim_lock {
    char name[HA_NAME_LEN + 8];
    char holder[HA_NAME_LEN];
    uint64_t renewed;
};

struct ha_sim {
    size_t n;
    struct sim_node node[SIM_MAX_NODES];
    uint64_t now; /* ms */
    int started;  /* time has moved: "nodes" is too late */
    struct ha_timeouts to;

    /* the replicated store */
    struct ha_config cfg;
    char status[HA_STATUS_MAX];
    struct ha_lrm_report lrm[SIM_MAX_NODES];
    int has_lrm[SIM_MAX_NODES];
    struct sim_lock lock[SIM_MAX_LOCKS];
    size_t nlock;
    struct ha_request req[HA_MAX_SERVICES];
    size_t nreq;

    struct sim_guest guest[HA_MAX_SERVICES];
    size_t nguest;
    char *log;
    size_t loglen, logcap;
    int violations;
};

/* ---- the cluster ---- */

__attribute__((format(printf, 4, 5))) static void logf_(struct ha_sim *s, const char *who,
                                                        const char *role, const char *fmt, ...)
{
    char msg[512];
    unsigned long t = (unsigned long)(s->now / 1000);
    va_list ap;
    int n;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    n = snprintf(NULL, 0, "%02lu:%02lu:%02lu %s %s: %s\n", t / 3600, t / 60 % 60, t % 60, who, role,
                 msg);
    if (s->loglen + (size_t)n + 1 > s->logcap) {
        s->logcap = (s->logcap + (size_t)n + 1) * 2;
        s->log = realloc(s->log, s->logcap);
        if (!s->log)
            abort(); /* a test helper: nothing sensible to go on with */
    }
    snprintf(s->log + s->loglen, s->logcap - s->loglen, "%02lu:%02lu:%02lu %s %s: %s\n", t / 3600,
             t / 60 % 60, t % 60, who, role, msg);
    s->loglen += (size_t)n;
}

static int node_idx(const struct ha_sim *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->node[i].name, name))
            return (int)i;
    return -1;
}

static struct sim_guest *guest(struct ha_sim *s, const char *sid, int create)
{
    for (size_t i = 0; i < s->nguest; i++)
        if (!strcmp(s->guest[i].sid, sid))
            return &s->guest[i];
    if (!create || s->nguest == HA_MAX_SERVICES)
        return NULL;
    memset(&s->guest[s->nguest], 0, sizeof(s->guest[0]));
    snprintf(s->guest[s->nguest].sid, HA_NAME_LEN, "%s", sid);
    return &s->guest[s->nguest++];
}

/* Two nodes talk if both are up and linked; a node always talks to itself. */
static int linked(const struct ha_sim *s, size_t a, size_t b)
{
    return s->node[a].power && s->node[b].power && (a == b || (s->node[a].net && s->node[b].net));
}

static int quorate(const struct ha_sim *s, size_t x)
{
    size_t votes = 0;

    for (size_t i = 0; i < s->n; i++)
        votes += (size_t)linked(s, x, i);
    return votes * 2 > s->n;
}

static void reset_node(struct ha_sim *s, size_t x)
{
    for (size_t i = 0; i < s->nguest; i++)
        s->guest[i].run[x] = HA_RUN_STOPPED;
    memset(&s->node[x].agent, 0, sizeof(s->node[x].agent));
    s->node[x].agent.env = &s->node[x].env;
    s->node[x].armed = 0;
}

static void check_invariant(struct ha_sim *s)
{
    for (size_t i = 0; i < s->nguest; i++) {
        struct sim_guest *g = &s->guest[i];
        char where[64] = "";
        size_t copies = 0, len = 0;

        for (size_t x = 0; x < s->n; x++)
            if (g->run[x] == HA_RUN_RUNNING) {
                copies++;
                len += (size_t)snprintf(where + len, sizeof(where) - len, " %s", s->node[x].name);
            }
        if (copies > 1 && !g->doubled) {
            logf_(s, "sim", "check", "VIOLATION %s runs on%s", g->sid, where);
            s->violations++;
        }
        g->doubled = copies > 1;
    }
}

/* ---- the env ---- */

static struct ha_sim *sim_of(struct ha_env *e)
{
    return e->priv;
}

static size_t me(struct ha_env *e)
{
    return (size_t)node_idx(sim_of(e), e->node);
}

static uint64_t op_now(struct ha_env *e)
{
    return sim_of(e)->now;
}

static int op_quorate(struct ha_env *e)
{
    return quorate(sim_of(e), me(e));
}

static struct sim_lock *find_lock(struct ha_sim *s, const char *name, int create)
{
    for (size_t i = 0; i < s->nlock; i++)
        if (!strcmp(s->lock[i].name, name))
            return &s->lock[i];
    if (!create || s->nlock == SIM_MAX_LOCKS)
        return NULL;
    memset(&s->lock[s->nlock], 0, sizeof(s->lock[0]));
    snprintf(s->lock[s->nlock].name, sizeof(s->lock[0].name), "%s", name);
    return &s->lock[s->nlock++];
}

static int op_lease(struct ha_env *e, const char *name, const char *holder, int take)
{
    struct ha_sim *s = sim_of(e);
    struct sim_lock *l;

    if (!quorate(s, me(e)))
        return -EACCES;
    l = find_lock(s, name, take);
    if (!take) {
        if (l && !strcmp(l->holder, holder))
            l->holder[0] = 0;
        return 0;
    }
    if (!l)
        return -ENOSPC;
    if (l->holder[0] && strcmp(l->holder, holder) != 0 && s->now - l->renewed < s->to.lease_ms)
        return -EBUSY;
    snprintf(l->holder, sizeof(l->holder), "%s", holder);
    l->renewed = s->now;
    return 0;
}

static size_t op_nodes(struct ha_env *e, struct ha_node_in *out, size_t max)
{
    struct ha_sim *s = sim_of(e);
    size_t self = me(e), n = 0;

    for (size_t i = 0; i < s->n && n < max; i++, n++) {
        char name[HA_NAME_LEN + 8];
        const struct sim_lock *l;

        snprintf(name, sizeof(name), "lrm:%s", s->node[i].name);
        l = find_lock(s, name, 0);
        memset(&out[n], 0, sizeof(out[n]));
        snprintf(out[n].name, HA_NAME_LEN, "%s", s->node[i].name);
        out[n].member = linked(s, self, i);
        out[n].renewed = l ? l->renewed : 0;
        if (!l || !l->holder[0] || s->now - l->renewed >= s->to.lease_ms)
            out[n].lease = HA_LEASE_FREE;
        else
            out[n].lease = strcmp(l->holder, HA_LEASE_CRM) ? HA_LEASE_HELD : HA_LEASE_CLAIMED;
    }
    return n;
}

static int op_read_config(struct ha_env *e, struct ha_config *cfg)
{
    *cfg = sim_of(e)->cfg;
    return 0;
}

static int op_read_status(struct ha_env *e, char *buf, size_t len)
{
    return snprintf(buf, len, "%s", sim_of(e)->status);
}

static int op_write_status(struct ha_env *e, const char *text)
{
    struct ha_sim *s = sim_of(e);

    if (!quorate(s, me(e)))
        return -EACCES;
    snprintf(s->status, sizeof(s->status), "%s", text);
    return 0;
}

static size_t op_take_requests(struct ha_env *e, struct ha_request *out, size_t max)
{
    struct ha_sim *s = sim_of(e);
    size_t n = s->nreq < max ? s->nreq : max;

    memcpy(out, s->req, n * sizeof(*out));
    memmove(s->req, s->req + n, (s->nreq - n) * sizeof(*out));
    s->nreq -= n;
    return n;
}

static void op_send_commands(struct ha_env *e, const struct ha_cmd *cmd, size_t n)
{
    (void)e, (void)cmd, (void)n; /* the LRMs poll the status every round */
}

static int op_read_lrm(struct ha_env *e, const char *node, struct ha_lrm_report *out)
{
    struct ha_sim *s = sim_of(e);
    int i = node_idx(s, node);

    if (i < 0 || !s->has_lrm[i])
        return -ENOENT;
    *out = s->lrm[i];
    return 0;
}

static int op_write_lrm(struct ha_env *e, const struct ha_lrm_report *rep)
{
    struct ha_sim *s = sim_of(e);
    size_t x = me(e);

    if (!quorate(s, x))
        return -EACCES;
    s->lrm[x] = *rep;
    s->has_lrm[x] = 1;
    return 0;
}

/* Starting where another node still runs the guest is the breach fencing exists to prevent. */
static void run_here(struct ha_sim *s, struct sim_guest *g, size_t x)
{
    for (size_t i = 0; i < s->n; i++)
        if (i != x && g->run[i] == HA_RUN_RUNNING) {
            logf_(s, "sim", "check", "VIOLATION %s started on %s while %s still runs it", g->sid,
                  s->node[x].name, s->node[i].name);
            s->violations++;
        }
    g->run[x] = HA_RUN_RUNNING;
}

static int op_exec(struct ha_env *e, const struct ha_cmd *cmd)
{
    struct ha_sim *s = sim_of(e);
    struct sim_guest *g = guest(s, cmd->sid, 1);
    size_t x = me(e);
    int t;

    if (!g)
        return 1;
    switch (cmd->kind) {
    case HA_CMD_START:
        if (g->startfail[x])
            return 1;
        if (g->run[x] != HA_RUN_RUNNING)
            run_here(s, g, x);
        return 0;
    case HA_CMD_MIGRATE:
        t = node_idx(s, cmd->target);
        if (t < 0 || !linked(s, x, (size_t)t))
            return 1; /* the target is not reachable from here */
        if (g->run[x] == HA_RUN_RUNNING) {
            g->run[x] = HA_RUN_STOPPED;
            run_here(s, g, (size_t)t);
        }
        g->run[x] = HA_RUN_STOPPED;
        return 0;
    case HA_CMD_STOP:
    case HA_CMD_RELOCATE:
        g->run[x] = HA_RUN_STOPPED;
        return 0;
    default:
        return 1;
    }
}

static enum ha_run op_guest(struct ha_env *e, const char *sid)
{
    struct sim_guest *g = guest(sim_of(e), sid, 0);

    return g ? g->run[me(e)] : HA_RUN_STOPPED;
}

static void op_watchdog(struct ha_env *e, int arm)
{
    struct sim_node *n = &sim_of(e)->node[me(e)];

    n->armed = arm;
    n->pet = sim_of(e)->now;
}

static void op_fence_self(struct ha_env *e, const char *why)
{
    struct ha_sim *s = sim_of(e);

    logf_(s, e->node, "lrm", "fencing self (%s): guests stopped, node resets", why);
    reset_node(s, me(e));
}

static void op_log(struct ha_env *e, const char *role, const char *msg)
{
    logf_(sim_of(e), e->node, role, "%s", msg);
}

static const struct ha_env_ops sim_ops = {
    .now = op_now,
    .quorate = op_quorate,
    .nodes = op_nodes,
    .lease = op_lease,
    .read_config = op_read_config,
    .read_status = op_read_status,
    .write_status = op_write_status,
    .take_requests = op_take_requests,
    .send_commands = op_send_commands,
    .read_lrm = op_read_lrm,
    .write_lrm = op_write_lrm,
    .exec = op_exec,
    .guest = op_guest,
    .watchdog = op_watchdog,
    .fence_self = op_fence_self,
    .log = op_log,
};

static void set_nodes(struct ha_sim *s, size_t n)
{
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        struct sim_node *x = &s->node[i];

        memset(x, 0, sizeof(*x));
        snprintf(x->name, sizeof(x->name), "n%u", (unsigned)(i + 1) % 100);
        x->power = x->net = 1;
        x->env = (struct ha_env){.ops = &sim_ops, .node = x->name, .to = &s->to, .priv = s};
        x->agent.env = &x->env;
    }
}

struct ha_sim *ha_sim_new(void)
{
    struct ha_sim *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->to = (struct ha_timeouts)HA_TIMEOUTS_PROXMOX;
    set_nodes(s, 3);
    return s;
}

void ha_sim_free(struct ha_sim *s)
{
    if (!s)
        return;
    free(s->log);
    free(s);
}

const char *ha_sim_log(const struct ha_sim *s)
{
    return s->log ? s->log : "";
}

int ha_sim_violations(const struct ha_sim *s)
{
    return s->violations;
}

/* ---- the clock ---- */

static void tick(struct ha_sim *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct sim_node *x = &s->node[i];

        if (x->power && x->armed && s->now - x->pet >= s->to.self_fence_ms) {
            logf_(s, x->name, "watchdog", "not petted for %llus, node resets",
                  (unsigned long long)((s->now - x->pet) / 1000));
            reset_node(s, i);
        }
    }
    if (s->now % s->to.round_ms)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (s->node[i].power) {
            ha_crm_round(&s->node[i].agent);
            check_invariant(s);
        }
    for (size_t i = 0; i < s->n; i++)
        if (s->node[i].power) {
            ha_lrm_round(&s->node[i].agent);
            check_invariant(s);
        }
}

/* ---- the commands ---- */

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

static int parse_duration(const char *s, uint64_t *ms)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);

    if (end == s || (strcmp(end, "s") != 0 && strcmp(end, "m") != 0) || v > 86400)
        return -1;
    *ms = v * 1000 * (*end == 'm' ? 60 : 1);
    return 0;
}

static int on_off(const char *s)
{
    return !strcmp(s, "on") ? 1 : !strcmp(s, "off") ? 0 : -1;
}

static struct ha_resource *cfg_res(struct ha_sim *s, const char *sid)
{
    for (size_t i = 0; i < s->cfg.nres; i++)
        if (!strcmp(s->cfg.res[i].sid, sid))
            return &s->cfg.res[i];
    return NULL;
}

static int cmd_group(struct ha_sim *s, char **av, int ac, char *err, size_t errlen)
{
    struct ha_group g = {0}, *old = NULL;

    for (size_t i = 0; i < s->cfg.ngroups; i++)
        if (!strcmp(s->cfg.groups[i].name, av[2]))
            old = &s->cfg.groups[i];
    if (ac == 4 && !strcmp(av[3], "remove")) {
        if (!old)
            return FAIL("no group %s to remove", av[2]);
        *old = s->cfg.groups[--s->cfg.ngroups];
        return 0;
    }
    if (ac < 5 || ac % 2 == 0 || strcmp(av[3], "nodes") != 0)
        return FAIL("usage: config group <g> nodes <spec> [restricted 0|1] [nofailback 0|1]");
    snprintf(g.name, sizeof(g.name), "%s", av[2]);
    if (ha_group_set_nodes(&g, av[4], err, errlen))
        return -EINVAL;
    for (int i = 5; i + 1 < ac; i += 2) {
        if (!strcmp(av[i], "restricted"))
            g.restricted = atoi(av[i + 1]);
        else if (!strcmp(av[i], "nofailback"))
            g.nofailback = atoi(av[i + 1]);
        else
            return FAIL("unknown group option %s", av[i]);
    }
    if (!old && s->cfg.ngroups == HA_MAX_GROUPS)
        return FAIL("more than %d groups", HA_MAX_GROUPS);
    *(old ? old : &s->cfg.groups[s->cfg.ngroups++]) = g;
    return 0;
}

static int cmd_resource(struct ha_sim *s, char **av, int ac, char *err, size_t errlen)
{
    struct ha_resource r, *old = cfg_res(s, av[2]);

    if (ac == 4 && !strcmp(av[3], "remove")) {
        if (!old)
            return FAIL("no service %s to remove", av[2]);
        memmove(old, old + 1, (size_t)(&s->cfg.res[--s->cfg.nres] - old) * sizeof(*old));
        return 0;
    }
    if (ac % 2 == 0)
        return FAIL("config service %s: options come in pairs", av[2]);
    if (old)
        r = *old;
    else if (ha_resource_init(&r, av[2], "?") != 0)
        return FAIL("'%s' is not a service id (vm:<n> or ct:<n>)", av[2]);
    for (int i = 3; i + 1 < ac; i += 2) {
        const char *k = av[i], *v = av[i + 1];

        if (!strcmp(k, "node"))
            snprintf(r.node, sizeof(r.node), "%s", v);
        else if (!strcmp(k, "group"))
            snprintf(r.group, sizeof(r.group), "%s", strcmp(v, "-") ? v : "");
        else if (!strcmp(k, "state")) {
            if (ha_req_parse(v, &r.req))
                return FAIL("unknown state %s", v);
        } else if (!strcmp(k, "max_restart"))
            r.max_restart = atoi(v);
        else if (!strcmp(k, "max_relocate"))
            r.max_relocate = atoi(v);
        else
            return FAIL("unknown service option %s", k);
    }
    if (!strcmp(r.node, "?"))
        return FAIL("new service %s needs a node", av[2]);
    if (!old && s->cfg.nres == HA_MAX_SERVICES)
        return FAIL("more than %d services", HA_MAX_SERVICES);
    *(old ? old : &s->cfg.res[s->cfg.nres++]) = r;
    return 0;
}

static int cmd_service(struct ha_sim *s, char **av, int ac, char *err, size_t errlen)
{
    struct ha_resource *r = cfg_res(s, av[1]);
    struct ha_request *q;

    if (ac == 3) {
        if (!r)
            return FAIL("no service %s in the config", av[1]);
        if (ha_req_parse(av[2], &r->req))
            return FAIL("unknown state %s", av[2]);
        return 0;
    }
    if (ac != 4 || (strcmp(av[2], "migrate") != 0 && strcmp(av[2], "relocate") != 0))
        return FAIL("usage: service <sid> <state> | service <sid> migrate|relocate <node>");
    if (s->nreq == HA_MAX_SERVICES)
        return FAIL("too many requests queued");
    q = &s->req[s->nreq++];
    memset(q, 0, sizeof(*q));
    snprintf(q->sid, sizeof(q->sid), "%s", av[1]);
    snprintf(q->target, sizeof(q->target), "%s", av[3]);
    q->kind = av[2][0] == 'm' ? HA_CMD_MIGRATE : HA_CMD_RELOCATE;
    return 0;
}

static int cmd_node(struct ha_sim *s, char **av, int ac, char *err, size_t errlen)
{
    int x = ac >= 2 ? node_idx(s, av[1]) : -1, v = ac == 3 ? on_off(av[2]) : -1;
    struct sim_node *n;

    if (x < 0)
        return FAIL("%s: no node '%s'", av[0], ac >= 2 ? av[1] : "");
    n = &s->node[x];
    if (!strcmp(av[0], "shutdown")) {
        if (ac != 2 || !n->power)
            return FAIL("usage: shutdown <node>, of a node that is on");
        if (ha_lrm_shutdown(&n->agent) != 0)
            logf_(s, n->name, "lrm", "shutdown not recorded: no quorum");
        reset_node(s, (size_t)x);
        n->power = 0;
        return 0;
    }
    if (v < 0)
        return FAIL("usage: %s <node> on|off", av[0]);
    if (!strcmp(av[0], "network")) {
        n->net = v;
    } else if (v != n->power) {
        reset_node(s, (size_t)x);
        n->power = v;
    }
    return 0;
}

static int cmd_guest(struct ha_sim *s, char **av, int ac, char *err, size_t errlen)
{
    struct sim_guest *g = guest(s, ac >= 2 ? av[1] : "", !strcmp(av[0], "startfail"));
    int x, v;

    if (!strcmp(av[0], "crash")) {
        if (ac != 2)
            return FAIL("usage: crash <sid>");
        for (size_t i = 0; g && i < s->n; i++)
            if (g->run[i] == HA_RUN_RUNNING) {
                g->run[i] = HA_RUN_CRASHED;
                return 0;
            }
        return FAIL("crash: %s runs nowhere", av[1]);
    }
    x = ac == 4 ? node_idx(s, av[2]) : -1;
    v = ac == 4 ? on_off(av[3]) : -1;
    if (!g || x < 0 || v < 0)
        return FAIL("usage: startfail <sid> <node> on|off");
    g->startfail[x] = v;
    return 0;
}

static void cmd_status(struct ha_sim *s)
{
    struct ha_status st;
    char err[160], *text = malloc(HA_STATUS_MAX);

    if (!text || ha_status_parse(&st, s->status, err, sizeof(err)) != 0) {
        logf_(s, "sim", "status", "unreadable");
        free(text);
        return;
    }
    ha_status_render(&st, text, HA_STATUS_MAX);
    for (char *line = text, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = 0;
        logf_(s, "sim", "status", "%s", line);
    }
    free(text);
}

int ha_sim_command(struct ha_sim *s, const char *line, char *err, size_t errlen)
{
    char buf[256], *av[16], *save = NULL;
    int ac = 0;
    uint64_t ms;

    snprintf(buf, sizeof(buf), "%s", line);
    buf[strcspn(buf, "#\n")] = 0;
    for (char *t = strtok_r(buf, " \t", &save); t && ac < 16; t = strtok_r(NULL, " \t", &save))
        av[ac++] = t;
    if (!ac)
        return 0;
    if (strcmp(av[0], "advance") != 0 && strcmp(av[0], "status") != 0)
        logf_(s, "sim", "cmd", "%s", line);
    if (!strcmp(av[0], "nodes")) {
        long n = ac == 2 ? strtol(av[1], NULL, 10) : 0;

        if (s->started || n < 1 || n > SIM_MAX_NODES)
            return FAIL("nodes: 1..%d, and only before time moves", SIM_MAX_NODES);
        set_nodes(s, (size_t)n);
        return 0;
    }
    if (!strcmp(av[0], "timeouts")) {
        /* deliberately unchecked: a test may break the fencing order to see the checker fire */
        if (s->started || ac != 7 || strcmp(av[1], "lease") != 0 || strcmp(av[3], "fence") != 0 ||
            strcmp(av[5], "margin") != 0 || parse_duration(av[2], &s->to.lease_ms) ||
            parse_duration(av[4], &s->to.self_fence_ms) ||
            parse_duration(av[6], &s->to.fence_margin_ms))
            return FAIL("usage: timeouts lease <d> fence <d> margin <d>, before time moves");
        return 0;
    }
    if (!strcmp(av[0], "advance")) {
        if (ac != 2 || parse_duration(av[1], &ms))
            return FAIL("usage: advance <k>s|<k>m");
        s->started = 1;
        for (uint64_t end = s->now + ms; s->now < end; s->now += 1000)
            tick(s);
        return 0;
    }
    if (!strcmp(av[0], "status"))
        return cmd_status(s), 0;
    if (!strcmp(av[0], "config") && ac >= 4 && !strcmp(av[1], "group"))
        return cmd_group(s, av, ac, err, errlen);
    if (!strcmp(av[0], "config") && ac >= 4 && !strcmp(av[1], "service"))
        return cmd_resource(s, av, ac, err, errlen);
    if (!strcmp(av[0], "service") && ac >= 3)
        return cmd_service(s, av, ac, err, errlen);
    if (!strcmp(av[0], "power") || !strcmp(av[0], "network") || !strcmp(av[0], "shutdown"))
        return cmd_node(s, av, ac, err, errlen);
    if (!strcmp(av[0], "crash") || !strcmp(av[0], "startfail"))
        return cmd_guest(s, av, ac, err, errlen);
    return FAIL("unknown command '%s'", av[0]);
}

int ha_sim_run(const char *cmds, char **log, char *err, size_t errlen)
{
    struct ha_sim *s = ha_sim_new();
    int rc = 0, lineno = 0;
    char line[256];

    *log = NULL;
    if (!s)
        return FAIL("out of memory for the simulator");
    for (const char *p = cmds; *p && !rc;) {
        size_t n = strcspn(p, "\n");

        lineno++;
        snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), p);
        p += n + (p[n] == '\n');
        rc = ha_sim_command(s, line, err, errlen);
        if (rc) {
            char why[160];

            snprintf(why, sizeof(why), "%s", err);
            snprintf(err, errlen, "line %d: %s", lineno, why);
        }
    }
    *log = strdup(ha_sim_log(s));
    if (!rc && s->violations)
        rc = FAIL("%d invariant violations", s->violations);
    ha_sim_free(s);
    return rc;
}
