/*
 * sync: bringing the members of the config group to one state after every
 * membership change, and checking periodically that they stay there.
 *
 * Protocol (all messages in agreed order on the config group):
 *   1. On a membership change every member freezes: normal changes delivered
 *      from now on are queued by the store, not applied.
 *   2. The lowest node id sends START with the member list and a new epoch.
 *   3. Every member answers STATE (version, digest), computed at START.
 *   4. The leader is the member with the highest version; a tie goes to the
 *      lowest node id. Members whose digest equals the leader's are done.
 *   5. Every other member sends INDEX: (inode, entry hash) of all its entries.
 *   6. The leader sends DATA (the rows that differ for any of them) and END
 *      (its version, digest and the inodes they must drop).
 *   7. A follower installs them, commits only if its digest then equals the
 *      leader's, and otherwise leaves the group and joins again (a fresh sync).
 * VERIFY_REQ/VERIFY compare digests at one point of the message stream; a
 * member that disagrees with the most common digest resyncs the same way.
 *
 * Wire: big-endian; a 16-byte header (magic "PVSN", format version, type, epoch)
 * then the body; every field is bounds-checked and a bad message is dropped.
 */
#ifndef PV_SYNC_H
#define PV_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "memdb.h"

#define SYNC_MAGIC 0x5056534eu /* "PVSN" */

struct sync;

struct sync_env {
    struct memdb *mem;
    void *arg;
    int (*send)(void *arg, const void *msg, size_t len);
    /*
     * The node has reached the agreed state of sync epoch (replay the queue) or left
     * it. Called with the sync's lock held: it must not call back into sync.
     */
    void (*synced)(void *arg, int synced, uint64_t epoch);
    /* This node's state disagrees: leave the group and join again. */
    void (*rejoin)(void *arg);
};

struct sync *sync_new(const struct sync_env *env, uint32_t self);
void sync_free(struct sync *s);

/* Called on the dispatch thread, in delivery order. */
void sync_confchg(struct sync *s, const uint32_t *members, size_t n);
void sync_deliver(struct sync *s, uint32_t nodeid, const void *msg, size_t len);

/* Called about once a second from another thread: starts a verification round. */
void sync_tick(struct sync *s, int interval_s);

/* 1 while this node holds the agreed state. */
int sync_is_synced(struct sync *s);
/*
 * 1 if this node held the agreed state at the last membership change (or since):
 * only then may it apply the changes queued meanwhile, and only such a node may
 * lead a sync (all may at a cold start).
 */
int sync_trusted(struct sync *s);
/* Quorum, as votequorum tells it. A node without quorum holds no agreed state: it may have
 * applied its last changes alone (delivered to it in the old ring as it was cut off), so
 * its version proves nothing when it meets the others again. */
void sync_set_quorate(struct sync *s, int quorate);
/* The state this node agreed on in its last sync was agreed in a quorate ring: it is
 * trusted again if it still holds it and is quorate (votequorum's word may come after the
 * sync ended). */
void sync_trust(struct sync *s);

#endif
