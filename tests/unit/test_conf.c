/* Unit tests for fs/conf.c: fixtures, canonical form, errors, conf_check_line, conf_get. */
#include "conf.h"
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PV_FIXTURES
#define PV_FIXTURES "tests/fixtures"
#endif

static const char *const qemu_fixtures[] = {
    "101-minimal",   "102-efi-tpm",   "103-many-disks", "104-hostpci",
    "105-cloudinit", "106-snapshots", "107-pending",    "108-template",
    "109-legacy",    "110-features",  "111-arm",        "112-empty-boot",
};

static const char *const lxc_fixtures[] = {
    "201-minimal", "202-mountpoints", "203-snapshots",   "204-raw-lxc",
    "205-pending", "206-devices",     "207-multi-net",   "208-template",
    "209-arm",     "210-locked",      "211-snap-unused",
};

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/%s.conf", PV_FIXTURES, dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "  cannot open %s\n", path);
        return NULL;
    }
    char *buf = malloc(1 << 20);
    *len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    return buf;
}

/* Canonicalizes in; returns the malloc'd result or NULL (err filled). */
static char *canon(const struct conf_schema *s, const char *in, size_t len, int *rc, char *err)
{
    char *out = NULL;
    size_t outlen = 0;
    *rc = conf_canonicalize(s, in, len, &out, &outlen, err, CONF_ERRLEN);
    if (*rc == 0 && strlen(out) != outlen) {
        free(out);
        return NULL;
    }
    return out;
}

static void check_fixtures(const struct conf_schema *s, const char *dir, const char *const *names,
                           size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        char err[CONF_ERRLEN] = "";
        int rc;
        char *in = slurp(dir, names[i], &len);
        CHECK(in != NULL);
        if (!in)
            continue;
        in[len] = '\0';
        char *once = canon(s, in, len, &rc, err);
        if (rc)
            fprintf(stderr, "  %s/%s: %s\n", dir, names[i], err);
        CHECK(rc == 0);
        CHECK_STR(once, in);
        char *twice = once ? canon(s, once, strlen(once), &rc, err) : NULL;
        CHECK(rc == 0);
        CHECK_STR(twice, once);
        free(twice);
        free(once);
        free(in);
    }
}

static void test_fixtures_qemu(void)
{
    check_fixtures(&conf_qemu_schema, "qemu", qemu_fixtures,
                   sizeof(qemu_fixtures) / sizeof(qemu_fixtures[0]));
}

static void test_fixtures_lxc(void)
{
    check_fixtures(&conf_lxc_schema, "lxc", lxc_fixtures,
                   sizeof(lxc_fixtures) / sizeof(lxc_fixtures[0]));
}

/* Expects in to canonicalize to want. */
static void expect(const struct conf_schema *s, const char *in, const char *want)
{
    char err[CONF_ERRLEN] = "";
    int rc;
    char *out = canon(s, in, strlen(in), &rc, err);
    if (rc)
        fprintf(stderr, "  unexpected error: %s\n", err);
    CHECK(rc == 0);
    CHECK_STR(out, want);
    free(out);
}

/* Expects in to be rejected with a message containing want. */
static void expect_err_len(const struct conf_schema *s, const char *in, size_t len,
                           const char *want)
{
    char err[CONF_ERRLEN] = "";
    int rc;
    char *out = canon(s, in, len, &rc, err);
    CHECK(rc == -EINVAL);
    CHECK(out == NULL);
    if (!strstr(err, want)) {
        fprintf(stderr, "  error '%s' lacks '%s'\n", err, want);
        unit_failed_checks++;
    }
    free(out);
}

static void expect_err(const struct conf_schema *s, const char *in, const char *want)
{
    expect_err_len(s, in, strlen(in), want);
}

static void test_sorts_keys(void)
{
    expect(&conf_qemu_schema, "name: vm1\nmemory: 512\ncores: 2\n",
           "cores: 2\nmemory: 512\nname: vm1\n");
    /* bytewise: scsi10 sorts before scsi2 */
    expect(&conf_qemu_schema, "scsi2: local:100/a.raw\nscsi10: local:100/b.raw\n",
           "scsi10: local:100/b.raw\nscsi2: local:100/a.raw\n");
    /* surrounding whitespace and blank lines vanish, property strings keep their order */
    expect(&conf_qemu_schema, "\n\nnet0:   virtio=BC:24:11:00:00:01,bridge=vmbr0  \n\n",
           "net0: virtio=BC:24:11:00:00:01,bridge=vmbr0\n");
}

static void test_normalizes_values(void)
{
    expect(&conf_qemu_schema, "onboot: yes\ntablet: OFF\ncores: 004\n",
           "cores: 4\nonboot: 1\ntablet: 0\n");
    expect(&conf_qemu_schema, "", "");
    expect(&conf_qemu_schema, "\n  \n", "");
}

