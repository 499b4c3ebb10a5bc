/*
 * store: the replicated config store as the fs layer sees it.
 *
 * A change is a msg_batch. store_commit stamps it (writer, sequence, time),
 * encodes it, hands it to the transport and returns the result of applying it
 * locally, in agreed order with every other change. With --local the transport
 * is a loopback: the same encoded bytes are decoded and applied at once. The
 * cluster transport (CPG) slots in behind the same call.
 *
 * The store also owns the data directory: its lock file keeps a second daemon out.
 */
#ifndef PV_STORE_H
#define PV_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "memdb.h"

struct store;

struct store_cfg {
    const char *datadir;
    const char *node;   /* this node's name */
    uint32_t nodeid;    /* --local only; in cluster mode corosync's */
    memdb_uniq_fn uniq; /* uniqueness classes of object types */
    int cluster;        /* replicate over corosync (group "pvefs") */
    int wait_s;         /* how long to wait for corosync at start */
};

int store_open(struct store **out, const struct store_cfg *cfg, char *err, size_t errlen);
void store_close(struct store *st);

struct memdb *store_memdb(struct store *st);
const char *store_node(struct store *st);
uint32_t store_nodeid(struct store *st);
int store_quorate(struct store *st);
/* Set by the quorum tracker (cluster mode). */
void store_set_quorate(struct store *st, int quorate);
/* How many nodes corosync's nodelist has (cluster mode): a change whose membership ends
 * before every member confirmed it still holds if a majority of them moved on together. */
void store_set_nodes(struct store *st, size_t n);
/* votequorum's verdict on the ring (nodeid, seq) (cluster mode): a write is acknowledged
 * only if the ring it was delivered in was quorate. */
void store_ring_quorum(struct store *st, uint32_t nodeid, uint64_t seq, int quorate);

/* Stamps, replicates and applies b. Returns 0 or a negative errno (-EROFS without quorum). */
int store_commit(struct store *st, struct msg_batch *b, struct memdb_result *res);

void store_on_change(struct store *st, memdb_change_fn fn, void *arg);

/* Lets waiting writers notice that the daemon is stopping (cluster mode). */
void store_set_abort(struct store *st, int (*aborted)(void *arg), void *arg);

/* Rewrites the pid in the lock file (after daemonizing). */
void store_note_pid(struct store *st);

#endif
