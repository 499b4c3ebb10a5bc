/* Unit tests for qemu_xml: Proxmox qemu-server config -> libvirt domain XML. */
#include "unit.h"
#include "../../drivers/qemu.h"

#include <errno.h>
#include <stdlib.h>

/* Fake storage: two volumes on a dir storage and a ceph pool, nothing else. */
static int fake_resolve(void *arg, const char *volid, struct qemu_disk *d, char *err, size_t errlen)
{
    (void)arg;
    memset(d, 0, sizeof(*d));
    if (!strcmp(volid, "local:vm-100-disk-0")) {
        d->kind = QD_FILE;
        snprintf(d->path, sizeof(d->path), "/img/vm-100-disk-0.qcow2");
        snprintf(d->format, sizeof(d->format), "qcow2");
        return 0;
    }
    if (!strcmp(volid, "lvm:vm-100-disk-2")) {
        d->kind = QD_FILE;
        snprintf(d->path, sizeof(d->path), "/dev/vg0/vm-100-disk-2");
        snprintf(d->format, sizeof(d->format), "raw");
        return 0;
    }
    if (!strcmp(volid, "ceph:vm-100-disk-1")) {
        d->kind = QD_RBD;
        snprintf(d->path, sizeof(d->path), "pool/vm-100-disk-1");
        snprintf(d->format, sizeof(d->format), "raw");
        snprintf(d->monhost, sizeof(d->monhost), "10.0.0.1:6789 10.0.0.2");
        return 0;
    }
    if (!strcmp(volid, "ceph2:vm-100-disk-3")) { /* msgr2 address vectors, a conf, a key */
        d->kind = QD_RBD;
        snprintf(d->path, sizeof(d->path), "rbd/vm-100-disk-3");
        snprintf(d->format, sizeof(d->format), "raw");
        snprintf(d->monhost, sizeof(d->monhost),
                 "[v2:10.0.0.3:3300/0,v1:10.0.0.3:6789/0];[v2:10.0.0.4:3300/0],[fd00::5]:6789");
        snprintf(d->conf, sizeof(d->conf), "/etc/pve/ceph.conf");
        snprintf(d->user, sizeof(d->user), "admin");
        snprintf(d->key, sizeof(d->key), "AQBsecret==");
        return 0;
    }
    if (!strcmp(volid, "ceph3:vm-100-disk-4")) { /* names, v1: prefixes, a bare IPv6 */
        d->kind = QD_RBD;
        snprintf(d->path, sizeof(d->path), "rbd/vm-100-disk-4");
        snprintf(d->monhost, sizeof(d->monhost), "mon1.example:6789, v1:10.0.0.9:6789/0;fd00::9");
        return 0;
    }
    snprintf(err, errlen, "no such volume '%s'", volid);
    return -ENOENT;
}

static int fake_secret(void *arg, const char *user, const char *key, char *uuid, size_t len,
                       char *err, size_t errlen)
{
    (void)arg;
    (void)err;
    (void)errlen;
    if (strcmp(user, "admin") != 0 || strcmp(key, "AQBsecret==") != 0)
        return -EINVAL;
    snprintf(uuid, len, "0f0e0d0c-1111-2222-3333-444455556666");
    return 0;
}

static const struct qemu_xml_opts opts = {.name = "vm100",
                                          .uuid = NULL,
                                          .serial_log = NULL,
                                          .kvm = 1,
                                          .resolve = fake_resolve,
                                          .arg = NULL};

