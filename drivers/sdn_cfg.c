/*
 * sdn_cfg: the running SDN configuration as text, parsed and checked as a whole.
 * Pure: no I/O, so the same rules run at apply time (fs/files_sdn.c) and in unit tests.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdn.h"

/* Copies what fits: values longer than a field are refused by the config schemas first. */
static void copy(char *d, size_t n, const char *s)
{
    size_t l = strnlen(s, n - 1);

    memcpy(d, s, l);
    d[l] = 0;
}

static int fail(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    snprintf(err, errlen, fmt, a, b);
    return -EINVAL;
}

const struct sdn_zone *sdn_zone_of(const struct sdn_cfg *c, const char *name)
{
    for (int i = 0; i < c->nzones; i++)
        if (strcmp(c->zones[i].name, name) == 0)
            return &c->zones[i];
    return NULL;
}

static struct sdn_zone *zone_get(struct sdn_cfg *c, const char *name, size_t n)
{
    for (int i = 0; i < c->nzones; i++)
        if (strlen(c->zones[i].name) == n && memcmp(c->zones[i].name, name, n) == 0)
            return &c->zones[i];
    if (c->nzones >= SDN_MAX_ZONES || n >= sizeof(c->zones[0].name))
        return NULL;
    snprintf(c->zones[c->nzones].name, sizeof(c->zones[0].name), "%.*s", (int)n, name);
    return &c->zones[c->nzones++];
}

static struct sdn_vnet *vnet_get(struct sdn_cfg *c, const char *name, size_t n)
{
    for (int i = 0; i < c->nvnets; i++)
        if (strlen(c->vnets[i].name) == n && memcmp(c->vnets[i].name, name, n) == 0)
            return &c->vnets[i];
    if (c->nvnets >= SDN_MAX_VNETS || n >= sizeof(c->vnets[0].name))
        return NULL;
    snprintf(c->vnets[c->nvnets].name, sizeof(c->vnets[0].name), "%.*s", (int)n, name);
    return &c->vnets[c->nvnets++];
}

static struct sdn_subnet *sub_get(struct sdn_cfg *c, const char *vnet, size_t vn, const char *id,
                                  size_t n)
{
    for (int i = 0; i < c->nsubs; i++)
        if (strlen(c->subs[i].vnet) == vn && memcmp(c->subs[i].vnet, vnet, vn) == 0 &&
            strlen(c->subs[i].id) == n && memcmp(c->subs[i].id, id, n) == 0)
            return &c->subs[i];
    if (c->nsubs >= SDN_MAX_SUBS || vn >= sizeof(c->subs[0].vnet) || n >= sizeof(c->subs[0].id))
        return NULL;
    snprintf(c->subs[c->nsubs].vnet, sizeof(c->subs[0].vnet), "%.*s", (int)vn, vnet);
    snprintf(c->subs[c->nsubs].id, sizeof(c->subs[0].id), "%.*s", (int)n, id);
    return &c->subs[c->nsubs++];
}

int sdn_subnet_cidr(const char *id, char *cidr, size_t len)
{
    const char *dash = strrchr(id, '-');
    unsigned char buf[16];
    char ip[64], *end;
    long pfx;
    int v6;

    if (!dash || dash == id || (size_t)(dash - id) >= sizeof(ip))
        return -EINVAL;
    snprintf(ip, sizeof(ip), "%.*s", (int)(dash - id), id);
    pfx = strtol(dash + 1, &end, 10);
    v6 = strchr(ip, ':') != NULL;
    if (*end || !dash[1] || pfx < 0 || pfx > (v6 ? 128 : 32) ||
        inet_pton(v6 ? AF_INET6 : AF_INET, ip, buf) != 1)
        return -EINVAL;
    /* a subnet names its network: no host bits set */
    for (int bit = (int)pfx; bit < (v6 ? 128 : 32); bit++)
        if (buf[bit / 8] & (0x80 >> (bit % 8)))
            return -EINVAL;
    snprintf(cidr, len, "%s/%ld", ip, pfx);
    return 0;
}

static void set_zone(struct sdn_zone *z, const char *k, const char *v)
{
    static const struct {
        const char *key;
        size_t off, len;
    } strs[] = {
        {"type", offsetof(struct sdn_zone, type), sizeof(z->type)},
        {"bridge", offsetof(struct sdn_zone, bridge), sizeof(z->bridge)},
        {"peers", offsetof(struct sdn_zone, peers), sizeof(z->peers)},
        {"nodes", offsetof(struct sdn_zone, nodes), sizeof(z->nodes)},
        {"controller", offsetof(struct sdn_zone, controller), sizeof(z->controller)},
        {"vlan-protocol", offsetof(struct sdn_zone, vlan_protocol), sizeof(z->vlan_protocol)},
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (strcmp(k, strs[i].key) == 0) {
            copy((char *)z + strs[i].off, strs[i].len, v);
            return;
        }
    if (strcmp(k, "mtu") == 0)
        z->mtu = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(k, "vxlan-port") == 0)
        z->vxlan_port = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(k, "tag") == 0)
        z->tag = (unsigned)strtoul(v, NULL, 10);
}

