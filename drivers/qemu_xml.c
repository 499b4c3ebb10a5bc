/*
 * qemu_xml: a Proxmox qemu-server config -> libvirt domain XML (libvirt 9).
 *
 * Pure: the only call out is o->resolve for disk volumes. Every value is parsed before
 * output starts, and on any error (a volume that does not resolve included) out is cut
 * back to where it was, so a caller never sees half a domain.
 */
#include "qemu.h"
#include "qemu_xml_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXDEV    96 /* 31 scsi + 16 virtio + 6 sata + 4 ide + 32 net, with room */
#define QUOTE_MAX 64

/* Disk buses. sata starts its sd* letters after scsi's 31, so targets never collide. */
struct bus {
    const char *key; /* config key prefix: "scsi" for scsi0..scsi30 */
    int max;
    int base;        /* letter index of key index 0 */
    const char *bus; /* libvirt bus */
    const char *dev; /* target name prefix */
};
static const struct bus buses[] = {
    {"ide", 4, 0, "ide", "hd"},
    {"sata", 6, 32, "sata", "sd"},
    {"scsi", 31, 0, "scsi", "sd"},
    {"virtio", 16, 0, "virtio", "vd"},
};
static const struct bus net_bus = {"net", 32, 0, NULL, NULL};

/* scsihw -> libvirt controller model. units: disks per controller (0: one target each). */
struct scsihw {
    const char *name, *model;
    int per_disk; /* virtio-scsi-single: a controller per disk, so each may own an iothread */
    int units;
};
static const struct scsihw scsihws[] = {
    {"virtio-scsi-pci", "virtio-scsi", 0, 0}, /* default (first) */
    {"virtio-scsi-single", "virtio-scsi", 1, 0},
    {"lsi", "lsilogic", 0, 7},
    {"lsi53c810", "lsilogic", 0, 7},
    {"megasas", "lsisas1078", 0, 7},
    {"pvscsi", "vmpvscsi", 0, 7},
};

static const char *const caches[] = {"none", "writeback", "writethrough", "directsync", "unsafe"};
/* Proxmox's model names are QEMU device names; libvirt passes unknown ones through. */
static const char *const nicmodels[] = {
    "virtio",        "e1000",  "e1000e",  "rtl8139",  "vmxnet3",  "e1000-82540em", "e1000-82544gc",
    "e1000-82545em", "i82551", "i82557b", "i82559er", "ne2k_isa", "ne2k_pci",      "pcnet"};
/* Legacy boot letters (Proxmox: a floppy, c disk, d cdrom, n network). */
static const char legacy_letters[] = "acdn";
static const char *const legacy_devs[] = {"fd", "hd", "cdrom", "network"};

/* The main-section keys read as a whole (K_ order = keys[] order). */
// clang-format off
enum { K_ARGS, K_BALLOON, K_BIOS, K_BOOT, K_CORES, K_CPU, K_KVM, K_MACHINE, K_MEMORY, K_NAME,
       K_OSTYPE, K_SCSIHW, K_SMBIOS1, K_SOCKETS, K_VCPUS, K_COUNT };
static const char *const keys[K_COUNT] = {"args", "balloon", "bios", "boot", "cores", "cpu",
    "kvm", "machine", "memory", "name", "ostype", "scsihw", "smbios1", "sockets", "vcpus"};
// clang-format on

struct dev {
    const struct bus *bus; /* a buses[] entry, or &net_bus */
    int idx, boot, iothread;
    int ctl, target, unit; /* scsi drive address */
    char key[16];
    struct str val;
    /* drives */
    struct str vol, cache, format;
    int cdrom, discard, ssd, ro, want_io, present;
    /* NICs */
    struct str mac, model, bridge, tag;
    int link_down;
};

struct ctx {
    struct pv_buf *b;
    char *err;
    size_t errlen;
    const struct qemu_xml_opts *o;
    const struct scsihw *hw;
    int q35;
};

/* ---- errors ------------------------------------------------------------- */

