/* quorum: votequorum and nodelist tracking; see quorum.h. */
#include "quorum.h"

#include <corosync/cmap.h>
#include <corosync/quorum.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define NODELIST_REREAD_NS (10 * 1000000000LL) /* config reloads change no membership */

struct qrm {
    struct store *st;
    qrm_change_fn fn;
    void *arg;
    pthread_t thread;
    int stop;          /* atomic */
    int wake[2];       /* ends the thread's poll */
    quorum_handle_t h; /* only the thread touches it */
    int64_t read_at;   /* CLOCK_MONOTONIC of the last nodelist read */

    pthread_mutex_t lock; /* guards what follows */
    int quorate;
    uint32_t self;
    char cluster[128];
    struct qrm_node nodes[QRM_MAX_NODES]; /* configured, online flags from the membership */
    size_t nnodes;
    uint32_t members[QRM_MAX_NODES];
    size_t nmembers;
};

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A nodeid may be stored as a number or (from some tools) as a string. */
static int get_u32(cmap_handle_t c, const char *key, uint32_t *v)
{
    char *s = NULL, *end;
    unsigned long n;

    if (cmap_get_uint32(c, key, v) == CS_OK)
        return 0;
    if (cmap_get_string(c, key, &s) != CS_OK)
        return -1;
    n = strtoul(s, &end, 10);
    free(s);
    if (*end || n == 0 || n > UINT32_MAX)
        return -1;
    *v = (uint32_t)n;
    return 0;
}

static void get_str(cmap_handle_t c, const char *key, char *buf, size_t len)
{
    char *s = NULL;

    if (cmap_get_string(c, key, &s) == CS_OK && s)
        snprintf(buf, len, "%s", s);
    free(s);
}

/* Collects the nodelist indices N present as nodelist.node.N.* keys (they need not be dense). */
static size_t node_indices(cmap_handle_t c, unsigned *idx, size_t max)
{
    char key[CMAP_KEYNAME_MAXLEN + 1];
    cmap_iter_handle_t it;
    cmap_value_types_t type;
    size_t n = 0, vlen;

    if (cmap_iter_init(c, "nodelist.node.", &it) != CS_OK)
        return 0;
    while (n < max && cmap_iter_next(c, it, key, &vlen, &type) == CS_OK) {
        unsigned i;
        size_t j;
        if (sscanf(key, "nodelist.node.%u.", &i) != 1)
            continue;
        for (j = 0; j < n && idx[j] != i; j++)
            ;
        if (j == n)
            idx[n++] = i;
    }
    cmap_iter_finalize(c, it);
    return n;
}

/* Reads the nodelist, cluster name and our nodeid from cmap. */
static void read_cmap(struct qrm *q)
{
    struct qrm_node nodes[QRM_MAX_NODES];
    unsigned idx[QRM_MAX_NODES];
    char cluster[128] = "", key[CMAP_KEYNAME_MAXLEN + 1];
    uint32_t self = 0;
    cmap_handle_t c;
    size_t n = 0, ni;

    if (cmap_initialize(&c) != CS_OK)
        return;
    get_str(c, "totem.cluster_name", cluster, sizeof(cluster));
    if (cmap_get_uint32(c, "runtime.votequorum.this_node_id", &self) != CS_OK)
        self = 0;
    ni = node_indices(c, idx, QRM_MAX_NODES);
    for (size_t i = 0; i < ni; i++) {
        struct qrm_node *nd = &nodes[n];
        memset(nd, 0, sizeof(*nd));
        snprintf(key, sizeof(key), "nodelist.node.%u.nodeid", idx[i]);
        if (get_u32(c, key, &nd->nodeid))
            continue; /* corosync itself refuses such a config; skip what it would */
        snprintf(key, sizeof(key), "nodelist.node.%u.ring0_addr", idx[i]);
        get_str(c, key, nd->addr, sizeof(nd->addr));
        snprintf(key, sizeof(key), "nodelist.node.%u.name", idx[i]);
        get_str(c, key, nd->name, sizeof(nd->name));
        if (!nd->name[0]) /* corosync falls back to the address as the name too */
            memcpy(nd->name, nd->addr, sizeof(nd->name));
        n++;
    }
    cmap_finalize(c);

    pthread_mutex_lock(&q->lock);
    snprintf(q->cluster, sizeof(q->cluster), "%s", cluster);
    if (self)
        q->self = self;
    memcpy(q->nodes, nodes, n * sizeof(nodes[0]));
    q->nnodes = n;
    pthread_mutex_unlock(&q->lock);
    q->read_at = mono_ns();
    if (q->st && n)
        store_set_nodes(q->st, n);
}

