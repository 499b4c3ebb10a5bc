/* group: a corosync CPG group with its own dispatch thread; see group.h. */
#include "group.h"

#include <corosync/cpg.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct grp {
    cpg_handle_t h; /* protected by lock (replaced on reconnect) */
    pthread_mutex_t lock;
    pthread_mutex_t send_lock; /* libqb's IPC client takes one sender at a time */
    struct cpg_name name;
    const struct grp_ops *ops;
    void *arg;
    uint32_t nodeid;
    pthread_t thread;
    int stop;    /* atomic */
    int rejoin;  /* atomic: drop the connection and join afresh */
    int started; /* the dispatch thread runs */
    int wake[2]; /* a pipe that ends the dispatch thread's poll */
};

static void on_deliver(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid, uint32_t pid,
                       void *msg, size_t len)
{
    struct grp *g = NULL;

    (void)group;
    if (cpg_context_get(h, (void **)&g) != CS_OK || !g)
        return;
    g->ops->deliver(g->arg, nodeid, pid, msg, len);
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *group,
                       const struct cpg_address *members, size_t n, const struct cpg_address *left,
                       size_t nleft, const struct cpg_address *joined, size_t njoined)
{
    uint32_t m[CPG_MEMBERS_MAX], l[CPG_MEMBERS_MAX], j[CPG_MEMBERS_MAX];
    struct grp *g = NULL;

    (void)group;
    if (cpg_context_get(h, (void **)&g) != CS_OK || !g)
        return;
    for (size_t i = 0; i < n && i < CPG_MEMBERS_MAX; i++)
        m[i] = members[i].nodeid;
    for (size_t i = 0; i < nleft && i < CPG_MEMBERS_MAX; i++)
        l[i] = left[i].nodeid;
    for (size_t i = 0; i < njoined && i < CPG_MEMBERS_MAX; i++)
        j[i] = joined[i].nodeid;
    g->ops->confchg(g->arg, m, n, l, nleft, j, njoined);
}

static void on_totem(cpg_handle_t h, struct cpg_ring_id ring, uint32_t n, const uint32_t *members)
{
    struct grp *g = NULL;

    (void)n;
    (void)members;
    if (cpg_context_get(h, (void **)&g) == CS_OK && g && g->ops->ring)
        g->ops->ring(g->arg, ring.nodeid, ring.seq);
}

static cpg_model_v1_data_t model = {
    .model = CPG_MODEL_V1,
    .cpg_deliver_fn = on_deliver,
    .cpg_confchg_fn = on_confchg,
    .cpg_totem_confchg_fn = on_totem,
    .flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF,
};

/* Connects and joins; returns 0 or -errno (corosync not up yet: -EAGAIN). */
static int connect_join(struct grp *g, char *err, size_t errlen)
{
    cpg_handle_t h;
    cs_error_t rc;
    unsigned nodeid = 0;

    rc = cpg_model_initialize(&h, CPG_MODEL_V1, (cpg_model_data_t *)&model, g);
    if (rc != CS_OK) {
        snprintf(err, errlen, "cannot connect to corosync (cpg_initialize: error %d)", rc);
        return -EAGAIN;
    }
    for (int i = 0; i < 100; i++) {
        rc = cpg_join(h, &g->name);
        if (rc != CS_ERR_TRY_AGAIN)
            break;
        usleep(100000);
    }
    if (rc != CS_OK || cpg_local_get(h, &nodeid) != CS_OK) {
        snprintf(err, errlen, "cannot join process group %s (error %d)", g->name.value, rc);
        cpg_finalize(h);
        return -EAGAIN;
    }
    pthread_mutex_lock(&g->lock);
    g->h = h;
    g->nodeid = nodeid;
    pthread_mutex_unlock(&g->lock);
    return 0;
}

/* Drops the connection; the owner hears of it as an empty membership. */
static void drop(struct grp *g, cpg_handle_t h)
{
    pthread_mutex_lock(&g->lock);
    g->h = 0;
    pthread_mutex_unlock(&g->lock);
    g->ops->confchg(g->arg, NULL, 0, NULL, 0, NULL, 0);
    cpg_finalize(h);
}

