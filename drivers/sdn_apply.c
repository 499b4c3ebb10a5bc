/*
 * sdn_apply: one node's share of the running SDN configuration, made real over
 * netlink (drivers/net.h). Device names follow Proxmox: a VNet is a bridge named
 * after it, its VXLAN port "vxlan_<vnet>", its link into a VLAN zone's OVS bridge
 * the veth pair "ln_<vnet>" (in OVS, tagged) / "pr_<vnet>" (in the VNet bridge).
 * What this node made is remembered in a state file, so a VNet that is no longer
 * declared loses its devices, and devices pvefs did not make are never touched.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "sdn.h"
#include "stor.h"

#define MAX_MADE 4096

/* What this node made: "<kind> <name> [<detail>]" per line (kind: link, ovsport, addr, route). */
struct made {
    char item[MAX_MADE][96];
    int n;
};

static void made_load(const char *path, struct made *m)
{
    char line[128];
    FILE *f = path ? fopen(path, "r") : NULL;

    m->n = 0;
    while (f && m->n < MAX_MADE && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0])
            snprintf(m->item[m->n++], sizeof(m->item[0]), "%.95s", line);
    }
    if (f)
        fclose(f);
}

static int made_save(const char *path, const struct made *m)
{
    char tmp[1100];
    FILE *f;

    if (!path)
        return 0;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (!(f = fopen(tmp, "w")))
        return -errno;
    for (int i = 0; i < m->n; i++)
        fprintf(f, "%s\n", m->item[i]);
    if (fclose(f))
        return -EIO;
    return rename(tmp, path) ? -errno : 0;
}

static void made_put(struct made *m, const char *it)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->item[i], it) == 0)
            return;
    if (m->n < MAX_MADE)
        snprintf(m->item[m->n++], sizeof(m->item[0]), "%s", it);
}

static void made_add(struct made *m, const char *kind, const char *name, const char *detail)
{
    char it[96];

    snprintf(it, sizeof(it), "%s %s%s%s", kind, name, detail ? " " : "", detail ? detail : "");
    made_put(m, it);
}

static int made_has(const struct made *m, const char *it)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->item[i], it) == 0)
            return 1;
    return 0;
}

/* 1 if item names a device of VNet vnet: the VNet itself or "<prefix>_<vnet>" (v1, not v10). */
static int made_of(const char *item, const char *vnet)
{
    char name[IFNAMSIZ + 1];
    size_t nl, vl = strlen(vnet);

    if (sscanf(item, "%*s %16s", name) != 1)
        return 0;
    nl = strlen(name);
    return !strcmp(name, vnet) ||
           (nl > vl && name[nl - vl - 1] == '_' && !strcmp(name + nl - vl, vnet));
}

/* What a failed VNet had stays: removing it would cut its guests off. */
static void keep_failed(const struct made *prev, struct made *now, const char *vnet)
{
    for (int j = 0; j < prev->n; j++)
        if (made_of(prev->item[j], vnet))
            made_put(now, prev->item[j]);
}

/* Each VNet's first broken rule (sdn_problems), by index; "" for a VNet that breaks none. */
struct bad {
    const struct sdn_cfg *c;
    char (*why)[256];
};

static void bad_vnet(void *ctx, const char *vnet, int missing, const char *why)
{
    struct bad *b = ctx;

    (void)missing; /* an applied set is complete: what is missing is missing for good */
    for (int i = 0; vnet && i < b->c->nvnets; i++)
        if (!strcmp(b->c->vnets[i].name, vnet) && !b->why[i][0])
            snprintf(b->why[i], sizeof(b->why[i]), "%.255s", why);
}

/* The addresses on this node's interfaces (in its network namespace), for sdn_vxlan_peers:
 * a zone's list of peers names them when it lists every node. */
struct own {
    char addr[128][INET6_ADDRSTRLEN];
    const char *p[128];
    int n;
};

static void own_addrs(struct own *o)
{
    struct ifaddrs *ifs = NULL;

    o->n = 0;
    if (getifaddrs(&ifs))
        return; /* then no address is known as this node's: peers stay as listed */
    for (struct ifaddrs *i = ifs; i && o->n < 128; i = i->ifa_next) {
        const struct sockaddr *sa = i->ifa_addr;
        const void *a;
        if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
            continue;
        a = sa->sa_family == AF_INET ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                                     : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (inet_ntop(sa->sa_family, a, o->addr[o->n], sizeof(o->addr[0]))) {
            o->p[o->n] = o->addr[o->n];
            o->n++;
        }
    }
    freeifaddrs(ifs);
}

