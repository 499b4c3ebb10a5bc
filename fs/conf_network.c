/*
 * conf_network: key table of nodes/<node>/network/<iface>/config, the bridge a
 * node makes for pvefs (after Proxmox's /etc/network/interfaces stanzas):
 *
 *   type: bridge | ovs-bridge    required (checked at commit, so an interface pvefs
 *                                did not make answers EPERM rather than "no type")
 *   cidr: 10.10.10.1/24          the host's IPv4 address on it (Proxmox's API name)
 *   cidr6: fd00::1/64            the host's IPv6 address on it
 *   mtu: 1280..65520             Proxmox's range; absent: the kernel's choice
 *   ports: eth1 veth3            space-separated ports (bridge_ports / ovs_ports)
 *   snat: 0 | 1                  pvefs's own: masquerade the cidr/cidr6 networks out of
 *                                every other interface (what Proxmox users write as
 *                                post-up iptables MASQUERADE lines)
 *   comments: ...                free text
 *
 * Proxmox's "gateway" (a default route through the bridge) is not taken: a key that is
 * accepted would have to be applied, and pvefs does not manage routes.
 *
 * Whether the ports exist is the owner node's to check (files_network.c).
 */
#include "conf_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* An interface name the kernel takes (IFNAMSIZ - 1), in the characters ifupdown uses. */
static int pat_port(const char *v, size_t n)
{
    return n > 0 && n < 16 && conf_in_set(v, n, "-_.") && !(n <= 2 && v[0] == '.');
}

static int pat_ports(const char *v, size_t n)
{
    return conf_list_ok(v, n, ' ', pat_port);
}

static const char *const iface_types[] = {"bridge", "ovs-bridge", NULL};

static const struct conf_type t_type = CONF_ENUM(iface_types);
static const struct conf_type t_mtu = CONF_INT(1280, 65520);
static const struct conf_type t_ports =
    CONF_PAT(pat_ports, "a space-separated list of interface names (at most 15 characters)");

/* Keys sorted bytewise, as canonical documents are. */
static const struct conf_key iface_keys[] = {
    {"cidr", -1, &conf_t_ip4net, 0},  {"cidr6", -1, &conf_t_ip6net, 0},
    {"comments", -1, &conf_t_str, 0}, {"mtu", -1, &t_mtu, 0},
    {"ports", -1, &t_ports, 0},       {"snat", -1, &conf_t_bool, 0},
    {"type", -1, &t_type, 0},
};

static int iface_check(const char *doc, size_t len, int partial, char *err, size_t errlen)
{
    char v[64];

    /* SNAT rewrites the bridge's own network: without an address there is none (yet) */
    if (!partial && conf_get(doc, len, "snat", v, sizeof(v)) > 0 && conf_bool_true(v) &&
        conf_get(doc, len, "cidr", v, sizeof(v)) <= 0 &&
        conf_get(doc, len, "cidr6", v, sizeof(v)) <= 0)
        return snprintf(err, errlen, "snat: 1 needs cidr or cidr6 (the network to masquerade)"),
               -EINVAL;
    return 0;
}

const struct conf_schema conf_network_schema = {
    .keys = iface_keys,
    .nkeys = N(iface_keys),
    .flat = "an interface config",
    .doc_check = iface_check,
};