/* Minimal well-formedness: balanced tags, quoted attributes, only known entities. */
static int well_formed(const char *x)
{
    const char *stack[64];
    size_t slen[64];
    int depth = 0, roots = 0;
    for (const char *p = x; *p;) {
        if (*p == '&') {
            static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&apos;", "&quot;"};
            size_t i = 0;
            while (i < 5 && strncmp(p, ents[i], strlen(ents[i])))
                i++;
            if (i == 5)
                return 0;
            p += strlen(ents[i]);
        } else if (*p == '>') {
            return 0;
        } else if (!strncmp(p, "<!--", 4)) {
            const char *e = strstr(p + 4, "-->");
            if (!e || strstr(p + 4, "--") != e)
                return 0;
            p = e + 3;
        } else if (*p == '<') {
            int close = p[1] == '/';
            const char *n = p + 1 + close;
            size_t nl = strcspn(n, " />");
            const char *q = n + nl;
            while (*q == ' ') { /* attributes */
                q++;
                q += strcspn(q, "= />");
                if (*q != '=' || q[1] != '\'')
                    return 0;
                const char *e = strchr(q + 2, '\'');
                if (!e || memchr(q + 2, '<', (size_t)(e - q - 2)))
                    return 0;
                q = e + 1;
            }
            int empty = *q == '/';
            if (empty)
                q++;
            if (*q != '>' || !nl)
                return 0;
            if (close) {
                if (!depth || slen[depth - 1] != nl || strncmp(stack[depth - 1], n, nl))
                    return 0;
                depth--;
            } else if (!empty) {
                if (depth == 64)
                    return 0;
                roots += depth == 0;
                stack[depth] = n, slen[depth++] = nl;
            } else {
                roots += depth == 0;
            }
            p = q + 1;
        } else {
            p++;
        }
    }
    return depth == 0 && roots == 1;
}

/* Runs qemu_xml on a config; the result is malloc'd XML, or NULL with *rc set. */
static char *gen(const char *cfg, const struct qemu_xml_opts *o, int *rc, char *err)
{
    struct pv_buf b = {0};
    char e[QEMU_ERRLEN];
    int r = qemu_xml(cfg, strlen(cfg), o, &b, err ? err : e, QEMU_ERRLEN);
    if (rc)
        *rc = r;
    if (r) {
        CHECK(b.len == 0);
        pv_buf_free(&b);
        return NULL;
    }
    CHECK(b.p && well_formed(b.p));
    if (b.p && !well_formed(b.p))
        fprintf(stderr, "%s", b.p);
    return b.p;
}

static int HAS(const char *x, const char *s)
{
    return x && strstr(x, s) != NULL;
}

static int count(const char *x, const char *s)
{
    int n = 0;
    for (const char *p = x; p && (p = strstr(p, s)); p++)
        n++;
    return n;
}

static void test_minimal(void)
{
    char *x = gen("smbios1: uuid=6cf17dc3-8341-4ecc-aebd-7503f2583fb3\n", &opts, NULL, NULL);
    CHECK(HAS(x, "<domain type='kvm'>"));
    CHECK(HAS(x, "<name>vm100</name>"));
    CHECK(HAS(x, "<uuid>6cf17dc3-8341-4ecc-aebd-7503f2583fb3</uuid>"));
    CHECK(!HAS(x, "<title>"));
    CHECK(HAS(x, "<memory unit='MiB'>512</memory>"));
    CHECK(HAS(x, "<currentMemory unit='MiB'>512</currentMemory>"));
    CHECK(HAS(x, "<vcpu placement='static'>1</vcpu>"));
    CHECK(HAS(x, "sockets='1' dies='1' cores='1' threads='1'"));
    CHECK(HAS(x, "machine='pc'>hvm</type>"));
    CHECK(!HAS(x, "firmware="));
    CHECK(HAS(x, "<boot dev='hd'/>\n    <boot dev='cdrom'/>\n    <boot dev='network'/>"));
    CHECK(HAS(x, "<acpi/>"));
    CHECK(HAS(x, "<on_poweroff>destroy</on_poweroff>"));
    CHECK(HAS(x, "<serial type='pty'>"));
    CHECK(HAS(x, "<memballoon model='virtio'>"));
    CHECK(!HAS(x, "<disk") && !HAS(x, "<interface") && !HAS(x, "<controller"));
    free(x);

    /* the caller's uuid wins; memory, cpus, balloon */
    struct qemu_xml_opts o = opts;
    o.uuid = "11111111-2222-3333-4444-555555555555";
    x = gen("balloon: 0\ncores: 2\nmemory: 2048\nsmbios1: uuid=6cf17dc3-8341-4ecc-aebd-"
            "7503f2583fb3\nsockets: 2\nvcpus: 3\n",
            &o, NULL, NULL);
    CHECK(HAS(x, "<uuid>11111111-2222-3333-4444-555555555555</uuid>"));
    CHECK(HAS(x, "<memory unit='MiB'>2048</memory>"));
    CHECK(HAS(x, "<vcpu placement='static' current='3'>4</vcpu>"));
    CHECK(HAS(x, "sockets='2' dies='1' cores='2' threads='1'"));
    CHECK(HAS(x, "<memballoon model='none'/>"));
    free(x);

    /* snapshot sections do not count; memory's property form */
    x = gen("memory: current=1024\n\n[snap]\nmemory: 4096\nscsi0: nowhere:vm-1-disk-0\n", &opts,
            NULL, NULL);
    CHECK(HAS(x, "<memory unit='MiB'>1024</memory>"));
    free(x);
}