/* A node whose name corosync does not know would still join the store's group and be
 * counted as a member nobody configured; the HA manager then marks it for fencing. So
 * the daemon asks before it opens anything. */
int qrm_check_node(const char *name, int wait_s, char *err, size_t errlen)
{
    unsigned idx[QRM_MAX_NODES];
    char key[CMAP_KEYNAME_MAXLEN + 1], have[1024] = "";
    size_t ni, used = 0;
    cmap_handle_t c;
    cs_error_t e = CS_ERR_LIBRARY;
    int found = 0;

    for (int i = 0; i <= wait_s * 4; i++) {
        if ((e = cmap_initialize(&c)) == CS_OK)
            break;
        usleep(250000);
    }
    if (e != CS_OK) {
        snprintf(err, errlen, "cannot reach corosync's cmap (error %d): is corosync running?",
                 (int)e);
        return -ENOTCONN;
    }
    ni = node_indices(c, idx, QRM_MAX_NODES);
    for (size_t i = 0; i < ni && !found; i++) {
        char nm[64] = "";
        snprintf(key, sizeof(key), "nodelist.node.%u.name", idx[i]);
        get_str(c, key, nm, sizeof(nm));
        if (!nm[0]) { /* corosync falls back to the address as the name */
            snprintf(key, sizeof(key), "nodelist.node.%u.ring0_addr", idx[i]);
            get_str(c, key, nm, sizeof(nm));
        }
        if (!nm[0])
            continue;
        found = strcmp(nm, name) == 0;
        if (used < sizeof(have))
            used += (size_t)snprintf(have + used, sizeof(have) - used, "%s%s", used ? " " : "", nm);
    }
    cmap_finalize(c);
    if (found)
        return 0;
    snprintf(err, errlen, "node %s is not in corosync's nodelist (it has %s)", name,
             have[0] ? have : "no nodes");
    return -ENOENT;
}

/* Applies a quorum state and membership, and tells the store and the owner. */
static void update(struct qrm *q, int quorate, const uint32_t *members, size_t n)
{
    if (n > QRM_MAX_NODES)
        n = QRM_MAX_NODES;
    pthread_mutex_lock(&q->lock);
    if (quorate >= 0)
        q->quorate = quorate;
    if (members) {
        memcpy(q->members, members, n * sizeof(members[0]));
        q->nmembers = n;
    }
    quorate = q->quorate;
    pthread_mutex_unlock(&q->lock);
    if (q->st)
        store_set_quorate(q->st, quorate);
    if (q->fn)
        q->fn(q->arg, quorate);
}

static struct qrm *qrm_of(quorum_handle_t h)
{
    void *ctx = NULL;

    return quorum_context_get(h, (const void **)&ctx) == CS_OK ? ctx : NULL;
}

static void on_quorum(quorum_handle_t h, uint32_t quorate, struct quorum_ring_id ring, uint32_t n,
                      const uint32_t *members)
{
    struct qrm *q = qrm_of(h);

    if (!q)
        return;
    update(q, quorate != 0, members, n);
    if (q->st)
        store_ring_quorum(q->st, ring.nodeid, ring.seq, quorate != 0);
}

static void on_nodelist(quorum_handle_t h, struct quorum_ring_id ring, uint32_t n,
                        const uint32_t *members, uint32_t njoined, const uint32_t *joined,
                        uint32_t nleft, const uint32_t *left)
{
    struct qrm *q = qrm_of(h);

    (void)ring;
    (void)njoined;
    (void)joined;
    (void)nleft;
    (void)left;
    if (!q)
        return;
    read_cmap(q); /* a newcomer may come with a config reload */
    update(q, -1, members, n);
}

static quorum_model_v1_data_t model = {
    .model = QUORUM_MODEL_V1,
    .quorum_notify_fn = on_quorum,
    .nodelist_notify_fn = on_nodelist,
};

static int connect_quorum(struct qrm *q)
{
    quorum_handle_t h;
    uint32_t type = 0;

    if (quorum_model_initialize(&h, QUORUM_MODEL_V1, (quorum_model_data_t *)&model, &type, q) !=
        CS_OK)
        return -1;
    if (quorum_trackstart(h, CS_TRACK_CURRENT | CS_TRACK_CHANGES) != CS_OK) {
        quorum_finalize(h);
        return -1;
    }
    q->h = h;
    read_cmap(q);
    return 0;
}

/* Lost corosync: nothing is known until it is back, so the node is read-only. */
static void disconnect(struct qrm *q)
{
    quorum_finalize(q->h);
    static const uint32_t none[1];

    q->h = 0;
    update(q, 0, none, 0);
}