static void *dispatch_main(void *arg)
{
    struct grp *g = arg;
    char err[256], junk[64];

    while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd pf[2] = {{.fd = -1, .events = POLLIN}, {.fd = g->wake[0], .events = POLLIN}};
        cpg_handle_t h;
        int fd = -1;

        pthread_mutex_lock(&g->lock);
        h = g->h;
        pthread_mutex_unlock(&g->lock);
        if (h && __atomic_exchange_n(&g->rejoin, 0, __ATOMIC_ACQ_REL)) {
            drop(g, h);
            continue;
        }
        if (h && cpg_fd_get(h, &fd) == CS_OK)
            pf[0].fd = fd;
        if (pf[0].fd < 0) {
            /* not connected (corosync restarting, or a rejoin): retry every half second */
            if (connect_join(g, err, sizeof(err)))
                poll(&pf[1], 1, 500);
            continue;
        }
        if (poll(pf, 2, 1000) < 0)
            continue;
        if (pf[1].revents && read(g->wake[0], junk, sizeof(junk)) < 0)
            continue;
        if (pf[0].revents && cpg_dispatch(h, CS_DISPATCH_ALL) != CS_OK)
            drop(g, h);
    }
    return NULL;
}

int grp_open(struct grp **out, const char *name, const struct grp_ops *ops, void *arg, int wait_s,
             char *err, size_t errlen)
{
    struct grp *g = calloc(1, sizeof(*g));
    int rc = -EAGAIN;

    if (!g)
        return -ENOMEM;
    pthread_mutex_init(&g->lock, NULL);
    pthread_mutex_init(&g->send_lock, NULL);
    snprintf(g->name.value, sizeof(g->name.value), "%s", name);
    g->name.length = (uint32_t)strlen(g->name.value);
    g->ops = ops;
    g->arg = arg;
    if (pipe(g->wake)) {
        free(g);
        return -errno;
    }
    for (int i = 0; i <= wait_s * 4 && rc; i++) {
        rc = connect_join(g, err, errlen);
        if (rc)
            usleep(250000);
    }
    if (rc) {
        close(g->wake[0]);
        close(g->wake[1]);
        free(g);
        return rc;
    }
    *out = g;
    return 0;
}

int grp_start(struct grp *g)
{
    int rc = pthread_create(&g->thread, NULL, dispatch_main, g);

    if (rc)
        return -rc;
    g->started = 1;
    return 0;
}

void grp_close(struct grp *g)
{
    if (!g)
        return;
    __atomic_store_n(&g->stop, 1, __ATOMIC_RELEASE);
    if (write(g->wake[1], "x", 1) < 0)
        perror("grp_close");
    if (g->started)
        pthread_join(g->thread, NULL);
    if (g->h) {
        cpg_leave(g->h, &g->name);
        cpg_finalize(g->h);
    }
    close(g->wake[0]);
    close(g->wake[1]);
    pthread_mutex_destroy(&g->lock);
    pthread_mutex_destroy(&g->send_lock);
    free(g);
}

int grp_send(struct grp *g, const void *msg, size_t len)
{
    struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
    cs_error_t rc = CS_ERR_TRY_AGAIN;

    /* Flow control answers TRY_AGAIN; back off briefly, for up to about 10 s. */
    for (int i = 0; i < 2000 && rc == CS_ERR_TRY_AGAIN; i++) {
        cpg_handle_t h;
        pthread_mutex_lock(&g->lock);
        h = g->h;
        pthread_mutex_unlock(&g->lock);
        if (!h)
            return -EIO;
        pthread_mutex_lock(&g->send_lock);
        rc = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1);
        pthread_mutex_unlock(&g->send_lock);
        if (rc == CS_ERR_TRY_AGAIN)
            usleep(i < 10 ? 1000 : 5000);
    }
    return rc == CS_OK ? 0 : rc == CS_ERR_TRY_AGAIN ? -EAGAIN : -EIO;
}

uint32_t grp_nodeid(struct grp *g)
{
    uint32_t id;

    pthread_mutex_lock(&g->lock);
    id = g->nodeid;
    pthread_mutex_unlock(&g->lock);
    return id;
}

int grp_rejoin(struct grp *g)
{
    /* Done by the dispatch thread, which may be the caller: a leave needs its dispatching. */
    __atomic_store_n(&g->rejoin, 1, __ATOMIC_RELEASE);
    if (write(g->wake[1], "r", 1) < 0)
        return -errno;
    return 0;
}
