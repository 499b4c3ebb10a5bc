/* Unit tests for drivers/sdn_cfg.c: the running SDN text, parsed and checked as a whole. */
#include "../../drivers/sdn.h"
#include "buf.h"
#include "conf.h"
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sdn_cfg cfg;

static int check(const char *text, char *err)
{
    int rc = sdn_parse(text, strlen(text), &cfg, err, SDN_ERRLEN);
    return rc ? rc : sdn_validate(&cfg, err, SDN_ERRLEN);
}

static void test_sdn_parse(void)
{
    char err[SDN_ERRLEN] = "";
    const char *t = "generation: 7\n"
                    "subnet.v1.10.0.0.0-24.gateway: 10.0.0.1\n"
                    "subnet.v1.10.0.0.0-24.snat: 1\n"
                    "vnet.v1.alias: first net\nvnet.v1.tag: 100\nvnet.v1.zone: z1\n"
                    "vnet.v2.tag: 200\nvnet.v2.zone: z1\n"
                    "zone.z1.mtu: 1400\nzone.z1.nodes: n1,n2\nzone.z1.peers: 10.0.1.1,10.0.1.2\n"
                    "zone.z1.type: vxlan\n";

    CHECK(check(t, err) == 0);
    CHECK(cfg.generation == 7);
    CHECK(cfg.nzones == 1 && cfg.nvnets == 2 && cfg.nsubs == 1);
    CHECK_STR(cfg.zones[0].type, "vxlan");
    CHECK(cfg.zones[0].mtu == 1400);
    CHECK_STR(cfg.vnets[0].alias, "first net");
    CHECK(cfg.vnets[1].tag == 200);
    CHECK_STR(cfg.subs[0].cidr, "10.0.0.0/24");
    CHECK_STR(cfg.subs[0].gateway, "10.0.0.1");
    CHECK(cfg.subs[0].snat == 1);
    CHECK(sdn_zone_has_node(&cfg.zones[0], "n2"));
    CHECK(!sdn_zone_has_node(&cfg.zones[0], "n3"));
    CHECK(!sdn_zone_has_node(&cfg.zones[0], "n"));
}

static void test_sdn_rules(void)
{
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"vnet.v1.zone: nosuch\nvnet.v1.tag: 5\n", "does not exist"},
        {"zone.a.type: vxlan\nzone.b.type: evpn\nvnet.v1.zone: a\nvnet.v1.tag: 9\n"
         "vnet.v2.zone: b\nvnet.v2.tag: 9\n",
         "VNI 9"},
        {"zone.a.type: vlan\nzone.a.bridge: vmbr0\nvnet.v1.zone: a\nvnet.v1.tag: 9\n"
         "vnet.v2.zone: a\nvnet.v2.tag: 9\n",
         "share a tag"},
        {"zone.a.type: vlan\nzone.a.bridge: vmbr0\nvnet.v1.zone: a\nvnet.v1.tag: 5000\n",
         "above 4094"},
        {"zone.a.type: simple\nvnet.v1.zone: a\nvnet.v1.tag: 5\n", "takes no tag"},
        {"zone.a.type: vxlan\nvnet.v1.zone: a\n", "needs a tag"},
        {"zone.a.type: simple\nvnet.v1.zone: a\nsubnet.v1.10.0.0.0-24.gateway: 10.0.1.1\n",
         "outside"},
        {"zone.a.type: simple\nvnet.v1.zone: a\nsubnet.v1.10.0.0.1-24.gateway: 10.0.0.1\n", "CIDR"},
        {"zone.a.type: simple\nvnet.toolongname.zone: a\n", "VNet id"},
        {"zone.a.type: simple\nsubnet.v9.10.0.0.0-24.gateway: 10.0.0.1\n", "does not exist"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[SDN_ERRLEN] = "";
        int rc = check(bad[i].text, err);
        if (rc != -EINVAL || !strstr(err, bad[i].why))
            fprintf(stderr, "  case %zu: rc %d, '%s'\n", i, rc, err);
        CHECK(rc == -EINVAL);
        CHECK(strstr(err, bad[i].why) != NULL);
    }
    /* the same VLAN tag in two zones on different bridges is fine, as is a VNI reused by VLAN */
    char err[SDN_ERRLEN] = "";
    CHECK(check("zone.a.type: vlan\nzone.a.bridge: b0\nzone.b.type: vlan\nzone.b.bridge: b1\n"
                "zone.c.type: vxlan\nvnet.v1.zone: a\nvnet.v1.tag: 9\nvnet.v2.zone: b\n"
                "vnet.v2.tag: 9\nvnet.v3.zone: c\nvnet.v3.tag: 9\n",
                err) == 0);
    /* a QinQ VNet without a tag is the service VLAN; a single-address subnet may be routed
     * through a gateway outside it, of its family (both in Proxmox's own tests) */
    CHECK(check("zone.q.type: qinq\nzone.q.bridge: b0\nzone.q.tag: 10\nvnet.v1.zone: q\n", err) ==
          0);
    CHECK(check("zone.a.type: simple\nvnet.v1.zone: a\nsubnet.v1.144.76.200.65-32.gateway: "
                "144.76.0.1\n",
                err) == 0);
    CHECK(check("zone.a.type: simple\nvnet.v1.zone: a\nsubnet.v1.fd00::5-128.gateway: fd00::1\n",
                err) == 0);
    CHECK(check("zone.a.type: simple\nvnet.v1.zone: a\nsubnet.v1.144.76.200.65-32.gateway: "
                "fd00::1\n",
                err) == -EINVAL);
    CHECK(check("zone.a.type: simple\nvnet.v1.zone: a\nsubnet.v1.144.76.200.64-31.gateway: "
                "144.76.0.1\n",
                err) == -EINVAL);
}

