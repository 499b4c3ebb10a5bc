/* Unit tests for storage configs (fs/conf_storage.c) and drivers/stor.c's pure helpers. */
#include "../../drivers/stor.h"
#include "conf.h"
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int canon(const struct conf_schema *s, const char *in, char **out, char *err)
{
    size_t n;
    return conf_canonicalize(s, in, strlen(in), out, &n, err, CONF_ERRLEN);
}

static void expect(const char *in, const char *want)
{
    char err[CONF_ERRLEN], *out = NULL;

    CHECK(canon(&conf_storage_schema, in, &out, err) == 0);
    if (!out)
        fprintf(stderr, "  refused: %s\n", err);
    CHECK_STR(out, want);
    free(out);
}

static void refuse(const char *in, const char *why)
{
    char err[CONF_ERRLEN] = "", *out = NULL;

    CHECK(canon(&conf_storage_schema, in, &out, err) == -EINVAL);
    CHECK(out == NULL);
    if (!strstr(err, why))
        fprintf(stderr, "  message '%s' lacks '%s'\n", err, why);
    CHECK(strstr(err, why) != NULL);
    free(out);
}

static void test_storage_conf_valid(void)
{
    expect("type: dir\npath: /var/lib/vz\ncontent: iso,vztmpl,backup\n",
           "content: iso,vztmpl,backup\npath: /var/lib/vz\ntype: dir\n");
    expect("type: rbd\npool: rbd\nmonhost: 10.0.0.1 10.0.0.2;10.0.0.3\nusername: admin\n"
           "content: images,rootdir\nkrbd: 0\n",
           "content: images,rootdir\nkrbd: 0\nmonhost: 10.0.0.1 10.0.0.2;10.0.0.3\npool: rbd\n"
           "type: rbd\nusername: admin\n");
    expect("type: dir\npath: /srv/a\nnodes: n1,n2\nshared: 1\nprune-backups: keep-last=3\n",
           "nodes: n1,n2\npath: /srv/a\nprune-backups: keep-last=3\nshared: 1\ntype: dir\n");
    /* the section form of storage.cfg, as Proxmox writes it */
    expect("dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n\tshared 0\n",
           "content: iso,vztmpl,backup\npath: /var/lib/vz\nshared: 0\ntype: dir\n");
    expect("rbd: ceph-vm\n\tcontent images\n\tkrbd 0\n\tpool vm\n\tmonhost 1.2.3.4 1.2.3.5\n",
           "content: images\nkrbd: 0\nmonhost: 1.2.3.4 1.2.3.5\npool: vm\ntype: rbd\n");
    expect("dir: old\n\tpath /x\n\tdisable\n", "disable: 1\npath: /x\ntype: dir\n");
    expect("dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup\n\tmaxfiles 3\n",
           "content: iso,vztmpl,backup\nmaxfiles: 3\npath: /var/lib/vz\ntype: dir\n");
}

static void test_storage_conf_refused(void)
{
    char err[CONF_ERRLEN];

    refuse("type: zfs\npath: /x\n", "type");
    refuse("zfspool: tank\n\tpool tank\n", "");
    refuse("type: dir\npath: /x\nfoo: 1\n", "foo");
    refuse("type: dir\n", "needs 'path:'");
    refuse("type: dir\npath: /x\npool: rbd\n", "'pool' does not apply to dir");
    refuse("type: rbd\nkeyring: /k\npath: /x\n", "'path' does not apply to rbd");
    refuse("type: rbd\ncontent: iso\n", "cannot hold content 'iso'");
    refuse("type: dir\npath: relative\n", "path");
    refuse("path: /x\n", "no 'type:'");
    refuse("type: dir\npath: /x\ncontent: images,movies\n", "content");
    refuse("type: dir\npath: /x\nnodes: n1,,n2\n", "nodes");
    refuse("type: dir\npath: /x\n\n[snap]\ntype: dir\n", "");
    CHECK(conf_check_line(&conf_storage_schema, "type: dir", 9, 1, err, sizeof(err)) == 0);
    CHECK(conf_check_line(&conf_storage_schema, "\tpath /srv", 10, 2, err, sizeof(err)) == 0);
    CHECK(conf_check_line(&conf_storage_schema, "\tbogus 1", 8, 2, err, sizeof(err)) == -EINVAL);
    CHECK(conf_check_line(&conf_storage_schema, "format: vhd", 11, 1, err, sizeof(err)) == -EINVAL);
}

/* A document still being written: what a later line can supply waits, the rest is final. */
static int prefix(const struct conf_schema *s, const char *in, char *err)
{
    char *out = NULL;
    size_t n;
    int rc = conf_canonicalize_prefix(s, in, strlen(in), &out, &n, err, CONF_ERRLEN);

    free(out);
    return rc;
}

