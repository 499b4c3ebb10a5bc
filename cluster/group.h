/*
 * group: one corosync CPG process group. Joins the group, runs a dispatch
 * thread that delivers messages (in agreed order) and membership changes to the
 * owner's callbacks, and reconnects when corosync restarts.
 *
 * Callbacks run on the group's dispatch thread, one at a time, in the order
 * corosync delivers them. They must not call grp_close.
 */
#ifndef PV_GROUP_H
#define PV_GROUP_H

#include <stddef.h>
#include <stdint.h>

struct grp;

struct grp_ops {
    /* A message from nodeid (the sender's pid tells apart restarts of its daemon). */
    void (*deliver)(void *arg, uint32_t nodeid, uint32_t pid, const void *msg, size_t len);
    /* The group's members now; who left and joined. Also called with n == 0 on disconnect. */
    void (*confchg)(void *arg, const uint32_t *members, size_t n, const uint32_t *left,
                    size_t nleft, const uint32_t *joined, size_t njoined);
    /* corosync formed a new ring (totem configuration): its id, the representative's node
     * id and a sequence number. Told in order with the deliveries, so every message arrives
     * after the ring it was delivered in. */
    void (*ring)(void *arg, uint32_t nodeid, uint64_t seq);
};

/*
 * Connects to corosync (retrying for up to wait_s seconds) and joins name. No
 * callback runs before grp_start, so the owner can finish setting up first.
 */
int grp_open(struct grp **out, const char *name, const struct grp_ops *ops, void *arg, int wait_s,
             char *err, size_t errlen);
int grp_start(struct grp *g);
void grp_close(struct grp *g);

/* Multicasts len bytes in agreed order. Returns 0, -EAGAIN after retrying, or -EIO. */
int grp_send(struct grp *g, const void *msg, size_t len);

/* This node's corosync node id (0 until connected). */
uint32_t grp_nodeid(struct grp *g);

/* Leaves and joins again: a node whose state disagrees goes through a fresh sync. */
int grp_rejoin(struct grp *g);

#endif
