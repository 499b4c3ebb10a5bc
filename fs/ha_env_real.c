/*
 * ha_env_real: the ha_env of a running pvefsd (contract in cluster/ha_env.h).
 *
 * Leases are stored files (ha/manager_lock, nodes/<node>/lrm_lock, see ha.h)
 * holding "holder: <name>\nrenewed: <ms>\n". Taking one reads the file and
 * its version, decides from the holder and the age whether it may, and writes
 * with MSG_F_IFVERSION: batches are applied in one total order on every node,
 * so when two nodes race, the second write finds a newer version and fails
 * (-ESTALE) everywhere alike. Without quorum every commit fails (-EROFS).
 *
 * Store time is each node's wall clock (CLOCK_REALTIME in ms): a renewal is
 * stamped by the writer and aged by the reader, so the nodes' clocks must agree
 * to well within the fence margin (NTP on real hosts; one clock in the tests).
 *
 * Commands run on worker threads (one per command): exec() starts one and
 * answers HA_EXEC_PENDING until it finished, so a 30 s shutdown never holds up
 * the lease renewals. A guest counts as crashed when it is not running here
 * although this boot started it or saw it running, and no command of ours is
 * acting on it.
 *
 * Recovery: when the manager moves a service off a node whose LRM lease it has
 * claimed (the node is fenced), write_status first moves the guest's directory
 * to the new node, so the START it stores can run there.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cluster/clog.h"
#include "../cluster/quorum.h"
#include "../drivers/drv.h"
#include "ha.h"

#define MAX_JOBS HA_MAX_SERVICES

struct job {
    int used, done, rc;
    struct ha_cmd cmd;
    pthread_t thread;
    struct ha_real *r;
};

struct seen {
    char sid[HA_NAME_LEN];
    int expect; /* started or seen running since this boot, not stopped by us */
};

