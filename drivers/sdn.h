/*
 * sdn: zones, VNets and subnets as each node applies them.
 *
 * The fs layer serializes the applied ("running") configuration as flat text
 * (sdn_cfg.c parses and validates it; pure). sdn_apply.c reconciles this node's
 * Linux state with it over netlink: it creates what is missing, changes what
 * differs and removes what it made before that is no longer declared; applying
 * twice changes nothing.
 *
 * Running text, one "key: value" per line, keys ordered:
 *   generation: 7
 *   zone.<zone>.<option>: <value>        (type, bridge, peers, mtu, nodes, ...)
 *   vnet.<vnet>.<option>: <value>        (zone, tag, alias, vlanaware)
 *   subnet.<vnet>.<subnet>.<option>: <v> (gateway, snat); <subnet> is "10.0.0.0-24" or
 *                                        "fd00::-64": an IPv6 id holds colons, so a key ends
 *                                        at the first ": " (or a ':' ending the line)
 */
#ifndef PV_SDN_H
#define PV_SDN_H

#include <stddef.h>
#include <stdint.h>

#define SDN_ERRLEN    512
#define SDN_MAX_ZONES 64
#define SDN_MAX_VNETS 1024
#define SDN_MAX_SUBS  1024

struct sdn_zone {
    char name[16];
    char type[8]; /* simple, vlan, qinq, vxlan, evpn */
    char bridge[16];
    char peers[512];
    char nodes[512]; /* "" = every node */
    char controller[64];
    char vlan_protocol[16];
    unsigned mtu, vxlan_port, tag;
};

struct sdn_vnet {
    char name[16];
    char zone[16];
    char alias[128];
    unsigned tag; /* VLAN id or VNI; 0 = none */
    int vlanaware;
};

struct sdn_subnet {
    char vnet[16];
    char id[64];   /* "10.0.0.0-24" */
    char cidr[64]; /* "10.0.0.0/24" */
    char gateway[64];
    int snat;
};

struct sdn_cfg {
    uint64_t generation;
    struct sdn_zone zones[SDN_MAX_ZONES];
    struct sdn_vnet vnets[SDN_MAX_VNETS];
    struct sdn_subnet subs[SDN_MAX_SUBS];
    int nzones, nvnets, nsubs;
};

/* Parses running text into c (zeroed first). 0, or -EINVAL with err: only for what leaves
 * no entry to speak of (more entries than fit). A subnet whose id is no network keeps an
 * empty cidr and is one of sdn_problems's problems, so one bad entry never hides the rest. */
int sdn_parse(const char *text, size_t len, struct sdn_cfg *c, char *err, size_t errlen);
/* One broken rule: vnet is the VNet it keeps from applying (NULL when it is none: a subnet
 * of a VNet that does not exist), why says which entry breaks which rule. missing: the rule
 * is broken only because a value was not given yet (a VNet's zone or tag), which a config
 * still being written may supply; 0 for a contradiction. */
typedef void (*sdn_problem_fn)(void *ctx, const char *vnet, int missing, const char *why);
/* Rules across entries: every VNet's zone exists; tags fit the zone type; no two VNets of
 * one zone share a tag; no two VNets of VXLAN/EVPN zones share a VNI; VNet and device
 * names fit Linux; a subnet is a network and its gateway lies inside it. Every broken rule
 * goes to fn (may be NULL), in the order of the entries; the count is returned. A rule
 * broken by two VNets (a shared tag) is charged to the later one, so the first still applies. */
int sdn_problems(const struct sdn_cfg *c, sdn_problem_fn fn, void *ctx);
/* The same rules, for "is the whole set fine": 0, or -EINVAL with the first problem in err. */
int sdn_validate(const struct sdn_cfg *c, char *err, size_t errlen);
/* Subnet id "10.0.0.0-24" / "fd00::-64" to "10.0.0.0/24": 0, or -EINVAL if it is no CIDR. */
int sdn_subnet_cidr(const char *id, char *cidr, size_t len);
/* 1 if address a ("10.0.0.1", "fd00::1") lies in cidr ("10.0.0.0/24"), of the same family. */
int sdn_addr_in(const char *a, const char *cidr);
/* 1 if cidr is a single address (/32, /128). */
int sdn_host_subnet(const char *cidr);
const struct sdn_zone *sdn_zone_of(const struct sdn_cfg *c, const char *name);
/* 1 if node takes part in zone z (its nodes list is empty or names it). */
int sdn_zone_has_node(const struct sdn_zone *z, const char *node);

/* ---- this node (sdn_apply.c) ---- */

struct sdn_member {
    char name[64];
    char addr[64];
    int online;
};

struct sdn_node {
    const char *name;                 /* this node */
    const char *addr;                 /* its cluster address, "" if none (standalone) */
    const struct sdn_member *members; /* the cluster's nodes, this one included */
    int nmembers;
    const char *state_path; /* where the devices this node made are remembered */
    const char *frr_path;   /* where the generated FRR config of EVPN zones goes */
};

/*
 * The VXLAN peers of zone z from node n (head-end replication targets) and the local
 * (source) address of its VXLAN devices. own: the addresses on n's interfaces. A listed
 * peer that is one of own is n itself: it is no peer, and the first such is local (as
 * Proxmox, where every node has the same list of all nodes); else local is n->addr ("" when
 * n has none). A listed peer that is a cluster node follows its membership; without a list
 * the peers are the zone's other online members. Returns the number of peers (<= max).
 */
int sdn_vxlan_peers(const struct sdn_zone *z, const struct sdn_node *n, const char *const *own,
                    int nown, char peers[][64], int max, char *local, size_t llen);

enum sdn_vstate { SDN_APPLIED, SDN_ERROR, SDN_SKIPPED };

struct sdn_vresult {
    char vnet[16];
    enum sdn_vstate state;
    char msg[256];
};

/* Reconciles this node with c. results gets one entry per VNet (*nres); *changes counts
 * the kernel changes made. Returns 0 when every VNet applied or was skipped. */
int sdn_apply(const struct sdn_cfg *c, const struct sdn_node *n, struct sdn_vresult *results,
              int *nres, int *changes);

#endif
