/*
 * conf_lxc: key table for pct container configs (/etc/pve/lxc/<vmid>.conf),
 * modelled on pve-container's schema, plus the raw "lxc.*" keys it passes
 * through to LXC.
 */
#include "conf_int.h"

#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- patterns ----------------------------------------------------------- */

static int pat_mountopt(const char *v, size_t n)
{
    static const char *const opts[] = {"noatime", "lazytime", "nodev",
                                       "nosuid",  "noexec",   "discard"};
    for (size_t i = 0; i < N(opts); i++)
        if (strlen(opts[i]) == n && !memcmp(v, opts[i], n))
            return 1;
    return 0;
}

static int pat_mountopts(const char *v, size_t n)
{
    return conf_list_ok(v, n, ';', pat_mountopt);
}

/* pve-container refuses "/./", "/../", a trailing "/." or "/.." and a leading "../" */
static int pat_mppath(const char *v, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (v[i] != '/' || v[i + 1] != '.')
            continue;
        size_t j = i + 2;
        if (j < n && v[j] == '.')
            j++;
        if (j == n || v[j] == '/')
            return 0;
    }
    return n > 0 && !(n >= 3 && !memcmp(v, "../", 3));
}

static int pat_fstypes(const char *v, size_t n)
{
    return n > 0 &&
           strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_; ") >= n;
}

static int pat_mode(const char *v, size_t n)
{
    return n == 4 && v[0] == '0' && strspn(v, "01234567") >= 4;
}

static int pat_devpath(const char *v, size_t n)
{
    return n > 5 && !memcmp(v, "/dev/", 5);
}

/* ---- value types -------------------------------------------------------- */

static const char *const ostypes[] = {"debian",    "devuan",    "ubuntu", "centos", "fedora",
                                      "opensuse",  "archlinux", "alpine", "gentoo", "nixos",
                                      "openeuler", "unmanaged", "redhat", NULL};
static const char *const archs[] = {"amd64", "i386", "arm64", "armhf", "riscv32", "riscv64", NULL};
static const char *const cmodes[] = {"shell", "console", "tty", NULL};
static const char *const locks[] = {"backup",   "create",          "destroyed", "disk",
                                    "fstrim",   "migrate",         "mounted",   "rollback",
                                    "snapshot", "snapshot-delete", NULL};
static const char *const nettypes[] = {"veth", NULL};
static const char *const snapstates[] = {"prepare", "delete", NULL};

static const struct conf_type t_ostype = CONF_ENUM(ostypes);
static const struct conf_type t_arch = CONF_ENUM(archs);
static const struct conf_type t_cmode = CONF_ENUM(cmodes);
static const struct conf_type t_lock = CONF_ENUM(locks);
static const struct conf_type t_nettype = CONF_ENUM(nettypes);
static const struct conf_type t_snapstate = CONF_ENUM(snapstates);
static const struct conf_type t_cores = CONF_INT(1, 8192);
static const struct conf_type t_cpulimit = CONF_NUM(0, 8192);
static const struct conf_type t_cpuunits = CONF_INT(0, 500000);
static const struct conf_type t_memory = CONF_INT(16, CONF_NOMAX);
static const struct conf_type t_tty = CONF_INT(0, 6);
static const struct conf_type t_vlan = CONF_INT(1, 4094);
static const struct conf_type t_mtu = CONF_INT(64, 65535);
static const struct conf_type t_mountopts = CONF_PAT(pat_mountopts, "a mount option list");
static const struct conf_type t_mppath = CONF_PAT(pat_mppath, "a safe mount path");
static const struct conf_type t_fstypes = CONF_PAT(pat_fstypes, "a file system type list");
static const struct conf_type t_mode = CONF_PAT(pat_mode, "an octal access mode");
static const struct conf_type t_devpath = CONF_PAT(pat_devpath, "a /dev path");

/* ---- property-string formats -------------------------------------------- */

#define MP_COMMON                                                                                  \
    {"size", &conf_t_disksize, 0}, {"acl", &conf_t_bool, 0}, {"mountoptions", &t_mountopts, 0},    \
        {"ro", &conf_t_bool, 0}, {"quota", &conf_t_bool, 0}, {"replicate", &conf_t_bool, 0},       \
        {"shared", &conf_t_bool, 0},                                                               \
    {                                                                                              \
        "keepattrs", &conf_t_bool, 0                                                               \
    }

static const struct conf_sub rootfs_subs[] = {
    {"volume", &t_mppath, SUB_DEFAULT | SUB_REQ},
    MP_COMMON,
};
static const struct conf_fmt rootfs_fmt = {rootfs_subs, N(rootfs_subs), 0, NULL, NULL};

