/* kvs: the status channel and command forwarding over CPG; see kvs.h. */
#include "kvs.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "group.h"

#define MAX_PEERS   128 /* CPG_MEMBERS_MAX */
#define MAX_WORKERS 8   /* commands running at once; a VM start may take seconds */
#define MAX_JOBS    64  /* queued beyond the running ones; more are refused with EBUSY */
#define MAX_ERRNO   4095

/* ---- the channel ---- */

struct peer {
    uint32_t nodeid;
    char name[KVS_MAX_NAME + 1]; /* "" until it announced itself */
    int member;
    int has_status;
    char *text; /* last status, NUL-terminated */
    size_t tlen;
    uint64_t seq;
    int64_t rx_ns; /* CLOCK_MONOTONIC of the last status */
};

struct pending {
    uint64_t id;
    uint32_t target;
    int done, rc;
    char msg[KVS_MAX_MSG + 1];
    struct pending *next;
};

struct job {
    uint64_t id;
    uint32_t from;
    char *path, *cmd; /* NUL-terminated copies */
    size_t len;
    struct job *next;
};

struct out {
    size_t len;
    struct out *next;
    uint8_t buf[];
};

struct kvs {
    struct grp *g;
    char name[KVS_MAX_NAME + 1];
    kvs_exec_fn exec;
    void *arg;
    uint32_t self; /* atomic: our nodeid, 0 until joined */

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t replies, jobcv, sendcv;
    struct peer peers[MAX_PEERS];
    struct pending *pending;
    struct job *jobs, **jobs_tail;
    int njobs;
    struct out *outq, **out_tail;
    char *status; /* our own text, to send */
    size_t slen;
    uint64_t seq, next_id;
    int stop, stop_send; /* workers stop first; the sender then sends their last answers */

    pthread_t workers[MAX_WORKERS], sender;
    int nworkers, has_sender;
};

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Malformed traffic is logged, but a flood of it must not flood the log. */
static void log_drop(uint32_t nodeid, const char *why)
{
    static unsigned long drops; /* atomic */
    unsigned long n = __atomic_fetch_add(&drops, 1, __ATOMIC_RELAXED);

    if (n < 20 || n % 1000 == 0)
        fprintf(stderr, "kvs: dropped a message from node %u: %s (%lu dropped)\n", nodeid, why,
                n + 1);
}

/* How good a slot is for a newcomer: a free one, else one of a gone node, unnamed first. */
static int spare_rank(const struct peer *p)
{
    if (!p->nodeid)
        return 3;
    if (p->member)
        return 0;
    return p->name[0] ? 1 : 2;
}

static struct peer *peer_by_id(struct kvs *k, uint32_t nodeid, int create)
{
    struct peer *spare = NULL;

    if (!nodeid)
        return NULL;
    for (size_t i = 0; i < MAX_PEERS; i++) {
        struct peer *p = &k->peers[i];
        if (p->nodeid == nodeid)
            return p;
        if (spare_rank(p) && (!spare || spare_rank(p) > spare_rank(spare)))
            spare = p;
    }
    if (!create || !spare)
        return NULL;
    free(spare->text);
    memset(spare, 0, sizeof(*spare));
    spare->nodeid = nodeid;
    return spare;
}

/* The node announcing itself as name; a member wins over a stale entry with the same name. */
static struct peer *peer_by_name(struct kvs *k, const char *name)
{
    struct peer *best = NULL;

    for (size_t i = 0; i < MAX_PEERS; i++) {
        struct peer *p = &k->peers[i];
        if (p->nodeid && strcmp(p->name, name) == 0 && (!best || (!best->member && p->member)))
            best = p;
    }
    return best;
}

/* Records that nodeid calls itself name (lock held). A name belongs to one node at a time. */
static struct peer *name_peer(struct kvs *k, uint32_t nodeid, const char *name, size_t n)
{
    struct peer *p = name ? peer_by_id(k, nodeid, 1) : NULL;

    if (!p)
        return NULL;
    if (strlen(p->name) == n && memcmp(p->name, name, n) == 0)
        return p;
    for (size_t i = 0; i < MAX_PEERS; i++) {
        struct peer *o = &k->peers[i];
        if (o != p && o->nodeid && strlen(o->name) == n && memcmp(o->name, name, n) == 0)
            o->name[0] = 0; /* the name moved to another nodeid: the old entry is stale */
    }
    memcpy(p->name, name, n);
    p->name[n] = 0;
    free(p->text); /* another name, another node's figures */
    p->text = NULL;
    p->tlen = 0;
    p->has_status = 0;
    return p;
}