static void *qrm_main(void *arg)
{
    struct qrm *q = arg;
    char junk[64];

    while (!__atomic_load_n(&q->stop, __ATOMIC_ACQUIRE)) {
        struct pollfd pf[2] = {{.fd = -1, .events = POLLIN}, {.fd = q->wake[0], .events = POLLIN}};
        int fd = -1;

        if (!q->h && connect_quorum(q)) {
            poll(&pf[1], 1, 500); /* corosync not up (yet): retry */
            continue;
        }
        if (quorum_fd_get(q->h, &fd) != CS_OK) {
            disconnect(q);
            continue;
        }
        pf[0].fd = fd;
        if (poll(pf, 2, 1000) < 0)
            continue;
        if (pf[1].revents && read(q->wake[0], junk, sizeof(junk)) < 0)
            continue;
        if (pf[0].revents && quorum_dispatch(q->h, CS_DISPATCH_ALL) != CS_OK) {
            disconnect(q);
            continue;
        }
        if (mono_ns() - q->read_at > NODELIST_REREAD_NS)
            read_cmap(q);
    }
    if (q->h)
        quorum_finalize(q->h);
    return NULL;
}

int qrm_open(struct qrm **out, struct store *st, qrm_change_fn fn, void *arg, char *err,
             size_t errlen)
{
    struct qrm *q = calloc(1, sizeof(*q));
    int rc;

    if (!q)
        return -ENOMEM;
    q->st = st;
    q->fn = fn;
    q->arg = arg;
    pthread_mutex_init(&q->lock, NULL);
    if (st)
        store_set_quorate(st, 0); /* until corosync says otherwise */
    if (pipe(q->wake)) {
        rc = -errno;
        snprintf(err, errlen, "quorum tracker: pipe: %s", strerror(-rc));
        pthread_mutex_destroy(&q->lock);
        free(q);
        return rc;
    }
    if ((rc = pthread_create(&q->thread, NULL, qrm_main, q))) {
        snprintf(err, errlen, "quorum tracker: cannot start its thread: %s", strerror(rc));
        close(q->wake[0]);
        close(q->wake[1]);
        pthread_mutex_destroy(&q->lock);
        free(q);
        return -rc;
    }
    *out = q;
    return 0;
}

void qrm_close(struct qrm *q)
{
    if (!q)
        return;
    __atomic_store_n(&q->stop, 1, __ATOMIC_RELEASE);
    if (write(q->wake[1], "x", 1) < 0)
        perror("qrm_close");
    pthread_join(q->thread, NULL);
    close(q->wake[0]);
    close(q->wake[1]);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

int qrm_quorate(struct qrm *q)
{
    int v;

    pthread_mutex_lock(&q->lock);
    v = q->quorate;
    pthread_mutex_unlock(&q->lock);
    return v;
}

static int is_member(const struct qrm *q, uint32_t id)
{
    for (size_t i = 0; i < q->nmembers; i++)
        if (q->members[i] == id)
            return 1;
    return 0;
}

static int by_nodeid(const void *a, const void *b)
{
    uint32_t x = ((const struct qrm_node *)a)->nodeid, y = ((const struct qrm_node *)b)->nodeid;

    return x < y ? -1 : x > y;
}

size_t qrm_members(struct qrm *q, struct qrm_node *out, size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&q->lock);
    for (size_t i = 0; i < q->nnodes && n < max; i++) {
        out[n] = q->nodes[i];
        out[n].online = is_member(q, q->nodes[i].nodeid);
        n++;
    }
    /* A member the config does not list (a reload pending) still shows, by id. */
    for (size_t i = 0; i < q->nmembers && n < max; i++) {
        size_t j;
        for (j = 0; j < q->nnodes && q->nodes[j].nodeid != q->members[i]; j++)
            ;
        if (j < q->nnodes)
            continue;
        memset(&out[n], 0, sizeof(out[n]));
        out[n].nodeid = q->members[i];
        snprintf(out[n].name, sizeof(out[n].name), "node%u", q->members[i]);
        snprintf(out[n].addr, sizeof(out[n].addr), "-");
        out[n].online = 1;
        n++;
    }
    pthread_mutex_unlock(&q->lock);
    qsort(out, n, sizeof(out[0]), by_nodeid);
    return n;
}

size_t qrm_online(struct qrm *q)
{
    size_t n;

    pthread_mutex_lock(&q->lock);
    n = q->nmembers;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void qrm_cluster_name(struct qrm *q, char *buf, size_t len)
{
    pthread_mutex_lock(&q->lock);
    snprintf(buf, len, "%s", q->cluster);
    pthread_mutex_unlock(&q->lock);
}

uint32_t qrm_nodeid(struct qrm *q)
{
    uint32_t id;

    pthread_mutex_lock(&q->lock);
    id = q->self;
    pthread_mutex_unlock(&q->lock);
    return id;
}