static int bad(struct ctx *c, const char *key, struct str v)
{
    snprintf(c->err, c->errlen, "%s: cannot parse '%.*s%s'", key,
             (int)(v.n > QUOTE_MAX ? QUOTE_MAX : v.n), v.p ? v.p : "",
             v.n > QUOTE_MAX ? "..." : "");
    return -EINVAL;
}

/* ---- config gathering --------------------------------------------------- */

/* Splits the main section into keys[] values and devices. Returns the device count. */
static int gather(const char *cfg, size_t len, struct str *kv, struct dev *devs)
{
    int nd = 0;
    for (size_t pos = 0; pos < len;) {
        const char *line = cfg + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + 1;
        if (ll && line[0] == '[')
            break; /* snapshots and pending changes follow */
        const char *colon = memchr(line, ':', ll);
        if (!ll || line[0] == '#' || !colon)
            continue;
        struct str key = {line, (size_t)(colon - line)};
        struct str val = {colon + 1, ll - key.n - 1};
        while (val.n && (val.p[0] == ' ' || val.p[0] == '\t'))
            val.p++, val.n--;
        while (val.n && (val.p[val.n - 1] == ' ' || val.p[val.n - 1] == '\r'))
            val.n--;
        int k = qx_lookup(keys, K_COUNT, key);
        if (k >= 0) {
            kv[k] = val;
            continue;
        }
        const struct bus *bus = NULL;
        int idx = -1;
        for (size_t i = 0; i < N(buses) && idx < 0; i++)
            if ((idx = qx_key_index(key, buses[i].key, buses[i].max)) >= 0)
                bus = &buses[i];
        if (idx < 0 && (idx = qx_key_index(key, net_bus.key, net_bus.max)) >= 0)
            bus = &net_bus;
        if (!bus || nd >= MAXDEV)
            continue;
        struct dev *d = &devs[nd++];
        memset(d, 0, sizeof(*d));
        d->bus = bus;
        d->idx = idx;
        d->val = val;
        snprintf(d->key, sizeof(d->key), "%s%d", bus->key, idx);
    }
    return nd;
}

static int parse_drive(struct ctx *c, struct dev *d)
{
    struct str rest = d->val, name, val;
    int first = 1;
    while (qx_next_field(&rest, &name, &val)) {
        /* -2: no boolean option seen; -1: a boolean option with a bad value */
        // cppcheck-suppress unreadVariable
        int b = -2;
        if ((!name.n && first) || qx_eq(name, "file") || qx_eq(name, "volume"))
            d->vol = val;
        else if (!name.n)
            return bad(c, d->key, val);
        else if (qx_eq(name, "media") && (qx_eq(val, "cdrom") || qx_eq(val, "disk")))
            d->cdrom = qx_eq(val, "cdrom");
        else if (qx_eq(name, "cache") && qx_lookup(caches, N(caches), val) >= 0)
            d->cache = val;
        else if (qx_eq(name, "discard") && (qx_eq(val, "on") || qx_eq(val, "ignore")))
            d->discard = qx_eq(val, "on");
        else if (qx_eq(name, "format"))
            d->format = val;
        else if (qx_eq(name, "ssd") && (b = qx_boolean(val)) >= 0)
            d->ssd = b;
        else if (qx_eq(name, "ro") && (b = qx_boolean(val)) >= 0)
            d->ro = b;
        else if (qx_eq(name, "iothread") && (b = qx_boolean(val)) >= 0)
            d->want_io = b;
        else if (qx_eq(name, "media") || qx_eq(name, "cache") || qx_eq(name, "discard") || b == -1)
            return bad(c, d->key, d->val);
        first = 0; /* size, backup, aio, throttling...: not libvirt's business here */
    }
    if (!d->vol.n)
        return bad(c, d->key, d->val);
    if (d->cdrom && !strcmp(d->bus->key, "virtio")) {
        snprintf(c->err, c->errlen, "%s: a cdrom cannot be on virtio", d->key);
        return -EINVAL;
    }
    /* a hard disk without a volume has nothing to attach; an empty cdrom drive stays */
    d->present = d->cdrom || !qx_eq(d->vol, "none");
    return 0;
}