static int fresh(const struct peer *p, int64_t now)
{
    return p && p->has_status && now - p->rx_ns < (int64_t)KVS_FRESH_MS * 1000000;
}

/*
 * Online: a member whose status is fresh. While our own status does not come back
 * either, the ring is stalled (a membership change takes about 2 s) and age proves
 * nothing, so only membership counts until deliveries resume.
 */
static int peer_online(struct kvs *k, const struct peer *p, int64_t now)
{
    const struct peer *me = peer_by_id(k, __atomic_load_n(&k->self, __ATOMIC_ACQUIRE), 0);

    return p->member && p->has_status &&
           (fresh(p, now) || (me && me->has_status && !fresh(me, now)));
}

/* Queues an encoded message for the sender thread (lock held). */
static void queue_out(struct kvs *k, const struct kvs_msg *m)
{
    size_t n = kvs_encoded_size(m);
    struct out *o = n ? malloc(sizeof(*o) + n) : NULL;

    if (!o)
        return;
    o->len = (size_t)kvs_encode(m, o->buf, n);
    o->next = NULL;
    *k->out_tail = o;
    k->out_tail = &o->next;
    pthread_cond_signal(&k->sendcv);
}

/* Queues our name and last status, for nodes that just joined (lock held). */
static void announce(struct kvs *k)
{
    struct kvs_msg m = {.type = KVS_HELLO, .name = k->name, .name_len = strlen(k->name)};

    queue_out(k, &m);
    if (k->status) {
        m = (struct kvs_msg){.type = KVS_STATUS,
                             .id = k->seq,
                             .name = k->name,
                             .name_len = m.name_len,
                             .data = k->status,
                             .data_len = k->slen};
        queue_out(k, &m);
    }
}

/* Queues the answer to request id of node to (lock held). */
static void queue_reply(struct kvs *k, uint64_t id, uint32_t to, int rc, const char *msg)
{
    struct kvs_msg r = {.type = KVS_FWD_REPLY, .id = id, .to = to, .data = msg};

    r.err = rc >= 0 ? 0 : -rc <= MAX_ERRNO ? (uint32_t)-rc : EIO;
    r.data_len = strnlen(msg, KVS_MAX_MSG);
    queue_out(k, &r);
}

static void finish(struct kvs *k, struct pending *pd, int rc, const char *msg)
{
    pd->done = 1;
    pd->rc = rc;
    snprintf(pd->msg, sizeof(pd->msg), "%s", msg);
    pthread_cond_broadcast(&k->replies);
}

static void on_request(struct kvs *k, uint32_t nodeid, const struct kvs_msg *m)
{
    struct job *j = NULL;

    if (m->to != __atomic_load_n(&k->self, __ATOMIC_ACQUIRE))
        return;
    if (m->from != nodeid) {
        log_drop(nodeid, "request names another sender");
        return;
    }
    pthread_mutex_lock(&k->lock);
    if (k->njobs >= MAX_JOBS) {
        queue_reply(k, m->id, m->from, -EBUSY, "too many commands queued on the target node");
    } else if ((j = calloc(1, sizeof(*j))) && (j->path = strndup(m->path, m->path_len)) &&
               (j->cmd = strndup(m->data, m->data_len))) {
        j->id = m->id;
        j->from = m->from;
        j->len = m->data_len;
        *k->jobs_tail = j;
        k->jobs_tail = &j->next;
        k->njobs++;
        pthread_cond_signal(&k->jobcv);
        j = NULL;
    }
    if (j) { /* out of memory: the requester times out */
        free(j->path);
        free(j);
    }
    pthread_mutex_unlock(&k->lock);
}