/* The end of a line's key: the first ": ", else a ':' ending the line, else the first ':'
 * (a key never holds a space, an IPv6 subnet id holds colons). NULL if there is no ':'. */
static const char *key_end(const char *line, size_t l)
{
    const char *colon = memchr(line, ':', l);

    for (const char *p = colon; p; p = memchr(p + 1, ':', (size_t)(line + l - p - 1)))
        if (p + 1 == line + l || p[1] == ' ')
            return p;
    return colon;
}

int sdn_parse(const char *text, size_t len, struct sdn_cfg *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    for (const char *line = text, *end = text + len; line && line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t l = nl ? (size_t)(nl - line) : (size_t)(end - line), kl;
        const char *colon = l ? key_end(line, l) : NULL, *d1, *d2, *d3, *v;
        char key[64], val[600];
        const char *cur = line;

        line = nl ? nl + 1 : NULL;
        if (!colon)
            continue;
        kl = (size_t)(colon - cur);
        v = colon + 1 + (colon + 1 < cur + l && colon[1] == ' ');
        snprintf(val, sizeof(val), "%.*s", (int)(cur + l - v), v);
        if (kl == 10 && memcmp(cur, "generation", 10) == 0) {
            c->generation = strtoull(val, NULL, 10);
            continue;
        }
        d1 = memchr(cur, '.', kl);
        d2 = d1 ? memchr(d1 + 1, '.', (size_t)(colon - d1 - 1)) : NULL;
        if (!d1 || !d2) {
            snprintf(err, errlen, "running SDN config: bad key '%.*s'", (int)kl, cur);
            return -EINVAL;
        }
        if (d1 - cur == 4 && memcmp(cur, "zone", 4) == 0) {
            struct sdn_zone *z = zone_get(c, d1 + 1, (size_t)(d2 - d1 - 1));
            if (!z)
                return fail(err, errlen, "more than %s zones, or a zone id longer than 15%s", "64",
                            "");
            snprintf(key, sizeof(key), "%.*s", (int)(colon - d2 - 1), d2 + 1);
            set_zone(z, key, val);
        } else if (d1 - cur == 4 && memcmp(cur, "vnet", 4) == 0) {
            struct sdn_vnet *vn = vnet_get(c, d1 + 1, (size_t)(d2 - d1 - 1));
            if (!vn)
                return fail(err, errlen, "more than %s VNets, or a VNet id longer than 15%s",
                            "1024", "");
            snprintf(key, sizeof(key), "%.*s", (int)(colon - d2 - 1), d2 + 1);
            if (strcmp(key, "zone") == 0)
                copy(vn->zone, sizeof(vn->zone), val);
            else if (strcmp(key, "tag") == 0)
                vn->tag = (unsigned)strtoul(val, NULL, 10);
            else if (strcmp(key, "alias") == 0)
                copy(vn->alias, sizeof(vn->alias), val);
            else if (strcmp(key, "vlanaware") == 0)
                vn->vlanaware = atoi(val);
        } else if (d1 - cur == 6 && memcmp(cur, "subnet", 6) == 0) {
            /* subnet.<vnet>.<id>.<option>: an IPv4 id holds dots, the option is last */
            struct sdn_subnet *sb;
            d3 = colon;
            while (d3 > d2 && d3[-1] != '.')
                d3--;
            if (d3 <= d2 + 1) {
                snprintf(err, errlen, "running SDN config: bad subnet key '%.*s'", (int)kl, cur);
                return -EINVAL;
            }
            sb = sub_get(c, d1 + 1, (size_t)(d2 - d1 - 1), d2 + 1, (size_t)(d3 - d2 - 2));
            if (!sb)
                return fail(err, errlen, "more than %s subnets, or a subnet id longer than 63%s",
                            "1024", "");
            snprintf(key, sizeof(key), "%.*s", (int)(colon - d3), d3);
            if (strcmp(key, "gateway") == 0)
                copy(sb->gateway, sizeof(sb->gateway), val);
            else if (strcmp(key, "snat") == 0)
                sb->snat = atoi(val);
        }
    }
    /* an id that is no network leaves cidr empty: sdn_problems charges it to its VNet */
    for (int i = 0; i < c->nsubs; i++)
        if (sdn_subnet_cidr(c->subs[i].id, c->subs[i].cidr, sizeof(c->subs[i].cidr)))
            c->subs[i].cidr[0] = 0;
    return 0;
}

