/*
 * ha_sm_text: names of states, the config's small parsers, and the manager
 * status as text (ha_status_format/parse, ha_status_render); formats in ha_sm.h.
 * The status is what a new master continues from, so parse(format(st)) == st
 * for every field, and a damaged line is refused rather than guessed at.
 */
#include "ha_sm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- names ---- */

static const char *const svc_names[] = {"stopped", "request_stop", "started", "fence", "recovery",
                                        "migrate", "relocate",     "freeze",  "error", "ignored"};
static const char *const node_names[] = {"online", "unknown", "fence", "gone"};
static const char *const cmd_names[] = {"-", "start", "stop", "migrate", "relocate"};
static const char *const req_names[] = {"started", "stopped", "disabled", "ignored"};

const char *ha_svc_state_name(enum ha_svc_state s)
{
    return (unsigned)s < sizeof(svc_names) / sizeof(*svc_names) ? svc_names[s] : "?";
}

const char *ha_node_state_name(enum ha_node_state s)
{
    return (unsigned)s < sizeof(node_names) / sizeof(*node_names) ? node_names[s] : "?";
}

const char *ha_cmd_name(enum ha_cmd_kind k)
{
    return (unsigned)k < sizeof(cmd_names) / sizeof(*cmd_names) ? cmd_names[k] : "?";
}

const char *ha_req_name(enum ha_req r)
{
    return (unsigned)r < sizeof(req_names) / sizeof(*req_names) ? req_names[r] : "?";
}

int ha_req_parse(const char *s, enum ha_req *out)
{
    for (size_t i = 0; i < sizeof(req_names) / sizeof(*req_names); i++)
        if (!strcmp(s, req_names[i])) {
            *out = (enum ha_req)i;
            return 0;
        }
    return -EINVAL;
}

/* ---- config parsers ---- */

static int name_ok(const char *s, size_t n)
{
    if (!n || n >= HA_NAME_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] == ',' || s[i] == ':' || s[i] == '=')
            return 0;
    return 1;
}

int ha_resource_init(struct ha_resource *r, const char *sid, const char *node)
{
    size_t n = strlen(sid);

    memset(r, 0, sizeof(*r));
    if (n < 4 || n > 13 || (strncmp(sid, "vm:", 3) != 0 && strncmp(sid, "ct:", 3) != 0) ||
        strspn(sid + 3, "0123456789") != n - 3 || !name_ok(node, strlen(node)))
        return -EINVAL;
    memcpy(r->sid, sid, n + 1);
    snprintf(r->node, sizeof(r->node), "%s", node);
    r->req = HA_REQ_STARTED;
    r->max_restart = 1;
    r->max_relocate = 1;
    return 0;
}

int ha_group_set_nodes(struct ha_group *g, const char *spec, char *err, size_t errlen)
{
    const char *p = spec;

    g->n = 0;
    while (*p) {
        size_t len = strcspn(p, ","), nlen = strcspn(p, ":,");
        char *end;
        long prio = 0;

        if (!name_ok(p, nlen)) {
            snprintf(err, errlen, "group %s: bad node name in '%.*s'", g->name, (int)len, p);
            return -EINVAL;
        }
        if (nlen < len) {
            prio = strtol(p + nlen + 1, &end, 10);
            if (end != p + len || end == p + nlen + 1 || prio < -1000 || prio > 1000) {
                snprintf(err, errlen, "group %s: priority in '%.*s' is not a number in -1000..1000",
                         g->name, (int)len, p);
                return -EINVAL;
            }
        }
        for (size_t i = 0; i < g->n; i++)
            if (strlen(g->node[i]) == nlen && !strncmp(g->node[i], p, nlen)) {
                snprintf(err, errlen, "group %s: node %.*s listed twice", g->name, (int)nlen, p);
                return -EINVAL;
            }
        if (g->n == HA_MAX_NODES) {
            snprintf(err, errlen, "group %s: more than %d nodes", g->name, HA_MAX_NODES);
            return -EINVAL;
        }
        snprintf(g->node[g->n], HA_NAME_LEN, "%.*s", (int)nlen, p);
        g->prio[g->n++] = (int)prio;
        p += len + (p[len] == ',');
    }
    if (!g->n) {
        snprintf(err, errlen, "group %s: no nodes", g->name);
        return -EINVAL;
    }
    return 0;
}

/* ---- status text ---- */

struct out {
    char *buf;
    size_t len, pos;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(o->pos < o->len ? o->buf + o->pos : NULL, o->pos < o->len ? o->len - o->pos : 0,
                  fmt, ap);
    va_end(ap);
    if (n > 0)
        o->pos += (size_t)n;
}

static const char *dash(const char *s)
{
    return s[0] ? s : "-";
}

