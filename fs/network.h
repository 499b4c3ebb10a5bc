/*
 * network: what the node network files (files_network.c) and the network monitor
 * (net_mon.c) share.
 *
 * Each node mirrors its own interfaces into nodes/<self>/network/<iface>/: the
 * slow-changing facts into the iface's status record (written only when they
 * change: the store is replicated), the counters onto the status channel as
 * "net.<iface>: rx_bytes tx_bytes rx_packets tx_packets rx_errors tx_errors
 * rx_dropped tx_dropped". An interface made by mkdir carries "managed: 1" in its
 * record: only those take a config and may be removed.
 */
#ifndef PV_NETWORK_H
#define PV_NETWORK_H

#include "../drivers/net.h"
#include "fs.h"

/* Starts/stops the monitor thread (every 2 s: read the links, mirror them, sample counters);
 * start runs the first pass itself. */
int net_mon_start(struct fs *fs);
void net_mon_stop(struct fs *fs);

/* Held around one mirror pass, and by the owner around a change to a device and its entry,
 * so the monitor never mirrors a half-made change. */
void net_mon_lock(void);
void net_mon_unlock(void);
/* One mirror pass now (lock held): a change shows in status before its write returns. */
void net_mon_sync_locked(struct fs *fs);

/* Appends the "net.<iface>: ..." counter lines for the status channel. */
void net_mon_publish_lines(struct pv_buf *out);
/* The counters of iface on node (this node: netlink now; others: the status channel).
 * -ENOENT when unknown. */
int net_counters_of(struct fs *fs, const char *node, const char *iface, struct net_link_stats *s);

/* The record of a managed interface whose device does not exist (yet). */
int net_absent_record(const char *name, struct pv_buf *out);
/* 1 if the record of interface directory dir says "managed: 1" (lock held by caller). */
int net_managed_locked(struct fs *fs, uint64_t dir);

/* Applies the stored config of managed interface dir on this node (start-up re-apply).
 * Lock held. */
int net_iface_reapply_locked(struct fs *fs, uint64_t dir, struct pv_err *e);

/* ---- layer 3 of a managed bridge (net_l3.c) ---- */

/* What a config asks of the bridge's addresses ("" = none) and source NAT. */
struct iface_l3 {
    char cidr[NET_ADDR_STRLEN];  /* 10.10.10.1/24 */
    char cidr6[NET_ADDR_STRLEN]; /* fd00::1/64 */
    int snat;                    /* masquerade those networks out of every other interface */
};

/* -EINVAL with err unless l is consistent (families right, snat has an address). */
int iface_l3_check(const struct iface_l3 *l, char *err, size_t errlen);
/* Makes the bridge's addresses and SNAT go from old to now (this namespace). */
int iface_l3_apply(const char *name, const struct iface_l3 *old, const struct iface_l3 *now,
                   char *err, size_t errlen);
/* Drops the bridge's SNAT table (its addresses go with the device). */
int iface_l3_remove(const char *name, char *err, size_t errlen);
/* The nftables table (family inet) that holds the bridge's SNAT rules. */
void iface_snat_table(const char *name, char *buf, size_t len);
/* 1 when that table exists. */
int iface_snat_active(const char *name);

#endif