static void test_kernel_boot(void)
{
    char *x = gen("args: -kernel /var/lib/pv/vmlinuz -initrd '/var/lib/pv/initrd.img' -append "
                  "\"console=ttyS0 root=/dev/vda rw quiet\" -nographic -smp 2\n"
                  "memory: 256\n",
                  &opts, NULL, NULL);
    CHECK(HAS(x, "<kernel>/var/lib/pv/vmlinuz</kernel>"));
    CHECK(HAS(x, "<initrd>/var/lib/pv/initrd.img</initrd>"));
    CHECK(HAS(x, "<cmdline>console=ttyS0 root=/dev/vda rw quiet</cmdline>"));
    CHECK(!HAS(x, "nographic") && !HAS(x, "smp"));
    free(x);

    int rc;
    char err[QEMU_ERRLEN];
    CHECK(!gen("args: -kernel\n", &opts, &rc, err) && rc == -EINVAL);
    CHECK(HAS(err, "args"));
    CHECK(!gen("args: -append \"unterminated\n", &opts, &rc, err) && rc == -EINVAL);
}

static void test_disks(void)
{
    char *x = gen("ide2: none,media=cdrom\n"
                  "sata0: local:vm-100-disk-0,cache=writeback,ssd=1\n"
                  "scsi0: local:vm-100-disk-0,discard=on,size=32G,backup=0\n"
                  "scsi1: lvm:vm-100-disk-2,cache=none\n"
                  "scsihw: virtio-scsi-pci\n"
                  "virtio0: file=local:vm-100-disk-0,iothread=1,format=raw\n",
                  &opts, NULL, NULL);
    /* empty cdrom: no source */
    CHECK(HAS(x, "<disk type='file' device='cdrom'>\n      <driver name='qemu' type='raw'/>\n"
                 "      <target dev='hdc' bus='ide'/>\n      <readonly/>\n    </disk>"));
    CHECK(HAS(x, "<driver name='qemu' type='qcow2' cache='writeback'/>\n      <source "
                 "file='/img/vm-100-disk-0.qcow2'/>\n      <target dev='sdag' bus='sata' "
                 "rotation_rate='1'/>"));
    CHECK(HAS(x, "<address type='drive' controller='0' bus='0' target='0' unit='0'/>"));
    CHECK(HAS(x, "<driver name='qemu' type='qcow2' discard='unmap'/>"));
    CHECK(HAS(x, "<target dev='sda' bus='scsi'/>"));
    /* a /dev path is a block device */
    CHECK(HAS(x, "<disk type='block' device='disk'>\n      <driver name='qemu' type='raw' "
                 "cache='none'/>\n      <source dev='/dev/vg0/vm-100-disk-2'/>\n      <target "
                 "dev='sdb' bus='scsi'/>"));
    CHECK(HAS(x, "<address type='drive' controller='0' bus='0' target='1' unit='0'/>"));
    /* format= overrides the storage's; iothread on virtio */
    CHECK(HAS(x, "<driver name='qemu' type='raw' iothread='1'/>"));
    CHECK(HAS(x, "<target dev='vda' bus='virtio'/>"));
    CHECK(HAS(x, "<iothreads>1</iothreads>"));
    CHECK(count(x, "<controller type='scsi' index='0' model='virtio-scsi'/>") == 1);
    free(x);

    /* lsi: 7 units per controller; a hard disk with "none" is left out */
    x = gen("scsi0: local:vm-100-disk-0\nscsi8: local:vm-100-disk-0\nscsi9: none\n"
            "scsihw: lsi\n",
            &opts, NULL, NULL);
    CHECK(HAS(x, "<address type='drive' controller='1' bus='0' target='0' unit='1'/>"));
    CHECK(HAS(x, "<controller type='scsi' index='0' model='lsilogic'/>"));
    CHECK(HAS(x, "<controller type='scsi' index='1' model='lsilogic'/>"));
    CHECK(count(x, "<disk ") == 2);
    free(x);

    /* virtio-scsi-single: a dense controller per disk, each with its own iothread */
    x = gen("scsi0: local:vm-100-disk-0,iothread=1\nscsi16: local:vm-100-disk-0,iothread=1\n"
            "scsi5: local:vm-100-disk-0\nscsihw: virtio-scsi-single\n",
            &opts, NULL, NULL);
    CHECK(count(x, "<controller type='scsi'") == 3 && HAS(x, "<iothreads>2</iothreads>"));
    CHECK(count(x, "iothread='") == 2); /* on the controllers only */
    CHECK(HAS(x, "<target dev='sdq' bus='scsi'/>\n      <address type='drive' controller='2' "
                 "bus='0' target='0' unit='0'/>"));
    CHECK(HAS(x, "<controller type='scsi' index='2' model='virtio-scsi'>\n      <driver "
                 "iothread='2'/>"));
    CHECK(HAS(x, "<controller type='scsi' index='1' model='virtio-scsi'/>"));
    free(x);

    int rc;
    char err[QEMU_ERRLEN];
    CHECK(!gen("scsi0: local:vm-100-disk-0,cache=bogus\n", &opts, &rc, err) && rc == -EINVAL);
    CHECK(HAS(err, "scsi0: cannot parse '"));
    CHECK(!gen("virtio1: none,media=cdrom\n", &opts, &rc, err) && rc == -EINVAL);
    CHECK(HAS(err, "virtio1"));
    CHECK(!gen("sockets: many\n", &opts, &rc, err) && rc == -EINVAL);
    CHECK(HAS(err, "sockets: cannot parse 'many'"));
}