/* vlanaware: 1 makes the VNet's bridge VLAN-aware; without it the bridge is not. */
static int vlan_aware(const struct sdn_vnet *v, int *changes, char *err, size_t errlen)
{
    int ch = 0, rc = net_bridge_vlan_filtering(v->name, v->vlanaware, &ch, err, errlen);

    if (rc == -EOPNOTSUPP && v->vlanaware)
        return net_err(err, errlen, rc,
                       "vlan-aware bridges are not supported by this kernel "
                       "(CONFIG_BRIDGE_VLAN_FILTERING is not set): VNet %s has vlanaware: 1",
                       v->name);
    *changes += ch;
    return rc;
}

/* A port of a VLAN-aware VNet carries every VLAN, as Proxmox's bridge-vids 2-4094. */
static int port_vids(const struct sdn_vnet *v, const char *port, int *changes, char *err,
                     size_t errlen)
{
    int ch = 0, rc;

    if (!v->vlanaware)
        return 0;
    rc = net_bridge_port_vids(port, 2, 4094, &ch, err, errlen);
    *changes += ch;
    return rc;
}

static int do_vxlan(const struct sdn_vnet *v, const struct sdn_zone *z, const struct sdn_node *n,
                    const struct own *own, struct made *m, int *changes, char *err, size_t errlen)
{
    char vx[IFNAMSIZ], peers[64][64], local[64];
    const char *pp[64];
    unsigned mtu = z->mtu ? z->mtu : 1450; /* VXLAN over a 1500 underlay, as Proxmox */
    int ch = 0, rc, np;

    snprintf(vx, sizeof(vx), "vxlan_%s", v->name);
    if ((rc = net_bridge_ensure(v->name, mtu, &ch, err, errlen)))
        return rc;
    *changes += ch;
    made_add(m, "link", v->name, NULL);
    if ((rc = vlan_aware(v, changes, err, errlen)))
        return rc;
    np = sdn_vxlan_peers(z, n, own->p, own->n, peers, 64, local, sizeof(local));
    if ((rc = net_vxlan_ensure(vx, v->tag, local[0] ? local : NULL, z->vxlan_port, mtu, v->name,
                               &ch, err, errlen)))
        return rc;
    *changes += ch;
    made_add(m, "link", vx, NULL);
    if ((rc = port_vids(v, vx, changes, err, errlen)))
        return rc;
    for (int i = 0; i < np; i++)
        pp[i] = peers[i];
    if ((rc = net_vxlan_set_peers(vx, pp, np, &ch, err, errlen)))
        return rc;
    *changes += ch;
    return 0;
}

static int do_simple(const struct sdn_vnet *v, const struct sdn_zone *z, const struct sdn_cfg *c,
                     struct made *m, int *changes, char *err, size_t errlen)
{
    int ch = 0, rc;

    if ((rc = net_bridge_ensure(v->name, z->mtu, &ch, err, errlen)))
        return rc;
    *changes += ch;
    made_add(m, "link", v->name, NULL);
    if ((rc = vlan_aware(v, changes, err, errlen)))
        return rc;
    /* a simple zone routes: its subnets' gateways live on the VNet bridge */
    for (int i = 0; i < c->nsubs; i++) {
        const struct sdn_subnet *s = &c->subs[i];
        char a[80];
        if (strcmp(s->vnet, v->name) != 0 || !s->gateway[0] || !s->cidr[0])
            continue;
        if (!sdn_addr_in(s->gateway, s->cidr)) {
            /* a single-address subnet routed through a gateway outside it (sdn_cfg.c allows
             * no other): the gateway as a host address, a route to the subnet, as Proxmox */
            snprintf(a, sizeof(a), "%s/%d", s->gateway, strchr(s->gateway, ':') ? 128 : 32);
            if ((rc = net_route_ensure(v->name, s->cidr, &ch, err, errlen)))
                return rc;
            *changes += ch;
            made_add(m, "route", v->name, s->cidr);
        } else {
            snprintf(a, sizeof(a), "%s/%s", s->gateway, strchr(s->cidr, '/') + 1);
        }
        if ((rc = net_addr_ensure(v->name, a, &ch, err, errlen)))
            return rc;
        *changes += ch;
        made_add(m, "addr", v->name, a);
    }
    return 0;
}