/* What a config still being written may supply is told apart from a contradiction. */
struct missing {
    int missing, broken;
};

static void count_missing(void *ctx, const char *vnet, int missing, const char *why)
{
    struct missing *m = ctx;

    (void)vnet;
    (void)why;
    if (missing)
        m->missing++;
    else
        m->broken++;
}

static void test_sdn_rules_missing(void)
{
    static const char *const text = "zone.a.type: vxlan\nzone.s.type: simple\nvnet.v1.zone: a\n"
                                    "vnet.v2.zone: \nvnet.v3.zone: s\nvnet.v3.tag: 4\n";
    struct missing m = {0};
    char err[SDN_ERRLEN];

    CHECK(sdn_parse(text, strlen(text), &cfg, err, SDN_ERRLEN) == 0);
    CHECK(sdn_problems(&cfg, count_missing, &m) == 3);
    CHECK(m.missing == 2); /* v1's tag, v2's zone */
    CHECK(m.broken == 1);  /* v3: a simple zone takes no tag */
}

static void test_sdn_subnet_cidr(void)
{
    char c[80];

    CHECK(sdn_subnet_cidr("10.1.0.0-16", c, sizeof(c)) == 0);
    CHECK_STR(c, "10.1.0.0/16");
    CHECK(sdn_subnet_cidr("fd00:1::-64", c, sizeof(c)) == 0);
    CHECK_STR(c, "fd00:1::/64");
    CHECK(sdn_subnet_cidr("10.1.0.1-16", c, sizeof(c)) == -EINVAL);
    CHECK(sdn_subnet_cidr("10.1.0.0-33", c, sizeof(c)) == -EINVAL);
    CHECK(sdn_subnet_cidr("10.1.0.0", c, sizeof(c)) == -EINVAL);
    CHECK(sdn_subnet_cidr("10.1.0.0-", c, sizeof(c)) == -EINVAL);
    CHECK(sdn_subnet_cidr("x-24", c, sizeof(c)) == -EINVAL);
}