static int parse_nic(struct ctx *c, struct dev *d)
{
    struct str rest = d->val, name, val;
    while (qx_next_field(&rest, &name, &val)) {
        /* "virtio" alone: the model, MAC generated; or "model=virtio" */
        if ((!name.n || qx_eq(name, "model")) && qx_lookup(nicmodels, N(nicmodels), val) >= 0)
            d->model = val;
        else if (qx_lookup(nicmodels, N(nicmodels), name) >= 0)
            d->model = name, d->mac = val;
        else if (qx_eq(name, "macaddr"))
            d->mac = val;
        else if (qx_eq(name, "bridge"))
            d->bridge = val;
        else if (qx_eq(name, "tag") && qx_num(val, 4094) > 0)
            d->tag = val;
        else if (qx_eq(name, "link_down") && qx_boolean(val) >= 0)
            d->link_down = qx_boolean(val);
        else if (!name.n || qx_eq(name, "model") || qx_eq(name, "tag") || qx_eq(name, "link_down"))
            return bad(c, d->key, d->val);
    }
    if (d->mac.n && !qx_hexpat(d->mac, "xx:xx:xx:xx:xx:xx"))
        return bad(c, d->key, d->val);
    if (!d->model.n)
        d->model = qx_sz("virtio");
    d->present = 1;
    return 0;
}

/* The NIC's bridge must exist on the node; asked after the disks resolved, so a missing
 * storage is named first, as it is for a container. */
static int check_bridge(struct ctx *c, const struct dev *d)
{
    char br[64], e2[256] = "";
    int rc;

    if (!d->bridge.n || !c->o->bridge)
        return 0;
    snprintf(br, sizeof(br), "%.*s", (int)d->bridge.n, d->bridge.p);
    if ((rc = c->o->bridge(c->o->bridge_arg, br, e2, sizeof(e2))) < 0)
        return snprintf(c->err, c->errlen, "%s: %s", d->key, e2), rc;
    return 0;
}

static struct dev *find_dev(struct dev *devs, int nd, struct str key)
{
    for (int i = 0; i < nd; i++)
        if (qx_eq(key, devs[i].key))
            return &devs[i];
    return NULL;
}

/* boot: order=... sets per-device <boot order>; legacy letters fill legacy[] (os boot devs). */
static int parse_boot(struct ctx *c, struct str v, struct dev *devs, int nd, const char **legacy)
{
    struct str order = {NULL, 0}, letters = {NULL, 0}, name, val, rest = v;
    int nl = 0;
    if (!v.p)
        letters = qx_sz("cdn"); /* Proxmox's default */
    while (qx_next_field(&rest, &name, &val)) {
        if (qx_eq(name, "order"))
            order = val;
        else if (!name.n || qx_eq(name, "legacy"))
            letters = val;
        else
            return bad(c, "boot", v);
    }
    if (order.p) { /* order wins over legacy, as in Proxmox */
        int n = 0;
        while (order.n) {
            const char *semi = memchr(order.p, ';', order.n);
            struct str e = {order.p, semi ? (size_t)(semi - order.p) : order.n};
            struct dev *d = find_dev(devs, nd, e);
            if (d && d->present && !d->boot)
                d->boot = ++n; /* hostpci/usb and missing devices are skipped */
            order.p += e.n + (semi ? 1 : 0);
            order.n -= e.n + (semi ? 1 : 0);
        }
        return 0;
    }
    for (size_t i = 0; i < letters.n; i++) {
        const char *l = letters.p[i] ? strchr(legacy_letters, letters.p[i]) : NULL;
        if (!l)
            return bad(c, "boot", v);
        int dup = 0;
        for (int k = 0; k < nl; k++)
            dup |= legacy[k] == legacy_devs[l - legacy_letters];
        if (!dup)
            legacy[nl++] = legacy_devs[l - legacy_letters];
    }
    return 0;
}