static void on_deliver(void *arg, uint32_t nodeid, uint32_t pid, const void *msg, size_t len)
{
    struct kvs *k = arg;
    struct kvs_msg m;
    struct peer *p;
    char why[128];

    (void)pid;
    if (kvs_decode(msg, len, &m, why, sizeof(why))) {
        log_drop(nodeid, why);
        return;
    }
    if (m.type == KVS_FWD_REQ) {
        on_request(k, nodeid, &m);
        return;
    }
    pthread_mutex_lock(&k->lock);
    switch (m.type) {
    case KVS_HELLO:
        name_peer(k, nodeid, m.name, m.name_len);
        break;
    case KVS_STATUS: {
        char *t;
        if (!(p = name_peer(k, nodeid, m.name, m.name_len)) || !(t = malloc(m.data_len + 1)))
            break;
        memcpy(t, m.data, m.data_len);
        t[m.data_len] = 0;
        free(p->text);
        p->text = t;
        p->tlen = m.data_len;
        p->seq = m.id;
        p->rx_ns = mono_ns();
        p->has_status = 1;
        break;
    }
    case KVS_FWD_REPLY:
        if (m.to != __atomic_load_n(&k->self, __ATOMIC_ACQUIRE))
            break;
        for (struct pending *pd = k->pending; pd; pd = pd->next) {
            if (pd->id == m.id && pd->target == nodeid && !pd->done) {
                char text[KVS_MAX_MSG + 1];
                memcpy(text, m.data, m.data_len);
                text[m.data_len] = 0;
                finish(k, pd, -(int)m.err, text);
                break;
            }
        }
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&k->lock);
}

static void on_confchg(void *arg, const uint32_t *members, size_t n, const uint32_t *left,
                       size_t nleft, const uint32_t *joined, size_t njoined)
{
    struct kvs *k = arg;

    (void)left;
    (void)nleft;
    (void)joined;
    pthread_mutex_lock(&k->lock);
    for (size_t i = 0; i < MAX_PEERS; i++)
        k->peers[i].member = 0;
    for (size_t i = 0; i < n; i++) {
        struct peer *p = peer_by_id(k, members[i], 1);
        if (p)
            p->member = 1;
    }
    /* A request to a node that is gone will never be answered. */
    for (struct pending *pd = k->pending; pd; pd = pd->next) {
        struct peer *p = peer_by_id(k, pd->target, 0);
        if (!pd->done && (!p || !p->member))
            finish(k, pd, -EHOSTUNREACH,
                   n ? "the node left the cluster before answering: the command may or may "
                       "not have been carried out there"
                     : "lost the connection to corosync before the node answered: the command "
                       "may or may not have been carried out there");
    }
    /* Newcomers learn our name and figures at once rather than within a second. */
    if (njoined)
        announce(k);
    pthread_mutex_unlock(&k->lock);
}

static const struct grp_ops kvs_grp_ops = {.deliver = on_deliver, .confchg = on_confchg};

static void send_or_log(struct kvs *k, const void *buf, size_t len)
{
    int rc = grp_send(k->g, buf, len);

    if (rc)
        fprintf(stderr, "kvs: send failed: %s\n", strerror(-rc));
}

/* Sends what the other threads queued: they never wait on corosync's flow control. */
static void *sender_main(void *arg)
{
    struct kvs *k = arg;

    pthread_mutex_lock(&k->lock);
    while (!k->stop_send || k->outq) {
        struct out *q = k->outq;
        if (!q) {
            pthread_cond_wait(&k->sendcv, &k->lock);
            continue;
        }
        k->outq = NULL;
        k->out_tail = &k->outq;
        pthread_mutex_unlock(&k->lock);
        while (q) {
            struct out *next = q->next;
            send_or_log(k, q->buf, q->len);
            free(q);
            q = next;
        }
        pthread_mutex_lock(&k->lock);
    }
    pthread_mutex_unlock(&k->lock);
    return NULL;
}

static void *worker_main(void *arg)
{
    struct kvs *k = arg;

    pthread_mutex_lock(&k->lock);
    for (;;) {
        char msg[KVS_MAX_MSG + 1] = "";
        struct job *j;
        int rc;

        while (!k->stop && !k->jobs)
            pthread_cond_wait(&k->jobcv, &k->lock);
        if (k->stop)
            break;
        j = k->jobs;
        k->jobs = j->next;
        if (!k->jobs)
            k->jobs_tail = &k->jobs;
        k->njobs--;
        pthread_mutex_unlock(&k->lock);
        rc = k->exec ? k->exec(k->arg, j->path, j->cmd, j->len, msg, sizeof(msg)) : -ENOSYS;
        pthread_mutex_lock(&k->lock);
        queue_reply(k, j->id, j->from, rc, msg);
        free(j->path);
        free(j->cmd);
        free(j);
    }
    pthread_mutex_unlock(&k->lock);
    return NULL;
}

