/* net: the Linux networking driver under the SDN layer (bridges, VXLAN, veth, OVS).
 *
 * Every call acts on the network namespace of the calling thread and opens its own
 * netlink socket (nothing is cached between calls), so threads may call in parallel,
 * each after its own setns(), without sharing state.
 *
 * Errors: a negative errno, plus a message in err (may be NULL) that names the object,
 * the operation and the reason, e.g. "vxlan vx100: master bridge vnet100 does not exist".
 *
 * The *_ensure and set_* calls are reconcilers: they make the system match the request and
 * are no-ops when it already does. *changed (may be NULL) is set to 0 on entry and to 1 when
 * something was modified, so "applying twice changes nothing" can be checked.
 */
#ifndef PV_NET_H
#define PV_NET_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

struct pv_buf;

/* An address with its prefix ("10.0.0.1/24", "fe80::1/64"). */
#define NET_ADDR_STRLEN 52

/* The default VXLAN UDP port (IANA), used when dstport is 0: the kernel's own default is
 * the pre-IANA 8472, which Proxmox nodes do not listen on. */
#define NET_VXLAN_PORT 4789

struct net_link_stats {
    uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
    uint64_t rx_errors, tx_errors, rx_dropped, tx_dropped;
};

/* One link as read from the kernel. Strings are "" when the link has no such property. */
struct net_link {
    char name[IFNAMSIZ];
    int ifindex;
    char type[24];  /* bridge, vxlan, veth, ovs, tun, loopback, ether, ... */
    int admin_up;   /* IFF_UP: what was asked */
    char oper[16];  /* RFC 2863 state: up, down, lower-down, unknown, dormant, ... */
    char state[12]; /* summary: down (admin), up, lower-down (up but no carrier) */
    unsigned mtu;
    char mac[18];
    char master[IFNAMSIZ];
    char (*addrs)[NET_ADDR_STRLEN]; /* IPv4 then IPv6, kernel order within a family */
    int naddrs;
    struct net_link_stats stats;
    /* vxlan only */
    uint32_t vni;
    char vx_local[NET_ADDR_STRLEN];
    unsigned dstport;
    int learning;
    char (*peers)[NET_ADDR_STRLEN]; /* head-end replication targets (all-zero FDB dst) */
    int npeers;
    /* bridge only */
    char (*ports)[IFNAMSIZ];
    int nports;
    int vlan_filtering; /* 0, 1, or -1 when the kernel does not report it (kernel 6.18 reports 0
                         * even without VLAN-aware bridges; setting 1 then fails) */
    /* veth only: the peer's name if it is in this namespace, "" if it was moved away */
    char peer[IFNAMSIZ];
};

/* All links of the namespace, ordered by ifindex. Free with net_link_list_free. */
int net_link_list(struct net_link **links, int *n, char *err, size_t errlen);
void net_link_list_free(struct net_link *links, int n);
/* One link by name; -ENODEV if there is none. Free with net_link_free. */
int net_link_get(const char *name, struct net_link *link, char *err, size_t errlen);
void net_link_free(struct net_link *link);

/* Render a link as "key: value\n" lines (name, ifindex, type, state, admin, oper, mtu, mac,
 * master, addresses, then vni/local/dstport/learning/peers for a vxlan, ports/vlan_filtering
 * for a bridge, peer for a veth, then the counters). Lists (addresses, peers, ports) are one
 * line of space-separated items; an absent value or empty list is "-", so every key of a type
 * is always present and a reader never has to guess. Returns 0 or -ENOMEM. */
int net_link_render(const struct net_link *link, struct pv_buf *b);

/* The head-end replication peers of a vxlan (dst of its 00:00:00:00:00:00 FDB entries), as
 * canonical address strings. Free *peers with free(). */
int net_vxlan_peers(const char *name, char (**peers)[NET_ADDR_STRLEN], int *npeers, char *err,
                    size_t errlen);

/* Linux bridge: create if missing, set mtu (0 = leave), set up. -EEXIST if name is another
 * kind of link. */
int net_bridge_ensure(const char *name, unsigned mtu, int *changed, char *err, size_t errlen);

/* VXLAN port of a bridge, learning off (peers come from net_vxlan_set_peers). local_ip may be
 * NULL (no fixed source), dstport 0 means NET_VXLAN_PORT, mtu 0 leaves it, master_bridge NULL
 * leaves the master alone. VNI, local, dstport and learning cannot be changed in place, so a
 * mismatch deletes and recreates the device: that drops its FDB, so after *changed the caller
 * must apply the peers again. */
int net_vxlan_ensure(const char *name, uint32_t vni, const char *local_ip, unsigned dstport,
                     unsigned mtu, const char *master_bridge, int *changed, char *err,
                     size_t errlen);

/* Make the vxlan's all-zero-MAC FDB entries (one per remote VTEP, NTF_SELF, appended) exactly
 * the given set of IPv4/IPv6 addresses: the missing are added, the extra deleted. */
int net_vxlan_set_peers(const char *name, const char *const *peers, int npeers, int *changed,
                        char *err, size_t errlen);

/* veth pair, both ends here. An existing veth whose peer was moved to another namespace (as
 * a guest NIC is) counts as present. -EEXIST if either name is taken otherwise. The ends
 * are left down: the caller decides where they go first. */
int net_veth_ensure(const char *name, const char *peer, int *changed, char *err, size_t errlen);

