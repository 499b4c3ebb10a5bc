/* net_link: reading the links of the calling thread's network namespace (libnl-route-3 for
 * links and addresses, raw libmnl for what libnl 3.7 does not parse: bridge FDB of a vxlan
 * and IFLA_BR_VLAN_FILTERING), plus the netlink plumbing shared with net_apply.c. */
#include "net.h"
#include "../fs/buf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/if_arp.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/vxlan.h>

/* Big enough for any dump message: the kernel sizes dump skbs up to 32 KiB after the
 * reader's buffer, and a short buffer truncates them. */
#define MNL_BUF_SIZE 32768
/* A dump interrupted by concurrent changes is retried this often before giving up. */
#define DUMP_TRIES 8

int net_err(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* libnl folds errnos into its own codes; map back so callers get a real errno. */
static const struct {
    int nle, err;
} nle_errno[] = {
    {NLE_INTR, EINTR},
    {NLE_BAD_SOCK, EBADF},
    {NLE_AGAIN, EAGAIN},
    {NLE_NOMEM, ENOMEM},
    {NLE_EXIST, EEXIST},
    {NLE_INVAL, EINVAL},
    {NLE_RANGE, ERANGE},
    {NLE_MSGSIZE, EMSGSIZE},
    {NLE_OPNOTSUPP, EOPNOTSUPP},
    {NLE_AF_NOSUPPORT, EAFNOSUPPORT},
    {NLE_OBJ_NOTFOUND, ENOENT},
    {NLE_NOADDR, EADDRNOTAVAIL},
    {NLE_BUSY, EBUSY},
    {NLE_NOACCESS, EACCES},
    {NLE_PERM, EPERM},
    {NLE_NODEV, ENODEV},
    {NLE_PROTO_MISMATCH, EPROTONOSUPPORT},
};

int net_nl_errno(int nle)
{
    if (nle >= 0)
        return 0;
    for (size_t i = 0; i < sizeof nle_errno / sizeof nle_errno[0]; i++)
        if (nle_errno[i].nle == -nle)
            return -nle_errno[i].err;
    return -EIO;
}

int net_nl_open(struct nl_sock **sk, char *err, size_t errlen)
{
    int rc;

    if (!(*sk = nl_socket_alloc()))
        return net_err(err, errlen, -ENOMEM, "netlink: out of memory for a socket");
    if ((rc = nl_connect(*sk, NETLINK_ROUTE)) < 0) {
        nl_socket_free(*sk);
        *sk = NULL;
        return net_err(err, errlen, net_nl_errno(rc), "netlink: cannot open a route socket: %s",
                       nl_geterror(rc));
    }
    return 0;
}

int net_name_check(const char *what, const char *name, char *err, size_t errlen)
{
    if (name && name[0] && strlen(name) < IFNAMSIZ && !strpbrk(name, "/ \t\n:"))
        return 0;
    return net_err(err, errlen, -EINVAL, "%s name \"%s\" is not a valid interface name", what,
                   name ? name : "");
}

int net_get_link(struct nl_sock *sk, const char *name, struct rtnl_link **rl, char *err,
                 size_t errlen)
{
    int rc = rtnl_link_get_kernel(sk, 0, name, rl);

    /* A missing link comes back as either code, depending on how it was asked for. */
    if (rc == -NLE_NODEV || rc == -NLE_OBJ_NOTFOUND)
        return net_err(err, errlen, -ENODEV, "%s: no such network interface", name);
    if (rc < 0)
        return net_err(err, errlen, net_nl_errno(rc), "%s: cannot read the link: %s", name,
                       nl_geterror(rc));
    return 0;
}

const char *net_kind(struct rtnl_link *rl)
{
    const char *k = rtnl_link_get_type(rl);

    return k ? k : "device without a kind";
}

/* ---- raw libmnl requests ---- */

struct talk {
    net_mnl_cb cb;
    void *data;
    int err;
    char *why;
    size_t whylen;
};

static int talk_data(const struct nlmsghdr *nlh, void *data)
{
    struct talk *t = data;

    if (t->cb && t->cb(nlh, t->data) < 0)
        return MNL_CB_ERROR;
    return MNL_CB_OK;
}

static int extack_attr(const struct nlattr *a, void *data)
{
    struct talk *t = data;

    if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG && !mnl_attr_validate(a, MNL_TYPE_NUL_STRING) &&
        t->why && t->whylen)
        snprintf(t->why, t->whylen, "%s", mnl_attr_get_str(a));
    return MNL_CB_OK;
}

