/* net_apply: idempotent reconcile primitives for Linux bridges, VXLAN and veth.
 *
 * Each call reads the current state first and sends only the difference, so applying the
 * same configuration twice sends nothing the second time and reports *changed = 0. Links go
 * through libnl-route-3; FDB entries and IFLA_BR_VLAN_FILTERING through raw libmnl (libnl
 * 3.7 cannot set the latter, and raw requests keep the kernel's exact errno). OVS is in
 * net_ovs.c. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>

static void set_changed(int *changed)
{
    if (changed)
        *changed = 1;
}

/* What to converge an existing link to; -1 / 0 leave a field alone. */
struct want {
    unsigned mtu;
    int master; /* -1 leave, 0 no master, else ifindex */
    int up;     /* -1 leave, 0 down, 1 up */
};

/* One RTM_NEWLINK carrying only the fields that differ (arg: struct want). */
static int reconcile(struct nl_sock *sk, struct rtnl_link *cur, const void *arg, int *changed,
                     char *err, size_t errlen)
{
    const struct want *w = arg;
    const char *name = rtnl_link_get_name(cur);
    struct rtnl_link *chg = rtnl_link_alloc();
    int up = !!(rtnl_link_get_flags(cur) & IFF_UP), rc = 0;
    char what[64] = "";

    if (!chg)
        return net_err(err, errlen, -ENOMEM, "%s: out of memory", name);
    if (w->mtu && w->mtu != rtnl_link_get_mtu(cur)) {
        rtnl_link_set_mtu(chg, w->mtu);
        snprintf(what, sizeof what, " mtu %u", w->mtu);
    }
    if (w->master >= 0 && w->master != rtnl_link_get_master(cur)) {
        rtnl_link_set_master(chg, w->master);
        snprintf(what + strlen(what), sizeof what - strlen(what), " master #%d", w->master);
    }
    if (w->up >= 0 && w->up != up) {
        if (w->up)
            rtnl_link_set_flags(chg, IFF_UP);
        else
            rtnl_link_unset_flags(chg, IFF_UP);
        snprintf(what + strlen(what), sizeof what - strlen(what), " %s", w->up ? "up" : "down");
    }
    if (what[0] && (rc = rtnl_link_change(sk, cur, chg, 0)) >= 0)
        set_changed(changed);
    rtnl_link_put(chg);
    if (rc < 0)
        return net_err(err, errlen, net_nl_errno(rc), "%s: cannot set%s: %s", name, what,
                       nl_geterror(rc));
    return 0;
}

/* The ifindex of a bridge that must exist. */
static int bridge_index(struct nl_sock *sk, const char *who, const char *bridge, char *err,
                        size_t errlen)
{
    struct rtnl_link *rl;
    int rc = net_get_link(sk, bridge, &rl, err, errlen);

    if (rc == -ENODEV)
        return net_err(err, errlen, rc, "%s: master bridge %s does not exist", who, bridge);
    if (rc < 0)
        return rc;
    if (!rtnl_link_is_bridge(rl) && strcmp(net_kind(rl), "openvswitch") != 0)
        rc = net_err(err, errlen, -EINVAL, "%s: master %s is a %s, not a bridge", who, bridge,
                     net_kind(rl));
    else
        rc = rtnl_link_get_ifindex(rl);
    rtnl_link_put(rl);
    return rc;
}

/* Create a link described by new; a concurrent creator winning the race is not an error,
 * the caller then re-reads and reconciles (*raced = 1). */
static int create(struct nl_sock *sk, struct rtnl_link *new, const char *what, int *raced,
                  char *err, size_t errlen)
{
    int rc = rtnl_link_add(sk, new, NLM_F_CREATE | NLM_F_EXCL);

    *raced = rc == -NLE_EXIST;
    if (rc < 0 && !*raced)
        return net_err(err, errlen, net_nl_errno(rc), "%s %s: cannot create it: %s", what,
                       rtnl_link_get_name(new), nl_geterror(rc));
    return 0;
}