/* args: only -kernel/-initrd/-append are taken (direct kernel boot); shell-like quoting. */
static int parse_args(struct ctx *c, struct str v, char **buf, struct str *kio)
{
    static const char *const opts[] = {"-kernel", "-initrd", "-append"};
    char *t = malloc(v.n + 1);
    if (!t)
        return -ENOMEM;
    *buf = t;
    size_t o = 0, i = 0;
    int want = -1;
    while (i < v.n) {
        while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t'))
            i++;
        if (i == v.n)
            break;
        size_t start = o;
        char q = 0;
        for (; i < v.n && (q || (v.p[i] != ' ' && v.p[i] != '\t')); i++) {
            char ch = v.p[i];
            if (q && ch == q)
                q = 0;
            else if (!q && (ch == '"' || ch == '\''))
                q = ch;
            else if (ch == '\\' && q != '\'' && i + 1 < v.n)
                t[o++] = v.p[++i];
            else
                t[o++] = ch;
        }
        if (q)
            return bad(c, "args", v);
        struct str tok = {t + start, o - start};
        if (want >= 0)
            kio[want] = tok, want = -1;
        else
            want = qx_lookup(opts, N(opts), tok);
    }
    if (want >= 0) {
        snprintf(c->err, c->errlen, "args: %s needs a value", opts[want]);
        return -EINVAL;
    }
    return 0;
}

/* ---- devices ------------------------------------------------------------ */

static int is_scsi(const struct dev *d)
{
    return d->present && !strcmp(d->bus->key, "scsi");
}

/*
 * scsi drive addresses under the configured scsihw; returns the controller count.
 * virtio-scsi-single numbers its controllers densely (by disk index) because libvirt
 * would fill every gap below the highest index with a default-model controller.
 */
static int scsi_addrs(const struct ctx *c, struct dev *devs, int nd)
{
    int nctl = 0;
    for (int i = 0; i < nd; i++) {
        struct dev *d = &devs[i];
        if (!is_scsi(d))
            continue;
        if (c->hw->per_disk) {
            d->ctl = 0;
            for (int j = 0; j < nd; j++)
                d->ctl += is_scsi(&devs[j]) && devs[j].idx < d->idx;
        } else if (c->hw->units) {
            d->ctl = d->idx / c->hw->units, d->unit = d->idx % c->hw->units;
        } else {
            d->target = d->idx; /* virtio-scsi: one target per disk, as Proxmox */
        }
        nctl = d->ctl + 1 > nctl ? d->ctl + 1 : nctl;
    }
    return nctl;
}

/* libvirt's rbd <host> elements from a monhost list ("a:6789 [v2:b:3300/0,v1:b:6789/0];c"). */
static void rbd_hosts(struct pv_buf *b, const char *p)
{
    while (*p) {
        size_t n = 0;
        for (int br = 0; p[n] && (br || !strchr(" ,;\t", p[n])); n++) /* ',' in [...] stays */
            br += p[n] == '[' ? 1 : p[n] == ']' ? -1 : 0;
        struct str a = {p, n}, port = {NULL, 0};
        p += n;
        p += strspn(p, " ,;\t");
        if (n > 4 && a.p[0] == '[' && a.p[1] == 'v' && a.p[3] == ':') {
            /* an address vector: its v1 entry (libvirt speaks the legacy protocol), else the
             * first */
            const char *v1 = memmem(a.p, n, "v1:", 3);
            a.p = v1 ? v1 : a.p + 1;
            a.n = strcspn(a.p, ",]");
        }
        if (a.n > 3 && a.p[0] == 'v' && (a.p[1] == '1' || a.p[1] == '2') && a.p[2] == ':')
            a.p += 3, a.n -= 3;
        const char *cut = memchr(a.p, '/', a.n), *end; /* "/nonce" */
        a.n = cut ? (size_t)(cut - a.p) : a.n;
        end = a.p + a.n;
        const char *colon = memrchr(a.p, ':', a.n);
        if (a.n && a.p[0] == '[') { /* [v6]:port */
            const char *rb = memchr(a.p, ']', a.n);
            rb = rb ? rb : end;
            if (rb + 1 < end && rb[1] == ':')
                port = (struct str){rb + 2, (size_t)(end - rb - 2)};
            a = (struct str){a.p + 1, (size_t)(rb - a.p - 1)};
        } else if (colon && memchr(a.p, ':', a.n) == colon) { /* several: a bare IPv6 */
            port = (struct str){colon + 1, (size_t)(end - colon - 1)};
            a.n = (size_t)(colon - a.p);
        }
        if (!a.n)
            continue;
        qx_put(b, "        <host");
        qx_attr(b, "name", a);
        if (qx_num(port, 65535) > 0)
            qx_attr(b, "port", port);
        qx_put(b, "/>\n");
    }
}