size_t ha_status_format(const struct ha_status *st, char *buf, size_t len)
{
    struct out o = {buf, len, 0};

    if (len)
        buf[0] = 0;
    put(&o, "master: %s\ntime: %llu\nnext-uid: %llu\n", dash(st->master),
        (unsigned long long)st->time, (unsigned long long)st->next_uid);
    for (size_t i = 0; i < st->nnodes; i++)
        put(&o, "node/%s: %s since=%llu\n", st->nodes[i].name,
            ha_node_state_name(st->nodes[i].state), (unsigned long long)st->nodes[i].since);
    for (size_t i = 0; i < st->nsvc; i++) {
        const struct ha_svc_status *s = &st->svc[i];

        put(&o,
            "service/%s: %s node=%s target=%s cmd=%s uid=%llu restarts=%d relocates=%d "
            "failed=%s\n",
            s->sid, ha_svc_state_name(s->state), s->node, dash(s->target), ha_cmd_name(s->cmd),
            (unsigned long long)s->uid, s->restarts, s->relocates, dash(s->failed));
    }
    return o.pos;
}

static int lookup(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return (int)i;
    return -1;
}

static int num(const char *s, uint64_t *out)
{
    char *end;

    if (!*s || strspn(s, "0123456789") != strlen(s))
        return -1;
    *out = strtoull(s, &end, 10);
    return 0;
}

static int copy_name(char *dst, const char *src)
{
    size_t n = strlen(src);

    if (!strcmp(src, "-"))
        n = 0;
    if (n >= HA_NAME_LEN)
        return -1;
    memcpy(dst, src, n);
    dst[n] = 0;
    return 0;
}

static int parse_node(struct ha_node_status *n, const char *name, char *val)
{
    char *save = NULL, *state = strtok_r(val, " ", &save), *since = strtok_r(NULL, " ", &save);
    int k = state ? lookup(node_names, sizeof(node_names) / sizeof(*node_names), state) : -1;

    if (k < 0 || !since || strncmp(since, "since=", 6) != 0 || num(since + 6, &n->since) ||
        strtok_r(NULL, " ", &save) || copy_name(n->name, name))
        return -1;
    n->state = (enum ha_node_state)k;
    return 0;
}

static int parse_svc(struct ha_svc_status *s, const char *sid, char *val)
{
    char *save = NULL, *tok = strtok_r(val, " ", &save);
    int k = tok ? lookup(svc_names, sizeof(svc_names) / sizeof(*svc_names), tok) : -1;
    unsigned seen = 0;

    if (k < 0 || copy_name(s->sid, sid))
        return -1;
    s->state = (enum ha_svc_state)k;
    while ((tok = strtok_r(NULL, " ", &save))) {
        static const char *const keys[] = {"node",     "target",    "cmd",   "uid",
                                           "restarts", "relocates", "failed"};
        char *eq = strchr(tok, '=');
        uint64_t v = 0;
        int key, bad = 0;

        if (!eq)
            return -1;
        *eq++ = 0;
        key = lookup(keys, sizeof(keys) / sizeof(*keys), tok);
        if (key < 0 || seen & (1u << key))
            return -1;
        seen |= 1u << key;
        switch (key) {
        case 0:
        case 1:
            bad = copy_name(key ? s->target : s->node, eq);
            break;
        case 2:
            k = lookup(cmd_names, sizeof(cmd_names) / sizeof(*cmd_names), eq);
            bad = k < 0;
            s->cmd = bad ? HA_CMD_NONE : (enum ha_cmd_kind)k;
            break;
        case 3:
            bad = num(eq, &s->uid);
            break;
        case 4:
        case 5:
            bad = num(eq, &v) || v > 1000000;
            *(key == 4 ? &s->restarts : &s->relocates) = (int)v;
            break;
        default:
            bad = strlen(eq) >= HA_FAILED_LEN;
            if (!bad)
                snprintf(s->failed, HA_FAILED_LEN, "%s", strcmp(eq, "-") ? eq : "");
        }
        if (bad)
            return -1;
    }
    return seen == 0x7f && s->node[0] ? 0 : -1;
}