int net_bridge_ensure(const char *name, unsigned mtu, int *changed, char *err, size_t errlen)
{
    struct want w = {mtu, -1, 1};
    struct nl_sock *sk;
    struct rtnl_link *cur = NULL, *b;
    int rc, raced = 0;

    if (changed)
        *changed = 0;
    if ((rc = net_name_check("bridge", name, err, errlen)) || (rc = net_nl_open(&sk, err, errlen)))
        return rc;
    rc = net_get_link(sk, name, &cur, err, errlen);
    if (rc == -ENODEV) {
        if (!(b = rtnl_link_bridge_alloc())) {
            rc = net_err(err, errlen, -ENOMEM, "bridge %s: out of memory", name);
            goto out;
        }
        rtnl_link_set_name(b, name);
        if (mtu)
            rtnl_link_set_mtu(b, mtu);
        rtnl_link_set_flags(b, IFF_UP);
        rc = create(sk, b, "bridge", &raced, err, errlen);
        rtnl_link_put(b);
        if (rc < 0 || !raced) {
            if (!rc)
                set_changed(changed);
            goto out;
        }
        rc = net_get_link(sk, name, &cur, err, errlen);
    }
    if (rc < 0)
        goto out;
    if (!rtnl_link_is_bridge(cur))
        rc = net_err(err, errlen, -EEXIST, "bridge %s: the name is taken by a %s", name,
                     net_kind(cur));
    else
        rc = reconcile(sk, cur, &w, changed, err, errlen);
out:
    if (cur)
        rtnl_link_put(cur);
    nl_socket_free(sk);
    return rc;
}

/* ---- VXLAN ---- */

static int same_addr(struct nl_addr *a, struct nl_addr *b)
{
    if (!a || !b)
        return !a && !b;
    return nl_addr_get_family(a) == nl_addr_get_family(b) &&
           nl_addr_get_len(a) == nl_addr_get_len(b) &&
           !memcmp(nl_addr_get_binary_addr(a), nl_addr_get_binary_addr(b), nl_addr_get_len(a));
}

/* 1 when the fields that can only be set at creation differ from the wanted ones. */
static int vxlan_differs(struct rtnl_link *cur, uint32_t vni, struct nl_addr *local, unsigned port)
{
    struct nl_addr *have = NULL;
    uint32_t id = 0, p = 0;
    int same;

    rtnl_link_vxlan_get_id(cur, &id);
    rtnl_link_vxlan_get_port(cur, &p);
    if (rtnl_link_vxlan_get_local(cur, &have) < 0)
        have = NULL;
    same = same_addr(have, local);
    if (have)
        nl_addr_put(have);
    return !same || id != vni || p != port || rtnl_link_vxlan_get_learning(cur) > 0;
}

static struct rtnl_link *vxlan_new(const char *name, uint32_t vni, struct nl_addr *local,
                                   unsigned port, unsigned mtu, int master)
{
    struct rtnl_link *x = rtnl_link_vxlan_alloc();

    if (!x)
        return NULL;
    rtnl_link_set_name(x, name);
    rtnl_link_vxlan_set_id(x, vni);
    if (local)
        rtnl_link_vxlan_set_local(x, local);
    rtnl_link_vxlan_set_port(x, port);
    /* Peers are static (head-end replication); learning would let any sender claim MACs. */
    rtnl_link_vxlan_set_learning(x, 0);
    if (mtu)
        rtnl_link_set_mtu(x, mtu);
    if (master > 0)
        rtnl_link_set_master(x, master);
    rtnl_link_set_flags(x, IFF_UP);
    return x;
}

