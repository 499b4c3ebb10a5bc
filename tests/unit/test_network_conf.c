/* Unit tests for nodes/<n>/network/<iface>/config (fs/conf_network.c). */
#include "conf.h"
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int canon(const char *in, char **out, char *err)
{
    size_t n;
    return conf_canonicalize(&conf_network_schema, in, strlen(in), out, &n, err, CONF_ERRLEN);
}

static void test_network_conf_valid(void)
{
    char err[CONF_ERRLEN], *out = NULL;

    CHECK(canon("type: bridge\nports: eth1 veth100i0\nmtu: 9000\n# lab\n", &out, err) == 0);
    CHECK_STR(out, "# lab\nmtu: 9000\nports: eth1 veth100i0\ntype: bridge\n");
    free(out);
    out = NULL;
    /* the type is checked at commit, where EPERM for a foreign interface comes first */
    CHECK(canon("comments: no type yet\n", &out, err) == 0);
    free(out);
    out = NULL;
    CHECK(canon("type: ovs-bridge\nmtu: 1280\n", &out, err) == 0);
    free(out);
    out = NULL;
    CHECK(canon("type: bridge\nsnat: 1\ncidr: 10.10.10.1/24\ncidr6: fd00:10::1/64\n", &out, err) ==
          0);
    CHECK_STR(out, "cidr: 10.10.10.1/24\ncidr6: fd00:10::1/64\nsnat: 1\ntype: bridge\n");
    free(out);
    out = NULL;
    CHECK(canon("type: bridge\nsnat: 0\n", &out, err) == 0);
    free(out);
}

static void test_network_conf_refused(void)
{
    static const char *const bad[] = {
        "type: switch\n",
        "type: bridge\nmtu: 1279\n",
        "type: bridge\nmtu: 65521\n",
        "type: bridge\nports: abcdefghijklmnop\n",
        "type: bridge\nports: a/b\n",
        "type: bridge\nports: eth1,eth2\n",
        "type: bridge\nports: ..\n",
        "type: bridge\nvlan: 5\n",
        "type: bridge\n[snap]\n",
        "type: bridge\ncidr: 10.10.10.1\n",    /* no prefix */
        "type: bridge\ncidr: 10.10.10.1/33\n", /* prefix too long */
        "type: bridge\ncidr: fd00::1/64\n",    /* IPv6 goes to cidr6 */
        "type: bridge\ncidr6: 10.0.0.1/24\n",  /* and IPv4 to cidr */
        "type: bridge\ncidr: dhcp\n",          /* an address, not a method */
        "type: bridge\nsnat: 1\n",             /* nothing to masquerade */
        "type: bridge\nsnat: maybe\ncidr: 10.1.1.1/24\n",
        "type: bridge\ngateway: 10.10.10.254\n", /* routes are not pvefs's (yet) */
    };
    char err[CONF_ERRLEN], *out = NULL;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = canon(bad[i], &out, err);
        if (rc != -EINVAL)
            fprintf(stderr, "  accepted: %s", bad[i]);
        CHECK(rc == -EINVAL);
        free(out);
        out = NULL;
    }
}

const struct unit_test network_conf_tests[] = {
    {"network_conf_valid", test_network_conf_valid},
    {"network_conf_refused", test_network_conf_refused},
    {NULL, NULL},
};
