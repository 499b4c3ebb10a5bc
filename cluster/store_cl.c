/*
 * store_cl: the cluster transport of the store. Every change is one message on
 * the CPG group "pvefs" in agreed order; every member applies it, the writer
 * included, and the writer's commit returns the result of its own apply.
 * While a state sync runs (sync.c), delivered changes are queued and applied in
 * order afterwards; writers wait for the sync to end before they send.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clog.h"
#include "store_int.h"
#include "wire.h"

#define GROUP          "pvefs"
#define SYNC_WAIT_S    60 /* a writer waits this long for a sync to finish */
#define APPLY_WAIT_S   60 /* and this long for its own change to come back */
#define VERIFY_EVERY_S 60
#define ACK_WAIT_S     10          /* a writer waits this long for the others to have applied it */
#define ACK_MAGIC      0x5056414bu /* "PVAK": magic u32, version u16, 0 u16, epoch u64, pos u64 */
#define ACK_VERSION    1

static void deadline_in(struct timespec *ts, int s)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += s;
}

static int same_ring(struct ring_id a, struct ring_id b)
{
    return a.nodeid == b.nodeid && a.seq == b.seq;
}

/* votequorum's verdict on ring: 1 quorate, -1 not, 0 not known (commit_lock held). */
static int verdict_of(const struct store *st, struct ring_id ring)
{
    const size_t cap = sizeof(st->verdicts) / sizeof(st->verdicts[0]);

    for (size_t i = st->nverdicts; i > 0 && st->nverdicts - i < cap; i--)
        if (same_ring(st->verdicts[(i - 1) % cap].ring, ring))
            return st->verdicts[(i - 1) % cap].quorate;
    return 0;
}

void store_ring_quorum(struct store *st, uint32_t nodeid, uint64_t seq, int quorate)
{
    const size_t cap = sizeof(st->verdicts) / sizeof(st->verdicts[0]);
    struct ring_id r = {nodeid, seq};

    int trust;

    pthread_mutex_lock(&st->commit_lock);
    st->verdicts[st->nverdicts++ % cap] = (struct verdict){r, quorate ? 1 : -1};
    for (struct waiter *w = st->waiters; w; w = w->next)
        if (w->done && same_ring(w->ring, r))
            w->quorate = quorate ? 1 : -1;
    pthread_cond_broadcast(&st->cond);
    /* the state agreed in this ring was agreed by a quorate part of the cluster: it may lead
     * the next sync, even when the verdict came after the sync ended (as at start) */
    trust = quorate && same_ring(st->sync_ring, r);
    pthread_mutex_unlock(&st->commit_lock);
    if (trust && st->sync)
        sync_trust(st->sync);
}

/* Wakes the writer of seq (commit_lock held). */
static void complete(struct store *st, uint64_t seq, const struct memdb_result *res, uint64_t pos)
{
    for (struct waiter *w = st->waiters; w; w = w->next) {
        if (w->seq == seq) {
            w->res = *res;
            w->pos = pos;
            w->epoch = st->epoch;
            w->gen = st->gen;
            w->ring = st->ring;
            w->quorate = verdict_of(st, st->ring);
            w->done = 1;
            pthread_cond_broadcast(&st->cond);
            return;
        }
    }
}

/*
 * Announces that this node applied up to pos. Sent from the dispatch thread
 * itself: a hand-off to another thread costs a scheduling round on every write.
 */
static void applied(struct store *st, uint64_t pos)
{
    uint8_t buf[24];
    struct wire_w w = {buf};
    uint64_t epoch;

    if (!pos)
        return;
    pthread_mutex_lock(&st->commit_lock);
    epoch = st->epoch;
    pthread_mutex_unlock(&st->commit_lock);
    wire_put(&w, ACK_MAGIC, 4);
    wire_put(&w, ACK_VERSION, 2);
    wire_put(&w, 0, 2);
    wire_put(&w, epoch, 8);
    wire_put(&w, pos, 8);
    if (grp_send(st->grp, buf, sizeof(buf)))
        clog_append("store", "cannot send an acknowledgement; writers on other nodes will wait");
}