int ha_status_parse(struct ha_status *st, const char *text, char *err, size_t errlen)
{
    char line[512];
    int lineno = 0;

    memset(st, 0, sizeof(*st));
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        char *sep, *key, *val;
        int bad = 0;

        lineno++;
        if (n >= sizeof(line)) {
            snprintf(err, errlen, "status line %d: longer than %zu bytes", lineno, sizeof(line));
            return -EINVAL;
        }
        memcpy(line, p, n);
        line[n] = 0;
        p += n + (p[n] == '\n');
        if (!n)
            continue;
        sep = strstr(line, ": ");
        if (!sep) {
            snprintf(err, errlen, "status line %d: no 'key: value' in '%s'", lineno, line);
            return -EINVAL;
        }
        *sep = 0;
        key = line;
        val = sep + 2;
        if (!strcmp(key, "master"))
            bad = copy_name(st->master, val);
        else if (!strcmp(key, "time"))
            bad = num(val, &st->time);
        else if (!strcmp(key, "next-uid"))
            bad = num(val, &st->next_uid);
        else if (!strncmp(key, "node/", 5))
            bad = st->nnodes == HA_MAX_NODES || parse_node(&st->nodes[st->nnodes++], key + 5, val);
        else if (!strncmp(key, "service/", 8))
            bad = st->nsvc == HA_MAX_SERVICES || parse_svc(&st->svc[st->nsvc++], key + 8, val);
        else
            bad = 1;
        if (bad) {
            snprintf(err, errlen, "status line %d: cannot read '%s'", lineno, key);
            return -EINVAL;
        }
    }
    return 0;
}

size_t ha_status_render(const struct ha_status *st, char *buf, size_t len)
{
    struct out o = {buf, len, 0};

    if (len)
        buf[0] = 0;
    put(&o, "master: %s\n", dash(st->master));
    for (size_t i = 0; i < st->nnodes; i++)
        put(&o, "node %s: %s\n", st->nodes[i].name, ha_node_state_name(st->nodes[i].state));
    for (size_t i = 0; i < st->nsvc; i++) {
        const struct ha_svc_status *s = &st->svc[i];

        put(&o, "service %s: %s on %s%s%s\n", s->sid, ha_svc_state_name(s->state), s->node,
            s->target[0] ? " -> " : "", s->target);
    }
    return o.pos;
}

/* ---- the LRM report ---- */

static const char *const run_names[] = {"stopped", "running", "crashed"};
static const char *const mode_names[] = {"none", "active", "shutdown"};

size_t ha_lrm_format(const struct ha_lrm_report *rep, char *buf, size_t len)
{
    struct out o = {buf, len, 0};

    if (len)
        buf[0] = 0;
    put(&o, "node: %s\nmode: %s\ntime: %llu\n", dash(rep->node),
        (unsigned)rep->mode < 3 ? mode_names[rep->mode] : "none", (unsigned long long)rep->time);
    for (size_t i = 0; i < rep->n; i++) {
        const struct ha_lrm_svc *s = &rep->svc[i];

        put(&o, "service/%s: %s uid=%llu rc=%d\n", s->sid,
            (unsigned)s->run < 3 ? run_names[s->run] : "stopped", (unsigned long long)s->done_uid,
            s->rc);
    }
    return o.pos;
}

static int parse_lrm_svc(struct ha_lrm_svc *s, const char *sid, char *val)
{
    char *save = NULL, *run = strtok_r(val, " ", &save), *uid = strtok_r(NULL, " ", &save),
         *rc = strtok_r(NULL, " ", &save);
    int k = run ? lookup(run_names, 3, run) : -1;
    uint64_t v;

    if (k < 0 || !uid || !rc || strncmp(uid, "uid=", 4) != 0 || num(uid + 4, &s->done_uid) ||
        strncmp(rc, "rc=", 3) != 0 || num(rc + 3, &v) || v > 255 || strtok_r(NULL, " ", &save) ||
        copy_name(s->sid, sid) || !s->sid[0])
        return -1;
    s->run = (enum ha_run)k;
    s->rc = (int)v;
    return 0;
}

int ha_lrm_parse(struct ha_lrm_report *rep, const char *text, char *err, size_t errlen)
{
    char line[256];
    int lineno = 0, k;

    memset(rep, 0, sizeof(*rep));
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        char *sep, *val;
        int bad = 0;

        lineno++;
        if (n >= sizeof(line) || (memcpy(line, p, n), line[n] = 0, !(sep = strstr(line, ": ")))) {
            snprintf(err, errlen, "LRM report line %d: no 'key: value'", lineno);
            return -EINVAL;
        }
        p += n + (p[n] == '\n');
        *sep = 0;
        val = sep + 2;
        if (!strcmp(line, "node"))
            bad = copy_name(rep->node, val);
        else if (!strcmp(line, "mode"))
            bad = (k = lookup(mode_names, 3, val)) < 0 || (rep->mode = (enum ha_lrm_mode)k, 0);
        else if (!strcmp(line, "time"))
            bad = num(val, &rep->time);
        else if (!strncmp(line, "service/", 8))
            bad = rep->n == HA_MAX_SERVICES || parse_lrm_svc(&rep->svc[rep->n++], line + 8, val);
        else
            bad = 1;
        if (bad) {
            snprintf(err, errlen, "LRM report line %d: cannot read '%s'", lineno, line);
            return -EINVAL;
        }
    }
    return 0;
}
