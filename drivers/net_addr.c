/*
 * net_addr: an interface's addresses (an SDN subnet's gateway on its VNet bridge).
 * Same contract as net_apply.c: the current namespace, *changed set on a change,
 * -errno with a message.
 */
#include <errno.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <stdio.h>
#include <string.h>

#include "net.h"

static int has_addr(const char *ifname, const char *cidr, char *err, size_t errlen)
{
    struct net_link l;
    int rc, found = 0;

    if ((rc = net_link_get(ifname, &l, err, errlen)))
        return rc;
    for (int i = 0; i < l.naddrs && !found; i++)
        found = strcmp(l.addrs[i], cidr) == 0;
    net_link_free(&l);
    return found;
}

static int addr_op(const char *ifname, const char *cidr, int add, char *err, size_t errlen)
{
    struct nl_sock *sk = NULL;
    struct rtnl_link *rl = NULL;
    struct rtnl_addr *a = NULL;
    struct nl_addr *local = NULL;
    int rc;

    if ((rc = net_nl_open(&sk, err, errlen)))
        return rc;
    if ((rc = net_get_link(sk, ifname, &rl, err, errlen)))
        goto out;
    if (nl_addr_parse(cidr, AF_UNSPEC, &local) < 0 || !strchr(cidr, '/')) {
        rc = net_err(err, errlen, -EINVAL, "'%s' is not an address with a prefix length", cidr);
        goto out;
    }
    if (!(a = rtnl_addr_alloc())) {
        rc = net_err(err, errlen, -ENOMEM, "out of memory");
        goto out;
    }
    rtnl_addr_set_ifindex(a, rtnl_link_get_ifindex(rl));
    rtnl_addr_set_local(a, local);
    rc = add ? rtnl_addr_add(sk, a, 0) : rtnl_addr_delete(sk, a, 0);
    if (rc < 0)
        rc = net_err(err, errlen, net_nl_errno(rc), "%s address %s %s %s: %s",
                     add ? "add" : "delete", cidr, add ? "to" : "from", ifname, nl_geterror(rc));
out:
    if (local)
        nl_addr_put(local);
    if (a)
        rtnl_addr_put(a);
    if (rl)
        rtnl_link_put(rl);
    nl_socket_free(sk);
    return rc < 0 ? rc : 0;
}

int net_addr_ensure(const char *ifname, const char *cidr, int *changed, char *err, size_t errlen)
{
    int rc = has_addr(ifname, cidr, err, errlen);

    if (changed)
        *changed = 0;
    if (rc)
        return rc < 0 ? rc : 0;
    if ((rc = addr_op(ifname, cidr, 1, err, errlen)))
        return rc;
    if (changed)
        *changed = 1;
    return 0;
}

int net_addr_remove(const char *ifname, const char *cidr, int *changed, char *err, size_t errlen)
{
    int rc = has_addr(ifname, cidr, err, errlen);

    if (changed)
        *changed = 0;
    if (rc <= 0)
        return rc == -ENODEV ? 0 : rc;
    if ((rc = addr_op(ifname, cidr, 0, err, errlen)))
        return rc;
    if (changed)
        *changed = 1;
    return 0;
}
