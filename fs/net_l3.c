/*
 * net_l3: the layer-3 side of a managed bridge (cidr, cidr6, snat), applied by the node
 * that owns it after the device itself is in place (files_network.c).
 *
 * SNAT is one nftables table per bridge, inet pvefs_br_<bridge> (net_nat.c, the same
 * mechanism as the SDN's pvefs_sdn), so a bridge's rules come and go with it and never
 * touch another's. Masquerading is useless without forwarding, so snat also turns on the
 * namespace's forwarding for the families it masquerades, as Proxmox's documented
 * "post-up echo 1 > /proc/sys/net/ipv4/ip_forward" does; it is left on at rmdir, since
 * other bridges or SDN zones may rely on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "network.h"

void iface_snat_table(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "pvefs_br_%s", name);
}

int iface_snat_active(const char *name)
{
    char t[64];

    iface_snat_table(name, t, sizeof(t));
    return net_nft_table_exists(t) > 0;
}

static int set_forwarding(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CLOEXEC), rc = 0;
    char v = 0;

    if (fd < 0)
        return net_err(err, errlen, -errno, "cannot open %s to turn on forwarding: %m", path);
    if (pread(fd, &v, 1, 0) != 1 || v != '1')
        if (pwrite(fd, "1\n", 2, 0) != 2)
            rc = net_err(err, errlen, -errno, "cannot turn on forwarding (%s): %m", path);
    close(fd);
    return rc;
}

/* Makes one address of the bridge old's -> now's ("" = none). */
static int one_addr(const char *name, const char *old, const char *now, char *err, size_t errlen)
{
    int rc;

    if (old[0] && strcmp(old, now) != 0 && (rc = net_addr_remove(name, old, NULL, err, errlen)))
        return rc;
    return now[0] ? net_addr_ensure(name, now, NULL, err, errlen) : 0;
}

int iface_l3_check(const struct iface_l3 *l, char *err, size_t errlen)
{
    char net[NET_ADDR_STRLEN];

    if (l->cidr[0] && (strchr(l->cidr, ':') || net_masq_network(l->cidr, net, sizeof(net))))
        return net_err(err, errlen, -EINVAL, "cidr '%s' is not an IPv4 address with a prefix",
                       l->cidr);
    if (l->cidr6[0] && (!strchr(l->cidr6, ':') || net_masq_network(l->cidr6, net, sizeof(net))))
        return net_err(err, errlen, -EINVAL, "cidr6 '%s' is not an IPv6 address with a prefix",
                       l->cidr6);
    if (l->snat && !l->cidr[0] && !l->cidr6[0])
        return net_err(err, errlen, -EINVAL,
                       "snat: 1 needs cidr or cidr6 (the network to masquerade)");
    return 0;
}

int iface_l3_apply(const char *name, const struct iface_l3 *old, const struct iface_l3 *now,
                   char *err, size_t errlen)
{
    struct net_masq r[2];
    char table[64];
    int n = 0, rc;

    if ((rc = one_addr(name, old->cidr, now->cidr, err, errlen)) ||
        (rc = one_addr(name, old->cidr6, now->cidr6, err, errlen)))
        return rc;
    for (int i = 0; i < 2 && now->snat; i++) {
        const char *a = i ? now->cidr6 : now->cidr;
        if (!a[0])
            continue;
        net_masq_network(a, r[n].src, sizeof(r[n].src));
        snprintf(r[n].via, sizeof(r[n].via), "%s", name);
        n++;
        rc = set_forwarding(i ? "/proc/sys/net/ipv6/conf/all/forwarding"
                              : "/proc/sys/net/ipv4/ip_forward",
                            err, errlen);
        if (rc)
            return rc;
    }
    iface_snat_table(name, table, sizeof(table));
    /* no state file: the table is checked and reloaded whole, a bridge has one or two rules */
    return net_masq_set(table, r, n, NULL, NULL, err, errlen);
}

int iface_l3_remove(const char *name, char *err, size_t errlen)
{
    char table[64];

    iface_snat_table(name, table, sizeof(table));
    return net_masq_set(table, NULL, 0, NULL, NULL, err, errlen);
}