/* Every bus index of every bus at once: target names must all differ. */
static void test_target_names_unique(void)
{
    struct pv_buf cfg = {0};
    for (int i = 0; i < 4; i++)
        pv_buf_printf(&cfg, "ide%d: none,media=cdrom\n", i);
    for (int i = 0; i < 6; i++)
        pv_buf_printf(&cfg, "sata%d: none,media=cdrom\n", i);
    for (int i = 0; i < 31; i++)
        pv_buf_printf(&cfg, "scsi%d: none,media=cdrom\n", i);
    for (int i = 0; i < 16; i++)
        pv_buf_printf(&cfg, "virtio%d: local:vm-100-disk-0\n", i);
    for (int q35 = 0; q35 < 2; q35++) {
        if (q35)
            pv_buf_printf(&cfg, "machine: q35\n");
        char *x = gen(cfg.p, &opts, NULL, NULL);
        CHECK(count(x, "<disk ") == 57);
        char names[57][16];
        int n = 0;
        for (const char *p = x; p && (p = strstr(p, "<target dev='")) && n < 57; p++) {
            const char *s = p + 13;
            size_t l = strcspn(s, "'");
            snprintf(names[n++], sizeof(names[0]), "%.*s", (int)(l < 15 ? l : 15), s);
        }
        CHECK(n == 57);
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                CHECK(strcmp(names[i], names[j]) != 0);
        CHECK(HAS(x, "<target dev='sdae' bus='scsi'/>"));  /* scsi30 */
        CHECK(HAS(x, "<target dev='sdal' bus='sata'/>"));  /* sata5 */
        CHECK(HAS(x, "<target dev='vdp' bus='virtio'/>")); /* virtio15 */
        /* q35 has no IDE: ideN sit on the built-in AHCI (controller 0), sataN on a second */
        CHECK(HAS(x, q35 ? "<target dev='hdd' bus='sata'/>" : "<target dev='hdd' bus='ide'/>"));
        CHECK(!q35 || HAS(x, "controller='1' bus='0' target='0' unit='5'/>"));
        free(x);
    }
    pv_buf_free(&cfg);
}

