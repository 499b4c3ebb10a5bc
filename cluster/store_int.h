/* store internals shared by store.c (local mode, data dir) and store_cl.c (cluster mode). */
#ifndef PV_STORE_INT_H
#define PV_STORE_INT_H

#include <pthread.h>

#include "group.h"
#include "store.h"
#include "sync.h"

/* A corosync ring: its representative and sequence number. */
struct ring_id {
    uint32_t nodeid;
    uint64_t seq;
};

/* A writer waiting for its own message to come back applied. */
struct waiter {
    uint64_t seq;
    int done;
    struct memdb_result res;
    uint64_t pos, epoch, gen; /* where it was applied: for the acknowledgements */
    struct ring_id ring;      /* the totem ring it was delivered in */
    int quorate;              /* that ring's verdict: 1 quorate, -1 not, 0 not known yet */
    int acked;                /* every member of its membership has applied it */
    struct waiter *next;
};

/* votequorum's verdict on one ring. */
struct verdict {
    struct ring_id ring;
    int quorate;
};

/* How far a member has applied the current configuration's changes. */
struct ack {
    uint32_t nodeid;
    uint64_t epoch, pos;
};

/* A change delivered while a sync runs: applied, in order, once it is over. */
struct qmsg {
    uint64_t pos; /* its place in this configuration's stream; 0: an older one's */
    uint32_t nodeid, pid;
    size_t len;
    uint8_t *buf;
};

struct store {
    char *node;
    uint32_t nodeid;
    int lockfd;
    struct db *db;
    struct memdb *mem;
    pthread_mutex_t commit_lock; /* local: orders commits; cluster: guards the fields below */
    pthread_cond_t cond;         /* waiters and sync state changes */
    uint64_t seq;
    int quorate;
    /* cluster mode */
    int cluster;
    struct grp *grp;
    struct sync *sync;
    struct waiter *waiters; /* commit_lock */
    int synced;             /* commit_lock */
    struct qmsg *queue;     /* dispatch thread only */
    size_t nq, capq;
    pthread_t ticker;
    int stop;                  /* atomic */
    int (*aborted)(void *arg); /* the daemon is stopping: waiting writers give up */
    void *abort_arg;
    /* read-after-write: every member acknowledges how far it has applied */
    uint64_t pos;        /* dispatch thread: changes delivered in this configuration */
    uint64_t gen;        /* commit_lock: bumped at every membership change */
    uint64_t epoch;      /* commit_lock: the sync epoch this node last reached */
    struct ack acks[64]; /* commit_lock: one per member */
    size_t nacks;
    /* durability: a change counts only once the ring it was delivered in is known quorate */
    struct ring_id ring;        /* commit_lock: the totem ring deliveries now come in */
    struct verdict verdicts[8]; /* commit_lock: the latest rings' verdicts, a ring buffer */
    size_t nverdicts;           /* commit_lock: how many were ever recorded */
    size_t nodes;               /* commit_lock: nodes in corosync's nodelist, 0 unknown */
    struct ring_id sync_ring;   /* commit_lock: the ring the last sync ended in */
};

int store_cl_open(struct store *st, int wait_s, char *err, size_t errlen);
void store_cl_close(struct store *st);
int store_cl_commit(struct store *st, uint8_t *buf, size_t len, uint64_t seq,
                    struct memdb_result *res);

#endif