static void test_conf_prefix(void)
{
    char err[CONF_ERRLEN];

    /* missing keys: fine so far, refused once the document is whole */
    CHECK(prefix(&conf_storage_schema, "content: images\n", err) == 0);
    CHECK(prefix(&conf_storage_schema, "type: dir\n", err) == 0);
    CHECK(prefix(&conf_ha_group_schema, "comment: x\n", err) == 0);
    CHECK(prefix(&conf_zone_schema, "type: vlan\n", err) == 0);
    CHECK(prefix(&conf_vnet_schema, "tag: 5\n", err) == 0);
    refuse("type: dir\n", "needs 'path:'");
    /* contradictions: no later line repairs them */
    CHECK(prefix(&conf_storage_schema, "type: dir\npool: rbd\n", err) == -EINVAL);
    CHECK(strstr(err, "does not apply") != NULL);
    CHECK(prefix(&conf_storage_schema, "type: rbd\ncontent: iso\n", err) == -EINVAL);
    CHECK(prefix(&conf_zone_schema, "type: simple\npeers: 10.0.0.1\n", err) == -EINVAL);
    CHECK(prefix(&conf_vnet_schema, "type: zone\n", err) == -EINVAL);
    CHECK(prefix(&conf_storage_schema, "type: dir\ntype: rbd\n", err) == -EINVAL);
    CHECK(strstr(err, "duplicate") != NULL);
    /* flat documents refuse a section at its own line */
    CHECK(conf_check_line(&conf_subnet_schema, "[x]", 3, 1, err, sizeof(err)) == -EINVAL);
    CHECK(strstr(err, "an SDN config has no sections") != NULL);
    CHECK(conf_check_line(&conf_ha_resource_schema, "[x]", 3, 1, err, sizeof(err)) == -EINVAL);
    CHECK(conf_check_line(&conf_ceph_schema, "delete: conf", 12, 1, err, sizeof(err)) == -EINVAL);
}

static void test_ceph_conf(void)
{
    char err[CONF_ERRLEN], *out = NULL;

    CHECK(canon(&conf_ceph_schema, "monhost: 127.0.0.1:6789\nconf: /etc/ceph/ceph.conf\n", &out,
                err) == 0);
    CHECK_STR(out, "conf: /etc/ceph/ceph.conf\nmonhost: 127.0.0.1:6789\n");
    free(out);
    out = NULL;
    CHECK(canon(&conf_ceph_schema, "pool: rbd\n", &out, err) == -EINVAL);
    CHECK(canon(&conf_ceph_schema, "", &out, err) == 0);
    free(out);
}

static void test_parse_size(void)
{
    static const struct {
        const char *in;
        uint64_t want;
    } ok[] = {
        {"0", 0},
        {"1024", 1024},
        {"4K", 4096},
        {"4k", 4096},
        {"512M", 512 << 20},
        {"4G", 4ull << 30},
        {"1.5T", 3ull << 39},
        {"2GiB", 2ull << 30},
        {"10KB", 10240},
    };
    static const char *const bad[] = {
        "", "-1", "abc", "4X", "1.5", " 4G", "4G ", "99999999999T", "18446744073709551616"};
    uint64_t v;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        v = 1;
        CHECK(stor_parse_size(ok[i].in, &v) == 0);
        if (v != ok[i].want)
            fprintf(stderr, "  %s -> %llu\n", ok[i].in, (unsigned long long)v);
        CHECK(v == ok[i].want);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (stor_parse_size(bad[i], &v) != -EINVAL)
            fprintf(stderr, "  '%s' was accepted\n", bad[i]);
        CHECK(stor_parse_size(bad[i], &v) == -EINVAL);
    }
}

static void test_vol_names(void)
{
    static const struct {
        const char *name;
        unsigned long vmid;
    } ok[] = {{"vm-100-disk-0", 100},     {"base-999999999-disk-12", 999999999},
              {"subvol-200-disk-1", 200}, {"vm-100-disk-0.qcow2", 100},
              {"vm-101-cloudinit", 101},  {"vm-102-state-snap1", 102}};
    static const char *const bad[] = {"disk0",      "vm-99-disk-0",      "vm-0100-disk-0",
                                      "vm-100-",    "vm-100-disk-0.img", "../vm-100-disk-0",
                                      "vm-100-a/b", "ct-100-disk-0",     ""};
    unsigned long id;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        id = 0;
        CHECK(stor_vol_vmid(ok[i].name, &id) == 0);
        CHECK(id == ok[i].vmid);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (stor_vol_vmid(bad[i], &id) != -EINVAL)
            fprintf(stderr, "  '%s' was accepted\n", bad[i]);
        CHECK(stor_vol_vmid(bad[i], &id) == -EINVAL);
    }
}

const struct unit_test storage_tests[] = {
    {"storage_conf_valid", test_storage_conf_valid},
    {"storage_conf_refused", test_storage_conf_refused},
    {"storage_ceph_conf", test_ceph_conf},
    {"conf_prefix", test_conf_prefix},
    {"storage_parse_size", test_parse_size},
    {"storage_vol_names", test_vol_names},
    {NULL, NULL},
};