static const struct conf_sub mp_subs[] = {
    {"volume", &t_mppath, SUB_DEFAULT | SUB_REQ},
    {"mp", &t_mppath, SUB_REQ},
    {"backup", &conf_t_bool, 0},
    MP_COMMON,
};
static const struct conf_fmt mp_fmt = {mp_subs, N(mp_subs), 0, NULL, NULL};

static const struct conf_sub net_subs[] = {
    {"name", &conf_t_ifname, SUB_REQ},
    {"bridge", &conf_t_ifname, 0},
    {"hwaddr", &conf_t_mac, 0},
    {"mtu", &t_mtu, 0},
    {"ip", &conf_t_ip4cidr, 0},
    {"gw", &conf_t_ip4, 0},
    {"ip6", &conf_t_ip6cidr, 0},
    {"gw6", &conf_t_ip6, 0},
    {"firewall", &conf_t_bool, 0},
    {"link_down", &conf_t_bool, 0},
    {"tag", &t_vlan, 0},
    {"trunks", &conf_t_vlanlist, 0},
    {"rate", &conf_t_num, 0},
    {"type", &t_nettype, 0},
    {"host-managed", &conf_t_bool, 0},
};
static const struct conf_fmt net_fmt = {net_subs, N(net_subs), 0, NULL, NULL};

static const struct conf_sub features_subs[] = {
    {"mount", &t_fstypes, 0},  {"nesting", &conf_t_bool, 0}, {"keyctl", &conf_t_bool, 0},
    {"fuse", &conf_t_bool, 0}, {"mknod", &conf_t_bool, 0},   {"force_rw_sys", &conf_t_bool, 0},
};
static const struct conf_fmt features_fmt = {features_subs, N(features_subs), 0, NULL, NULL};

static const struct conf_sub dev_subs[] = {
    {"path", &t_devpath, SUB_DEFAULT}, {"mode", &t_mode, 0},
    {"uid", &conf_t_uint, 0},          {"gid", &conf_t_uint, 0},
    {"deny-write", &conf_t_bool, 0},
};
static const struct conf_fmt dev_fmt = {dev_subs, N(dev_subs), 0, NULL, NULL};

static const struct conf_type t_rootfs = CONF_PROP(rootfs_fmt);
static const struct conf_type t_mp = CONF_PROP(mp_fmt);
static const struct conf_type t_net = CONF_PROP(net_fmt);
static const struct conf_type t_features = CONF_PROP(features_fmt);
static const struct conf_type t_dev = CONF_PROP(dev_fmt);

/* ---- keys --------------------------------------------------------------- */

static const struct conf_key lxc_keys[] = {
    {"arch", -1, &t_arch, 0},
    {"cmode", -1, &t_cmode, 0},
    {"console", -1, &conf_t_bool, 0},
    {"cores", -1, &t_cores, 0},
    {"cpulimit", -1, &t_cpulimit, 0},
    {"cpuunits", -1, &t_cpuunits, 0},
    {"debug", -1, &conf_t_bool, 0},
    {"dev", 255, &t_dev, 0},
    {"entrypoint", -1, &conf_t_str, 0},
    {"env", -1, &conf_t_str, 0},
    {"features", -1, &t_features, 0},
    {"hookscript", -1, &conf_t_volid, 0},
    {"hostname", -1, &conf_t_dns, 0},
    {"lock", -1, &t_lock, 0},
    {"memory", -1, &t_memory, 0},
    {"mp", 255, &t_mp, 0},
    {"nameserver", -1, &conf_t_addrlist, 0},
    {"net", 31, &t_net, 0},
    {"onboot", -1, &conf_t_bool, 0},
    {"ostype", -1, &t_ostype, 0},
    /* create-time only: the template a new rootfs is unpacked from; never stored */
    {"ostemplate", -1, &conf_t_str, 0},
    {"parent", -1, &conf_t_snapname, 0},
    {"protection", -1, &conf_t_bool, 0},
    {"rootfs", -1, &t_rootfs, 0},
    {"searchdomain", -1, &conf_t_str, 0},
    {"snapstate", -1, &t_snapstate, 0},
    {"snaptime", -1, &conf_t_uint, 0},
    {"startup", -1, &conf_t_startup, 0},
    {"swap", -1, &conf_t_uint, 0},
    {"tags", -1, &conf_t_tags, 0},
    {"template", -1, &conf_t_bool, 0},
    {"timezone", -1, &conf_t_str, 0},
    {"tty", -1, &t_tty, 0},
    {"unprivileged", -1, &conf_t_bool, 0},
    {"unused", 255, &conf_t_volid, 0},
    /* pve-container has no vmstate, but its own snapshot tests carry one */
    {"vmstate", -1, &conf_t_str, 0},
};