static int do_vlan(const struct sdn_vnet *v, const struct sdn_zone *z, struct made *m, int *changes,
                   char *err, size_t errlen)
{
    struct net_link up;
    char ln[IFNAMSIZ], pr[IFNAMSIZ];
    int ch = 0, rc, ovs;

    if ((rc = net_link_get(z->bridge, &up, err, errlen)))
        return rc == -ENODEV ? net_err(err, errlen, -ENODEV,
                                       "zone %s rides on bridge %s, which this node does not have",
                                       z->name, z->bridge)
                             : rc;
    net_link_free(&up);
    {
        /* a userspace (netdev) OVS bridge is a tap to the kernel: ask OVS itself */
        char *av[] = {"ovs-vsctl", "--timeout=5", "br-exists", (char *)z->bridge, NULL};
        char e2[SDN_ERRLEN];
        ovs = stor_run("ovs-vsctl", "br-exists", av, e2, sizeof(e2)) == 0;
    }
    if (!ovs) {
        /* a Linux bridge carries VLANs only when it is VLAN-aware */
        if ((rc = net_bridge_vlan_filtering(z->bridge, 1, &ch, err, errlen)))
            return rc;
        return net_err(err, errlen, -EOPNOTSUPP,
                       "bridge %s is VLAN-aware, but VLAN port setup on Linux bridges is not "
                       "implemented yet; use an OVS bridge",
                       z->bridge);
    }
    snprintf(ln, sizeof(ln), "ln_%s", v->name);
    snprintf(pr, sizeof(pr), "pr_%s", v->name);
    if ((rc = net_bridge_ensure(v->name, z->mtu, &ch, err, errlen)))
        return rc;
    *changes += ch;
    made_add(m, "link", v->name, NULL);
    if ((rc = vlan_aware(v, changes, err, errlen)))
        return rc;
    /* tagged guest frames through an access port would be dropped: Proxmox tunnels them */
    if (v->vlanaware)
        return net_err(err, errlen, -EOPNOTSUPP,
                       "VNet %s: vlanaware: 1 in a VLAN zone needs a QinQ (dot1q-tunnel) OVS port, "
                       "which this build does not make",
                       v->name);
    if ((rc = net_veth_ensure(ln, pr, &ch, err, errlen)))
        return rc;
    *changes += ch;
    made_add(m, "link", ln, NULL);
    if ((rc = net_link_set_master(pr, v->name, &ch, err, errlen)))
        return rc;
    *changes += ch;
    if ((rc = net_ovs_port_ensure(z->bridge, ln, (int)v->tag, &ch, err, errlen)))
        return rc;
    *changes += ch;
    made_add(m, "ovsport", ln, NULL);
    for (int i = 0; i < 2; i++) {
        if ((rc = net_link_set_up(i ? pr : ln, 1, &ch, err, errlen)))
            return rc;
        *changes += ch;
    }
    return 0;
}

/* EVPN: the FRR config is generated; without FRR and VRF here it is never reported applied. */
static int do_evpn(const struct sdn_vnet *v, const struct sdn_zone *z, const struct sdn_node *n,
                   char *err, size_t errlen)
{
    FILE *f = n->frr_path ? fopen(n->frr_path, "a") : NULL;

    if (f) {
        fprintf(f,
                "! zone %s, vnet %s\nvni %u\n router bgp (controller %s)\n  address-family "
                "l2vpn evpn\n   advertise-all-vni\n",
                z->name, v->name, v->tag, z->controller);
        fclose(f);
    }
    return net_err(err, errlen, -EOPNOTSUPP,
                   "EVPN needs FRR and VRF devices; this node has %s and the kernel has no VRF: "
                   "the FRR config is in %s, not applied",
                   access("/usr/bin/vtysh", X_OK) == 0 ? "FRR" : "no FRR",
                   n->frr_path ? n->frr_path : "(nowhere)");
}

/*
 * SNAT of simple zones' subnets: nftables table inet pvefs_sdn (net_nat.c), gone when no
 * subnet asks for it. Returns 0 or -errno with err.
 */
static int apply_snat(const struct sdn_cfg *c, const struct sdn_node *n,
                      const struct sdn_vresult *res, int nres, int *changes, char *err,
                      size_t errlen)
{
    struct net_masq *r = calloc((size_t)c->nsubs + 1, sizeof(*r));
    char path[1100];
    int nr = 0, ch = 0, rc;

    if (!r)
        return net_err(err, errlen, -ENOMEM, "out of memory");
    for (int i = 0; i < c->nsubs; i++) {
        const struct sdn_subnet *s = &c->subs[i];
        int ok = 0;
        for (int j = 0; j < nres && !ok; j++)
            ok = !strcmp(res[j].vnet, s->vnet) && res[j].state == SDN_APPLIED;
        if (!s->snat || !ok || !s->cidr[0])
            continue;
        snprintf(r[nr].src, sizeof(r[nr].src), "%s", s->cidr);
        snprintf(r[nr++].via, sizeof(r[0].via), "%s", s->vnet);
    }
    snprintf(path, sizeof(path), "%s.nft", n->state_path ? n->state_path : "/run/pvefs-sdn");
    rc = net_masq_set("pvefs_sdn", r, nr, path, &ch, err, errlen);
    *changes += ch;
    free(r);
    return rc;
}