/* Delete a link; absent is not an error (*changed = 0). */
int net_link_delete(const char *name, int *changed, char *err, size_t errlen);
/* Enslave to a bridge, or release when bridge is NULL or "". */
int net_link_set_master(const char *name, const char *bridge, int *changed, char *err,
                        size_t errlen);
int net_link_set_up(const char *name, int up, int *changed, char *err, size_t errlen);
int net_link_set_mtu(const char *name, unsigned mtu, int *changed, char *err, size_t errlen);

/* IFLA_BR_VLAN_FILTERING through raw netlink (libnl 3.7 has no setter). -EOPNOTSUPP when the
 * kernel has no VLAN-aware bridges (CONFIG_BRIDGE_VLAN_FILTERING unset); turning it off there
 * succeeds unchanged, since it is off. */
int net_bridge_vlan_filtering(const char *name, int on, int *changed, char *err, size_t errlen);

/* VLANs from..to (1..4094) on a bridge port, tagged (as bridge-vids 2-4094 in Proxmox's
 * interfaces). The bridge must be VLAN-aware; a port that has them already is unchanged. */
int net_bridge_port_vids(const char *port, unsigned from, unsigned to, int *changed, char *err,
                         size_t errlen);

/* Open vSwitch, through ovs-vsctl (the OVSDB protocol is not worth reimplementing). It talks
 * to unix:$OVS_RUNDIR/db.sock when OVS_RUNDIR is set, else to the default database.
 * -ENOENT when ovs-vsctl is not installed or the database cannot be reached, -ETIMEDOUT when
 * ovs-vswitchd does not apply a change within 5 s.
 * datapath_type: NULL leaves it, "netdev" is the userspace datapath (no kernel module). */
int net_ovs_bridge_ensure(const char *name, const char *datapath_type, int *changed, char *err,
                          size_t errlen);
/* Port on an OVS bridge (moved there if it is on another one); tag 1..4094 makes it an
 * access port of that VLAN, 0 untagged (trunk). */
int net_ovs_port_ensure(const char *bridge, const char *port, int tag, int *changed, char *err,
                        size_t errlen);
int net_ovs_port_delete(const char *port, int *changed, char *err, size_t errlen);

/* Source NAT (net_nat.c), in nftables tables of pvefs's own. */
struct net_masq {
    char src[NET_ADDR_STRLEN]; /* the network masqueraded: "10.10.10.0/24", "fd00::/64" */
    char via[IFNAMSIZ];        /* its own bridge: what leaves through it is not rewritten */
};
/* Makes table "inet <table>" masquerade exactly rules r[0..n) (a postrouting nat chain),
 * replaced whole in one nft transaction; n == 0 deletes the table. state (may be NULL)
 * remembers the script last loaded, so an unchanged set is not loaded again while the
 * table exists. -errno with err when nft fails. */
int net_masq_set(const char *table, const struct net_masq *r, int n, const char *state,
                 int *changed, char *err, size_t errlen);
/* 1 if nftables table "inet <table>" exists, 0 if not, -errno when it cannot be asked. */
int net_nft_table_exists(const char *table);
/* The network of an address with its prefix: "10.10.10.1/24" -> "10.10.10.0/24". */
int net_masq_network(const char *addr, char *net, size_t len);

/* Whether a guest NIC's bridge exists on this node (this network namespace): 0, or -ENOENT
 * with "bridge <bridge> does not exist on node <node>" in err. arg is the node's name. */
int net_guest_bridge(void *node, const char *bridge, char *err, size_t errlen);

/* Shared by net_link.c and net_apply.c; not for callers. */
/* Addresses (net_addr.c): cidr is "10.0.0.1/24" or "fd00::1/64". */
int net_addr_ensure(const char *ifname, const char *cidr, int *changed, char *err, size_t errlen);
int net_addr_remove(const char *ifname, const char *cidr, int *changed, char *err, size_t errlen);
/* Routes (net_route.c): cidr ("10.0.0.5/32") straight out of ifname, no gateway. An existing
 * route is unchanged; removing one that is not there (or whose link is gone) is no error. */
int net_route_ensure(const char *ifname, const char *cidr, int *changed, char *err, size_t errlen);
int net_route_remove(const char *ifname, const char *cidr, int *changed, char *err, size_t errlen);

struct nl_sock;
struct nlmsghdr;
struct rtnl_link;
typedef int (*net_mnl_cb)(const struct nlmsghdr *nlh, void *data);
/* Format err and return rc. */
int net_err(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* libnl's NLE_* code (negative) as a negative errno. */
int net_nl_errno(int nle);
int net_nl_open(struct nl_sock **sk, char *err, size_t errlen);
/* -EINVAL unless name fits an interface name (what: "bridge", "vxlan", ... for the message). */
int net_name_check(const char *what, const char *name, char *err, size_t errlen);
/* The link called name (put it with rtnl_link_put), or -ENODEV. */
int net_get_link(struct nl_sock *sk, const char *name, struct rtnl_link **rl, char *err,
                 size_t errlen);
/* The link's kind for messages ("bridge", "veth", ...). */
const char *net_kind(struct rtnl_link *rl);
/* One libmnl request on a fresh NETLINK_ROUTE socket: the replies go to cb (may be NULL),
 * the result is 0 or the kernel's -errno, with its extended-ack text (if any) in why. */
int net_mnl_talk(struct nlmsghdr *req, net_mnl_cb cb, void *data, char *why, size_t whylen);

#endif
