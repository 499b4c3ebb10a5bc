/*
 * sdn_cfg: the running SDN configuration as text, parsed and checked as a whole.
 * Pure: no I/O, so the same rules run at apply time (fs/files_sdn.c) and in unit tests.
 */
#include <arpa/inet.h>
#include <errno.h>
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

int sdn_parse(const char *text, size_t len, struct sdn_cfg *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    for (const char *line = text, *end = text + len; line && line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t l = nl ? (size_t)(nl - line) : (size_t)(end - line), kl;
        const char *colon = memchr(line, ':', l), *d1, *d2, *d3, *v;
        char key[64], val[600];
        const char *cur = line;

        line = nl ? nl + 1 : NULL;
        if (!l || !colon)
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
                return fail(err, errlen, "too many zones%s%s", "", "");
            snprintf(key, sizeof(key), "%.*s", (int)(colon - d2 - 1), d2 + 1);
            set_zone(z, key, val);
        } else if (d1 - cur == 4 && memcmp(cur, "vnet", 4) == 0) {
            struct sdn_vnet *vn = vnet_get(c, d1 + 1, (size_t)(d2 - d1 - 1));
            if (!vn)
                return fail(err, errlen, "too many VNets%s%s", "", "");
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
            /* subnet.<vnet>.<id>.<option>: the id holds dots, the option is last */
            struct sdn_subnet *sb;
            d3 = colon;
            while (d3 > d2 && d3[-1] != '.')
                d3--;
            if (d3 <= d2 + 1)
                return fail(err, errlen, "running SDN config: bad subnet key%s%s", "", "");
            sb = sub_get(c, d1 + 1, (size_t)(d2 - d1 - 1), d2 + 1, (size_t)(d3 - d2 - 2));
            if (!sb)
                return fail(err, errlen, "too many subnets%s%s", "", "");
            snprintf(key, sizeof(key), "%.*s", (int)(colon - d3), d3);
            if (strcmp(key, "gateway") == 0)
                copy(sb->gateway, sizeof(sb->gateway), val);
            else if (strcmp(key, "snat") == 0)
                sb->snat = atoi(val);
        }
    }
    for (int i = 0; i < c->nsubs; i++)
        if (sdn_subnet_cidr(c->subs[i].id, c->subs[i].cidr, sizeof(c->subs[i].cidr)))
            return fail(err, errlen, "subnet %s of %s is not a network in CIDR form", c->subs[i].id,
                        c->subs[i].vnet);
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

/* 1 if address gw lies in cidr. */
static int inside(const char *gw, const char *cidr)
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

int sdn_validate(const struct sdn_cfg *c, int whole, const char *open, char *err, size_t errlen)
{
    for (int i = 0; i < c->nzones; i++)
        if (!name_ok(c->zones[i].name))
            return fail(err, errlen,
                        "zone '%s': a zone id is a letter and up to 7 letters or "
                        "digits%s",
                        c->zones[i].name, "");
    for (int i = 0; i < c->nvnets; i++) {
        const struct sdn_vnet *v = &c->vnets[i];
        const struct sdn_zone *z = sdn_zone_of(c, v->zone);
        char tag[16];
        if (!name_ok(v->name))
            return fail(err, errlen,
                        "VNet '%s': a VNet id is a letter and up to 7 letters or "
                        "digits%s",
                        v->name, "");
        if (!whole && !v->zone[0])
            continue;
        if (!z)
            return fail(err, errlen, "VNet %s names zone '%s', which does not exist", v->name,
                        v->zone);
        snprintf(tag, sizeof(tag), "%u", v->tag);
        if (!strcmp(z->type, "simple") && v->tag)
            return fail(err, errlen, "VNet %s: a simple zone (%s) takes no tag", v->name, z->name);
        if (strcmp(z->type, "simple") != 0 && !v->tag && !(open && !strcmp(open, v->name)))
            return fail(err, errlen, "VNet %s: a %s zone needs a tag", v->name, z->type);
        if ((!strcmp(z->type, "vlan") || !strcmp(z->type, "qinq")) && v->tag > 4094)
            return fail(err, errlen, "VNet %s: VLAN id %s is above 4094", v->name, tag);
        for (int j = 0; j < i; j++) {
            const struct sdn_vnet *w = &c->vnets[j];
            const struct sdn_zone *wz = sdn_zone_of(c, w->zone);
            int vx = !strcmp(z->type, "vxlan") || !strcmp(z->type, "evpn");
            int wvx = wz && (!strcmp(wz->type, "vxlan") || !strcmp(wz->type, "evpn"));
            if (!v->tag || v->tag != w->tag)
                continue;
            if (!strcmp(v->zone, w->zone))
                return fail(err, errlen, "VNets %s and %s of one zone share a tag", v->name,
                            w->name);
            if (vx && wvx) {
                snprintf(err, errlen, "VNets %s and %s overlap: both use VNI %u", v->name, w->name,
                         v->tag);
                return -EINVAL;
            }
        }
    }
    for (int i = 0; i < c->nsubs; i++) {
        const struct sdn_subnet *s = &c->subs[i];
        int found = 0;
        for (int j = 0; j < c->nvnets && !found; j++)
            found = !strcmp(c->vnets[j].name, s->vnet);
        if (!found)
            return fail(err, errlen, "subnet %s belongs to VNet '%s', which does not exist", s->id,
                        s->vnet);
        if (s->gateway[0] && !inside(s->gateway, s->cidr))
            return fail(err, errlen, "gateway %s lies outside subnet %s", s->gateway, s->cidr);
    }
    return 0;
}