/* The kernel's error, with its extended-ack text: that text often is the only "why". */
static int talk_error(const struct nlmsghdr *nlh, void *data)
{
    struct talk *t = data;
    const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
    unsigned off = sizeof *e;

    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof *e)) {
        t->err = -EBADMSG;
        return MNL_CB_ERROR;
    }
    if (!e->error)
        return MNL_CB_STOP;
    t->err = e->error;
    if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
            off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
        mnl_attr_parse(nlh, off, extack_attr, t);
    }
    return MNL_CB_ERROR;
}

static int talk_done(const struct nlmsghdr *nlh, void *data)
{
    (void)nlh;
    (void)data;
    return MNL_CB_STOP;
}

int net_mnl_talk(struct nlmsghdr *req, net_mnl_cb cb, void *data, char *why, size_t whylen)
{
    /* Never written; not const only because mnl_cb_run2 takes a non-const array. */
    static mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
        [NLMSG_ERROR] = talk_error,
        [NLMSG_DONE] = talk_done,
    };
    struct talk t = {cb, data, 0, why, whylen};
    struct mnl_socket *nl;
    unsigned portid;
    char *buf;
    ssize_t n;
    int one = 1, rc = 0;

    if (why && whylen)
        why[0] = 0;
    if (!(buf = malloc(MNL_BUF_SIZE)))
        return -ENOMEM;
    if (!(nl = mnl_socket_open(NETLINK_ROUTE)) || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        rc = -errno;
        goto out;
    }
    /* Best effort: old kernels lack these and still answer. */
    mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof one);
    mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof one);
    portid = mnl_socket_get_portid(nl);
    req->nlmsg_seq = 1;
    if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) {
        rc = -errno;
        goto out;
    }
    for (;;) {
        if ((n = mnl_socket_recvfrom(nl, buf, MNL_BUF_SIZE)) < 0) {
            rc = -errno;
            break;
        }
        rc =
            mnl_cb_run2(buf, (size_t)n, req->nlmsg_seq, portid, talk_data, &t, ctl, NLMSG_MIN_TYPE);
        if (rc == MNL_CB_ERROR) {
            rc = t.err ? t.err : -errno;
            break;
        }
        if (rc == MNL_CB_STOP) {
            rc = 0;
            break;
        }
    }
out:
    if (nl)
        mnl_socket_close(nl);
    free(buf);
    return rc < 0 ? rc : 0;
}

/* ---- FDB: head-end replication peers of vxlan devices ---- */

struct fdb_peer {
    int ifindex;
    char addr[NET_ADDR_STRLEN];
};

struct fdb_dump {
    int ifindex; /* 0: every device */
    struct fdb_peer *v;
    int n, cap;
};

static int fdb_attr(const struct nlattr *a, void *data)
{
    const struct nlattr **tb = data;
    unsigned type = mnl_attr_get_type(a);

    if (type <= NDA_MAX)
        tb[type] = a;
    return MNL_CB_OK;
}

static int fdb_entry(const struct nlmsghdr *nlh, void *data)
{
    static const unsigned char zero[6];
    struct fdb_dump *d = data;
    const struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[NDA_MAX + 1] = {0};
    struct fdb_peer *p;
    uint16_t alen;
    int af;

    if (nlh->nlmsg_type != RTM_NEWNEIGH || ndm->ndm_family != AF_BRIDGE ||
        !(ndm->ndm_flags & NTF_SELF) || (d->ifindex && ndm->ndm_ifindex != d->ifindex))
        return 0;
    mnl_attr_parse(nlh, sizeof *ndm, fdb_attr, tb);
    if (!tb[NDA_LLADDR] || !tb[NDA_DST] || mnl_attr_get_payload_len(tb[NDA_LLADDR]) != 6 ||
        memcmp(mnl_attr_get_payload(tb[NDA_LLADDR]), zero, 6) != 0)
        return 0;
    alen = mnl_attr_get_payload_len(tb[NDA_DST]);
    af = alen == 4 ? AF_INET : alen == 16 ? AF_INET6 : 0;
    if (!af)
        return 0;
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 8;
        void *v = realloc(d->v, (size_t)cap * sizeof *d->v);
        if (!v)
            return -ENOMEM;
        d->v = v;
        d->cap = cap;
    }
    p = &d->v[d->n];
    p->ifindex = ndm->ndm_ifindex;
    if (!inet_ntop(af, mnl_attr_get_payload(tb[NDA_DST]), p->addr, sizeof p->addr))
        return 0;
    d->n++;
    return 0;
}

