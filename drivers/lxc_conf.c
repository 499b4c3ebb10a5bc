/*
 * lxc_conf: a pct config (Proxmox's /etc/pve/lxc/<ctid>.conf format) to the LXC
 * config pvefs owns. Pure: the only outside call is the volume resolver. The LXC
 * config never includes /etc/lxc/default.conf or a distribution's common.conf, so a
 * container runs the same on every host.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lxc.h"

#define MAX_NET 32
#define MAX_MP  256

void lxc_veth_name(const char *ctid, int n, char *buf, size_t len)
{
    snprintf(buf, len, "veth%.8si%d", ctid, n);
}

/* Value of key in a "k=v,k=v" property string; the first bare item is key "" . */
static int prop(const char *s, const char *key, char *out, size_t len)
{
    size_t kl = strlen(key);

    for (const char *p = s; p && *p;) {
        size_t l = strcspn(p, ",");
        const char *eq = memchr(p, '=', l);
        if (!eq && !kl && p == s) {
            snprintf(out, len, "%.*s", (int)l, p);
            return 1;
        }
        if (eq && (size_t)(eq - p) == kl && memcmp(p, key, kl) == 0) {
            snprintf(out, len, "%.*s", (int)(l - kl - 1), eq + 1);
            return 1;
        }
        p = p[l] ? p + l + 1 : NULL;
    }
    out[0] = 0;
    return 0;
}

/* The volume of a rootfs or mpN value: its first item, or "volume=". */
static void volume_of(const char *v, char *out, size_t len)
{
    if (!prop(v, "", out, len))
        prop(v, "volume", out, len);
}

static int resolve_path(const struct lxc_conf_opts *o, const char *what, const char *vol,
                        char *path, size_t len, char *err, size_t errlen)
{
    struct qemu_disk d;
    char e2[LXC_ERRLEN] = "";
    int rc;

    if (vol[0] == '/') { /* a bind mount of a host directory */
        snprintf(path, len, "%s", vol);
        return 0;
    }
    if (!o->resolve)
        return snprintf(err, errlen, "%s: no storage to resolve %s", what, vol), -ENOENT;
    if ((rc = o->resolve(o->arg, vol, &d, e2, sizeof(e2))))
        return snprintf(err, errlen, "%s: %s", what, e2), rc;
    if (d.kind != QD_FILE || strcmp(d.format, "subvol") != 0)
        return snprintf(err, errlen,
                        "%s: %s is a %s image; containers here run from subvol directories "
                        "(dir storage)",
                        what, vol, d.format),
               -EOPNOTSUPP;
    snprintf(path, len, "%s", d.path);
    return 0;
}

static void cg_key(struct pv_buf *out, const struct lxc_conf_opts *o, const char *v2key,
                   const char *v1key, const char *fmt, long long v)
{
    pv_buf_printf(out, "lxc.cgroup%s.%s = ", o->cgroup2_memory ? "2" : "",
                  o->cgroup2_memory ? v2key : v1key);
    pv_buf_printf(out, fmt, v);
    pv_buf_printf(out, "\n");
}

static int net_line(struct pv_buf *out, const struct lxc_conf_opts *o, int n, const char *v,
                    char *err, size_t errlen)
{
    char t[128], name[64], veth[32];

    if (prop(v, "type", t, sizeof(t)) && strcmp(t, "veth") != 0)
        return snprintf(err, errlen, "net%d: type %s; only veth is supported", n, t), -EOPNOTSUPP;
    if (!prop(v, "name", name, sizeof(name)))
        return snprintf(err, errlen, "net%d: needs name=<interface in the container>", n), -EINVAL;
    lxc_veth_name(o->ctid, n, veth, sizeof(veth));
    pv_buf_printf(out, "lxc.net.%d.type = veth\nlxc.net.%d.name = %s\nlxc.net.%d.veth.pair = %s\n",
                  n, n, name, n, veth);
    if (prop(v, "bridge", t, sizeof(t)))
        pv_buf_printf(out, "lxc.net.%d.link = %s\n", n, t);
    if (!prop(v, "link_down", t, sizeof(t)) || strcmp(t, "1") != 0)
        pv_buf_printf(out, "lxc.net.%d.flags = up\n", n);
    if (prop(v, "hwaddr", t, sizeof(t)))
        pv_buf_printf(out, "lxc.net.%d.hwaddr = %s\n", n, t);
    if (prop(v, "mtu", t, sizeof(t)))
        pv_buf_printf(out, "lxc.net.%d.mtu = %s\n", n, t);
    if (prop(v, "tag", t, sizeof(t)))
        pv_buf_printf(out, "lxc.net.%d.veth.vlan.id = %s\n", n, t);
    /* "dhcp" and "manual" are the guest's business; a static address LXC sets at start */
    if (prop(v, "ip", t, sizeof(t)) && strchr(t, '/'))
        pv_buf_printf(out, "lxc.net.%d.ipv4.address = %s\n", n, t);
    if (prop(v, "gw", t, sizeof(t)))
        pv_buf_printf(out, "lxc.net.%d.ipv4.gateway = %s\n", n, t);
    if (prop(v, "ip6", t, sizeof(t)) && strchr(t, '/'))
        pv_buf_printf(out, "lxc.net.%d.ipv6.address = %s\n", n, t);
    if (prop(v, "gw6", t, sizeof(t)))
        pv_buf_printf(out, "lxc.net.%d.ipv6.gateway = %s\n", n, t);
    return 0;
}