static void test_rbd(void)
{
    char *x = gen("scsi0: ceph:vm-100-disk-1,cache=writeback,discard=on\n", &opts, NULL, NULL);
    CHECK(HAS(x, "<disk type='network' device='disk'>\n      <driver name='qemu' type='raw' "
                 "cache='writeback' discard='unmap'/>\n      <source protocol='rbd' "
                 "name='pool/vm-100-disk-1'>\n        <host name='10.0.0.1' port='6789'/>\n"
                 "        <host name='10.0.0.2'/>\n      </source>\n      <target dev='sda' "
                 "bus='scsi'/>"));
    CHECK(!HAS(x, "<config") && !HAS(x, "<!--"));
    free(x);

    /* a key of its own: refused without a secret callback, else an <auth> element */
    struct qemu_xml_opts so = opts;
    x = gen("virtio0: ceph2:vm-100-disk-3\n", &so, NULL, NULL);
    CHECK(x == NULL);
    free(x);
    so.secret = fake_secret;
    x = gen("virtio0: ceph2:vm-100-disk-3\n", &so, NULL, NULL);
    CHECK(HAS(x,
              "name='rbd/vm-100-disk-3'>\n        <host name='10.0.0.3' port='6789'/>\n"
              "        <host name='10.0.0.4' port='3300'/>\n        <host name='fd00::5' "
              "port='6789'/>\n        <config file='/etc/pve/ceph.conf'/>\n        "
              "<auth username='admin'>\n          <secret type='ceph' "
              "uuid='0f0e0d0c-1111-2222-3333-444455556666'/>\n        </auth>\n      </source>"));
    CHECK(!HAS(x, "AQBsecret"));
    free(x);

    x = gen("scsi0: ceph3:vm-100-disk-4\n", &opts, NULL, NULL);
    CHECK(HAS(x, "name='rbd/vm-100-disk-4'>\n        <host name='mon1.example' port='6789'/>\n"
                 "        <host name='10.0.0.9' port='6789'/>\n        <host name='fd00::9'/>\n"
                 "      </source>"));
    CHECK(HAS(x, "<driver name='qemu' type='raw'/>")); /* no format from storage: raw */
    free(x);
}

static void test_nics(void)
{
    char *x = gen("net0: virtio=A2:C0:43:77:08:A0,bridge=vmbr0,tag=10,firewall=1,link_down=1\n"
                  "net1: model=e1000,macaddr=BC:24:11:00:00:01\n"
                  "net2: rtl8139,bridge=vmbr1\n",
                  &opts, NULL, NULL);
    CHECK(HAS(x, "<interface type='bridge'>\n      <mac address='A2:C0:43:77:08:A0'/>\n      "
                 "<source bridge='vmbr0'/>\n      <vlan>\n        <tag id='10'/>\n      "
                 "</vlan>\n      <model type='virtio'/>\n      <link state='down'/>\n    "
                 "</interface>"));
    CHECK(HAS(x, "<interface type='user'>\n      <mac address='BC:24:11:00:00:01'/>\n      "
                 "<model type='e1000'/>\n    </interface>"));
    CHECK(HAS(x, "<interface type='bridge'>\n      <source bridge='vmbr1'/>\n      <model "
                 "type='rtl8139'/>"));
    CHECK(count(x, "<link ") == 1 && count(x, "<vlan>") == 1);
    free(x);

    int rc;
    char err[QEMU_ERRLEN];
    CHECK(!gen("net0: virtio=A2:C0:43:77:08,bridge=vmbr0\n", &opts, &rc, err) && rc == -EINVAL);
    CHECK(HAS(err, "net0: cannot parse"));
    CHECK(!gen("net0: virtio=A2:C0:43:77:08:A0,tag=5000\n", &opts, &rc, err) && rc == -EINVAL);
}

/* The node "n1" has vmbr0 only. */
static int fake_bridge(void *arg, const char *bridge, char *err, size_t errlen)
{
    if (strcmp(bridge, "vmbr0") == 0)
        return 0;
    snprintf(err, errlen, "bridge %s does not exist on node %s", bridge, (const char *)arg);
    return -ENOENT;
}

/* A NIC on a bridge the node lacks is refused before any XML, naming the NIC and bridge. */
static void test_nic_bridge_checked(void)
{
    struct qemu_xml_opts o = opts;
    char err[QEMU_ERRLEN] = "";
    int rc = 0;
    char *x;

    o.bridge = fake_bridge;
    o.bridge_arg = "n1";
    x = gen("net0: virtio=A2:C0:43:77:08:A0,bridge=vmbr0\n", &o, &rc, err);
    CHECK(x && rc == 0);
    free(x);
    CHECK(!gen("net0: virtio=A2:C0:43:77:08:A0,bridge=vmbr0\nnet1: e1000,bridge=vmbr7\n", &o, &rc,
               err));
    CHECK(rc == -ENOENT);
    CHECK_STR(err, "net1: bridge vmbr7 does not exist on node n1");
    /* a NIC without a bridge (user-mode networking) needs none */
    x = gen("net0: virtio=A2:C0:43:77:08:A0\n", &o, &rc, err);
    CHECK(x && rc == 0);
    free(x);
}