static int fdb_read(struct fdb_dump *d, char *err, size_t errlen)
{
    char buf[256], why[200];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct ndmsg *ndm;
    int rc;

    nlh->nlmsg_type = RTM_GETNEIGH;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    ndm = mnl_nlmsg_put_extra_header(nlh, sizeof *ndm);
    ndm->ndm_family = AF_BRIDGE;
    /* EINTR: the dump was inconsistent (NLM_F_DUMP_INTR, someone changed the table
     * meanwhile); start over. */
    for (int tries = 0; tries < DUMP_TRIES; tries++) {
        d->n = 0;
        if ((rc = net_mnl_talk(nlh, fdb_entry, d, why, sizeof why)) != -EINTR)
            break;
    }
    if (rc < 0)
        return net_err(err, errlen, rc, "reading the bridge FDB: %s%s%s", strerrordesc_np(-rc),
                       why[0] ? ": " : "", why);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The peers of ifindex out of a dump, sorted and without duplicates (an entry repeats when
 * its dst has several ports or VNIs). */
static int peers_of(const struct fdb_dump *d, int ifindex, char (**out)[NET_ADDR_STRLEN], int *nout)
{
    char(*v)[NET_ADDR_STRLEN] = NULL;
    int n = 0;

    for (int i = 0; i < d->n; i++) {
        if (d->v[i].ifindex != ifindex)
            continue;
        if (!v && !(v = calloc((size_t)d->n, sizeof *v)))
            return -ENOMEM;
        memcpy(v[n++], d->v[i].addr, NET_ADDR_STRLEN);
    }
    if (n)
        qsort(v, (size_t)n, sizeof *v, cmp_str);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!m || strcmp(v[i], v[m - 1]) != 0)
            memmove(v[m++], v[i], NET_ADDR_STRLEN);
    n = m;
    *out = v;
    *nout = n;
    return 0;
}

int net_vxlan_peers(const char *name, char (**peers)[NET_ADDR_STRLEN], int *npeers, char *err,
                    size_t errlen)
{
    struct fdb_dump d = {0};
    struct rtnl_link *rl = NULL;
    struct nl_sock *sk;
    int rc;

    *peers = NULL;
    *npeers = 0;
    if ((rc = net_nl_open(&sk, err, errlen)) < 0)
        return rc;
    rc = net_get_link(sk, name, &rl, err, errlen);
    nl_socket_free(sk);
    if (rc < 0)
        return rc;
    if (!rtnl_link_is_vxlan(rl)) {
        rtnl_link_put(rl);
        return net_err(err, errlen, -EINVAL, "%s: not a vxlan device, it has no peers", name);
    }
    d.ifindex = rtnl_link_get_ifindex(rl);
    rtnl_link_put(rl);
    if ((rc = fdb_read(&d, err, errlen)) == 0 && (rc = peers_of(&d, d.ifindex, peers, npeers)))
        net_err(err, errlen, rc, "vxlan %s: out of memory", name);
    free(d.v);
    return rc;
}

/* ---- IFLA_BR_VLAN_FILTERING, which libnl 3.7 does not parse ---- */

struct vlf_ctx {
    struct net_link *links;
    int n;
};

/* One table size for the three nesting levels (IFLA_, IFLA_INFO_, IFLA_BR_). */
#define TB_SIZE ((IFLA_MAX > IFLA_BR_MAX ? IFLA_MAX : IFLA_BR_MAX) + 1)

static int nested_attr(const struct nlattr *a, void *data)
{
    const struct nlattr **tb = data;

    if (mnl_attr_get_type(a) < TB_SIZE)
        tb[mnl_attr_get_type(a)] = a;
    return MNL_CB_OK;
}