int net_vxlan_ensure(const char *name, uint32_t vni, const char *local_ip, unsigned dstport,
                     unsigned mtu, const char *master_bridge, int *changed, char *err,
                     size_t errlen)
{
    struct nl_addr *local = NULL;
    struct nl_sock *sk;
    struct rtnl_link *cur = NULL, *x;
    int rc, master = -1, raced = 0;

    if (changed)
        *changed = 0;
    if ((rc = net_name_check("vxlan", name, err, errlen)))
        return rc;
    if (vni < 1 || vni > 0xffffff)
        return net_err(err, errlen, -EINVAL, "vxlan %s: VNI %u is out of range 1..16777215", name,
                       vni);
    if (dstport > 65535)
        return net_err(err, errlen, -EINVAL, "vxlan %s: UDP port %u is out of range", name,
                       dstport);
    if (!dstport)
        dstport = NET_VXLAN_PORT;
    if (local_ip && local_ip[0] &&
        (nl_addr_parse(local_ip, AF_UNSPEC, &local) < 0 ||
         (nl_addr_get_family(local) != AF_INET && nl_addr_get_family(local) != AF_INET6) ||
         nl_addr_get_prefixlen(local) != nl_addr_get_len(local) * 8)) {
        if (local)
            nl_addr_put(local);
        return net_err(err, errlen, -EINVAL,
                       "vxlan %s: local address \"%s\" is not an IPv4 or IPv6 host address", name,
                       local_ip);
    }
    if ((rc = net_nl_open(&sk, err, errlen)) < 0)
        goto out_addr;
    if (master_bridge && (rc = master = bridge_index(sk, name, master_bridge, err, errlen)) < 0)
        goto out;
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = net_get_link(sk, name, &cur, err, errlen);
        if (rc < 0 && rc != -ENODEV)
            goto out;
        if (!rc && !rtnl_link_is_vxlan(cur)) {
            rc = net_err(err, errlen, -EEXIST, "vxlan %s: the name is taken by a %s", name,
                         net_kind(cur));
            goto out;
        }
        if (!rc && !vxlan_differs(cur, vni, local, dstport)) {
            struct want w = {mtu, master, 1};
            rc = reconcile(sk, cur, &w, changed, err, errlen);
            goto out;
        }
        if (!rc) {
            /* VNI, local, port and learning are fixed at creation: replace the device. */
            if ((rc = rtnl_link_delete(sk, cur)) < 0 && rc != -NLE_NODEV) {
                rc = net_err(err, errlen, net_nl_errno(rc),
                             "vxlan %s: cannot delete it to change VNI/local/port: %s", name,
                             nl_geterror(rc));
                goto out;
            }
            rtnl_link_put(cur);
            cur = NULL;
            set_changed(changed);
        }
        if (!(x = vxlan_new(name, vni, local, dstport, mtu, master))) {
            rc = net_err(err, errlen, -ENOMEM, "vxlan %s: out of memory", name);
            goto out;
        }
        rc = create(sk, x, "vxlan", &raced, err, errlen);
        rtnl_link_put(x);
        if (rc < 0 || !raced) {
            if (!rc)
                set_changed(changed);
            goto out;
        }
    }
    rc = net_err(err, errlen, -EBUSY, "vxlan %s: another writer keeps recreating it", name);
out:
    if (cur)
        rtnl_link_put(cur);
    nl_socket_free(sk);
out_addr:
    if (local)
        nl_addr_put(local);
    return rc;
}

/* One all-zero-MAC FDB entry: append (like `bridge fdb append`) or delete. */
static int fdb_modify(int ifindex, int add, const char *peer, char *why, size_t whylen)
{
    static const unsigned char zero[6];
    char buf[256];
    unsigned char dst[16];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct ndmsg *ndm;
    int v6 = strchr(peer, ':') != NULL;

    why[0] = 0;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, peer, dst) != 1)
        return -EINVAL;
    nlh->nlmsg_type = add ? RTM_NEWNEIGH : RTM_DELNEIGH;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_APPEND : 0);
    ndm = mnl_nlmsg_put_extra_header(nlh, sizeof *ndm);
    ndm->ndm_family = AF_BRIDGE;
    ndm->ndm_ifindex = ifindex;
    ndm->ndm_state = NUD_PERMANENT;
    ndm->ndm_flags = NTF_SELF;
    mnl_attr_put(nlh, NDA_LLADDR, sizeof zero, zero);
    mnl_attr_put(nlh, NDA_DST, v6 ? 16 : 4, dst);
    return net_mnl_talk(nlh, NULL, NULL, why, whylen);
}