static void test_boot_order(void)
{
    char *x = gen("boot: order=scsi0;hostpci0;net0;ide2;virtio9\n"
                  "ide2: none,media=cdrom\n"
                  "net0: virtio=A2:C0:43:77:08:A0,bridge=vmbr0\n"
                  "scsi0: local:vm-100-disk-0\n"
                  "virtio0: local:vm-100-disk-0\n",
                  &opts, NULL, NULL);
    CHECK(!HAS(x, "<boot dev="));
    CHECK(HAS(x, "<target dev='sda' bus='scsi'/>\n      <boot order='1'/>"));
    CHECK(HAS(x, "<model type='virtio'/>\n      <boot order='2'/>"));
    CHECK(HAS(x, "<readonly/>\n      <boot order='3'/>"));
    CHECK(count(x, "<boot order=") == 3);
    free(x);

    x = gen("boot: dc\nbootdisk: scsi0\n", &opts, NULL, NULL);
    CHECK(HAS(x, "<boot dev='cdrom'/>\n    <boot dev='hd'/>\n  </os>"));
    free(x);
    x = gen("boot: \n", &opts, NULL, NULL);
    CHECK(!HAS(x, "<boot "));
    free(x);
    x = gen("boot: legacy=n,order=net0\nnet0: virtio\n", &opts, NULL, NULL);
    CHECK(!HAS(x, "<boot dev=") && HAS(x, "<boot order='1'/>"));
    free(x);
}

static void test_kvm(void)
{
    struct qemu_xml_opts tcg = opts;
    tcg.kvm = 0;
    char *x = gen("cpu: host\n", &opts, NULL, NULL);
    CHECK(HAS(x, "<domain type='kvm'>") && HAS(x, "<cpu mode='host-passthrough'>"));
    free(x);
    x = gen("cpu: cputype=host,flags=+aes\nkvm: 0\n", &opts, NULL, NULL);
    CHECK(HAS(x, "<domain type='qemu'>") && HAS(x, "<cpu>\n    <topology"));
    free(x);
    x = gen("cpu: host\n", &tcg, NULL, NULL);
    CHECK(HAS(x, "<domain type='qemu'>") && !HAS(x, "mode="));
    free(x);
    x = gen("cpu: kvm64\nkvm: 1\n", &tcg, NULL, NULL);
    CHECK(HAS(x, "<domain type='qemu'>"));
    free(x);
}

static void test_escaping(void)
{
    struct qemu_xml_opts o = opts;
    o.name = "vm<1>";
    o.serial_log = "/var/log/pv/a&b'.serial";
    char *x = gen("args: -kernel /k/a&b -append \"x<y & 'z'\"\nname: evil<&>'\"name\x01\n", &o,
                  NULL, NULL);
    CHECK(HAS(x, "<name>vm&lt;1&gt;</name>"));
    CHECK(HAS(x, "<title>evil&lt;&amp;&gt;&apos;&quot;name</title>"));
    CHECK(HAS(x, "<kernel>/k/a&amp;b</kernel>"));
    CHECK(HAS(x, "<cmdline>x&lt;y &amp; &apos;z&apos;</cmdline>"));
    CHECK(HAS(x, "<serial type='file'>\n      <source path='/var/log/pv/a&amp;b&apos;.serial' "
                 "append='on'/>"));
    free(x);
}

static void test_unresolvable(void)
{
    struct pv_buf b = {0};
    char err[QEMU_ERRLEN] = "";
    const char *cfg = "scsi0: local:vm-100-disk-0\nscsi1: gone:vm-100-disk-9\n";
    pv_buf_printf(&b, "keep");
    int rc = qemu_xml(cfg, strlen(cfg), &opts, &b, err, sizeof(err));
    CHECK(rc == -ENOENT);
    CHECK_STR(err, "no such volume 'gone:vm-100-disk-9'");
    CHECK(b.len == 4);
    CHECK_STR(b.p, "keep");
    pv_buf_free(&b);

    /* without a resolver a volume is an error too, not a crash */
    struct qemu_xml_opts o = opts;
    o.resolve = NULL;
    CHECK(!gen(cfg, &o, &rc, err) && rc == -EINVAL);
}

