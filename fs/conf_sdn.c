/*
 * conf_sdn: key tables of sdn/zones/<zone>/config, sdn/vnets/<vnet>/config and
 * sdn/vnets/<vnet>/subnets/<subnet>/config, after Proxmox's sdn/zones.cfg,
 * vnets.cfg and subnets.cfg. What depends on other entries (a vnet's zone exists,
 * VNIs do not overlap) is checked in fs/files_sdn.c, which sees the tree.
 */
#include "conf_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* 1 if the n bytes of v (not NUL-terminated: values are slices of the document) are all in set. */
static int all_in(const char *v, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!v[i] || !strchr(set, v[i]))
            return 0;
    return 1;
}

static int pat_name(const char *v, size_t n)
{
    return n > 0 && n <= 64 &&
           all_in(v, n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");
}

static int pat_nodes(const char *v, size_t n)
{
    return conf_list_ok(v, n, ',', pat_name);
}

/* An IPv4 or IPv6 address (Proxmox's ip-list takes both). */
static int pat_addr(const char *v, size_t n)
{
    unsigned char bin[16];
    char a[64];

    if (n == 0 || n >= sizeof(a) || !all_in(v, n, "0123456789abcdefABCDEF.:"))
        return 0;
    memcpy(a, v, n);
    a[n] = 0;
    return inet_pton(memchr(v, ':', n) ? AF_INET6 : AF_INET, a, bin) == 1;
}

/* Proxmox writes peers comma separated; spaces and semicolons are accepted too. */
static int pat_peers(const char *v, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t l = 0;
        /* v is not NUL-terminated: the value ends at n */
        while (i + l < n && v[i + l] != ',' && v[i + l] != ' ' && v[i + l] != ';')
            l++;
        if (l && !pat_addr(v + i, l))
            return 0;
        i += l + 1;
    }
    return n > 0;
}

static const char *const zone_types[] = {"simple", "vlan", "qinq", "vxlan", "evpn", NULL};
static const char *const vlan_protocols[] = {"802.1q", "802.1ad", NULL};

static const struct conf_type t_ztype = CONF_ENUM(zone_types);
static const struct conf_type t_vproto = CONF_ENUM(vlan_protocols);
static const struct conf_type t_name = CONF_PAT(pat_name, "a name");
static const struct conf_type t_nodes = CONF_PAT(pat_nodes, "a list of node names");
static const struct conf_type t_peers = CONF_PAT(pat_peers, "a list of IP addresses");
static const struct conf_type t_mtu = CONF_INT(576, 65535);
static const struct conf_type t_tag = CONF_INT(1, 16777215);
static const struct conf_type t_qtag = CONF_INT(1, 4094);
static const struct conf_type t_port = CONF_INT(1, 65535);
static const struct conf_type t_vnitag = CONF_INT(1, 16777215);

static const struct conf_key zone_keys[] = {
    {"advertise-subnets", -1, &conf_t_bool, 0},
    {"bridge", -1, &conf_t_ifname, 0},
    {"bridge-disable-mac-learning", -1, &conf_t_bool, 0},
    {"controller", -1, &t_name, 0},
    {"dhcp", -1, &t_name, 0},
    {"digest", -1, &conf_t_str, 0},
    {"disable-arp-nd-suppression", -1, &conf_t_bool, 0},
    {"dns", -1, &t_name, 0},
    {"dnszone", -1, &conf_t_str, 0},
    {"exitnodes", -1, &t_nodes, 0},
    {"exitnodes-local-routing", -1, &conf_t_bool, 0},
    {"exitnodes-primary", -1, &t_name, 0},
    {"ipam", -1, &t_name, 0},
    {"mac", -1, &conf_t_mac, 0},
    {"mtu", -1, &t_mtu, 0},
    {"nodes", -1, &t_nodes, 0},
    {"peers", -1, &t_peers, 0},
    {"reversedns", -1, &t_name, 0},
    {"rt-import", -1, &conf_t_str, 0},
    {"tag", -1, &t_qtag, 0},
    {"type", -1, &t_ztype, 0},
    {"vlan-protocol", -1, &t_vproto, 0},
    {"vrf-vxlan", -1, &t_vnitag, 0},
    {"vxlan-port", -1, &t_port, 0},
};