static int vlf_link(const struct nlmsghdr *nlh, void *data)
{
    struct vlf_ctx *c = data;
    const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *tb[TB_SIZE] = {0};
    const struct nlattr *info[TB_SIZE] = {0};
    const struct nlattr *br[TB_SIZE] = {0};

    if (nlh->nlmsg_type != RTM_NEWLINK)
        return 0;
    mnl_attr_parse(nlh, sizeof *ifm, nested_attr, tb);
    if (!tb[IFLA_LINKINFO])
        return 0;
    mnl_attr_parse_nested(tb[IFLA_LINKINFO], nested_attr, info);
    if (!info[IFLA_INFO_DATA])
        return 0;
    mnl_attr_parse_nested(info[IFLA_INFO_DATA], nested_attr, br);
    if (!br[IFLA_BR_VLAN_FILTERING])
        return 0;
    for (int i = 0; i < c->n; i++)
        if (c->links[i].ifindex == ifm->ifi_index && !strcmp(c->links[i].type, "bridge"))
            c->links[i].vlan_filtering = mnl_attr_get_u8(br[IFLA_BR_VLAN_FILTERING]) != 0;
    return 0;
}

/* Bridges whose kernel does not report the attribute keep -1 (no VLAN-aware bridges). */
static int vlf_read(struct net_link *links, int n, char *err, size_t errlen)
{
    char buf[256], why[200];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct ifinfomsg *ifm;
    struct vlf_ctx c = {links, n};
    int rc;

    nlh->nlmsg_type = RTM_GETLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
    ifm->ifi_family = AF_UNSPEC;
    for (int tries = 0; tries < DUMP_TRIES; tries++) /* see fdb_read */
        if ((rc = net_mnl_talk(nlh, vlf_link, &c, why, sizeof why)) != -EINTR)
            break;
    if (rc < 0)
        return net_err(err, errlen, rc, "reading bridge attributes: %s%s%s", strerrordesc_np(-rc),
                       why[0] ? ": " : "", why);
    return 0;
}

/* ---- links ---- */

/* Kinds shown under another name; any other kind is shown as the kernel spells it. */
static const struct {
    const char *kind, *type;
} kind_names[] = {
    {"openvswitch", "ovs"},
};

/* Links without a kind (physical NICs, loopback) are told apart by hardware type. */
static const struct {
    unsigned arphrd;
    const char *type;
} arp_names[] = {
    {ARPHRD_ETHER, "ether"}, {ARPHRD_LOOPBACK, "loopback"},     {ARPHRD_NONE, "none"},
    {ARPHRD_TUNNEL, "ipip"}, {ARPHRD_TUNNEL6, "ip6tnl"},        {ARPHRD_SIT, "sit"},
    {ARPHRD_IPGRE, "gre"},   {ARPHRD_INFINIBAND, "infiniband"},
};

static const char *const oper_names[] = {
    [IF_OPER_UNKNOWN] = "unknown", [IF_OPER_NOTPRESENT] = "not-present",
    [IF_OPER_DOWN] = "down",       [IF_OPER_LOWERLAYERDOWN] = "lower-down",
    [IF_OPER_TESTING] = "testing", [IF_OPER_DORMANT] = "dormant",
    [IF_OPER_UP] = "up",
};

static void link_type(struct rtnl_link *rl, char *out, size_t len)
{
    const char *kind = rtnl_link_get_type(rl);
    unsigned arp = rtnl_link_get_arptype(rl);

    if (kind) {
        for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++)
            if (!strcmp(kind, kind_names[i].kind))
                kind = kind_names[i].type;
        snprintf(out, len, "%s", kind);
        return;
    }
    for (size_t i = 0; i < sizeof arp_names / sizeof arp_names[0]; i++)
        if (arp_names[i].arphrd == arp) {
            snprintf(out, len, "%s", arp_names[i].type);
            return;
        }
    snprintf(out, len, "arphrd-%u", arp);
}

static void addr_str(const struct nl_addr *a, char *out, size_t len)
{
    unsigned alen = nl_addr_get_len(a);

    if ((alen != 4 && alen != 16) ||
        !inet_ntop(alen == 4 ? AF_INET : AF_INET6, nl_addr_get_binary_addr(a), out, len))
        out[0] = 0;
}