/* ---- raw lxc.* keys ------------------------------------------------------ */

/* Prefixes Proxmox passes through wholesale (cgroup limits, rlimits, custom NICs, sysctls). */
static const char *const raw_prefixes[] = {
    "lxc.cgroup.", "lxc.cgroup2.", "lxc.prlimit.", "lxc.net.", "lxc.limit.", "lxc.sysctl.",
};

static const char *const raw_exact[] = {
    "lxc.apparmor.profile",
    "lxc.apparmor.allow_incomplete",
    "lxc.apparmor.allow_nesting",
    "lxc.apparmor.raw",
    "lxc.selinux.context",
    "lxc.include",
    "lxc.arch",
    "lxc.uts.name",
    "lxc.signal.halt",
    "lxc.signal.reboot",
    "lxc.signal.stop",
    "lxc.init.cmd",
    "lxc.init.cwd",
    "lxc.init.uid",
    "lxc.init.gid",
    "lxc.pty.max",
    "lxc.console.logfile",
    "lxc.console.path",
    "lxc.tty.max",
    "lxc.tty.dir",
    "lxc.devtty.dir",
    "lxc.hook.autodev",
    "lxc.autodev",
    "lxc.kmsg",
    "lxc.mount.fstab",
    "lxc.mount.entry",
    "lxc.mount.auto",
    "lxc.rootfs.mount",
    "lxc.cap.drop",
    "lxc.cap.keep",
    "lxc.seccomp.profile",
    "lxc.seccomp.notify.proxy",
    "lxc.seccomp.notify.cookie",
    "lxc.idmap",
    "lxc.hook.pre-start",
    "lxc.hook.pre-mount",
    "lxc.hook.mount",
    "lxc.hook.start",
    "lxc.hook.stop",
    "lxc.hook.post-stop",
    "lxc.hook.clone",
    "lxc.hook.destroy",
    "lxc.hook.version",
    "lxc.log.level",
    "lxc.log.file",
    "lxc.start.auto",
    "lxc.start.delay",
    "lxc.start.order",
    "lxc.group",
    "lxc.environment",
    "lxc.environment.runtime",
    "lxc.environment.hooks",
    "lxc.ephemeral",
    "lxc.no_new_privs",
    "lxc.proc.oom_score_adj",
    "lxc.namespace.keep",
    "lxc.namespace.share.net",
    /* renamed by LXC 3.0; Proxmox still accepts them with a warning */
    "lxc.aa_profile",
    "lxc.aa_allow_incomplete",
    "lxc.console",
    "lxc.devttydir",
    "lxc.haltsignal",
    "lxc.rebootsignal",
    "lxc.stopsignal",
    "lxc.id_map",
    "lxc.init_cmd",
    "lxc.loglevel",
    "lxc.logfile",
    "lxc.mount",
    "lxc.network.type",
    "lxc.network.flags",
    "lxc.network.link",
    "lxc.network.mtu",
    "lxc.network.name",
    "lxc.network.hwaddr",
    "lxc.network.ipv4",
    "lxc.network.ipv4.gateway",
    "lxc.network.ipv6",
    "lxc.network.ipv6.gateway",
    "lxc.network.script.up",
    "lxc.network.script.down",
    "lxc.pts",
    "lxc.se_context",
    "lxc.seccomp",
    "lxc.tty",
    "lxc.utsname",
};

static const char *raw_check(const char *k, size_t n)
{
    if (n == 15 && !memcmp(k, "lxc.rootfs.path", 15))
        return "lxc.rootfs.path is generated from rootfs";
    if (n == 18 && !memcmp(k, "lxc.rootfs.options", 18))
        return "lxc.rootfs.options is not supported, use rootfs mount options";
    for (size_t i = 0; i < N(raw_prefixes); i++) {
        size_t l = strlen(raw_prefixes[i]);
        if (n > l && !memcmp(k, raw_prefixes[i], l))
            return NULL;
    }
    for (size_t i = 0; i < N(raw_exact); i++)
        if (strlen(raw_exact[i]) == n && !memcmp(k, raw_exact[i], n))
            return NULL;
    return ""; /* caller reports it as an unknown key */
}

const struct conf_schema conf_lxc_schema = {
    .keys = lxc_keys,
    .nkeys = N(lxc_keys),
    .pending = "pve:pending",
    .raw_check = raw_check,
    .key_dash = 0,
    .special_sections = 0,
    .pending_blank_doc = 0,
};