int sdn_zone_has_node(const struct sdn_zone *z, const char *node)
{
    size_t n = strlen(node);

    if (!z->nodes[0])
        return 1;
    for (const char *p = z->nodes; (p = strstr(p, node)); p += n)
        if ((p == z->nodes || p[-1] == ',') && (p[n] == ',' || !p[n]))
            return 1;
    return 0;
}

int sdn_host_subnet(const char *cidr)
{
    const char *slash = strchr(cidr, '/');

    return slash && atoi(slash + 1) == (strchr(cidr, ':') ? 128 : 32);
}

int sdn_addr_in(const char *gw, const char *cidr)
{
    unsigned char a[16], b[16];
    char net[64];
    const char *slash = strchr(cidr, '/');
    int v6 = strchr(cidr, ':') != NULL, pfx;

    if (!slash)
        return 0;
    snprintf(net, sizeof(net), "%.*s", (int)(slash - cidr), cidr);
    pfx = atoi(slash + 1);
    if (inet_pton(v6 ? AF_INET6 : AF_INET, gw, a) != 1 ||
        inet_pton(v6 ? AF_INET6 : AF_INET, net, b) != 1)
        return 0;
    for (int bit = 0; bit < pfx; bit++)
        if ((a[bit / 8] ^ b[bit / 8]) & (0x80 >> (bit % 8)))
            return 0;
    return 1;
}

static int name_ok(const char *n)
{
    /* Proxmox: a letter, then letters and digits, 8 at most; the VXLAN device adds 6 */
    size_t l = strlen(n);
    return l >= 1 && l <= 8 && n[0] >= 'a' && n[0] <= 'z' &&
           strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789") == l;
}

/* Reports one problem; 1 for the count. */
__attribute__((format(printf, 5, 6))) static int
report(sdn_problem_fn fn, void *ctx, const char *vnet, int missing, const char *fmt, ...)
{
    char why[SDN_ERRLEN];
    va_list ap;

    if (!fn)
        return 1;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    fn(ctx, vnet, missing, why);
    return 1;
}

static int is_vxlan(const struct sdn_zone *z)
{
    return z && (!strcmp(z->type, "vxlan") || !strcmp(z->type, "evpn"));
}

/* The rules of one VNet v (index i) and what it shares with the VNets before it. */
static int vnet_problems(const struct sdn_cfg *c, int i, sdn_problem_fn fn, void *ctx)
{
    const struct sdn_vnet *v = &c->vnets[i];
    const struct sdn_zone *z = sdn_zone_of(c, v->zone);

    if (!name_ok(v->name))
        return report(fn, ctx, v->name, 0,
                      "VNet '%s': a VNet id is a letter and up to 7 letters or digits", v->name);
    if (!z)
        return report(fn, ctx, v->name, !v->zone[0],
                      "VNet %s names zone '%s', which does not exist", v->name, v->zone);
    if (!name_ok(z->name))
        return report(fn, ctx, v->name, 0,
                      "zone '%s' of VNet %s: a zone id is a letter and up to 7 letters or digits",
                      z->name, v->name);
    if (!strcmp(z->type, "simple") && v->tag)
        return report(fn, ctx, v->name, 0, "VNet %s: a simple zone (%s) takes no tag", v->name,
                      z->name);
    /* a QinQ VNet without a tag is the zone's service VLAN itself (Proxmox's notagvnet) */
    if (strcmp(z->type, "simple") != 0 && strcmp(z->type, "qinq") != 0 && !v->tag)
        return report(fn, ctx, v->name, 1, "VNet %s: a %s zone needs a tag", v->name, z->type);
    if ((!strcmp(z->type, "vlan") || !strcmp(z->type, "qinq")) && v->tag > 4094)
        return report(fn, ctx, v->name, 0, "VNet %s: VLAN id %u is above 4094", v->name, v->tag);
    for (int j = 0; j < i; j++) {
        const struct sdn_vnet *w = &c->vnets[j];
        if (!v->tag || v->tag != w->tag)
            continue;
        if (!strcmp(v->zone, w->zone))
            return report(fn, ctx, v->name, 0, "VNets %s and %s of one zone share a tag", v->name,
                          w->name);
        if (is_vxlan(z) && is_vxlan(sdn_zone_of(c, w->zone)))
            return report(fn, ctx, v->name, 0, "VNets %s and %s overlap: both use VNI %u", v->name,
                          w->name, v->tag);
    }
    return 0;
}

/* A gateway lies in its subnet; a single-address subnet may instead be routed through any
 * gateway of its family (Proxmox's "hetzner" case: the gateway on the bridge as /32 and a
 * route to the subnet), "0.0.0.0/0" and "::/0" being every address of one family. */
