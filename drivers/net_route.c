/*
 * net_route: a route to a network straight out of an interface (scope link, no gateway),
 * as Proxmox routes a single-address SDN subnet on its VNet bridge. Same contract as
 * net_apply.c: the current namespace, *changed set on a change, -errno with a message.
 */
#include <errno.h>
#include <netlink/route/link.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <stdio.h>
#include <string.h>

#include "net.h"

/* 0 done, 1 nothing to do (there already / not there), or -errno with err. */
static int route_op(const char *ifname, const char *cidr, int add, char *err, size_t errlen)
{
    struct nl_sock *sk = NULL;
    struct rtnl_link *rl = NULL;
    struct rtnl_route *r = NULL;
    struct rtnl_nexthop *nh = NULL;
    struct nl_addr *dst = NULL;
    int rc;

    if ((rc = net_nl_open(&sk, err, errlen)))
        return rc;
    if ((rc = net_get_link(sk, ifname, &rl, err, errlen)))
        goto out;
    if (!strchr(cidr, '/') || nl_addr_parse(cidr, AF_UNSPEC, &dst) < 0) {
        rc = net_err(err, errlen, -EINVAL, "'%s' is not a network with a prefix length", cidr);
        goto out;
    }
    if (!(r = rtnl_route_alloc()) || !(nh = rtnl_route_nh_alloc())) {
        rc = net_err(err, errlen, -ENOMEM, "out of memory");
        goto out;
    }
    rtnl_route_set_family(r, (uint8_t)nl_addr_get_family(dst));
    rtnl_route_set_dst(r, dst);
    rtnl_route_set_table(r, RT_TABLE_MAIN);
    rtnl_route_set_scope(r, RT_SCOPE_LINK);
    rtnl_route_set_type(r, RTN_UNICAST);
    if (add)
        rtnl_route_set_protocol(r, RTPROT_STATIC);
    rtnl_route_nh_set_ifindex(nh, rtnl_link_get_ifindex(rl));
    rtnl_route_add_nexthop(r, nh); /* the route owns it now */
    nh = NULL;
    rc = add ? rtnl_route_add(sk, r, NLM_F_EXCL) : rtnl_route_delete(sk, r, 0);
    if (rc == -NLE_EXIST || (!add && rc == -NLE_OBJ_NOTFOUND))
        rc = 1;
    else if (rc < 0)
        rc = net_err(err, errlen, net_nl_errno(rc), "%s route %s %s %s: %s", add ? "add" : "delete",
                     cidr, add ? "to" : "from", ifname, nl_geterror(rc));
out:
    if (nh)
        rtnl_route_nh_free(nh);
    if (r)
        rtnl_route_put(r);
    if (dst)
        nl_addr_put(dst);
    if (rl)
        rtnl_link_put(rl);
    nl_socket_free(sk);
    return rc;
}

int net_route_ensure(const char *ifname, const char *cidr, int *changed, char *err, size_t errlen)
{
    int rc = route_op(ifname, cidr, 1, err, errlen);

    if (changed)
        *changed = rc == 0;
    return rc < 0 ? rc : 0;
}

int net_route_remove(const char *ifname, const char *cidr, int *changed, char *err, size_t errlen)
{
    int rc = route_op(ifname, cidr, 0, err, errlen);

    if (changed)
        *changed = rc == 0;
    return rc == -ENODEV ? 0 : rc < 0 ? rc : 0;
}