static int in_set(const char (*set)[NET_ADDR_STRLEN], int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(set[i], s))
            return 1;
    return 0;
}

int net_vxlan_set_peers(const char *name, const char *const *peers, int npeers, int *changed,
                        char *err, size_t errlen)
{
    char(*want)[NET_ADDR_STRLEN] = NULL, (*have)[NET_ADDR_STRLEN] = NULL;
    char why[200];
    int nwant = 0, nhave = 0, rc = 0, ifindex;

    if (changed)
        *changed = 0;
    if (npeers < 0 || (npeers && !peers))
        return net_err(err, errlen, -EINVAL, "vxlan %s: bad peer list", name);
    if (npeers && !(want = calloc((size_t)npeers, sizeof *want)))
        return net_err(err, errlen, -ENOMEM, "vxlan %s: out of memory", name);
    /* Canonical text, so any IPv6 spelling ("::0001") compares equal to the kernel's ("::1"). */
    for (int i = 0; i < npeers; i++) {
        unsigned char bin[16];
        int af = peers[i] && strchr(peers[i], ':') ? AF_INET6 : AF_INET;

        if (!peers[i] || inet_pton(af, peers[i], bin) != 1 ||
            !inet_ntop(af, bin, want[nwant], NET_ADDR_STRLEN)) {
            rc = net_err(err, errlen, -EINVAL,
                         "vxlan %s: peer \"%s\" is not an IPv4 or IPv6 address", name,
                         peers[i] ? peers[i] : "(null)");
            goto out;
        }
        if (!in_set((const char(*)[NET_ADDR_STRLEN])want, nwant, want[nwant]))
            nwant++;
    }
    if ((rc = net_vxlan_peers(name, &have, &nhave, err, errlen)) < 0)
        goto out;
    if (!(ifindex = (int)if_nametoindex(name))) {
        rc = net_err(err, errlen, -ENODEV, "vxlan %s: it disappeared while being changed", name);
        goto out;
    }
    for (int i = 0; i < nwant; i++) {
        if (in_set((const char(*)[NET_ADDR_STRLEN])have, nhave, want[i]))
            continue;
        if ((rc = fdb_modify(ifindex, 1, want[i], why, sizeof why)) < 0) {
            rc = net_err(err, errlen, rc,
                         "vxlan %s: cannot add FDB entry 00:00:00:00:00:00 "
                         "dst %s: %s%s%s",
                         name, want[i], strerrordesc_np(-rc), why[0] ? ": " : "", why);
            goto out;
        }
        set_changed(changed);
    }
    for (int i = 0; i < nhave; i++) {
        if (in_set((const char(*)[NET_ADDR_STRLEN])want, nwant, have[i]))
            continue;
        rc = fdb_modify(ifindex, 0, have[i], why, sizeof why);
        if (rc < 0 && rc != -ENOENT) {
            rc = net_err(err, errlen, rc,
                         "vxlan %s: cannot delete FDB entry "
                         "00:00:00:00:00:00 dst %s: %s%s%s",
                         name, have[i], strerrordesc_np(-rc), why[0] ? ": " : "", why);
            goto out;
        }
        if (!rc) /* ENOENT: someone else removed it meanwhile */
            set_changed(changed);
        rc = 0;
    }
out:
    free(want);
    free(have);
    return rc;
}

/* ---- veth and generic link operations ---- */