static void mac_str(const struct nl_addr *a, char *out, size_t len)
{
    const unsigned char *p = nl_addr_get_binary_addr(a);

    out[0] = 0;
    if (nl_addr_get_len(a) == 6)
        snprintf(out, len, "%02x:%02x:%02x:%02x:%02x:%02x", p[0], p[1], p[2], p[3], p[4], p[5]);
}

static void fill_vxlan(struct net_link *l, struct rtnl_link *rl)
{
    struct nl_addr *local = NULL;
    uint32_t port = 0;

    rtnl_link_vxlan_get_id(rl, &l->vni);
    if (rtnl_link_vxlan_get_local(rl, &local) == 0 && local) {
        addr_str(local, l->vx_local, sizeof l->vx_local);
        nl_addr_put(local);
    }
    if (rtnl_link_vxlan_get_port(rl, &port) == 0)
        l->dstport = port;
    l->learning = rtnl_link_vxlan_get_learning(rl) > 0;
}

static void fill_link(struct net_link *l, struct rtnl_link *rl, struct nl_cache *links)
{
    static const struct {
        rtnl_link_stat_id_t id;
        size_t off;
    } stats[] = {
        {RTNL_LINK_RX_BYTES, offsetof(struct net_link_stats, rx_bytes)},
        {RTNL_LINK_TX_BYTES, offsetof(struct net_link_stats, tx_bytes)},
        {RTNL_LINK_RX_PACKETS, offsetof(struct net_link_stats, rx_packets)},
        {RTNL_LINK_TX_PACKETS, offsetof(struct net_link_stats, tx_packets)},
        {RTNL_LINK_RX_ERRORS, offsetof(struct net_link_stats, rx_errors)},
        {RTNL_LINK_TX_ERRORS, offsetof(struct net_link_stats, tx_errors)},
        {RTNL_LINK_RX_DROPPED, offsetof(struct net_link_stats, rx_dropped)},
        {RTNL_LINK_TX_DROPPED, offsetof(struct net_link_stats, tx_dropped)},
    };
    unsigned flags = rtnl_link_get_flags(rl);
    uint8_t oper = rtnl_link_get_operstate(rl);
    struct nl_addr *mac = rtnl_link_get_addr(rl);
    int32_t nsid;

    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", rtnl_link_get_name(rl));
    l->ifindex = rtnl_link_get_ifindex(rl);
    link_type(rl, l->type, sizeof l->type);
    l->admin_up = !!(flags & IFF_UP);
    snprintf(l->oper, sizeof l->oper, "%s",
             oper < sizeof oper_names / sizeof oper_names[0] && oper_names[oper] ? oper_names[oper]
                                                                                 : "unknown");
    /* Carrier (IFF_LOWER_UP) rather than operstate: a vxlan stays "unknown" forever. */
    snprintf(l->state, sizeof l->state, "%s",
             !l->admin_up           ? "down"
             : flags & IFF_LOWER_UP ? "up"
                                    : "lower-down");
    l->mtu = rtnl_link_get_mtu(rl);
    if (mac)
        mac_str(mac, l->mac, sizeof l->mac);
    if (rtnl_link_get_master(rl) > 0 &&
        !rtnl_link_i2name(links, rtnl_link_get_master(rl), l->master, sizeof l->master))
        l->master[0] = 0;
    for (size_t i = 0; i < sizeof stats / sizeof stats[0]; i++)
        *(uint64_t *)((char *)&l->stats + stats[i].off) = rtnl_link_get_stat(rl, stats[i].id);
    l->vlan_filtering = -1;
    if (rtnl_link_is_vxlan(rl))
        fill_vxlan(l, rl);
    /* A veth whose peer is in another namespace reports a netnsid; its IFLA_LINK then is an
     * ifindex over there, which must not be looked up here. */
    if (rtnl_link_is_veth(rl) && rtnl_link_get_link_netnsid(rl, &nsid) < 0 &&
        rtnl_link_get_link(rl) > 0 &&
        !rtnl_link_i2name(links, rtnl_link_get_link(rl), l->peer, sizeof l->peer))
        l->peer[0] = 0;
}