static void kvs_free(struct kvs *k)
{
    for (size_t i = 0; i < MAX_PEERS; i++)
        free(k->peers[i].text);
    while (k->jobs) {
        struct job *j = k->jobs;
        k->jobs = j->next;
        free(j->path);
        free(j->cmd);
        free(j);
    }
    while (k->outq) {
        struct out *o = k->outq;
        k->outq = o->next;
        free(o);
    }
    free(k->status);
    pthread_cond_destroy(&k->replies);
    pthread_cond_destroy(&k->jobcv);
    pthread_cond_destroy(&k->sendcv);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

/* Stops the threads this far started (lock not held). */
static void stop_threads(struct kvs *k)
{
    pthread_mutex_lock(&k->lock);
    k->stop = 1;
    pthread_cond_broadcast(&k->jobcv);
    pthread_mutex_unlock(&k->lock);
    /* Workers finish the command at hand and answer it: the group is still open. */
    for (int i = 0; i < k->nworkers; i++)
        pthread_join(k->workers[i], NULL);
    pthread_mutex_lock(&k->lock);
    k->stop_send = 1;
    pthread_cond_broadcast(&k->sendcv);
    pthread_mutex_unlock(&k->lock);
    if (k->has_sender)
        pthread_join(k->sender, NULL);
    k->nworkers = k->has_sender = 0;
}

int kvs_open(struct kvs **out, const char *name, kvs_exec_fn exec, void *arg, int wait_s, char *err,
             size_t errlen)
{
    struct kvs *k;
    pthread_condattr_t ca;
    int rc;

    if (!name || !*name || strlen(name) > KVS_MAX_NAME) {
        snprintf(err, errlen, "bad node name for the status channel");
        return -EINVAL;
    }
    if (!(k = calloc(1, sizeof(*k))))
        return -ENOMEM;
    snprintf(k->name, sizeof(k->name), "%s", name);
    k->exec = exec;
    k->arg = arg;
    k->jobs_tail = &k->jobs;
    k->out_tail = &k->outq;
    /* Request ids differ across restarts, so a late reply never matches a new request. */
    if (getrandom(&k->next_id, sizeof(k->next_id), 0) != sizeof(k->next_id))
        k->next_id = (uint64_t)mono_ns();
    pthread_mutex_init(&k->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&k->replies, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&k->jobcv, NULL);
    pthread_cond_init(&k->sendcv, NULL);
    if ((rc = grp_open(&k->g, KVS_GROUP, &kvs_grp_ops, k, wait_s, err, errlen))) {
        kvs_free(k);
        return rc;
    }
    __atomic_store_n(&k->self, grp_nodeid(k->g), __ATOMIC_RELEASE);
    pthread_mutex_lock(&k->lock);
    announce(k);
    pthread_mutex_unlock(&k->lock);
    rc = pthread_create(&k->sender, NULL, sender_main, k);
    k->has_sender = rc == 0;
    for (int i = 0; !rc && i < MAX_WORKERS; i++)
        if (!(rc = pthread_create(&k->workers[i], NULL, worker_main, k)))
            k->nworkers++;
    /* Deliveries start only now that everything they touch is set up. */
    if (!rc)
        rc = -grp_start(k->g);
    if (rc) {
        snprintf(err, errlen, "cannot start the status channel threads: %s", strerror(rc));
        stop_threads(k);
        grp_close(k->g);
        kvs_free(k);
        return -rc;
    }
    *out = k;
    return 0;
}

void kvs_close(struct kvs *k)
{
    if (!k)
        return;
    stop_threads(k);
    grp_close(k->g);
    /* Callers still waiting for an answer get one, and are gone before the memory is. */
    pthread_mutex_lock(&k->lock);
    for (struct pending *pd = k->pending; pd; pd = pd->next)
        if (!pd->done)
            finish(k, pd, -EHOSTUNREACH, "the status channel is closing");
    while (k->pending)
        pthread_cond_wait(&k->replies, &k->lock);
    pthread_mutex_unlock(&k->lock);
    kvs_free(k);
}

int kvs_publish(struct kvs *k, const char *text, size_t len)
{
    struct kvs_msg m = {.type = KVS_STATUS};
    char *t;

    if (len > KVS_MAX_TEXT)
        return -EMSGSIZE;
    if (!(t = malloc(len + 1)))
        return -ENOMEM;
    memcpy(t, text, len);
    t[len] = 0;
    if (strlen(t) != len) { /* a NUL inside: the decoder on every node would refuse it */
        free(t);
        return -EINVAL;
    }
    pthread_mutex_lock(&k->lock);
    free(k->status);
    k->status = t;
    k->slen = len;
    m.id = ++k->seq;
    m.name = k->name;
    m.name_len = strlen(k->name);
    m.data = t;
    m.data_len = len;
    queue_out(k, &m);
    pthread_mutex_unlock(&k->lock);
    return 0;
}

static void unlink_pending(struct kvs *k, const struct pending *pd)
{
    for (struct pending **pp = &k->pending; *pp; pp = &(*pp)->next) {
        if (*pp == pd) {
            *pp = pd->next;
            break;
        }
    }
    pthread_cond_broadcast(&k->replies); /* kvs_close waits for the list to drain */
}

int kvs_forward(struct kvs *k, const char *node, const char *path, const char *cmd, size_t len,
                int timeout_ms, char *msg, size_t msglen)
{
    struct kvs_msg m = {.type = KVS_FWD_REQ, .path = path, .data = cmd, .data_len = len};
    struct pending *pd = calloc(1, sizeof(*pd));
    struct timespec until;
    uint8_t *buf = NULL;
    struct peer *p;
    size_t n;
    int rc;

    m.path_len = path ? strlen(path) : 0;
    if (timeout_ms <= 0)
        timeout_ms = KVS_TIMEOUT_MS;
    pthread_mutex_lock(&k->lock);
    p = peer_by_name(k, node);
    if (!pd || k->stop || !p || !p->member) {
        pthread_mutex_unlock(&k->lock);
        free(pd);
        snprintf(msg, msglen, "node %s is not reachable", node);
        return pd ? -EHOSTUNREACH : -ENOMEM;
    }
    m.id = pd->id = k->next_id++;
    m.from = __atomic_load_n(&k->self, __ATOMIC_ACQUIRE);
    m.to = pd->target = p->nodeid;
    pd->next = k->pending;
    k->pending = pd;
    pthread_mutex_unlock(&k->lock);

    /* Sent by this thread, not queued: the caller waits for the answer anyway. */
    if (!(n = kvs_encoded_size(&m)))
        rc = -EINVAL;
    else if (!(buf = malloc(n)))
        rc = -ENOMEM;
    else if ((rc = kvs_encode(&m, buf, n)) > 0)
        rc = grp_send(k->g, buf, n) ? -EHOSTUNREACH : 0;
    free(buf);

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&k->lock);
    while (!rc && !pd->done && pthread_cond_timedwait(&k->replies, &k->lock, &until) != ETIMEDOUT)
        ;
    if (rc)
        snprintf(msg, msglen, "cannot send the command to node %s", node);
    else if (pd->done)
        snprintf(msg, msglen, "%s", pd->msg);
    else
        snprintf(msg, msglen,
                 "node %s did not answer within %d ms: the command may or may not have been "
                 "carried out there",
                 node, timeout_ms);
    rc = rc ? rc : pd->done ? pd->rc : -ETIMEDOUT;
    unlink_pending(k, pd);
    pthread_mutex_unlock(&k->lock);
    free(pd);
    return rc;
}