static int gateway_ok(const struct sdn_subnet *s)
{
    if (sdn_addr_in(s->gateway, s->cidr))
        return 1;
    return sdn_host_subnet(s->cidr) &&
           sdn_addr_in(s->gateway, strchr(s->cidr, ':') ? "::/0" : "0.0.0.0/0");
}

int sdn_problems(const struct sdn_cfg *c, sdn_problem_fn fn, void *ctx)
{
    int n = 0;

    for (int i = 0; i < c->nzones; i++) {
        int used = 0;
        for (int j = 0; j < c->nvnets && !used; j++)
            used = !strcmp(c->vnets[j].zone, c->zones[i].name);
        /* a zone's VNets carry its problem; one with none is reported on its own */
        if (!used && !name_ok(c->zones[i].name))
            n += report(fn, ctx, NULL, 0,
                        "zone '%s': a zone id is a letter and up to 7 letters or digits",
                        c->zones[i].name);
    }
    for (int i = 0; i < c->nvnets; i++)
        n += vnet_problems(c, i, fn, ctx);
    for (int i = 0; i < c->nsubs; i++) {
        const struct sdn_subnet *s = &c->subs[i];
        int found = 0;
        for (int j = 0; j < c->nvnets && !found; j++)
            found = !strcmp(c->vnets[j].name, s->vnet);
        if (!found)
            n += report(fn, ctx, NULL, 0, "subnet %s belongs to VNet '%s', which does not exist",
                        s->id, s->vnet);
        else if (!s->cidr[0])
            n += report(fn, ctx, s->vnet, 0,
                        "subnet %s of VNet %s is not a network in CIDR form (<address>-<prefix>, "
                        "no host bits set)",
                        s->id, s->vnet);
        else if (s->gateway[0] && !gateway_ok(s))
            n += report(fn, ctx, s->vnet, 0, "VNet %s: gateway %s lies outside subnet %s", s->vnet,
                        s->gateway, s->cidr);
    }
    return n;
}

struct first {
    char *err;
    size_t len;
    int n;
};

static void first_one(void *ctx, const char *vnet, int missing, const char *why)
{
    struct first *f = ctx;

    (void)vnet;
    (void)missing;
    if (!f->n++)
        snprintf(f->err, f->len, "%s", why);
}

int sdn_validate(const struct sdn_cfg *c, char *err, size_t errlen)
{
    struct first f = {err, errlen, 0};

    return sdn_problems(c, first_one, &f) ? -EINVAL : 0;
}

/* 1 if a and b are one IPv4 or IPv6 address, however written. */
static int same_addr(const char *a, const char *b)
{
    unsigned char x[16], y[16];
    int fa = strchr(a, ':') ? AF_INET6 : AF_INET, fb = strchr(b, ':') ? AF_INET6 : AF_INET;

    if (fa != fb || inet_pton(fa, a, x) != 1 || inet_pton(fb, b, y) != 1)
        return strcmp(a, b) == 0;
    return memcmp(x, y, fa == AF_INET ? 4 : 16) == 0;
}

int sdn_vxlan_peers(const struct sdn_zone *z, const struct sdn_node *n, const char *const *own,
                    int nown, char peers[][64], int max, char *local, size_t llen)
{
    int np = 0;

    snprintf(local, llen, "%s", n->addr ? n->addr : "");
    if (z->peers[0]) {
        char buf[sizeof(z->peers)], *save = NULL;
        int mine_found = 0;
        snprintf(buf, sizeof(buf), "%s", z->peers);
        for (char *t = strtok_r(buf, ", ;", &save); t; t = strtok_r(NULL, ", ;", &save)) {
            int mine = n->addr && n->addr[0] && same_addr(t, n->addr), skip = 0;
            for (int i = 0; i < nown && !mine; i++)
                mine = same_addr(t, own[i]);
            if (mine) {
                /* this node in the list of all nodes: it sends from there, not to itself */
                if (!mine_found++)
                    snprintf(local, llen, "%s", t);
                continue;
            }
            /* a listed peer that is a cluster node follows its membership */
            for (int i = 0; i < n->nmembers && !skip; i++)
                skip = same_addr(n->members[i].addr, t) && !n->members[i].online;
            if (!skip && np < max)
                snprintf(peers[np++], 64, "%s", t);
        }
        return np;
    }
    for (int i = 0; i < n->nmembers && np < max; i++) {
        const struct sdn_member *m = &n->members[i];
        if (m->online && strcmp(m->name, n->name) != 0 && m->addr[0] && m->addr[0] != '-' &&
            sdn_zone_has_node(z, m->name))
            snprintf(peers[np++], 64, "%s", m->addr);
    }
    return np;
}