struct ha_real {
    struct fs *fs;
    struct ha_timeouts to;
    struct ha_env env;
    pthread_mutex_t lock; /* guards jobs, seen, sync */
    struct job jobs[MAX_JOBS];
    struct seen seen[HA_MAX_SERVICES];
    int sync;
    uint64_t renewed_mono; /* monotonic ms when our LRM lease renewal was stamped (LRM thread) */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct ha_real *real(struct ha_env *e)
{
    return e->priv;
}

static uint64_t op_now(struct ha_env *e)
{
    struct timespec ts;

    (void)e;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int op_quorate(struct ha_env *e)
{
    return store_quorate(real(e)->fs->st);
}

/* ---- stored files ---- */

/* Writes text to dir/name: a new file, or over version ifver (0: whatever is there). */
static int put_file(struct fs *fs, uint64_t dir, const char *name, const char *text, int create,
                    uint64_t ifver, struct pv_err *e)
{
    const struct memdb_entry *f;
    struct msg_batch b = {.nops = 1};
    struct memdb_result res;
    struct msg_op *op = &b.ops[0];
    uint64_t ino = 0;

    memset(op, 0, sizeof(*op));
    memdb_rdlock(fs->mem);
    f = dir ? memdb_lookup(fs->mem, dir, name) : NULL;
    if (f)
        ino = f->inode;
    memdb_unlock(fs->mem);
    if (!dir)
        return pv_fail(e, ENOENT, "no directory for %s", name);
    if (create) {
        op->code = MSG_CREATE;
        op->inode = dir;
        op->kind = MEMDB_FILE;
        op->objtype = T_FILE;
        op->mode = 0444;
        snprintf(op->name, sizeof(op->name), "%s", name);
    } else {
        if (!ino)
            return pv_fail(e, ENOENT, "%s is missing", name);
        op->code = MSG_WRITE;
        op->inode = ino;
        op->flags = ifver ? MSG_F_IFVERSION : 0;
        op->if_version = ifver;
    }
    op->data = (const uint8_t *)text;
    op->size = (uint32_t)strlen(text);
    return fs_commit(fs, &b, &res, e);
}

/* ---- leases ---- */

struct lease {
    char holder[HA_NAME_LEN];
    uint64_t renewed, version;
    int exists;
};

static void lock_place(struct fs *fs, const char *lock, uint64_t *dir, const char **file)
{
    if (!strncmp(lock, "lrm:", 4)) {
        *dir = ha_node_dir(fs, lock + 4);
        *file = HA_LRM_LOCK;
    } else {
        *dir = ha_dir(fs);
        *file = HA_MANAGER_LOCK;
    }
}

static void lease_read(struct fs *fs, uint64_t dir, const char *file, struct lease *l)
{
    char text[256], *p;

    memset(l, 0, sizeof(*l));
    l->exists = ha_file_read(fs, dir, file, text, sizeof(text), &l->version) >= 0;
    if ((p = strstr(text, "holder: ")))
        sscanf(p + 8, "%31[^\n]", l->holder);
    if ((p = strstr(text, "renewed: ")))
        l->renewed = strtoull(p + 9, NULL, 10);
}

/* How long ago a renewal was; one stamped ahead of our clock counts as just now. */
static uint64_t age(uint64_t now, uint64_t renewed)
{
    return now > renewed ? now - renewed : 0;
}

static int op_lease(struct ha_env *e, const char *lock, const char *holder, int take)
{
    struct ha_real *r = real(e);
    uint64_t stamp = mono_ms(), dir, now = op_now(e); /* the pet deadline counts from stamp */
    const char *file;
    struct lease l;
    struct pv_err err = {0};
    char text[128];
    int rc;

    if (!store_quorate(r->fs->st))
        return -EACCES;
    lock_place(r->fs, lock, &dir, &file);
    lease_read(r->fs, dir, file, &l);
    if (!take) {
        if (!l.exists || strcmp(l.holder, holder) != 0)
            return 0;
        snprintf(text, sizeof(text), "holder: \nrenewed: %llu\n", (unsigned long long)l.renewed);
    } else {
        if (l.holder[0] && strcmp(l.holder, holder) != 0 && age(now, l.renewed) < r->to.lease_ms)
            return -EBUSY;
        snprintf(text, sizeof(text), "holder: %s\nrenewed: %llu\n", holder,
                 (unsigned long long)now);
    }
    rc = put_file(r->fs, dir, file, text, !l.exists, l.version, &err);
    if (rc == -EROFS)
        return -EACCES;
    /* -ESTALE or -EEXIST: someone else changed it between our read and our write */
    if (rc)
        return -EBUSY;
    if (take && !strncmp(lock, "lrm:", 4) && !strcmp(lock + 4, r->fs->node))
        r->renewed_mono = stamp;
    return 0;
}

static size_t op_nodes(struct ha_env *e, struct ha_node_in *out, size_t max)
{
    struct ha_real *r = real(e);
    struct fs *fs = r->fs;
    struct qrm *q = fs_cluster_qrm(fs);
    struct qrm_node *qn = q ? calloc(QRM_MAX_NODES, sizeof(*qn)) : NULL;
    size_t nq = qn ? qrm_members(q, qn, QRM_MAX_NODES) : 0, n = 0;
    uint64_t now = op_now(e);
    const struct memdb_entry *nodes;

    memdb_rdlock(fs->mem);
    nodes = memdb_lookup(fs->mem, MEMDB_ROOT, "nodes");
    for (uint32_t i = 0; nodes && i < nodes->nkids && n < max; i++)
        if (strlen(nodes->kids[i]->name) < HA_NAME_LEN) {
            memset(&out[n], 0, sizeof(out[n]));
            snprintf(out[n].name, HA_NAME_LEN, "%s", nodes->kids[i]->name);
            out[n].member = !q && !strcmp(out[n].name, fs->node);
            for (size_t k = 0; k < nq; k++)
                if (!strcmp(qn[k].name, out[n].name))
                    out[n].member = qn[k].online;
            n++;
        }
    memdb_unlock(fs->mem);
    free(qn);
    for (size_t i = 0; i < n; i++) {
        struct lease l;

        lease_read(fs, ha_node_dir(fs, out[i].name), HA_LRM_LOCK, &l);
        out[i].renewed = l.renewed;
        if (!l.holder[0] || age(now, l.renewed) >= r->to.lease_ms)
            out[i].lease = HA_LEASE_FREE;
        else
            out[i].lease = strcmp(l.holder, HA_LEASE_CRM) ? HA_LEASE_HELD : HA_LEASE_CLAIMED;
    }
    return n;
}

/* ---- config, status, reports ---- */

static int op_read_config(struct ha_env *e, struct ha_config *cfg)
{
    return ha_config_load(real(e)->fs, cfg);
}

static int op_read_status(struct ha_env *e, char *buf, size_t len)
{
    struct fs *fs = real(e)->fs;
    int n = ha_file_read(fs, ha_dir(fs), HA_MANAGER_STATUS, buf, len, NULL);

    return n < 0 ? 0 : n;
}

/* Moves guest sid's directory under node's qemu/ or lxc/. */
static int move_guest(struct fs *fs, uint64_t gdir, const char *sid, const char *node,
                      struct pv_err *e)
{
    uint64_t nd = ha_node_dir(fs, node), list = 0;
    const struct memdb_entry *l;
    struct msg_batch b = {.nops = 1};
    struct memdb_result res;

    memdb_rdlock(fs->mem);
    l = nd ? memdb_lookup(fs->mem, nd, !strncmp(sid, "ct:", 3) ? "lxc" : "qemu") : NULL;
    if (l)
        list = l->inode;
    memdb_unlock(fs->mem);
    if (!list)
        return pv_fail(e, ENOENT, "node %s has no guest directory", node);
    memset(&b.ops[0], 0, sizeof(b.ops[0]));
    b.ops[0].code = MSG_RENAME;
    b.ops[0].inode = gdir;
    b.ops[0].dst_parent = list;
    b.ops[0].flags = MSG_F_NOREPLACE;
    snprintf(b.ops[0].name, sizeof(b.ops[0].name), "%s", sid + 3);
    return fs_commit(fs, &b, &res, e);
}

/* Services the manager recovered off a fenced node: their directories follow them. */
static void recovery_moves(struct ha_real *r, const char *text)
{
    struct ha_status *st = calloc(1, sizeof(*st));
    char err[160], from[64];

    if (!st || ha_status_parse(st, text, err, sizeof(err))) {
        free(st);
        return;
    }
    for (size_t i = 0; i < st->nsvc; i++) {
        const struct ha_svc_status *s = &st->svc[i];
        uint64_t g = ha_guest_dir(r->fs, s->sid, from, sizeof(from));
        struct pv_err pe = {0};
        struct lease l;

        if (!g || !strcmp(from, s->node) || s->state == HA_S_MIGRATE || s->state == HA_S_RELOCATE ||
            s->state == HA_S_FENCE || s->state == HA_S_RECOVERY)
            continue;
        /* only off a node that provably stopped: the manager claimed its lease, and the
         * node has not taken it back since (its LRM runs nothing without it) */
        lease_read(r->fs, ha_node_dir(r->fs, from), HA_LRM_LOCK, &l);
        if (strcmp(l.holder, HA_LEASE_CRM) != 0)
            continue;
        if (move_guest(r->fs, g, s->sid, s->node, &pe))
            clog_append("ha", "recovery of %s from %s to %s: cannot move it: %s", s->sid, from,
                        s->node, pe.msg);
        else
            clog_append("ha", "recovery: %s moved from fenced %s to %s", s->sid, from, s->node);
    }
    free(st);
}

static int op_write_status(struct ha_env *e, const char *text)
{
    struct ha_real *r = real(e);
    struct pv_err pe = {0};

    if (!store_quorate(r->fs->st))
        return -EACCES;
    recovery_moves(r, text);
    return put_file(r->fs, ha_dir(r->fs), HA_MANAGER_STATUS, text, 0, 0, &pe);
}

/*
 * Admin requests (ha/resources/<sid>/ctl: migrate|relocate <node>) wait in the stored
 * file ha/requests, one "<sid> <migrate|relocate> <node>" per line. Adding and taking
 * are conditional writes over the version read, so a request is never lost to a race
 * and is taken exactly once.
 */
int ha_request_add(struct fs *fs, const char *sid, const char *verb, const char *target,
                   struct pv_err *e)
{
    char *text = malloc(HA_STATUS_MAX);
    int rc = -EAGAIN;

    if (!text)
        return pv_fail(e, ENOMEM, "out of memory");
    for (int tries = 0; tries < 8 && rc == -EAGAIN; tries++) {
        uint64_t ver = 0;
        int n = ha_file_read(fs, ha_dir(fs), HA_REQUESTS, text, HA_STATUS_MAX, &ver);
        size_t len = n > 0 ? (size_t)n : 0;
        if (len + 200 >= HA_STATUS_MAX) {
            rc = pv_fail(e, EAGAIN, "too many HA requests are waiting; try again");
            break;
        }
        snprintf(text + len, HA_STATUS_MAX - len, "%s %s %s\n", sid, verb, target);
        rc = put_file(fs, ha_dir(fs), HA_REQUESTS, text, n < 0, n < 0 ? 0 : ver, e);
        if (rc == -ESTALE || rc == -EEXIST)
            rc = -EAGAIN; /* another request got in first: read again */
    }
    free(text);
    return rc;
}

static size_t op_take_requests(struct ha_env *e, struct ha_request *out, size_t max)
{
    struct fs *fs = real(e)->fs;
    char *text = malloc(HA_STATUS_MAX), *save = NULL;
    struct pv_err pe = {0};
    uint64_t ver = 0;
    size_t n = 0;

    if (!text)
        return 0;
    /* taken first, used after: a request is acted on only once it is gone from the file */
    if (ha_file_read(fs, ha_dir(fs), HA_REQUESTS, text, HA_STATUS_MAX, &ver) <= 0 ||
        put_file(fs, ha_dir(fs), HA_REQUESTS, "", 0, ver, &pe)) {
        free(text);
        return 0;
    }
    for (char *l = strtok_r(text, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save)) {
        char sid[HA_NAME_LEN], verb[16], target[HA_NAME_LEN];
        if (sscanf(l, "%31s %15s %31s", sid, verb, target) != 3)
            continue;
        memset(&out[n], 0, sizeof(out[n]));
        snprintf(out[n].sid, sizeof(out[n].sid), "%s", sid);
        snprintf(out[n].target, sizeof(out[n].target), "%s", target);
        out[n].kind = strcmp(verb, "relocate") == 0 ? HA_CMD_RELOCATE : HA_CMD_MIGRATE;
        n++;
    }
    free(text);
    return n;
}

static void op_send_commands(struct ha_env *e, const struct ha_cmd *cmd, size_t n)
{
    (void)e, (void)cmd, (void)n;
    ha_run_wake(); /* our own LRM need not wait a round; the others poll */
}

static int op_read_lrm(struct ha_env *e, const char *node, struct ha_lrm_report *out)
{
    struct fs *fs = real(e)->fs;
    char *text = malloc(HA_STATUS_MAX), err[160];
    int n = text ? ha_file_read(fs, ha_node_dir(fs, node), HA_LRM_STATUS, text, HA_STATUS_MAX, NULL)
                 : -ENOMEM;

    if (n > 0 && ha_lrm_parse(out, text, err, sizeof(err)) == 0) {
        free(text);
        return 0;
    }
    free(text);
    return n < 0 ? n : -ENOENT;
}

static int op_write_lrm(struct ha_env *e, const struct ha_lrm_report *rep)
{
    struct ha_real *r = real(e);
    char *text = malloc(HA_STATUS_MAX), one[1];
    struct pv_err pe = {0};
    uint64_t dir = ha_node_dir(r->fs, r->fs->node);
    int rc, exists;

    if (!text)
        return -ENOMEM;
    ha_lrm_format(rep, text, HA_STATUS_MAX);
    exists = ha_file_read(r->fs, dir, HA_LRM_STATUS, one, sizeof(one), NULL) >= 0;
    rc = put_file(r->fs, dir, HA_LRM_STATUS, text, !exists, 0, &pe);
    free(text);
    return rc;
}

/* ---- guests and commands on this node ---- */

static struct seen *seen_of(struct ha_real *r, const char *sid, int create)
{
    struct seen *free_slot = NULL;

    for (size_t i = 0; i < HA_MAX_SERVICES; i++) {
        if (!strcmp(r->seen[i].sid, sid))
            return &r->seen[i];
        if (!r->seen[i].sid[0] && !free_slot)
            free_slot = &r->seen[i];
    }
    if (create && free_slot)
        snprintf(free_slot->sid, HA_NAME_LEN, "%s", sid);
    return create ? free_slot : NULL;
}

static void set_expect(struct ha_real *r, const char *sid, int v)
{
    struct seen *s;

    pthread_mutex_lock(&r->lock);
    if ((s = seen_of(r, sid, 1)))
        s->expect = v;
    pthread_mutex_unlock(&r->lock);
}

/* The driver's state of guest sid: 1 running or paused, 0 stopped, -1 unknown, -2 it does
 * not live here. */
static int local_state(struct ha_real *r, const char *sid)
{
    char node[64] = "", st[32];
    struct drv_guest g = {.kind = !strncmp(sid, "ct:", 3) ? "lxc" : "qemu", .id = sid + 3};

    if (!ha_guest_dir(r->fs, sid, node, sizeof(node)) || strcmp(node, r->fs->node) != 0)
        return -2;
    g.node = r->fs->node;
    if (drv_guest(g.kind)->state(&g, st, sizeof(st)))
        return -1;
    return strcmp(st, "stopped") != 0;
}

static int ctl(struct ha_real *r, const char *sid, const char *cmd)
{
    char node[64];
    uint64_t dir = ha_guest_dir(r->fs, sid, node, sizeof(node));
    struct pv_err e = {0};

    if (!dir || strcmp(node, r->fs->node) != 0) {
        clog_append("ha", "%s: %s: the guest is not on %s", sid, cmd, r->fs->node);
        return 1;
    }
    if (fs_cmd(r->fs, dir, "ctl", cmd, strlen(cmd), &e)) {
        clog_append("ha", "%s: %s failed: %s", sid, cmd, e.msg);
        return 1;
    }
    return 0;
}

static int run_cmd(struct ha_real *r, const struct ha_cmd *c)
{
    char verb[HA_NAME_LEN + 16];
    int rc, st = local_state(r, c->sid);

    switch (c->kind) {
    case HA_CMD_START:
        rc = st == 1 ? 0 : ctl(r, c->sid, "start");
        if (!rc)
            set_expect(r, c->sid, 1);
        return rc;
    case HA_CMD_STOP:
        set_expect(r, c->sid, 0);
        /* a guest that does not live here does not run here either */
        return st == 1 ? ctl(r, c->sid, "stop") : st == -1;
    case HA_CMD_MIGRATE:
    case HA_CMD_RELOCATE:
        set_expect(r, c->sid, 0);
        /* relocate: stopped first, then only the config moves; migrate keeps it running */
        if (c->kind == HA_CMD_RELOCATE && st == 1 && ctl(r, c->sid, "stop"))
            return 1;
        snprintf(verb, sizeof(verb), "migrate %s", c->target);
        rc = ctl(r, c->sid, verb);
        if (rc && local_state(r, c->sid) == 1)
            set_expect(r, c->sid, 1);
        return rc;
    default:
        return 1;
    }
}

static void *job_main(void *arg)
{
    struct job *j = arg;
    int rc = run_cmd(j->r, &j->cmd);

    pthread_mutex_lock(&j->r->lock);
    j->rc = rc;
    j->done = 1;
    pthread_mutex_unlock(&j->r->lock);
    ha_run_wake();
    return NULL;
}

static int op_exec(struct ha_env *e, const struct ha_cmd *cmd)
{
    struct ha_real *r = real(e);
    struct job *j = NULL, *slot = NULL;
    int rc = HA_EXEC_PENDING;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < MAX_JOBS; i++) {
        if (r->jobs[i].used && r->jobs[i].cmd.uid == cmd->uid)
            j = &r->jobs[i];
        if (!r->jobs[i].used && !slot)
            slot = &r->jobs[i];
    }
    if (j && j->done) {
        pthread_t t = j->thread;
        rc = j->rc;
        j->used = 0;
        pthread_mutex_unlock(&r->lock);
        pthread_join(t, NULL);
        return rc;
    }
    if (j || r->sync || !slot) {
        int sync = !j && (r->sync || !slot);
        pthread_mutex_unlock(&r->lock);
        return sync ? run_cmd(r, cmd) : HA_EXEC_PENDING;
    }
    memset(slot, 0, sizeof(*slot));
    slot->used = 1;
    slot->cmd = *cmd;
    slot->r = r;
    if (pthread_create(&slot->thread, NULL, job_main, slot)) {
        slot->used = 0;
        rc = 1;
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

static int job_on(struct ha_real *r, const char *sid)
{
    for (size_t i = 0; i < MAX_JOBS; i++)
        if (r->jobs[i].used && !r->jobs[i].done && !strcmp(r->jobs[i].cmd.sid, sid))
            return 1;
    return 0;
}

static enum ha_run op_guest(struct ha_env *e, const char *sid)
{
    struct ha_real *r = real(e);
    int st = local_state(r, sid), busy;
    enum ha_run run = HA_RUN_STOPPED;
    struct seen *s;

    pthread_mutex_lock(&r->lock);
    busy = job_on(r, sid);
    s = seen_of(r, sid, st == 1);
    if (st == 1) {
        run = HA_RUN_RUNNING;
        if (s && !busy)
            s->expect = 1;
    } else if (st == 0 && s && s->expect && !busy) {
        run = HA_RUN_CRASHED;
    } else if (st == -2 && s && !busy) {
        s->expect = 0; /* it lives elsewhere now */
    }
    pthread_mutex_unlock(&r->lock);
    return run;
}

/*
 * Whether a guest may start running here before the next round: a command of ours is
 * running, or the stored status has a service on (or moving to) this node. The LRM only
 * arms for guests it saw running; a start in flight must be covered too.
 */
static int may_run_here(struct ha_real *r)
{
    struct ha_status *st;
    char *text;
    int yes = ha_real_busy(r) > 0;

    if (yes || !(st = calloc(1, sizeof(*st))))
        return 1;
    text = malloc(HA_STATUS_MAX);
    if (text && op_read_status(&r->env, text, HA_STATUS_MAX) > 0 &&
        ha_status_parse(st, text, text, HA_STATUS_MAX) == 0)
        for (size_t i = 0; i < st->nsvc && !yes; i++) {
            const struct ha_svc_status *s = &st->svc[i];
            yes = (!strcmp(s->node, r->fs->node) &&
                   (s->state == HA_S_STARTED || s->state == HA_S_MIGRATE ||
                    s->state == HA_S_RELOCATE || s->state == HA_S_REQUEST_STOP)) ||
                  !strcmp(s->target, r->fs->node);
        }
    free(text);
    free(st);
    return yes;
}

static void op_watchdog(struct ha_env *e, int arm)
{
    struct ha_real *r = real(e);
    uint64_t since = mono_ms() - r->renewed_mono;

    arm = arm || may_run_here(r);

    /* the deadline counts from the renewal others age our lease by, not from this pet */
    ha_wd_arm(r->fs, since < r->to.self_fence_ms ? r->to.self_fence_ms - since : 0, arm);
}

static void op_fence_self(struct ha_env *e, const char *why)
{
    ha_wd_fence_now(real(e)->fs, why);
}

static void op_log(struct ha_env *e, const char *role, const char *msg)
{
    clog_append("ha", "%s %s: %s", e->node, role, msg);
}

static const struct ha_env_ops real_ops = {
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

struct ha_real *ha_real_new(struct fs *fs, const struct ha_timeouts *to)
{
    struct ha_real *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->fs = fs;
    r->to = *to;
    pthread_mutex_init(&r->lock, NULL);
    r->env = (struct ha_env){.ops = &real_ops, .node = fs->node, .to = &r->to, .priv = r};
    return r;
}

struct ha_env *ha_real_env(struct ha_real *r)
{
    return &r->env;
}

int ha_real_busy(struct ha_real *r)
{
    int n = 0;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < MAX_JOBS; i++)
        n += r->jobs[i].used && !r->jobs[i].done;
    pthread_mutex_unlock(&r->lock);
    return n;
}

void ha_real_set_sync(struct ha_real *r, int sync)
{
    pthread_mutex_lock(&r->lock);
    r->sync = sync;
    pthread_mutex_unlock(&r->lock);
}

void ha_real_free(struct ha_real *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < MAX_JOBS; i++)
        if (r->jobs[i].used)
            pthread_join(r->jobs[i].thread, NULL);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
