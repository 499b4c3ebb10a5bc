/*
 * quorum: tracks corosync's votequorum (through libquorum) and the configured
 * nodelist (through cmap), on a thread of its own that reconnects whenever
 * corosync restarts.
 *
 * A node is not quorate until corosync says so: a node that just started is
 * read-only until the first notification. Every change is passed on to the store
 * (store_set_quorate) and to the owner's callback. The nodelist comes from cmap
 * (nodelist.node.N.{nodeid,name,ring0_addr}), so nodes that are down are known too.
 */
#ifndef PV_QUORUM_H
#define PV_QUORUM_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct qrm;

#define QRM_MAX_NODES 128

struct qrm_node {
    uint32_t nodeid;
    char name[64];
    char addr[64]; /* ring0_addr as configured */
    int online;    /* in the current quorum membership */
};

/* Called on the tracker's thread after each change of quorum or membership. */
typedef void (*qrm_change_fn)(void *arg, int quorate);

/* Starts tracking; never waits for corosync (the thread retries every half second). */
int qrm_open(struct qrm **out, struct store *st, qrm_change_fn fn, void *arg, char *err,
             size_t errlen);
void qrm_close(struct qrm *q);

/* 0 when corosync's nodelist (nodelist.node.N.name, else ring0_addr) has a node called
 * name; else -ENOENT with "node NAME is not in corosync's nodelist (it has A B C)" in err.
 * Waits up to wait_s seconds for corosync (-ENOTCONN when it never answers). */
int qrm_check_node(const char *name, int wait_s, char *err, size_t errlen);

int qrm_quorate(struct qrm *q);
/* Configured nodes (and any member missing from the config), by nodeid. Returns the count. */
size_t qrm_members(struct qrm *q, struct qrm_node *out, size_t max);
/* Nodes in the current membership. */
size_t qrm_online(struct qrm *q);
/* totem.cluster_name; "" until connected. */
void qrm_cluster_name(struct qrm *q, char *buf, size_t len);
/* This node's id (runtime.votequorum.this_node_id), 0 until connected. */
uint32_t qrm_nodeid(struct qrm *q);

#endif