int net_veth_ensure(const char *name, const char *peer, int *changed, char *err, size_t errlen)
{
    struct net_link l;
    struct nl_sock *sk;
    struct rtnl_link *v, *p;
    int rc, raced = 0;

    if (changed)
        *changed = 0;
    if ((rc = net_name_check("veth", name, err, errlen)) ||
        (rc = net_name_check("veth peer", peer, err, errlen)))
        return rc;
    rc = net_link_get(name, &l, err, errlen);
    if (!rc) {
        if (strcmp(l.type, "veth") != 0)
            rc = net_err(err, errlen, -EEXIST, "veth %s: the name is taken by a %s", name, l.type);
        /* An empty peer: it lives in another namespace (a guest took it); accept it. */
        else if (l.peer[0] && strcmp(l.peer, peer) != 0)
            rc = net_err(err, errlen, -EEXIST, "veth %s: exists with peer %s, not %s", name, l.peer,
                         peer);
        net_link_free(&l);
        return rc;
    }
    if (rc != -ENODEV)
        return rc;
    if (if_nametoindex(peer))
        return net_err(err, errlen, -EEXIST, "veth %s: its peer name %s is already taken", name,
                       peer);
    if ((rc = net_nl_open(&sk, err, errlen)) < 0)
        return rc;
    if (!(v = rtnl_link_veth_alloc())) {
        nl_socket_free(sk);
        return net_err(err, errlen, -ENOMEM, "veth %s: out of memory", name);
    }
    /* Peer without a namespace attribute: it is created next to the first end, i.e. in the
     * calling thread's namespace (a pid would name the process', not the thread's). */
    rtnl_link_set_name(v, name);
    p = rtnl_link_veth_get_peer(v);
    rtnl_link_set_name(p, peer);
    rtnl_link_put(p);
    rc = create(sk, v, "veth", &raced, err, errlen);
    rtnl_link_put(v);
    nl_socket_free(sk);
    if (raced)
        return net_veth_ensure(name, peer, changed, err, errlen);
    if (!rc)
        set_changed(changed);
    return rc;
}

/* Open a socket, read name, run fn on it. */
static int with_link(const char *name, int *changed, char *err, size_t errlen,
                     int (*fn)(struct nl_sock *, struct rtnl_link *, const void *, int *, char *,
                               size_t),
                     const void *arg)
{
    struct nl_sock *sk;
    struct rtnl_link *cur;
    int rc;

    if (changed)
        *changed = 0;
    if ((rc = net_name_check("link", name, err, errlen)) || (rc = net_nl_open(&sk, err, errlen)))
        return rc;
    if ((rc = net_get_link(sk, name, &cur, err, errlen)) == 0) {
        rc = fn(sk, cur, arg, changed, err, errlen);
        rtnl_link_put(cur);
    }
    nl_socket_free(sk);
    return rc;
}

static int do_delete(struct nl_sock *sk, struct rtnl_link *cur, const void *arg, int *changed,
                     char *err, size_t errlen)
{
    int rc = rtnl_link_delete(sk, cur);

    (void)arg;
    if (rc == -NLE_NODEV || rc == -NLE_OBJ_NOTFOUND)
        return 0;
    if (rc < 0)
        return net_err(err, errlen, net_nl_errno(rc), "%s: cannot delete it: %s",
                       rtnl_link_get_name(cur), nl_geterror(rc));
    set_changed(changed);
    return 0;
}

int net_link_delete(const char *name, int *changed, char *err, size_t errlen)
{
    int rc = with_link(name, changed, err, errlen, do_delete, NULL);

    if (rc != -ENODEV)
        return rc;
    if (err && errlen)
        err[0] = 0;
    return 0;
}

int net_link_set_up(const char *name, int up, int *changed, char *err, size_t errlen)
{
    struct want w = {0, -1, !!up};

    return with_link(name, changed, err, errlen, reconcile, &w);
}

int net_link_set_mtu(const char *name, unsigned mtu, int *changed, char *err, size_t errlen)
{
    struct want w = {mtu, -1, -1};

    if (!mtu)
        return net_err(err, errlen, -EINVAL, "%s: MTU 0 is not valid", name);
    return with_link(name, changed, err, errlen, reconcile, &w);
}

static int do_set_master(struct nl_sock *sk, struct rtnl_link *cur, const void *arg, int *changed,
                         char *err, size_t errlen)
{
    const char *bridge = arg;
    struct want w = {0, 0, -1};

    if (bridge && bridge[0] &&
        (w.master = bridge_index(sk, rtnl_link_get_name(cur), bridge, err, errlen)) < 0)
        return w.master;
    return reconcile(sk, cur, &w, changed, err, errlen);
}