/* Removes what prev has and now does not: routes, addresses, OVS ports, then links. */
static void remove_stale(const struct made *prev, const struct made *now, int *changes)
{
    static const char *const order[] = {"route ", "addr ", "ovsport ", "link "};
    char err[SDN_ERRLEN];

    for (int k = 0; k < 4; k++)
        for (int i = 0; i < prev->n; i++) {
            const char *it = prev->item[i];
            char name[IFNAMSIZ + 1], detail[80] = "";
            int ch = 0;
            if (strncmp(it, order[k], strlen(order[k])) != 0 || made_has(now, it))
                continue;
            if (sscanf(it + strlen(order[k]), "%16s %79s", name, detail) < 1)
                continue;
            if (k == 0)
                net_route_remove(name, detail, &ch, err, sizeof(err));
            else if (k == 1)
                net_addr_remove(name, detail, &ch, err, sizeof(err));
            else if (k == 2)
                net_ovs_port_delete(name, &ch, err, sizeof(err));
            else
                net_link_delete(name, &ch, err, sizeof(err));
            *changes += ch;
        }
}

int sdn_apply(const struct sdn_cfg *c, const struct sdn_node *n, struct sdn_vresult *results,
              int *nres, int *changes)
{
    struct made *prev = calloc(1, sizeof(*prev)), *now = calloc(1, sizeof(*now));
    struct own *own = calloc(1, sizeof(*own));
    struct bad bad = {c, calloc((size_t)c->nvnets + 1, sizeof(*bad.why))};
    int failed = 0;

    *nres = 0;
    *changes = 0;
    if (!prev || !now || !own || !bad.why) {
        free(prev);
        free(now);
        free(own);
        free(bad.why);
        return -ENOMEM;
    }
    made_load(n->state_path, prev);
    own_addrs(own);
    /* a VNet that breaks a rule is not applied; the others are */
    sdn_problems(c, bad_vnet, &bad);
    if (n->frr_path)
        remove(n->frr_path);
    for (int i = 0; i < c->nvnets; i++) {
        const struct sdn_vnet *v = &c->vnets[i];
        const struct sdn_zone *z = sdn_zone_of(c, v->zone);
        struct sdn_vresult *r = &results[(*nres)++];
        char err[SDN_ERRLEN] = "";
        int rc = 0;

        memset(r, 0, sizeof(*r));
        snprintf(r->vnet, sizeof(r->vnet), "%s", v->name);
        if (bad.why[i][0]) {
            r->state = SDN_ERROR;
            snprintf(r->msg, sizeof(r->msg), "%s", bad.why[i]);
            failed++;
            keep_failed(prev, now, v->name);
            continue;
        }
        if (!z || !sdn_zone_has_node(z, n->name)) {
            r->state = SDN_SKIPPED;
            snprintf(r->msg, sizeof(r->msg), "zone %s leaves this node out", v->zone);
            continue;
        }
        if (!strcmp(z->type, "vxlan"))
            rc = do_vxlan(v, z, n, own, now, changes, err, sizeof(err));
        else if (!strcmp(z->type, "simple"))
            rc = do_simple(v, z, c, now, changes, err, sizeof(err));
        else if (!strcmp(z->type, "vlan"))
            rc = do_vlan(v, z, now, changes, err, sizeof(err));
        else if (!strcmp(z->type, "evpn"))
            rc = do_evpn(v, z, n, err, sizeof(err));
        else
            rc = net_err(err, sizeof(err), -EOPNOTSUPP,
                         "%s zones need 802.1ad VLAN sub-interfaces, which this build does not "
                         "make",
                         z->type);
        r->state = rc ? SDN_ERROR : SDN_APPLIED;
        if (rc) {
            snprintf(r->msg, sizeof(r->msg), "%.255s", err);
            failed++;
            keep_failed(prev, now, v->name);
        }
    }
    remove_stale(prev, now, changes);
    /* deleting a primary address takes the secondaries of its subnet along: re-ensure */
    for (int i = 0; i < now->n; i++) {
        char name[IFNAMSIZ + 1], a[80], err[SDN_ERRLEN];
        int ch = 0;
        if (sscanf(now->item[i], "addr %16s %79s", name, a) == 2 &&
            net_addr_ensure(name, a, &ch, err, sizeof(err)) == 0)
            *changes += ch;
    }
    made_save(n->state_path, now);
    {
        char err[SDN_ERRLEN];
        if (apply_snat(c, n, results, *nres, changes, err, sizeof(err)))
            for (int i = 0; i < *nres; i++)
                for (int j = 0; j < c->nsubs; j++)
                    if (c->subs[j].snat && !strcmp(c->subs[j].vnet, results[i].vnet) &&
                        results[i].state == SDN_APPLIED) {
                        results[i].state = SDN_ERROR;
                        snprintf(results[i].msg, sizeof(results[i].msg), "SNAT: %.240s", err);
                        failed++;
                    }
    }
    free(prev);
    free(now);
    free(own);
    free(bad.why);
    return failed ? -EIO : 0;
}