static int mp_line(struct pv_buf *out, const struct lxc_conf_opts *o, const char *key,
                   const char *v, char *err, size_t errlen)
{
    char vol[512], mp[512], path[1200], ro[8];
    int rc;

    volume_of(v, vol, sizeof(vol));
    if (!prop(v, "mp", mp, sizeof(mp)) || mp[0] != '/')
        return snprintf(err, errlen, "%s: needs mp=<absolute path in the container>", key), -EINVAL;
    if ((rc = resolve_path(o, key, vol, path, sizeof(path), err, errlen)))
        return rc;
    prop(v, "ro", ro, sizeof(ro));
    pv_buf_printf(out, "lxc.mount.entry = %s %s none rbind,create=dir%s 0 0\n", path, mp + 1,
                  strcmp(ro, "1") == 0 ? ",ro" : "");
    return 0;
}

/* The pct keys that turn into LXC settings; the others are pvefs's or the guest's. */
enum key_kind {
    K_ARCH,
    K_HOST,
    K_MEM,
    K_SWAP,
    K_CORES,
    K_CPULIMIT,
    K_CPUUNITS,
    K_ROOTFS,
    K_MP,
    K_NET,
    K_TTY,
    K_UNPRIV,
    K_RAW,
    K_OTHER
};

static const struct {
    const char *key;
    int numbered;
    enum key_kind kind;
} keys[] = {
    {"arch", 0, K_ARCH},         {"hostname", 0, K_HOST}, {"memory", 0, K_MEM},
    {"swap", 0, K_SWAP},         {"cores", 0, K_CORES},   {"cpulimit", 0, K_CPULIMIT},
    {"cpuunits", 0, K_CPUUNITS}, {"rootfs", 0, K_ROOTFS}, {"mp", 1, K_MP},
    {"net", 1, K_NET},           {"tty", 0, K_TTY},       {"unprivileged", 0, K_UNPRIV},
};

static enum key_kind kind_of(const char *k, size_t n, int *num)
{
    if (n > 4 && memcmp(k, "lxc.", 4) == 0)
        return K_RAW;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        size_t l = strlen(keys[i].key);
        if (keys[i].numbered && n > l && memcmp(k, keys[i].key, l) == 0 &&
            strspn(k + l, "0123456789") == n - l) {
            *num = atoi(k + l);
            return keys[i].kind;
        }
        if (!keys[i].numbered && n == l && memcmp(k, keys[i].key, l) == 0)
            return keys[i].kind;
    }
    return K_OTHER;
}

/* Settings that do not depend on the pct config. */
static void base_lines(struct pv_buf *out, const struct lxc_conf_opts *o)
{
    pv_buf_printf(out,
                  "# generated by pvefs from the container's pct config; edits are lost\n"
                  "lxc.autodev = 1\n"
                  "lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed\n"
                  "lxc.pty.max = 1024\n"
                  "lxc.cap.drop = sys_time sys_module sys_rawio mac_admin mac_override\n"
                  "lxc.apparmor.profile = %s\n"
                  "lxc.signal.halt = %s\n"
                  "lxc.cgroup.dir.container = %s/%s\n"
                  "lxc.cgroup.dir.monitor = %s.monitor/%s\n",
                  o->apparmor ? "generated" : "unconfined",
                  o->halt_signal ? o->halt_signal : "SIGPWR", o->cgroup, o->ctid, o->cgroup,
                  o->ctid);
}

/* Every NIC's bridge exists on the node; asked once the volumes resolved, so a missing
 * storage is named first. */