/* IPv6 subnets: the id holds colons, so the key ends at ": " (it failed as "bad subnet key"). */
static void test_sdn_ipv6_subnet(void)
{
    char err[SDN_ERRLEN] = "";
    const char *t = "generation: 3\n"
                    "subnet.myvnet.192.168.0.0-24.gateway: 192.168.0.1\n"
                    "subnet.myvnet.2a08:2142:302:3::-64.gateway: 2a08:2142:302:3::1\n"
                    "subnet.myvnet.2a08:2142:302:3::-64.snat: 1\n"
                    "subnet.myvnet.2a08:2142:302:3::-64.type: subnet\n"
                    "vnet.myvnet.zone: myzone\n"
                    "zone.myzone.type:simple\n"; /* "k:v" as an older tree may hold */

    CHECK(check(t, err) == 0);
    if (err[0])
        fprintf(stderr, "  %s\n", err);
    CHECK(cfg.nsubs == 2);
    CHECK_STR(cfg.subs[1].id, "2a08:2142:302:3::-64");
    CHECK_STR(cfg.subs[1].cidr, "2a08:2142:302:3::/64");
    CHECK_STR(cfg.subs[1].gateway, "2a08:2142:302:3::1");
    CHECK(cfg.subs[1].snat == 1);
    CHECK_STR(cfg.zones[0].type, "simple");
    /* an IPv6 gateway outside its subnet, and an IPv4 one in an IPv6 subnet */
    CHECK(check("zone.a.type: simple\nvnet.v1.zone: a\nsubnet.v1.fd00:1::-64.gateway: fd00:2::1\n",
                err) == -EINVAL);
    CHECK(strstr(err, "outside") != NULL);
    CHECK(check("zone.a.type: simple\nvnet.v1.zone: a\nsubnet.v1.fd00:1::-64.gateway: 10.0.0.1\n",
                err) == -EINVAL);
    CHECK(strstr(err, "outside") != NULL);
}

struct seen {
    char lines[8][SDN_ERRLEN + 20];
    int n;
};

static void seen_one(void *ctx, const char *vnet, int missing, const char *why)
{
    struct seen *s = ctx;

    (void)missing;
    if (s->n < 8)
        snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s|%s", vnet ? vnet : "-", why);
}

/* Every broken rule is reported, charged to its own VNet; the good VNet is never named. */
static void test_sdn_problems(void)
{
    char err[SDN_ERRLEN] = "";
    struct seen s = {0};
    const char *t = "zone.ok.type: vxlan\nzone.s.type: simple\n"
                    "vnet.good.zone: ok\nvnet.good.tag: 10\n"
                    "vnet.nozone.zone: \n"
                    "vnet.dup.zone: ok\nvnet.dup.tag: 10\n"
                    "vnet.badsub.zone: s\n"
                    "subnet.badsub.10.0.0.1-24.type: subnet\n"
                    "subnet.gone.10.1.0.0-24.type: subnet\n";

    CHECK(sdn_parse(t, strlen(t), &cfg, err, sizeof(err)) == 0);
    CHECK(sdn_problems(&cfg, seen_one, &s) == 4);
    CHECK(s.n == 4);
    for (int i = 0; i < s.n; i++)
        CHECK(strncmp(s.lines[i], "good|", 5) != 0 && !strstr(s.lines[i], "VNet good"));
    CHECK(strstr(s.lines[0], "nozone|VNet nozone names zone ''") == s.lines[0]);
    CHECK(strstr(s.lines[1], "dup|VNets dup and good of one zone share a tag") == s.lines[1]);
    CHECK(strstr(s.lines[2], "badsub|subnet 10.0.0.1-24 of VNet badsub is not a network") ==
          s.lines[2]);
    CHECK(strstr(s.lines[3], "-|subnet 10.1.0.0-24 belongs to VNet 'gone'") == s.lines[3]);
    CHECK(sdn_validate(&cfg, err, sizeof(err)) == -EINVAL);
    CHECK(strstr(err, "nozone") != NULL);
    CHECK(sdn_problems(&cfg, NULL, NULL) == 4);
}