int net_link_set_master(const char *name, const char *bridge, int *changed, char *err,
                        size_t errlen)
{
    return with_link(name, changed, err, errlen, do_set_master, bridge);
}

int net_bridge_vlan_filtering(const char *name, int on, int *changed, char *err, size_t errlen)
{
    char buf[256], why[200];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct ifinfomsg *ifm;
    struct nlattr *li, *data;
    struct net_link l;
    int rc;

    if (changed)
        *changed = 0;
    on = !!on;
    if ((rc = net_link_get(name, &l, err, errlen)) < 0)
        return rc;
    net_link_free(&l);
    if (strcmp(l.type, "bridge") != 0)
        return net_err(err, errlen, -EINVAL, "%s: is a %s, not a bridge", name, l.type);
    /* A kernel without VLAN-aware bridges does not report the flag: it is off. */
    if (l.vlan_filtering == on || (l.vlan_filtering < 0 && !on))
        return 0;
    nlh->nlmsg_type = RTM_NEWLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    ifm->ifi_index = l.ifindex;
    li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
    data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    mnl_attr_put_u8(nlh, IFLA_BR_VLAN_FILTERING, (uint8_t)on);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, li);
    rc = net_mnl_talk(nlh, NULL, NULL, why, sizeof why);
    if (rc == -EOPNOTSUPP)
        return net_err(err, errlen, rc,
                       "bridge %s: cannot turn vlan_filtering %s: this kernel lacks VLAN-aware "
                       "bridges (CONFIG_BRIDGE_VLAN_FILTERING is not set)%s%s",
                       name, on ? "on" : "off", why[0] ? ": " : "", why);
    if (rc < 0)
        return net_err(err, errlen, rc, "bridge %s: cannot set vlan_filtering %d: %s%s%s", name, on,
                       strerrordesc_np(-rc), why[0] ? ": " : "", why);
    set_changed(changed);
    return 0;
}

int net_bridge_port_vids(const char *port, unsigned from, unsigned to, int *changed, char *err,
                         size_t errlen)
{
    char buf[256], why[200];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct bridge_vlan_info lo = {BRIDGE_VLAN_INFO_RANGE_BEGIN, (uint16_t)from},
                            hi = {BRIDGE_VLAN_INFO_RANGE_END, (uint16_t)to};
    struct ifinfomsg *ifm;
    struct nlattr *spec;
    struct net_link l;
    int rc;

    /* the kernel takes VLANs a port already has as a no-op, and they are not read back:
     * this never counts as a change */
    if (changed)
        *changed = 0;
    if (from < 1 || to > 4094 || from > to)
        return net_err(err, errlen, -EINVAL, "port %s: VLAN range %u-%u is not within 1-4094", port,
                       from, to);
    if ((rc = net_link_get(port, &l, err, errlen)) < 0)
        return rc;
    net_link_free(&l);
    if (!l.master[0])
        return net_err(err, errlen, -EINVAL, "port %s: is in no bridge, so it takes no VLANs",
                       port);
    nlh->nlmsg_type = RTM_SETLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
    ifm->ifi_family = AF_BRIDGE;
    ifm->ifi_index = l.ifindex;
    spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
    if (from == to) {
        lo.flags = 0;
        mnl_attr_put(nlh, IFLA_BRIDGE_VLAN_INFO, sizeof lo, &lo);
    } else {
        mnl_attr_put(nlh, IFLA_BRIDGE_VLAN_INFO, sizeof lo, &lo);
        mnl_attr_put(nlh, IFLA_BRIDGE_VLAN_INFO, sizeof hi, &hi);
    }
    mnl_attr_nest_end(nlh, spec);
    if ((rc = net_mnl_talk(nlh, NULL, NULL, why, sizeof why)) < 0)
        return net_err(err, errlen, rc, "port %s of bridge %s: cannot add VLANs %u-%u: %s%s%s",
                       port, l.master, from, to, strerrordesc_np(-rc), why[0] ? ": " : "", why);
    return 0;
}