static void test_comments_move_up(void)
{
    expect(&conf_qemu_schema, "cores: 1\n# first\nmemory: 512\n#second\n",
           "# first\n#second\ncores: 1\nmemory: 512\n");
    /* trailing blank description lines are dropped, as Proxmox trims the description */
    expect(&conf_qemu_schema, "#keep\n#\n#   \ncores: 1\n", "#keep\ncores: 1\n");
    /* an explicit description key becomes a comment line */
    expect(&conf_lxc_schema, "memory: 512\ndescription: hello there\n",
           "#hello there\nmemory: 512\n");
    /* comments stay within their own section */
    expect(&conf_lxc_schema, "memory: 512\n\n[snap1]\nmemory: 256\n#snap note\n",
           "memory: 512\n\n[snap1]\n#snap note\nmemory: 256\n");
}

static void test_section_order(void)
{
    expect(&conf_qemu_schema,
           "memory: 512\n[zeta]\ncores: 1\n[special:cloudinit]\nname: a\n"
           "[alpha]\ncores: 2\n[pending]\ncores: 4\n",
           "memory: 512\n\n[PENDING]\ncores: 4\n\n[special:cloudinit]\nname: a\n"
           "\n[alpha]\ncores: 2\n\n[zeta]\ncores: 1\n");
    /* a document may start with a snapshot section */
    expect(&conf_lxc_schema, "[s2]\nmemory: 64\n[s1]\nmemory: 32\n",
           "\n[s1]\nmemory: 32\n\n[s2]\nmemory: 64\n");
    expect_err(&conf_qemu_schema, "cores: 1\n[a1]\ncores: 1\n[a1]\ncores: 2\n",
               "line 4: duplicate section 'a1'");
    expect_err(&conf_qemu_schema, "cores: 1\n[bad name]\n", "line 2: invalid section name");
    expect_err(&conf_qemu_schema, "cores: 1\n[special:foo]\n", "line 2: invalid section name");
}

static void test_pending(void)
{
    expect(&conf_qemu_schema, "[PENDING]\ndelete: net1,!scsi0\ncores: 2\n",
           "\n[PENDING]\ncores: 2\ndelete: net1,!scsi0\n");
    /* Proxmox writes an empty pending description as a lone '#' */
    expect(&conf_qemu_schema, "cores: 1\n[PENDING]\n#\nmemory: 1024\n",
           "cores: 1\n\n[PENDING]\n#\nmemory: 1024\n");
    expect(&conf_lxc_schema, "memory: 512\n[pve:pending]\nswap: 0\n",
           "memory: 512\n\n[pve:pending]\nswap: 0\n");
    expect_err(&conf_qemu_schema, "cores: 1\ndelete: net0\n",
               "line 2: 'delete' is only allowed in [PENDING]");
    expect_err(&conf_qemu_schema, "[PENDING]\ndelete: net0,bogus\n",
               "line 2: delete: unknown key 'bogus'");
}

static void test_lxc_raw_keys(void)
{
    /* raw keys follow the sorted keys, in their original order, repeats allowed */
    expect(&conf_lxc_schema,
           "lxc.mount.entry = /a b none bind\nmemory: 512\nlxc.cgroup2.devices.allow: c 1:3 rwm\n"
           "arch: amd64\nlxc.mount.entry: /c d none bind\n",
           "arch: amd64\nmemory: 512\nlxc.mount.entry: /a b none bind\n"
           "lxc.cgroup2.devices.allow: c 1:3 rwm\nlxc.mount.entry: /c d none bind\n");
    expect_err(&conf_lxc_schema, "memory: 512\nlxc.bogus.key: 1\n",
               "line 2: unknown key 'lxc.bogus.key'");
    expect_err(&conf_lxc_schema, "lxc.rootfs.path: /x\n", "line 1: lxc.rootfs.path:");
    /* qemu has no raw keys */
    expect_err(&conf_qemu_schema, "lxc.apparmor.profile: x\n", "line 1: malformed line");
}