/* A VXLAN zone's peers listing this node: it is skipped, and its address is the local one. */
static void test_sdn_vxlan_peers(void)
{
    struct sdn_zone z = {
        .name = "z", .type = "vxlan", .peers = "192.168.0.1,192.168.0.2 192.168.0.3"};
    const char *own[] = {"127.0.0.1", "::1", "192.168.0.2", "fe80::1"};
    struct sdn_member mem[3] = {
        {"n1", "192.168.0.1", 1}, {"n2", "192.168.0.2", 1}, {"n3", "192.168.0.3", 0}};
    struct sdn_node alone = {.name = "n2", .addr = ""};
    struct sdn_node clus = {.name = "n2", .addr = "192.168.0.2", .members = mem, .nmembers = 3};
    char peers[8][64], local[64];
    int np;

    /* standalone (--local): known as itself only by its interfaces' addresses */
    np = sdn_vxlan_peers(&z, &alone, own, 4, peers, 8, local, sizeof(local));
    CHECK(np == 2);
    CHECK_STR(peers[0], "192.168.0.1");
    CHECK_STR(peers[1], "192.168.0.3");
    CHECK_STR(local, "192.168.0.2");
    /* none of its addresses listed: every peer stays, no local address */
    np = sdn_vxlan_peers(&z, &alone, own, 1, peers, 8, local, sizeof(local));
    CHECK(np == 3);
    CHECK_STR(local, "");
    /* in a cluster: itself by its cluster address too, an offline listed node drops out */
    np = sdn_vxlan_peers(&z, &clus, NULL, 0, peers, 8, local, sizeof(local));
    CHECK(np == 1);
    CHECK_STR(peers[0], "192.168.0.1");
    CHECK_STR(local, "192.168.0.2");
    /* an own address written another way is still this node */
    snprintf(z.peers, sizeof(z.peers), "fd00::0:1,fd00::2");
    {
        const char *own6[] = {"fd00::1"};
        np = sdn_vxlan_peers(&z, &alone, own6, 1, peers, 8, local, sizeof(local));
        CHECK(np == 1);
        CHECK_STR(peers[0], "fd00::2");
        CHECK_STR(local, "fd00::0:1");
    }
    /* no list: the zone's other online members, from the cluster address */
    z.peers[0] = 0;
    mem[2].online = 1;
    np = sdn_vxlan_peers(&z, &clus, own, 4, peers, 8, local, sizeof(local));
    CHECK(np == 2);
    CHECK_STR(peers[0], "192.168.0.1");
    CHECK_STR(peers[1], "192.168.0.3");
    CHECK_STR(local, "192.168.0.2");
}

/* One config file of a fixture tree: checked by its schema, then flattened as pvefs's
 * collect does into running text. 0, or -1 with the reason printed. */
static int tree_section(const char *name, const char *path, const char *doc, size_t len,
                        struct pv_buf *run, int *v6)
{
    const struct conf_schema *schema = &conf_zone_schema;
    char prefix[300], err[CONF_ERRLEN] = "", cidr[80], *canon = NULL;
    const char *sub = strstr(path, "/subnets/");
    size_t clen;

    if (!strncmp(path, "zones/", 6)) {
        snprintf(prefix, sizeof(prefix), "zone.%s", path + 6);
    } else if (sub) {
        schema = &conf_subnet_schema;
        if (sdn_subnet_cidr(sub + 9, cidr, sizeof(cidr))) {
            fprintf(stderr, "  %s: subnet %s is no network\n", name, sub + 9);
            return -1;
        }
        *v6 += strchr(cidr, ':') != NULL;
        snprintf(prefix, sizeof(prefix), "subnet.%.*s.%s", (int)(sub - path - 6), path + 6,
                 sub + 9);
    } else {
        schema = &conf_vnet_schema;
        snprintf(prefix, sizeof(prefix), "vnet.%s", path + 6);
    }
    if (conf_canonicalize(schema, doc, len, &canon, &clen, err, sizeof(err))) {
        fprintf(stderr, "  %s [%s]: %s\n", name, path, err);
        return -1;
    }
    for (const char *p = canon, *end = canon + clen; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *c, *v;
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if ((c = memchr(p, ':', l)) && p[0] != '#') {
            for (v = c + 1; v < p + l && *v == ' ';)
                v++;
            pv_buf_printf(run, "%s.%.*s: %.*s\n", prefix, (int)(c - p), p, (int)(p + l - v), v);
        }
        p += l + 1;
    }
    free(canon);
    return 0;
}