static void apply_msg(struct store *st, uint32_t nodeid, uint32_t pid, const uint8_t *buf,
                      size_t len, uint64_t pos)
{
    int ours = nodeid == grp_nodeid(st->grp) && pid == (uint32_t)getpid();
    struct memdb_result res = {.failed_op = -1};
    struct msg_batch b;
    char why[128];

    if (msg_decode(buf, len, &b, why, sizeof(why))) {
        clog_append("store", "dropped a malformed change from node %u: %s", nodeid, why);
        if (ours && len >= 20) { /* our own, mangled: fail its writer rather than hang it */
            struct wire_r r = {buf + 12, buf + len, 0};
            snprintf(res.msg, sizeof(res.msg), "the change was malformed: %s", why);
            res.err = -EIO;
            pthread_mutex_lock(&st->commit_lock);
            complete(st, wire_get(&r, 8), &res, 0);
            pthread_mutex_unlock(&st->commit_lock);
        }
        return;
    }
    b.writer = nodeid; /* the sender is who corosync says it is */
    memdb_apply(st->mem, &b, &res);
    if (ours) {
        pthread_mutex_lock(&st->commit_lock);
        complete(st, b.seq, &res, pos);
        pthread_mutex_unlock(&st->commit_lock);
    }
    applied(st, pos);
}

static void queue_push(struct store *st, uint32_t nodeid, uint32_t pid, const void *msg, size_t len)
{
    struct qmsg *q;

    if (st->nq == st->capq) {
        size_t cap = st->capq ? st->capq * 2 : 64;
        struct qmsg *a = realloc(st->queue, cap * sizeof(*a));
        if (a) {
            st->queue = a;
            st->capq = cap;
        }
    }
    if (st->nq == st->capq || !(st->queue[st->nq].buf = malloc(len))) {
        /* Losing a change would split this node from the others: resync instead. */
        clog_append("store", "out of memory queueing a change; leaving to resync");
        grp_rejoin(st->grp);
        return;
    }
    q = &st->queue[st->nq++];
    q->pos = st->pos;
    memcpy(q->buf, msg, len);
    q->nodeid = nodeid;
    q->pid = pid;
    q->len = len;
}

/* Applies (or drops) the queued changes; a dropped one of ours fails its writer. */
static void queue_run(struct store *st, int apply)
{
    for (size_t i = 0; i < st->nq; i++) {
        struct qmsg *q = &st->queue[i];
        if (apply) {
            apply_msg(st, q->nodeid, q->pid, q->buf, q->len, q->pos);
        } else if (q->nodeid == grp_nodeid(st->grp) && q->pid == (uint32_t)getpid() &&
                   q->len >= 20) {
            struct wire_r r = {q->buf + 12, q->buf + q->len, 0};
            struct memdb_result res = {.err = -EIO, .failed_op = -1};
            snprintf(res.msg, sizeof(res.msg),
                     "this node fell out of step with the cluster; "
                     "the change may or may not have been applied");
            pthread_mutex_lock(&st->commit_lock);
            complete(st, wire_get(&r, 8), &res, 0);
            pthread_mutex_unlock(&st->commit_lock);
        }
        if (!apply)
            applied(st, q->pos);
        free(q->buf);
    }
    st->nq = 0;
}

static void on_ack(struct store *st, uint32_t nodeid, struct wire_r *r)
{
    unsigned ver = (unsigned)wire_get(r, 2), pad = (unsigned)wire_get(r, 2);
    uint64_t epoch = wire_get(r, 8), pos = wire_get(r, 8);

    if (r->bad || r->p != r->end || ver != ACK_VERSION || pad) {
        clog_append("store", "dropped a malformed acknowledgement from node %u", nodeid);
        return;
    }
    pthread_mutex_lock(&st->commit_lock);
    for (size_t i = 0; i < st->nacks; i++) {
        if (st->acks[i].nodeid == nodeid && (epoch != st->acks[i].epoch || pos > st->acks[i].pos)) {
            st->acks[i].epoch = epoch;
            st->acks[i].pos = pos;
            pthread_cond_broadcast(&st->cond);
        }
    }
    pthread_mutex_unlock(&st->commit_lock);
}