static int emit_drive(struct ctx *c, const struct dev *d)
{
    struct pv_buf *b = c->b;
    struct qemu_disk disk;
    char volid[1024], tgt[16];
    int none = qx_eq(d->vol, "none"), hostcd = qx_eq(d->vol, "cdrom");

    memset(&disk, 0, sizeof(disk));
    if (!none && !hostcd) {
        if (d->vol.n >= sizeof(volid))
            return bad(c, d->key, d->vol);
        memcpy(volid, d->vol.p, d->vol.n);
        volid[d->vol.n] = '\0';
        if (!c->o->resolve) {
            snprintf(c->err, c->errlen, "%s: no resolver for '%s'", d->key, volid);
            return -EINVAL;
        }
        int rc = c->o->resolve(c->o->arg, volid, &disk, c->err, c->errlen);
        if (rc)
            return rc < 0 ? rc : -rc;
        disk.path[sizeof(disk.path) - 1] = disk.format[sizeof(disk.format) - 1] = '\0';
        disk.monhost[sizeof(disk.monhost) - 1] = disk.conf[sizeof(disk.conf) - 1] = '\0';
        disk.user[sizeof(disk.user) - 1] = '\0';
    } else if (hostcd) {
        snprintf(disk.path, sizeof(disk.path), "/dev/cdrom"); /* the host's drive */
    }
    int rbd = !none && !hostcd && disk.kind == QD_RBD;
    /* block devices (LVM, /dev paths) need QEMU's host_device driver, not file */
    int block = !rbd && !strncmp(disk.path, "/dev/", 5);
    const char *type = rbd ? "network" : block ? "block" : "file";

    pv_buf_printf(b, "    <disk type='%s' device='%s'>\n", type, d->cdrom ? "cdrom" : "disk");
    qx_put(b, "      <driver name='qemu'");
    qx_attr(b, "type",
            d->format.n      ? d->format
            : disk.format[0] ? qx_sz(disk.format)
                             : qx_sz("raw"));
    if (d->cache.n)
        qx_attr(b, "cache", d->cache);
    if (d->discard)
        qx_put(b, " discard='unmap'");
    if (d->iothread && !strcmp(d->bus->key, "virtio")) /* scsi: on the controller */
        pv_buf_printf(b, " iothread='%d'", d->iothread);
    qx_put(b, "/>\n");
    if (rbd) {
        qx_put(b, "      <source protocol='rbd'");
        qx_attr(b, "name", qx_sz(disk.path));
        qx_put(b, ">\n");
        rbd_hosts(b, disk.monhost);
        if (disk.conf[0])
            qx_leaf(b, "        <config", "file", qx_sz(disk.conf));
        /* cephx with an explicit key: libvirt hands it to QEMU from a secret object */
        if (disk.key[0]) {
            char uuid[64];
            int r;
            if (!c->o->secret)
                return snprintf(c->err, c->errlen,
                                "%s: an rbd disk with its own key needs libvirt "
                                "secrets",
                                d->key),
                       -EOPNOTSUPP;
            if ((r = c->o->secret(c->o->secret_arg, disk.user[0] ? disk.user : "admin", disk.key,
                                  uuid, sizeof(uuid), c->err, c->errlen)))
                return r;
            qx_put(b, "        <auth");
            qx_attr(b, "username", qx_sz(disk.user[0] ? disk.user : "admin"));
            qx_put(b, ">\n          <secret type='ceph'");
            qx_attr(b, "uuid", qx_sz(uuid));
            qx_put(b, "/>\n        </auth>\n");
        }
        qx_put(b, "      </source>\n");
    } else if (!none) {
        qx_leaf(b, "      <source", block ? "dev" : "file", qx_sz(disk.path));
    }
    const struct bus *bus = d->bus;
    int ide_q35 = c->q35 && !strcmp(bus->key, "ide"); /* q35 has no IDE: its AHCI ports */
    qx_target_name(tgt, sizeof(tgt), bus->dev, bus->base + d->idx);
    qx_put(b, "      <target");
    qx_attr(b, "dev", qx_sz(tgt));
    qx_attr(b, "bus", qx_sz(ide_q35 ? "sata" : bus->bus));
    if (d->ssd && strcmp(bus->key, "virtio") != 0)
        qx_put(b, " rotation_rate='1'");
    qx_put(b, "/>\n");
    if (d->ro || d->cdrom)
        qx_put(b, "      <readonly/>\n");
    if (d->boot)
        pv_buf_printf(b, "      <boot order='%d'/>\n", d->boot);
    /* explicit drive addresses: libvirt would derive them from the target name, and
     * sata's offset letters would then land on controller 5 */
    int scsi = !strcmp(bus->key, "scsi"), sata = !strcmp(bus->key, "sata");
    if (scsi || sata || ide_q35) /* Proxmox: on q35 ideN are the built-in AHCI, sataN another */
        pv_buf_printf(b,
                      "      <address type='drive' controller='%d' bus='0' target='%d' "
                      "unit='%d'/>\n",
                      scsi ? d->ctl : c->q35 && sata, scsi ? d->target : 0,
                      scsi ? d->unit : d->idx);
    qx_put(b, "    </disk>\n");
    return 0;
}