/* Options that only some zone types take, and what a type requires. */
static const struct {
    const char *key;
    const char *types; /* space separated */
} zone_only[] = {
    {"bridge", "vlan qinq"}, {"peers", "vxlan"},        {"vxlan-port", "vxlan"},
    {"tag", "qinq"},         {"vlan-protocol", "qinq"}, {"controller", "evpn"},
    {"vrf-vxlan", "evpn"},   {"exitnodes", "evpn"},     {"advertise-subnets", "evpn"},
    {"rt-import", "evpn"},   {"mac", "evpn"},           {"exitnodes-primary", "evpn"},
};

static int word_in(const char *w, const char *list)
{
    size_t n = strlen(w);

    for (const char *p = list; (p = strstr(p, w)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
            return 1;
    return 0;
}

static int zone_check(const char *doc, size_t len, int partial, char *err, size_t errlen)
{
    char type[16] = "", v[64];

    if (conf_get(doc, len, "type", type, sizeof(type)) < 0)
        return partial
                   ? 0
                   : (snprintf(err, errlen, "a zone needs type: simple, vlan, qinq, vxlan or evpn"),
                      -EINVAL);
    for (size_t i = 0; i < N(zone_only); i++)
        if (conf_get(doc, len, zone_only[i].key, v, sizeof(v)) >= 0 &&
            !word_in(type, zone_only[i].types))
            return snprintf(err, errlen, "%s is an option of %s zones, not of %s zones",
                            zone_only[i].key, zone_only[i].types, type),
                   -EINVAL;
    if (partial)
        return 0;
    if ((!strcmp(type, "vlan") || !strcmp(type, "qinq")) &&
        conf_get(doc, len, "bridge", v, sizeof(v)) < 0)
        return snprintf(err, errlen, "a %s zone needs bridge: <the bridge its VNets ride on>",
                        type),
               -EINVAL;
    if (!strcmp(type, "evpn") && conf_get(doc, len, "controller", v, sizeof(v)) < 0)
        return snprintf(err, errlen, "an evpn zone needs controller: <evpn controller>"), -EINVAL;
    return 0;
}

const struct conf_schema conf_zone_schema = {
    .keys = zone_keys,
    .nkeys = N(zone_keys),
    .key_dash = 1,
    .flat = "an SDN config",
    .doc_check = zone_check,
};

static const struct conf_key vnet_keys[] = {
    {"alias", -1, &conf_t_str, 0}, {"isolate-ports", -1, &conf_t_bool, 0}, {"tag", -1, &t_tag, 0},
    {"type", -1, &t_name, 0},      {"vlanaware", -1, &conf_t_bool, 0},     {"zone", -1, &t_name, 0},
};

static int vnet_check(const char *doc, size_t len, int partial, char *err, size_t errlen)
{
    char v[64];

    if (conf_get(doc, len, "type", v, sizeof(v)) >= 0 && strcmp(v, "vnet") != 0)
        return snprintf(err, errlen, "type of a VNet is 'vnet', not '%s'", v), -EINVAL;
    if (!partial && conf_get(doc, len, "zone", v, sizeof(v)) < 0)
        return snprintf(err, errlen, "a VNet needs zone: <zone>"), -EINVAL;
    return 0;
}

const struct conf_schema conf_vnet_schema = {
    .keys = vnet_keys,
    .nkeys = N(vnet_keys),
    .key_dash = 1,
    .flat = "an SDN config",
    .doc_check = vnet_check,
};

static const struct conf_key subnet_keys[] = {
    {"dhcp-dns-server", -1, &conf_t_str, 0},
    {"dhcp-range", -1, &conf_t_str, 0},
    {"dnszoneprefix", -1, &conf_t_str, 0},
    {"gateway", -1, &conf_t_str, 0},
    {"snat", -1, &conf_t_bool, 0},
    {"type", -1, &t_name, 0},
    {"vnet", -1, &t_name, 0},
};

const struct conf_schema conf_subnet_schema = {
    .keys = subnet_keys,
    .nkeys = N(subnet_keys),
    .key_dash = 1,
    .flat = "an SDN config",
};