static void on_deliver(void *arg, uint32_t nodeid, uint32_t pid, const void *msg, size_t len)
{
    struct store *st = arg;
    struct wire_r r = {msg, (const uint8_t *)msg + len, 0};
    uint32_t magic = (uint32_t)wire_get(&r, 4);

    if (magic == SYNC_MAGIC) {
        sync_deliver(st->sync, nodeid, msg, len);
    } else if (magic == ACK_MAGIC) {
        on_ack(st, nodeid, &r);
    } else if (magic != MSG_MAGIC) {
        clog_append("store", "dropped a message of unknown kind from node %u", nodeid);
    } else {
        st->pos++;
        if (!sync_is_synced(st->sync))
            queue_push(st, nodeid, pid, msg, len);
        else
            apply_msg(st, nodeid, pid, msg, len, st->pos);
    }
}

static void fail_waiters(struct store *st, const char *why)
{
    pthread_mutex_lock(&st->commit_lock);
    for (struct waiter *w = st->waiters; w; w = w->next) {
        if (!w->done) {
            w->res.err = -EIO;
            w->res.failed_op = -1;
            snprintf(w->res.msg, sizeof(w->res.msg), "%s", why);
            w->done = 1;
        }
    }
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->commit_lock);
}

/*
 * The membership is about to change (commit_lock held). A change applied here and not yet
 * confirmed by every member was delivered, by virtual synchrony, to every member that moves
 * on with this node: when those are a majority of the cluster's nodes, every part of the
 * cluster that can be quorate later holds it, so it is kept. A node cut off alone, or with
 * a minority, cannot say, and its writers hear that the outcome is not known.
 */
static void moved_on(struct store *st, const uint32_t *members, size_t n)
{
    size_t moved = 0;

    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < st->nacks; j++)
            moved += members[i] == st->acks[j].nodeid;
    if (!st->nodes || moved * 2 <= st->nodes)
        return;
    for (struct waiter *w = st->waiters; w; w = w->next)
        if (w->done && w->gen == st->gen && w->pos)
            w->acked = 1;
}

static void on_confchg(void *arg, const uint32_t *members, size_t n, const uint32_t *left,
                       size_t nleft, const uint32_t *joined, size_t njoined)
{
    struct store *st = arg;

    (void)left;
    (void)joined;
    if (n == 0) {
        /* Cut off: what was queued reaches us again through the next sync. */
        queue_run(st, 0);
        fail_waiters(st, "lost the connection to the cluster; the change may or may not "
                         "have been applied");
    } else {
        /* Members in step stay in step (they all apply the same queue); the rest drop it. */
        queue_run(st, sync_trusted(st->sync));
        clog_append("store", "membership: %zu member(s), %zu left, %zu joined", n, nleft, njoined);
    }
    /* A new configuration: positions count from zero, waiting writers stop waiting. */
    st->pos = 0;
    for (size_t i = 0; i < st->nq; i++)
        st->queue[i].pos = 0;
    pthread_mutex_lock(&st->commit_lock);
    moved_on(st, members, n);
    st->gen++;
    st->nacks =
        n < sizeof(st->acks) / sizeof(st->acks[0]) ? n : sizeof(st->acks) / sizeof(st->acks[0]);
    for (size_t i = 0; i < st->nacks; i++)
        st->acks[i] = (struct ack){.nodeid = members[i]};
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->commit_lock);
    sync_confchg(st->sync, members, n);
}

static void on_ring(void *arg, uint32_t nodeid, uint64_t seq)
{
    struct store *st = arg;

    pthread_mutex_lock(&st->commit_lock);
    st->ring = (struct ring_id){nodeid, seq};
    pthread_mutex_unlock(&st->commit_lock);
}