static int add_ports(struct net_link *v, int n)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(v[i].type, "bridge") != 0)
            continue;
        for (int j = 0; j < n; j++) {
            if (strcmp(v[j].master, v[i].name) != 0)
                continue;
            if (!v[i].ports && !(v[i].ports = calloc((size_t)n, sizeof *v[i].ports)))
                return -ENOMEM;
            memcpy(v[i].ports[v[i].nports++], v[j].name, IFNAMSIZ);
        }
    }
    return 0;
}

static int add_addrs(struct net_link *v, int n, struct nl_cache *addrs)
{
    static const int families[] = {AF_INET, AF_INET6};

    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
            struct rtnl_addr *a = (struct rtnl_addr *)o;
            struct nl_addr *local = rtnl_addr_get_local(a);
            struct net_link *l = NULL;
            char s[INET6_ADDRSTRLEN];

            if (rtnl_addr_get_family(a) != families[f] || !local)
                continue;
            for (int i = 0; i < n && !l; i++)
                if (v[i].ifindex == rtnl_addr_get_ifindex(a))
                    l = &v[i];
            if (!l)
                continue;
            addr_str(local, s, sizeof s);
            if (!l->addrs || l->naddrs % 8 == 0) {
                void *p = realloc(l->addrs, ((size_t)l->naddrs + 8) * sizeof *l->addrs);
                if (!p)
                    return -ENOMEM;
                l->addrs = p;
            }
            snprintf(l->addrs[l->naddrs++], NET_ADDR_STRLEN, "%s/%u", s,
                     (unsigned char)rtnl_addr_get_prefixlen(a));
        }
    }
    return 0;
}

static int add_peers(struct net_link *v, int n, char *err, size_t errlen)
{
    struct fdb_dump d = {0};
    int rc = 0, any = 0;

    for (int i = 0; i < n; i++)
        any |= !strcmp(v[i].type, "vxlan");
    if (!any)
        return 0;
    if ((rc = fdb_read(&d, err, errlen)) < 0)
        return rc;
    for (int i = 0; i < n && !rc; i++)
        if (!strcmp(v[i].type, "vxlan"))
            rc = peers_of(&d, v[i].ifindex, &v[i].peers, &v[i].npeers);
    free(d.v);
    return rc ? net_err(err, errlen, rc, "reading vxlan peers: out of memory") : 0;
}

static int cmp_ifindex(const void *a, const void *b)
{
    const struct net_link *x = a, *y = b;

    return (x->ifindex > y->ifindex) - (x->ifindex < y->ifindex);
}

int net_link_list(struct net_link **links, int *n, char *err, size_t errlen)
{
    struct nl_cache *lc = NULL, *ac = NULL;
    struct nl_sock *sk;
    struct net_link *v = NULL;
    int rc, cnt = 0, any_bridge = 0;

    *links = NULL;
    *n = 0;
    if ((rc = net_nl_open(&sk, err, errlen)) < 0)
        return rc;
    if ((rc = rtnl_link_alloc_cache(sk, AF_UNSPEC, &lc)) < 0 ||
        (rc = rtnl_addr_alloc_cache(sk, &ac)) < 0) {
        rc = net_err(err, errlen, net_nl_errno(rc), "listing links: %s", nl_geterror(rc));
        goto out;
    }
    if (!(v = calloc((size_t)nl_cache_nitems(lc) + 1, sizeof *v))) {
        rc = net_err(err, errlen, -ENOMEM, "listing links: out of memory");
        goto out;
    }
    for (struct nl_object *o = nl_cache_get_first(lc); o; o = nl_cache_get_next(o)) {
        fill_link(&v[cnt], (struct rtnl_link *)o, lc);
        any_bridge |= !strcmp(v[cnt++].type, "bridge");
    }
    qsort(v, (size_t)cnt, sizeof *v, cmp_ifindex);
    if (add_ports(v, cnt) || add_addrs(v, cnt, ac)) {
        rc = net_err(err, errlen, -ENOMEM, "listing links: out of memory");
        goto out;
    }
    if ((rc = add_peers(v, cnt, err, errlen)) < 0 ||
        (any_bridge && (rc = vlf_read(v, cnt, err, errlen)) < 0))
        goto out;
    *links = v;
    *n = cnt;
    v = NULL;
out:
    net_link_list_free(v, cnt);
    if (ac)
        nl_cache_free(ac);
    if (lc)
        nl_cache_free(lc);
    nl_socket_free(sk);
    return rc < 0 ? rc : 0;
}