static void test_errors(void)
{
    const struct conf_schema *q = &conf_qemu_schema, *l = &conf_lxc_schema;
    expect_err(q, "cores: 1\nfoo: bar\n", "line 2: unknown key 'foo'");
    expect_err(q, "#a\n\ncores: 2\nmemory: 12x\n", "line 4: memory: '12x' is not an integer");
    expect_err(q, "cores: 0\n", "line 1: cores: '0' is below the minimum 1");
    expect_err(q, "ostype: win99\n", "line 1: ostype: 'win99' is not a valid choice");
    expect_err(l, "ostype: l26\n", "line 1: ostype: 'l26' is not a valid choice");
    expect_err(q, "net0: virtio=ZZ:24:11:00:00:01,bridge=vmbr0\n", "line 1: net0: virtio:");
    expect_err(q, "net0: virtio=BC:24:11:00:00:01,bridge=vmbr0,colour=red\n",
               "line 1: net0: 'colour' is not a known option");
    expect_err(l, "net0: name=eth0,hwaddr=01:00:5E:00:00:01\n",
               "line 1: net0: hwaddr: '01:00:5E:00:00:01' is not a unicast MAC address");
    expect_err(l, "net0: name=eth0,tag=5000\n", "line 1: net0: tag: '5000' is out of range");
    expect_err(l, "mp0: local:vm-1-disk-1,size=8G\n", "line 1: mp0: 'mp' is missing");
    expect_err(q, "onboot: maybe\n", "line 1: onboot: 'maybe' is not a boolean");
    expect_err(q, "cores: 1\nthis is not a config line\n", "line 2: malformed line");
    expect_err(q, " cores: 1\n", "line 1: malformed line");
    expect_err(q, "Cores: 1\n", "line 1: malformed line");
    expect_err(q, "cores: 1\nname:\n", "line 2: name: empty value");
    expect_err(q, "cores: 1\nmemory: 512\nname: a\nostype: l26\nsockets: 1\nvga: std\ncores: 2\n",
               "line 7: duplicate key 'cores'");
    /* the earliest problem wins, whether a duplicate or a bad line */
    expect_err(q, "cores: 1\ncores: 2\nbogus: 1\n", "line 2: duplicate key 'cores'");
    expect_err(q, "cores: 1\nbogus: 1\ncores: 2\n", "line 2: unknown key 'bogus'");
    expect_err_len(q, "cores: 1\nname: a\0b\n", 19, "line 2: binary data");
    expect_err(q, "cores: 1\n#caf\xc3\n", "line 2: binary data");
    expect_err(q, "#\xed\xa0\x80 surrogate\n", "line 1: binary data");
    expect_err(q, "cores: 1\r\n", "line 1: carriage return");
    /* valid UTF-8 in descriptions is fine */
    expect(q, "#caf\xc3\xa9\ncores: 1\n", "#caf\xc3\xa9\ncores: 1\n");

    size_t big = 70 * 1024;
    char *doc = malloc(big + 16);
    CHECK(doc != NULL);
    if (doc) {
        memcpy(doc, "cores: 1\n#", 10);
        memset(doc + 10, 'x', big);
        expect_err_len(q, doc, big + 10, "line 2: line too long");
        free(doc);
    }
}

static void test_check_line(void)
{
    char err[CONF_ERRLEN];
    const struct conf_schema *q = &conf_qemu_schema;
    CHECK(conf_check_line(q, "cores: 4", 8, 1, err, sizeof(err)) == 0);
    CHECK(conf_check_line(q, "# any text: here", 16, 1, err, sizeof(err)) == 0);
    CHECK(conf_check_line(q, "", 0, 1, err, sizeof(err)) == 0);
    CHECK(conf_check_line(q, "[PENDING]", 9, 1, err, sizeof(err)) == 0);
    CHECK(conf_check_line(q, "[snap-1]", 8, 1, err, sizeof(err)) == 0);
    CHECK(conf_check_line(q, "delete: cores", 13, 1, err, sizeof(err)) == 0);
    CHECK(conf_check_line(q, "cores: x", 8, 9, err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "line 9: cores: 'x' is not an integer");
    CHECK(conf_check_line(q, "nope: 1", 7, 3, err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "line 3: unknown key 'nope'");
    CHECK(conf_check_line(&conf_lxc_schema, "lxc.idmap: u 0 100000 65536", 27, 2, err,
                          sizeof(err)) == 0);
    CHECK(conf_check_line(&conf_lxc_schema, "net0: name=eth0,bridge=vmbr0", 28, 2, err,
                          sizeof(err)) == 0);
    CHECK(conf_check_line(q, "[unterminated", 13, 5, err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "line 5: malformed section header");
}

static void test_get(void)
{
    const char *doc = "#desc: not a key\ncores: 4\nmemory: 2048\nname: vm-a\n\n[snap]\n"
                      "mem: 1\nostype: l26\n";
    size_t len = strlen(doc);
    char val[64];
    CHECK(conf_get(doc, len, "memory", val, sizeof(val)) == 4);
    CHECK_STR(val, "2048");
    CHECK(conf_get(doc, len, "name", val, sizeof(val)) == 4);
    CHECK_STR(val, "vm-a");
    /* truncates but reports the full length */
    CHECK(conf_get(doc, len, "memory", val, 3) == 4);
    CHECK_STR(val, "20");
    CHECK(conf_get(doc, len, "mem", val, sizeof(val)) == -ENOENT);
    CHECK(conf_get(doc, len, "ostype", val, sizeof(val)) == -ENOENT);
    CHECK(conf_get(doc, len, "desc", val, sizeof(val)) == -ENOENT);
    CHECK(conf_get("", 0, "cores", val, sizeof(val)) == -ENOENT);
}

const struct unit_test conf_tests[] = {
    {"conf_fixtures_qemu", test_fixtures_qemu},
    {"conf_fixtures_lxc", test_fixtures_lxc},
    {"conf_sorts_keys", test_sorts_keys},
    {"conf_normalizes_values", test_normalizes_values},
    {"conf_comments_move_up", test_comments_move_up},
    {"conf_section_order", test_section_order},
    {"conf_pending", test_pending},
    {"conf_lxc_raw_keys", test_lxc_raw_keys},
    {"conf_errors", test_errors},
    {"conf_check_line", test_check_line},
    {"conf_get", test_get},
    {NULL, NULL},
};