int kvs_status(struct kvs *k, const char *node, char **text, size_t *len, int *online,
               int64_t *age_ms)
{
    int64_t now = mono_ns();
    struct peer *p;
    int rc = -ENOENT;

    pthread_mutex_lock(&k->lock);
    p = peer_by_name(k, node);
    if (p && p->has_status) {
        rc = (*text = strdup(p->text)) ? 0 : -ENOMEM;
        *len = p->tlen;
        *online = peer_online(k, p, now);
        *age_ms = (now - p->rx_ns) / 1000000;
    }
    pthread_mutex_unlock(&k->lock);
    return rc;
}

size_t kvs_peers(struct kvs *k, struct kvs_peer *out, size_t max)
{
    int64_t now = mono_ns();
    size_t n = 0;

    pthread_mutex_lock(&k->lock);
    for (size_t i = 0; i < MAX_PEERS && n < max; i++) {
        const struct peer *p = &k->peers[i];
        if (!p->nodeid || !p->name[0])
            continue;
        out[n].nodeid = p->nodeid;
        memcpy(out[n].name, p->name, sizeof(out[n].name));
        out[n].member = p->member;
        out[n].online = peer_online(k, p, now);
        out[n].has_status = p->has_status;
        out[n].age_ms = p->has_status ? (now - p->rx_ns) / 1000000 : -1;
        n++;
    }
    pthread_mutex_unlock(&k->lock);
    return n;
}