void net_link_free(struct net_link *link)
{
    free(link->addrs);
    free(link->peers);
    free(link->ports);
    link->addrs = NULL;
    link->peers = NULL;
    link->ports = NULL;
    link->naddrs = link->npeers = link->nports = 0;
}

void net_link_list_free(struct net_link *links, int n)
{
    if (!links)
        return;
    for (int i = 0; i < n; i++)
        net_link_free(&links[i]);
    free(links);
}

int net_link_get(const char *name, struct net_link *link, char *err, size_t errlen)
{
    struct net_link *v;
    int n, rc;

    memset(link, 0, sizeof *link);
    if ((rc = net_link_list(&v, &n, err, errlen)) < 0)
        return rc;
    rc = net_err(err, errlen, -ENODEV, "%s: no such network interface", name);
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i].name, name)) {
            *link = v[i];
            memset(&v[i], 0, sizeof v[i]); /* ownership of the arrays moved to *link */
            rc = 0;
            break;
        }
    net_link_list_free(v, n);
    return rc;
}

/* ---- rendering ---- */

static int render_list(struct pv_buf *b, const char *key, const char *items, size_t stride, int n)
{
    int rc = pv_buf_printf(b, "%s:", key);

    for (int i = 0; i < n && !rc; i++)
        rc = pv_buf_printf(b, " %s", items + (size_t)i * stride);
    return rc ? rc : pv_buf_printf(b, "%s\n", n ? "" : " -");
}

static const char *dash(const char *s)
{
    return s[0] ? s : "-";
}

int net_link_render(const struct net_link *l, struct pv_buf *b)
{
    const struct net_link_stats *s = &l->stats;
    int rc;

    rc = pv_buf_printf(b,
                       "name: %s\nifindex: %d\ntype: %s\nstate: %s\nadmin: %s\noper: %s\n"
                       "mtu: %u\nmac: %s\nmaster: %s\n",
                       l->name, l->ifindex, l->type, l->state, l->admin_up ? "up" : "down", l->oper,
                       l->mtu, dash(l->mac), dash(l->master));
    rc = rc ? rc : render_list(b, "addresses", (const char *)l->addrs, NET_ADDR_STRLEN, l->naddrs);
    if (!rc && !strcmp(l->type, "vxlan")) {
        rc = pv_buf_printf(b, "vni: %u\nlocal: %s\ndstport: %u\nlearning: %d\n", l->vni,
                           dash(l->vx_local), l->dstport, l->learning);
        rc = rc ? rc : render_list(b, "peers", (const char *)l->peers, NET_ADDR_STRLEN, l->npeers);
    }
    if (!rc && !strcmp(l->type, "bridge")) {
        rc = render_list(b, "ports", (const char *)l->ports, IFNAMSIZ, l->nports);
        rc = rc ? rc
                : pv_buf_printf(b, "vlan_filtering: %s\n",
                                l->vlan_filtering < 0 ? "unsupported"
                                : l->vlan_filtering   ? "1"
                                                      : "0");
    }
    if (!rc && !strcmp(l->type, "veth"))
        rc = pv_buf_printf(b, "peer: %s\n", dash(l->peer));
    if (!rc)
        rc = pv_buf_printf(b,
                           "rx_bytes: %llu\ntx_bytes: %llu\nrx_packets: %llu\ntx_packets: %llu\n"
                           "rx_errors: %llu\ntx_errors: %llu\nrx_dropped: %llu\n"
                           "tx_dropped: %llu\n",
                           (unsigned long long)s->rx_bytes, (unsigned long long)s->tx_bytes,
                           (unsigned long long)s->rx_packets, (unsigned long long)s->tx_packets,
                           (unsigned long long)s->rx_errors, (unsigned long long)s->tx_errors,
                           (unsigned long long)s->rx_dropped, (unsigned long long)s->tx_dropped);
    return rc;
}