void store_set_nodes(struct store *st, size_t n)
{
    pthread_mutex_lock(&st->commit_lock);
    st->nodes = n;
    pthread_mutex_unlock(&st->commit_lock);
}

static const struct grp_ops ops = {.deliver = on_deliver, .confchg = on_confchg, .ring = on_ring};

static int env_send(void *arg, const void *msg, size_t len)
{
    return grp_send(((struct store *)arg)->grp, msg, len);
}

static void env_synced(void *arg, int synced, uint64_t epoch)
{
    struct store *st = arg;

    pthread_mutex_lock(&st->commit_lock);
    st->epoch = epoch;
    if (synced)
        st->sync_ring = st->ring; /* see store_ring_quorum */
    pthread_mutex_unlock(&st->commit_lock);
    if (synced)
        queue_run(st, 1);
    pthread_mutex_lock(&st->commit_lock);
    st->synced = synced;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->commit_lock);
}

static void env_rejoin(void *arg)
{
    grp_rejoin(((struct store *)arg)->grp);
}

static void *ticker_main(void *arg)
{
    struct store *st = arg;
    const char *e = getenv("PVEFS_VERIFY_INTERVAL");
    int every = e && atoi(e) > 0 ? atoi(e) : VERIFY_EVERY_S;

    while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE)) {
        sleep(1);
        sync_tick(st->sync, every);
    }
    return NULL;
}

int store_cl_open(struct store *st, int wait_s, char *err, size_t errlen)
{
    struct sync_env env = {
        .mem = st->mem, .arg = st, .send = env_send, .synced = env_synced, .rejoin = env_rejoin};
    int rc;

    if ((rc = grp_open(&st->grp, GROUP, &ops, st, wait_s, err, errlen)))
        return rc;
    if (!(st->sync = sync_new(&env, grp_nodeid(st->grp)))) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
    } else if ((rc = grp_start(st->grp)) ||
               (rc = -pthread_create(&st->ticker, NULL, ticker_main, st))) {
        snprintf(err, errlen, "cannot start the cluster threads");
    }
    if (rc) {
        grp_close(st->grp);
        sync_free(st->sync);
        st->grp = NULL;
        st->sync = NULL;
    }
    return rc;
}

void store_cl_close(struct store *st)
{
    __atomic_store_n(&st->stop, 1, __ATOMIC_RELEASE);
    if (st->sync)
        pthread_join(st->ticker, NULL);
    grp_close(st->grp);
    queue_run(st, 0);
    free(st->queue);
    sync_free(st->sync);
}

/*
 * Waits on st->cond (commit_lock held) for at most a quarter second, so that a
 * stopping daemon is noticed. Returns ETIMEDOUT past until, ESHUTDOWN if the
 * daemon stops, else 0.
 */
static int wait_slice(struct store *st, const struct timespec *until)
{
    struct timespec now, slice;

    if (st->aborted && st->aborted(st->abort_arg))
        return ESHUTDOWN;
    clock_gettime(CLOCK_REALTIME, &now);
    if (now.tv_sec > until->tv_sec ||
        (now.tv_sec == until->tv_sec && now.tv_nsec >= until->tv_nsec))
        return ETIMEDOUT;
    slice = now;
    slice.tv_nsec += 250000000L;
    if (slice.tv_nsec >= 1000000000L) {
        slice.tv_sec++;
        slice.tv_nsec -= 1000000000L;
    }
    if (slice.tv_sec > until->tv_sec ||
        (slice.tv_sec == until->tv_sec && slice.tv_nsec > until->tv_nsec))
        slice = *until;
    pthread_cond_timedwait(&st->cond, &st->commit_lock, &slice);
    return 0;
}

/*
 * 1 once w is durable: every member of the membership it was applied in has applied it
 * too, and the ring it was delivered in was quorate. -1 once that can never be known: the
 * membership changed first, or the ring had no quorum (a node being cut off delivers its
 * last messages to itself alone, and the majority never sees them). 0: not known yet.
 * commit_lock held.
 */