static void emit_nic(struct ctx *c, const struct dev *d)
{
    struct pv_buf *b = c->b;
    /* no bridge: Proxmox would leave the NIC unconnected; user-mode NAT is closest */
    pv_buf_printf(b, "    <interface type='%s'>\n", d->bridge.n ? "bridge" : "user");
    if (d->mac.n)
        qx_leaf(b, "      <mac", "address", d->mac);
    if (d->bridge.n) {
        qx_leaf(b, "      <source", "bridge", d->bridge);
        if (d->tag.n) /* needs OVS or a VLAN-aware bridge at start time */
            pv_buf_printf(b, "      <vlan>\n        <tag id='%ld'/>\n      </vlan>\n",
                          qx_num(d->tag, 4094));
    }
    qx_leaf(b, "      <model", "type", d->model);
    if (d->link_down)
        qx_put(b, "      <link state='down'/>\n");
    if (d->boot)
        pv_buf_printf(b, "      <boot order='%d'/>\n", d->boot);
    qx_put(b, "    </interface>\n");
}

/* ---- the domain --------------------------------------------------------- */

static int build(struct ctx *c, const char *config, size_t len)
{
    const struct qemu_xml_opts *o = c->o;
    struct pv_buf *b = c->b;
    struct str kv[K_COUNT] = {{NULL, 0}}, kio[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    struct dev devs[MAXDEV];
    const char *legacy[N(legacy_devs)] = {NULL};
    char *argbuf = NULL;
    int rc = 0;

    if (!o->name || !o->name[0]) {
        snprintf(c->err, c->errlen, "no domain name");
        return -EINVAL;
    }
    int nd = gather(config, len, kv, devs);

    /* scalars; Proxmox defaults: 512 MiB, 1 socket, 1 core */
    struct str mem = kv[K_MEMORY];
    if (mem.p && qx_field(mem, "current").p)
        mem = qx_field(mem, "current");
    else if (mem.p && memchr(mem.p, ',', mem.n)) /* "1024,..." */
        mem.n = (size_t)((const char *)memchr(mem.p, ',', mem.n) - mem.p);
    static const struct {
        int k;
        long def, min, max;
    } ints[] = {{K_MEMORY, 512, 16, 1L << 30},
                {K_SOCKETS, 1, 1, 4096},
                {K_CORES, 1, 1, 4096},
                {K_VCPUS, 0, 0, 1L << 20},
                {K_BALLOON, 1, 0, 1L << 30}};
    long iv[K_COUNT] = {0};
    for (size_t i = 0; i < N(ints); i++) {
        struct str v = ints[i].k == K_MEMORY ? mem : kv[ints[i].k];
        iv[ints[i].k] = v.p ? qx_num(v, ints[i].max) : ints[i].def;
        if (iv[ints[i].k] < ints[i].min)
            return bad(c, keys[ints[i].k], kv[ints[i].k]);
    }
    long memory = iv[K_MEMORY], sockets = iv[K_SOCKETS], cores = iv[K_CORES];
    long vcpus = iv[K_VCPUS], balloon = iv[K_BALLOON];
    int kvm = kv[K_KVM].p ? qx_boolean(kv[K_KVM]) : 1;
    if (kvm < 0)
        return bad(c, "kvm", kv[K_KVM]);
    kvm = kvm && o->kvm;

    struct str cpu = qx_main_field(kv[K_CPU], "cputype");   /* "[cputype=]host,flags=..." */
    struct str mach = qx_main_field(kv[K_MACHINE], "type"); /* "[type=]pc-q35-8.1+pve0,..." */
    c->q35 =
        mach.n >= 3 && (!memcmp(mach.p, "q35", 3) || (mach.n >= 6 && !memcmp(mach.p, "pc-q35", 6)));
    int efi = qx_eq(kv[K_BIOS], "ovmf");
    if (kv[K_BIOS].p && !efi && !qx_eq(kv[K_BIOS], "seabios"))
        return bad(c, "bios", kv[K_BIOS]);

    c->hw = &scsihws[0];
    if (kv[K_SCSIHW].p) {
        size_t i = 0;
        while (i < N(scsihws) && !qx_eq(kv[K_SCSIHW], scsihws[i].name))
            i++;
        if (i == N(scsihws))
            return bad(c, "scsihw", kv[K_SCSIHW]);
        c->hw = &scsihws[i];
    }

    struct str uuid = o->uuid ? qx_sz(o->uuid) : (struct str){NULL, 0};
    if (!uuid.p && kv[K_SMBIOS1].p && (uuid = qx_field(kv[K_SMBIOS1], "uuid")).p &&
        !qx_hexpat(uuid, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"))
        return bad(c, "smbios1", kv[K_SMBIOS1]);

    /* devices: parse all before any output, so a bad value fails cleanly */
    int iothreads = 0;
    for (int i = 0; i < nd; i++) {
        struct dev *d = &devs[i];
        if ((rc = d->bus == &net_bus ? parse_nic(c, d) : parse_drive(c, d)) < 0)
            return rc;
        int scsi = is_scsi(d);
        /* iothreads attach to virtio-blk disks or to a virtio-scsi-single disk's controller */
        if (d->present && d->want_io &&
            (!strcmp(d->bus->key, "virtio") || (scsi && c->hw->per_disk)))
            d->iothread = ++iothreads;
    }
    int nctl = scsi_addrs(c, devs, nd);
    if ((rc = parse_boot(c, kv[K_BOOT], devs, nd, legacy)) < 0)
        return rc;
    if (kv[K_ARGS].p && (rc = parse_args(c, kv[K_ARGS], &argbuf, kio)) < 0)
        goto out;

    pv_buf_printf(b, "<domain type='%s'>\n", kvm ? "kvm" : "qemu");
    qx_elem(b, "  ", "name", qx_sz(o->name));
    if (uuid.p)
        qx_elem(b, "  ", "uuid", uuid);
    if (kv[K_NAME].n)
        qx_elem(b, "  ", "title", kv[K_NAME]);
    pv_buf_printf(b, "  <memory unit='MiB'>%ld</memory>\n", memory);
    pv_buf_printf(b, "  <currentMemory unit='MiB'>%ld</currentMemory>\n", memory);
    long maxcpu = sockets * cores;
    if (vcpus && vcpus < maxcpu)
        pv_buf_printf(b, "  <vcpu placement='static' current='%ld'>%ld</vcpu>\n", vcpus, maxcpu);
    else
        pv_buf_printf(b, "  <vcpu placement='static'>%ld</vcpu>\n", maxcpu);
    if (iothreads)
        pv_buf_printf(b, "  <iothreads>%d</iothreads>\n", iothreads);

    pv_buf_printf(b, "  <os%s>\n", efi ? " firmware='efi'" : "");
    pv_buf_printf(b, "    <type arch='x86_64' machine='%s'>hvm</type>\n", c->q35 ? "q35" : "pc");
    static const char *const kio_tags[] = {"kernel", "initrd", "cmdline"};
    for (size_t i = 0; i < N(kio_tags); i++)
        if (kio[i].p)
            qx_elem(b, "    ", kio_tags[i], kio[i]);
    for (size_t i = 0; i < N(legacy) && legacy[i]; i++)
        pv_buf_printf(b, "    <boot dev='%s'/>\n", legacy[i]);
    qx_put(b, "  </os>\n");
    qx_put(b, "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n");
    /* host-passthrough needs KVM; other models keep QEMU's default CPU */
    pv_buf_printf(b, "  <cpu%s>\n", kvm && qx_eq(cpu, "host") ? " mode='host-passthrough'" : "");
    pv_buf_printf(b, "    <topology sockets='%ld' dies='1' cores='%ld' threads='1'/>\n", sockets,
                  cores);
    qx_put(b, "  </cpu>\n");
    /* Windows keeps its RTC in local time (Proxmox does the same) */
    pv_buf_printf(b, "  <clock offset='%s'/>\n",
                  kv[K_OSTYPE].n && kv[K_OSTYPE].p[0] == 'w' ? "localtime" : "utc");
    qx_put(b, "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n"
              "  <on_crash>destroy</on_crash>\n");

    qx_put(b, "  <devices>\n");
    for (int i = 0; i < nd; i++)
        if (devs[i].bus != &net_bus && devs[i].present && (rc = emit_drive(c, &devs[i])) < 0)
            goto out;
    /* every controller up to the last one used, so none gets libvirt's default model;
     * with virtio-scsi-single each carries its disk's iothread */
    for (int i = 0; i < nctl; i++) {
        int io = 0;
        for (int j = 0; j < nd; j++)
            if (is_scsi(&devs[j]) && devs[j].ctl == i)
                io = devs[j].iothread ? devs[j].iothread : io;
        pv_buf_printf(b, "    <controller type='scsi' index='%d' model='%s'", i, c->hw->model);
        if (io)
            pv_buf_printf(b, ">\n      <driver iothread='%d'/>\n    </controller>\n", io);
        else
            qx_put(b, "/>\n");
    }
    for (int i = 0; i < nd; i++)
        if (devs[i].bus == &net_bus && (rc = check_bridge(c, &devs[i])) < 0)
            goto out;
    for (int i = 0; i < nd; i++)
        if (devs[i].bus == &net_bus)
            emit_nic(c, &devs[i]);
    /* one serial port (serial0: socket maps here too): a log file, or a pty */
    if (o->serial_log) {
        qx_put(b, "    <serial type='file'>\n      <source");
        qx_attr(b, "path", qx_sz(o->serial_log));
        /* appended, so a guest's console history survives restarts, as a log should */
        qx_put(b, " append='on'/>\n      <target port='0'/>\n    </serial>\n");
    } else {
        qx_put(b, "    <serial type='pty'>\n      <target port='0'/>\n    </serial>\n");
    }
    if (balloon == 0)
        qx_put(b, "    <memballoon model='none'/>\n");
    else /* stats give the guest's real memory use */
        qx_put(b,
               "    <memballoon model='virtio'>\n      <stats period='2'/>\n    </memballoon>\n");
    qx_put(b, "  </devices>\n</domain>\n");
out:
    free(argbuf);
    return rc;
}

int qemu_xml(const char *config, size_t len, const struct qemu_xml_opts *o, struct pv_buf *out,
             char *err, size_t errlen)
{
    char dummy[8];
    struct ctx c = {out, errlen ? err : dummy, errlen ? errlen : sizeof(dummy), o, NULL, 0};
    size_t start = out->len;
    c.err[0] = '\0';
    int rc = build(&c, config ? config : "", config ? len : 0);
    if (!rc && out->oom)
        rc = -ENOMEM, snprintf(c.err, c.errlen, "out of memory");
    if (rc) { /* never leave half a domain behind */
        out->len = start;
        if (out->p && out->cap > start)
            out->p[start] = '\0';
    }
    return rc;
}