static int check_bridges(const char *config, size_t len, const struct lxc_conf_opts *o, char *err,
                         size_t errlen)
{
    char val[4096], br[128], e2[256];
    int num = 0, rc;

    for (const char *p = config, *end = config + len; o->bridge && p && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *c;
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (l && p[0] == '[')
            break;
        c = memchr(p, ':', l);
        if (c && kind_of(p, (size_t)(c - p), &num) == K_NET) {
            size_t vl = l - (size_t)(c + 1 - p);
            if (vl && c[1] == ' ')
                c++, vl--;
            snprintf(val, sizeof(val), "%.*s", (int)vl, c + 1);
            e2[0] = 0;
            if (prop(val, "bridge", br, sizeof(br)) &&
                (rc = o->bridge(o->bridge_arg, br, e2, sizeof(e2))) < 0)
                return snprintf(err, errlen, "net%d: %s", num, e2), rc;
        }
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

int lxc_conf_build(const char *config, size_t len, const struct lxc_conf_opts *o,
                   struct pv_buf *out, char *err, size_t errlen)
{
    long long mem = 512, swap = 512, tty = 2;
    char val[4096], path[1200];
    int have_root = 0, have_host = 0, rc = 0;

    base_lines(out, o);
    for (const char *p = config, *end = config + len; p && p < end && !rc;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *c;
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), vl, kl;
        int num = 0;
        enum key_kind k;

        if (l && p[0] == '[')
            break; /* snapshot and pending sections are not the running config */
        c = memchr(p, ':', l);
        if (!l || p[0] == '#' || !c) {
            p = nl ? nl + 1 : NULL;
            continue;
        }
        kl = (size_t)(c - p);
        k = kind_of(p, kl, &num);
        vl = l - (size_t)(c + 1 - p);
        if (vl && c[1] == ' ')
            c++, vl--;
        snprintf(val, sizeof(val), "%.*s", (int)vl, c + 1);
        switch (k) {
        case K_ARCH:
            pv_buf_printf(out, "lxc.arch = %s\n", strcmp(val, "amd64") == 0 ? "x86_64" : val);
            break;
        case K_HOST:
            pv_buf_printf(out, "lxc.uts.name = %s\n", val);
            have_host = 1;
            break;
        case K_MEM:
            mem = atoll(val);
            break;
        case K_SWAP:
            swap = atoll(val);
            break;
        case K_CORES:
            /* all of the host's CPUs need no pinning (and more would not start) */
            if (atoll(val) > 0 && atoll(val) < o->host_cpus)
                pv_buf_printf(out, "lxc.cgroup%s.cpuset.cpus = 0-%lld\n",
                              o->cgroup2_memory ? "2" : "", atoll(val) - 1);
            break;
        case K_CPULIMIT:
            if (atof(val) > 0) {
                long long quota = (long long)(atof(val) * 100000);
                if (o->cgroup2_memory)
                    pv_buf_printf(out, "lxc.cgroup2.cpu.max = %lld 100000\n", quota);
                else
                    pv_buf_printf(out,
                                  "lxc.cgroup.cpu.cfs_period_us = 100000\n"
                                  "lxc.cgroup.cpu.cfs_quota_us = %lld\n",
                                  quota);
            }
            break;
        case K_CPUUNITS:
            cg_key(out, o, "cpu.weight", "cpu.shares", "%lld", atoll(val));
            break;
        case K_ROOTFS: {
            char vol[512], ro[8];
            volume_of(val, vol, sizeof(vol));
            if ((rc = resolve_path(o, "rootfs", vol, path, sizeof(path), err, errlen)))
                break;
            prop(val, "ro", ro, sizeof(ro));
            pv_buf_printf(out, "lxc.rootfs.path = dir:%s\n", path);
            if (strcmp(ro, "1") == 0)
                pv_buf_printf(out, "lxc.rootfs.options = ro\n");
            have_root = 1;
            break;
        }
        case K_MP:
            if (num >= MAX_MP)
                rc = (snprintf(err, errlen, "mp%d: at most %d mount points", num, MAX_MP), -EINVAL);
            else {
                char key[16];
                snprintf(key, sizeof(key), "mp%d", num);
                rc = mp_line(out, o, key, val, err, errlen);
            }
            break;
        case K_NET:
            if (num >= MAX_NET)
                rc = (snprintf(err, errlen, "net%d: at most %d interfaces", num, MAX_NET), -EINVAL);
            else
                rc = net_line(out, o, num, val, err, errlen);
            break;
        case K_TTY:
            tty = atoll(val);
            break;
        case K_UNPRIV:
            if (strcmp(val, "1") == 0)
                rc = (snprintf(err, errlen,
                               "unprivileged: 1: this driver runs privileged containers only "
                               "(set unprivileged: 0)"),
                      -EOPNOTSUPP);
            break;
        case K_RAW:
            pv_buf_printf(out, "%.*s = %s\n", (int)kl, p, val);
            break;
        case K_OTHER:
            break;
        }
        p = nl ? nl + 1 : NULL;
    }
    if (rc)
        return rc;
    if (!have_root)
        return snprintf(err, errlen, "no rootfs: a container needs rootfs: <storage>:<volume>"),
               -EINVAL;
    if ((rc = check_bridges(config, len, o, err, errlen)))
        return rc;
    if (!have_host)
        pv_buf_printf(out, "lxc.uts.name = ct%s\n", o->ctid);
    pv_buf_printf(out, "lxc.tty.max = %lld\n", tty);
    cg_key(out, o, "memory.max", "memory.limit_in_bytes", "%lld", mem * 1024 * 1024);
    if (o->cgroup2_memory)
        pv_buf_printf(out, "lxc.cgroup2.memory.swap.max = %lld\n", swap * 1024 * 1024);
    else if (o->memsw)
        pv_buf_printf(out, "lxc.cgroup.memory.memsw.limit_in_bytes = %lld\n",
                      (mem + swap) * 1024 * 1024);
    return out->oom ? -ENOMEM : 0;
}