/* Proxmox's own SDN test configs (tools/sdn-corpus-fixtures.py made the trees): every zone,
 * VNet and subnet is taken by its schema, and the set parses and breaks no rule, IPv6
 * subnets and gateways included. */
static void test_sdn_corpus(void)
{
    char path[512];
    struct dirent *e;
    DIR *d;
    int n = 0, v6 = 0;

    snprintf(path, sizeof(path), "%s/sdn", PV_FIXTURES);
    CHECK((d = opendir(path)) != NULL);
    while (d && (e = readdir(d))) {
        static char buf[16384];
        char err[SDN_ERRLEN] = "", sect[256] = "";
        struct pv_buf run = {0}, doc = {0};
        int bad = 0;
        size_t len;
        FILE *f;
        if (!strstr(e->d_name, ".tree"))
            continue;
        snprintf(path, sizeof(path), "%s/sdn/%s", PV_FIXTURES, e->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[len] = 0;
        for (char *line = strtok(buf, "\n");; line = strtok(NULL, "\n")) {
            if ((!line || line[0] == '[') && sect[0])
                bad |= tree_section(e->d_name, sect, doc.p ? doc.p : "", doc.len, &run, &v6);
            if (!line)
                break;
            if (line[0] == '[') {
                snprintf(sect, sizeof(sect), "%.*s", (int)strcspn(line + 1, "]"), line + 1);
                doc.len = 0;
            } else if (line[0] != '#') {
                pv_buf_printf(&doc, "%s\n", line);
            }
        }
        CHECK(!bad);
        CHECK(sdn_parse(run.p ? run.p : "", run.len, &cfg, err, sizeof(err)) == 0);
        if (!err[0])
            sdn_validate(&cfg, err, sizeof(err));
        if (err[0])
            fprintf(stderr, "  %s: %s\n", e->d_name, err);
        CHECK(!err[0]);
        pv_buf_free(&run);
        pv_buf_free(&doc);
        n++;
    }
    if (d)
        closedir(d);
    CHECK(n >= 40);
    CHECK(v6 >= 5); /* the IPv6 subnets of simple/ipv4v6, ipv6snat, evpn/... */
}

/* A VXLAN zone's peers are IPv4 or IPv6 addresses, each a real one. */
static void test_sdn_zone_peers_schema(void)
{
    static const struct {
        const char *doc;
        int ok;
    } cases[] = {
        {"type: vxlan\npeers: 192.168.0.1,192.168.0.2 192.168.0.3\n", 1},
        {"type: vxlan\npeers: 2a08:2200:100:1::10,2a08:2200:100:1::11\n", 1},
        {"type: vxlan\npeers: 192.168.0.300\n", 0},
        {"type: vxlan\npeers: fd00:::1\n", 0},
        {"type: vxlan\npeers: 10.0.0.1,host1\n", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[CONF_ERRLEN] = "", *out = NULL;
        size_t olen;
        int rc = conf_canonicalize(&conf_zone_schema, cases[i].doc, strlen(cases[i].doc), &out,
                                   &olen, err, sizeof(err));
        if ((rc == 0) != cases[i].ok)
            fprintf(stderr, "  case %zu: rc %d '%s'\n", i, rc, err);
        CHECK((rc == 0) == cases[i].ok);
        free(out);
    }
}

const struct unit_test sdn_tests[] = {
    {"sdn_parse", test_sdn_parse},
    {"sdn_rules", test_sdn_rules},
    {"sdn_rules_missing", test_sdn_rules_missing},
    {"sdn_subnet_cidr", test_sdn_subnet_cidr},
    {"sdn_ipv6_subnet", test_sdn_ipv6_subnet},
    {"sdn_problems", test_sdn_problems},
    {"sdn_vxlan_peers", test_sdn_vxlan_peers},
    {"sdn_corpus", test_sdn_corpus},
    {"sdn_zone_peers_schema", test_sdn_zone_peers_schema},
    {NULL, NULL},
};
