/* store internals shared by store.c (local mode, data dir) and store_cl.c (cluster mode). */
#ifndef PV_STORE_INT_H
#define PV_STORE_INT_H

#include <pthread.h>

#include "group.h"
#include "store.h"
#include "sync.h"

/* A writer waiting for its own message to come back applied. */
struct waiter {
    uint64_t seq;
    int done;
    struct memdb_result res;
    struct waiter *next;
};

/* A change delivered while a sync runs: applied, in order, once it is over. */
struct qmsg {
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
    int stop; /* atomic */
};

int store_cl_open(struct store *st, int wait_s, char *err, size_t errlen);
void store_cl_close(struct store *st);
int store_cl_commit(struct store *st, uint8_t *buf, size_t len, uint64_t seq,
                    struct memdb_result *res);

#endif