static int durable(struct store *st, struct waiter *w)
{
    if (w->quorate < 0 || !w->pos)
        return -1;
    if (!w->acked) {
        if (st->gen != w->gen)
            return -1;
        for (size_t i = 0; i < st->nacks; i++)
            if (st->acks[i].epoch != w->epoch || st->acks[i].pos < w->pos)
                return 0;
        w->acked = 1; /* the acknowledgements of a membership that ends are reset with it */
    }
    return w->quorate > 0;
}

/*
 * An acknowledgement promises that the change survives: it is applied by every member
 * (so a read on any node right after write(2) sees it) in a quorate ring (so the part of
 * the cluster that goes on has it). 0, or -errno with res->msg saying the outcome is not
 * known. commit_lock held.
 */
static int wait_durable(struct store *st, struct waiter *w, struct memdb_result *res)
{
    struct timespec until;
    int d, rc = 0;

    deadline_in(&until, ACK_WAIT_S);
    while (!(d = durable(st, w)) && !(rc = wait_slice(st, &until)))
        ;
    if (d > 0)
        return 0;
    if (w->quorate < 0)
        snprintf(res->msg, sizeof(res->msg),
                 "this node lost quorum while the change was being sent: it was applied here "
                 "but is kept only if the quorate part of the cluster received it (read it "
                 "back once the cluster is whole)");
    else if (d < 0)
        snprintf(res->msg, sizeof(res->msg),
                 "the cluster membership changed before every member confirmed the change: "
                 "it may or may not have been applied (read it back)");
    else
        snprintf(res->msg, sizeof(res->msg),
                 "the change was applied here but not confirmed by every member in a quorate "
                 "ring within %d s%s: it may or may not be kept (read it back)",
                 ACK_WAIT_S, rc == ESHUTDOWN ? " (pvefsd is stopping)" : "");
    return d < 0 ? -EIO : -ETIMEDOUT;
}

int store_cl_commit(struct store *st, uint8_t *buf, size_t len, uint64_t seq,
                    struct memdb_result *res)
{
    struct waiter w = {.seq = seq}, **pp;
    struct timespec until;
    int rc = 0, unknown = 0;

    pthread_mutex_lock(&st->commit_lock);
    deadline_in(&until, SYNC_WAIT_S);
    while (!st->synced && !rc)
        rc = wait_slice(st, &until);
    if (!st->synced) {
        pthread_mutex_unlock(&st->commit_lock);
        snprintf(res->msg, sizeof(res->msg), "%s",
                 rc == ESHUTDOWN ? "pvefsd is stopping"
                                 : "the cluster is still syncing; try again");
        return res->err = -rc;
    }
    w.next = st->waiters;
    /* w lives on this stack until it is unlinked below, before the return. */
    // cppcheck-suppress autoVariables
    st->waiters = &w;
    pthread_mutex_unlock(&st->commit_lock);

    rc = grp_send(st->grp, buf, len);

    pthread_mutex_lock(&st->commit_lock);
    deadline_in(&until, APPLY_WAIT_S);
    while (!rc && !w.done)
        if (wait_slice(st, &until))
            break;
    /* still linked: the quorum verdict on its ring may come in while it waits */
    if (!rc && w.done && !w.res.err)
        unknown = wait_durable(st, &w, &w.res);
    for (pp = &st->waiters; *pp; pp = &(*pp)->next) {
        if (*pp == &w) {
            *pp = w.next;
            break;
        }
    }
    pthread_mutex_unlock(&st->commit_lock);
    if (rc) {
        snprintf(res->msg, sizeof(res->msg), "cannot send the change to the cluster (%s)",
                 rc == -EAGAIN ? "corosync is congested" : "not connected");
        return res->err = rc == -EAGAIN ? -EAGAIN : -EIO;
    }
    if (!w.done) {
        snprintf(res->msg, sizeof(res->msg), "the change was sent but not seen back within %d s",
                 APPLY_WAIT_S);
        return res->err = -ETIMEDOUT;
    }
    *res = w.res;
    if (unknown)
        res->err = unknown;
    return res->err;
}