/* Configs in the shape Proxmox writes them (written for this test). */
static void test_proxmox_like(void)
{
    char *x = gen("# a small web server\n"
                  "boot: order=scsi0;ide2;net0\n"
                  "cores: 2\n"
                  "ide2: none,media=cdrom\n"
                  "memory: 1024\n"
                  "name: web1\n"
                  "net0: virtio=BC:24:11:5E:2A:01,bridge=vmbr0,firewall=1\n"
                  "numa: 0\n"
                  "ostype: l26\n"
                  "scsi0: local:vm-100-disk-0,iothread=1,size=8G\n"
                  "scsihw: virtio-scsi-single\n"
                  "smbios1: uuid=0b6d3c2e-55a1-4d61-9d1e-3f1f2b4a7c10\n"
                  "sockets: 1\n"
                  "vmgenid: 2f0a1b6e-3c4d-4e5f-8a9b-0c1d2e3f4a5b\n"
                  "\n[before-upgrade]\ncores: 1\nsnaptime: 1700000000\n",
                  &opts, NULL, NULL);
    CHECK(HAS(x, "<title>web1</title>") && HAS(x, "<clock offset='utc'/>"));
    CHECK(HAS(x, "<iothreads>1</iothreads>"));
    CHECK(HAS(x, "<controller type='scsi' index='0' model='virtio-scsi'>\n      <driver "
                 "iothread='1'/>\n    </controller>"));
    CHECK(HAS(x, "sockets='1' dies='1' cores='2'"));
    free(x);

    x = gen("bios: ovmf\n"
            "cores: 4\n"
            "cpu: x86-64-v2-AES\n"
            "efidisk0: local:vm-100-disk-0,efitype=4m,size=4M\n"
            "machine: pc-q35-8.1\n"
            "memory: 4096\n"
            "name: win-desk\n"
            "net0: e1000=BC:24:11:5E:2A:02,bridge=vmbr0,tag=20\n"
            "ostype: win11\n"
            "sata0: local:vm-100-disk-0,size=64G\n"
            "ide0: local:vm-100-disk-0,media=cdrom\n"
            "tpmstate0: local:vm-100-disk-0,size=4M,version=v2.0\n",
            &opts, NULL, NULL);
    CHECK(HAS(x, "<os firmware='efi'>\n    <type arch='x86_64' machine='q35'>hvm</type>"));
    CHECK(HAS(x, "<clock offset='localtime'/>"));
    CHECK(count(x, "<disk ") == 2); /* efidisk0 and tpmstate0 are not disks here */
    CHECK(HAS(x, "<target dev='hda' bus='sata'/>\n      <readonly/>\n      <address "
                 "type='drive' controller='0' bus='0' target='0' unit='0'/>"));
    CHECK(HAS(x, "<target dev='sdag' bus='sata'/>\n      <address type='drive' controller='1'"));
    free(x);

    x = gen("bootdisk: scsi0\n"
            "cores: 3\n"
            "ide2: none,media=cdrom\n"
            "memory: 768\n"
            "name: simple\n"
            "net0: virtio=A2:C0:43:77:08:A1,bridge=vmbr0\n"
            "scsi0: ceph:vm-100-disk-1,discard=on,size=100M\n"
            "scsi1: local:vm-100-disk-0,cache=directsync\n"
            "scsihw: virtio-scsi-pci\n"
            "serial0: socket\n",
            &opts, NULL, NULL);
    CHECK(count(x, "<disk ") == 3 && count(x, "<serial ") == 1);
    CHECK(count(x, "<controller ") == 1);
    free(x);
}

const struct unit_test qemu_xml_tests[] = {
    {"qemu_xml_nic_bridge_checked", test_nic_bridge_checked},
    {"qemu_xml_minimal", test_minimal},
    {"qemu_xml_kernel_boot", test_kernel_boot},
    {"qemu_xml_disks", test_disks},
    {"qemu_xml_target_names_unique", test_target_names_unique},
    {"qemu_xml_rbd", test_rbd},
    {"qemu_xml_nics", test_nics},
    {"qemu_xml_boot_order", test_boot_order},
    {"qemu_xml_kvm", test_kvm},
    {"qemu_xml_escaping", test_escaping},
    {"qemu_xml_unresolvable", test_unresolvable},
    {"qemu_xml_proxmox_like", test_proxmox_like},
    {NULL, NULL},
};
