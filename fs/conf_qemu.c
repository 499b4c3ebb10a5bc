/*
 * conf_qemu: key table for qemu-server guest configs (/etc/pve/qemu-server/<vmid>.conf),
 * modelled on qemu-server's schema. Sub-key tables exist for the formats that
 * are both common and stable; large or fast-moving ones are FMT_OPEN.
 */
#include "conf_int.h"

#include <ctype.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- patterns ----------------------------------------------------------- */

/* "01:00.0", "0000:01:00.0", "01:00" (all functions); ';' joins several */
static int pat_pci_one(const char *v, size_t n)
{
    if (n >= 5 && v[4] == ':' && conf_is_hex(v, 4))
        v += 5, n -= 5;
    if (n < 5 || !conf_is_hex(v, 2) || v[2] != ':' || !conf_is_hex(v + 3, 2))
        return 0;
    return n == 5 || (n == 7 && v[5] == '.' && v[6] >= '0' && v[6] <= '7');
}

static int pat_pci(const char *v, size_t n)
{
    return conf_list_ok(v, n, ';', pat_pci_one);
}

static int pat_bootdev(const char *v, size_t n)
{
    static const char *const pre[] = {"ide", "sata", "scsi", "virtio", "net", "usb", "hostpci"};
    for (size_t i = 0; i < N(pre); i++) {
        size_t l = strlen(pre[i]);
        if (n > l && !memcmp(v, pre[i], l) && conf_is_digits(v + l, n - l))
            return 1;
    }
    return 0;
}

static int pat_bootorder(const char *v, size_t n)
{
    return conf_list_ok(v, n, ';', pat_bootdev);
}

static int pat_legacy_boot(const char *v, size_t n)
{
    return n >= 1 && n <= 4 && strspn(v, "acdn") >= n;
}

static int pat_bootdisk(const char *v, size_t n)
{
    return pat_bootdev(v, n) && strncmp(v, "net", 3) != 0 && strncmp(v, "usb", 3) != 0 &&
           strncmp(v, "hostpci", 7) != 0;
}

static int pat_hotplug_item(const char *v, size_t n)
{
    static const char *const f[] = {"network", "disk", "cpu", "memory", "usb", "cloudinit"};
    for (size_t i = 0; i < N(f); i++)
        if (strlen(f[i]) == n && !memcmp(v, f[i], n))
            return 1;
    return 0;
}

static int pat_hotplug(const char *v, size_t n)
{
    return (n == 1 && (v[0] == '0' || v[0] == '1')) || conf_list_ok(v, n, ',', pat_hotplug_item);
}

/* now | YYYY-MM-DD | YYYY-MM-DDTHH:MM:SS */
static int pat_startdate(const char *v, size_t n)
{
    if (n == 3 && !memcmp(v, "now", 3))
        return 1;
    if ((n != 10 && n != 19) || v[4] != '-' || v[7] != '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        int sep = i == 4 || i == 7 || i == 10 || i == 13 || i == 16;
        char want = i == 10 ? 'T' : (i == 13 || i == 16) ? ':' : '-';
        if (sep ? v[i] != want : !isdigit((unsigned char)v[i]))
            return 0;
    }
    return 1;
}

static int pat_serial(const char *v, size_t n)
{
    return (n == 6 && !memcmp(v, "socket", 6)) || (n > 5 && !memcmp(v, "/dev/", 5));
}

static int pat_parallel(const char *v, size_t n)
{
    return (n > 12 && !memcmp(v, "/dev/parport", 12) && conf_is_digits(v + 12, n - 12)) ||
           (n > 11 && !memcmp(v, "/dev/usb/lp", 11) && conf_is_digits(v + 11, n - 11));
}

static int pat_vmgenid(const char *v, size_t n)
{
    return (n == 1 && (v[0] == '0' || v[0] == '1')) ||
           (n == 36 && v[8] == '-' && v[13] == '-' && v[18] == '-' && v[23] == '-' &&
            strspn(v, "0123456789abcdefABCDEF-") >= 36);
}

static int pat_range(const char *v, size_t n)
{
    const char *dash = memchr(v, '-', n);
    if (!dash)
        return conf_is_digits(v, n);
    return conf_is_digits(v, (size_t)(dash - v)) &&
           conf_is_digits(dash + 1, n - (size_t)(dash - v) - 1);
}

static int pat_cpulist(const char *v, size_t n)
{
    return conf_list_ok(v, n, ';', pat_range);
}

static int pat_cpuset(const char *v, size_t n)
{
    return conf_list_ok(v, n, ',', pat_range);
}

/* +flag;-flag */
static int pat_cpuflag(const char *v, size_t n)
{
    return n > 1 && (v[0] == '+' || v[0] == '-') &&
           strspn(v + 1, "abcdefghijklmnopqrstuvwxyz"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_-.") >= n - 1;
}

static int pat_cpuflags(const char *v, size_t n)
{
    return conf_list_ok(v, n, ';', pat_cpuflag);
}

static int pat_word(const char *v, size_t n)
{
    return n > 0 && strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                              "_-.+") >= n;
}

/* vendor:product IDs, bus-port paths, or "spice" */
static int pat_usbhost(const char *v, size_t n)
{
    return n > 0 && strspn(v, "0123456789abcdefABCDEFx:-.spice") >= n;
}

static int pat_base64ish(const char *v, size_t n)
{
    return n > 0 && strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                              "+/=") >= n;
}

/* ---- value types -------------------------------------------------------- */

static const char *const ostypes[] = {"other", "wxp",   "w2k",   "w2k3", "w2k8", "wvista",  "win7",
                                      "win8",  "win10", "win11", "l24",  "l26",  "solaris", NULL};
static const char *const archs[] = {"x86_64", "aarch64", NULL};
static const char *const bioses[] = {"seabios", "ovmf", NULL};
static const char *const scsihws[] = {
    "lsi", "lsi53c810", "virtio-scsi-pci", "virtio-scsi-single", "megasas", "pvscsi", NULL};
static const char *const locks[] = {"backup",    "clone",    "create",          "migrate",
                                    "rollback",  "snapshot", "snapshot-delete", "suspending",
                                    "suspended", NULL};
static const char *const hugepages[] = {"any", "2", "1024", NULL};
static const char *const keyboards[] = {
    "de", "de-ch", "da", "en-gb", "en-us", "es", "fi", "fr", "fr-be", "fr-ca", "fr-ch", "hu", "is",
    "it", "ja",    "lt", "mk",    "nl",    "no", "pl", "pt", "pt-br", "sv",    "sl",    "tr", NULL};
static const char *const citypes[] = {"configdrive2", "nocloud", "opennebula", NULL};
static const char *const snapstates[] = {"prepare", "delete", NULL};
static const char *const vgatypes[] = {"cirrus", "qxl",     "qxl2",      "qxl3",    "qxl4",
                                       "none",   "serial0", "serial1",   "serial2", "serial3",
                                       "std",    "virtio",  "virtio-gl", "vmware",  NULL};
static const char *const nicmodels[] = {
    "e1000",  "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e",
    "i82551", "i82557b",       "i82559er",      "ne2k_isa",      "ne2k_pci",
    "pcnet",  "rtl8139",       "virtio",        "vmxnet3",       NULL};
static const char *const media[] = {"cdrom", "disk", NULL};
static const char *const caches[] = {"none",   "writethrough", "writeback",
                                     "unsafe", "directsync",   NULL};
static const char *const imgfmts[] = {"raw", "cow", "qcow", "qed", "qcow2", "vmdk", "cloop", NULL};
static const char *const trans[] = {"none", "lba", "auto", NULL};
static const char *const rerrors[] = {"ignore", "report", "stop", NULL};
static const char *const werrors[] = {"enospc", "ignore", "report", "stop", NULL};
static const char *const aios[] = {"native", "threads", "io_uring", NULL};
static const char *const discards[] = {"ignore", "on", NULL};
static const char *const efitypes[] = {"2m", "4m", NULL};
static const char *const mscerts[] = {"2011", "2023", "2023w", NULL};
static const char *const tpmversions[] = {"v1.2", "v2.0", NULL};
static const char *const agenttypes[] = {"virtio", "isa", NULL};
static const char *const clipboards[] = {"vnc", NULL};
static const char *const wdmodels[] = {"i6300esb", "ib700", NULL};
static const char *const wdactions[] = {"reset", "shutdown", "poweroff", "pause",
                                        "debug", "none",     NULL};
static const char *const audiodevs[] = {"ich9-intel-hda", "intel-hda", "AC97", NULL};
static const char *const audiodrivers[] = {"spice", "none", NULL};
static const char *const streaming[] = {"off", "all", "filter", NULL};
static const char *const rngsources[] = {"/dev/urandom", "/dev/random", "/dev/hwrng", NULL};
static const char *const numapolicies[] = {"preferred", "bind", "interleave", NULL};
static const char *const viommus[] = {"intel", "virtio", NULL};

static const struct conf_type t_ostype = CONF_ENUM(ostypes);
static const struct conf_type t_arch = CONF_ENUM(archs);
static const struct conf_type t_bios = CONF_ENUM(bioses);
static const struct conf_type t_scsihw = CONF_ENUM(scsihws);
static const struct conf_type t_lock = CONF_ENUM(locks);
static const struct conf_type t_hugepages = CONF_ENUM(hugepages);
static const struct conf_type t_keyboard = CONF_ENUM(keyboards);
static const struct conf_type t_citype = CONF_ENUM(citypes);
static const struct conf_type t_snapstate = CONF_ENUM(snapstates);
static const struct conf_type t_vgatype = CONF_ENUM(vgatypes);
static const struct conf_type t_nicmodel = CONF_ENUM(nicmodels);
static const struct conf_type t_media = CONF_ENUM(media);
static const struct conf_type t_cache = CONF_ENUM(caches);
static const struct conf_type t_imgfmt = CONF_ENUM(imgfmts);
static const struct conf_type t_trans = CONF_ENUM(trans);
static const struct conf_type t_rerror = CONF_ENUM(rerrors);
static const struct conf_type t_werror = CONF_ENUM(werrors);
static const struct conf_type t_aio = CONF_ENUM(aios);
static const struct conf_type t_discard = CONF_ENUM(discards);
static const struct conf_type t_efitype = CONF_ENUM(efitypes);
static const struct conf_type t_mscert = CONF_ENUM(mscerts);
static const struct conf_type t_tpmversion = CONF_ENUM(tpmversions);
static const struct conf_type t_agenttype = CONF_ENUM(agenttypes);
static const struct conf_type t_clipboard = CONF_ENUM(clipboards);
static const struct conf_type t_wdmodel = CONF_ENUM(wdmodels);
static const struct conf_type t_wdaction = CONF_ENUM(wdactions);
static const struct conf_type t_audiodev = CONF_ENUM(audiodevs);
static const struct conf_type t_audiodriver = CONF_ENUM(audiodrivers);
static const struct conf_type t_streaming = CONF_ENUM(streaming);
static const struct conf_type t_rngsource = CONF_ENUM(rngsources);
static const struct conf_type t_numapolicy = CONF_ENUM(numapolicies);
static const struct conf_type t_viommu = CONF_ENUM(viommus);

static const struct conf_type t_cores = CONF_INT(1, CONF_NOMAX);
static const struct conf_type t_cpulimit = CONF_NUM(0, 128);
static const struct conf_type t_cpuunits = CONF_INT(1, 262144);
static const struct conf_type t_memory_mb = CONF_INT(16, CONF_NOMAX);
static const struct conf_type t_shares = CONF_INT(0, 50000);
static const struct conf_type t_vgamem = CONF_INT(4, 512);
static const struct conf_type t_vlan = CONF_INT(1, 4094);
static const struct conf_type t_queues = CONF_INT(0, 64);
static const struct conf_type t_mtu = CONF_INT(1, 65520);
static const struct conf_type t_dqueues = CONF_INT(2, CONF_NOMAX);
static const struct conf_type t_burst = CONF_INT(1, CONF_NOMAX);
static const struct conf_type t_awbits = CONF_INT(32, 64);

static const struct conf_type t_pci = CONF_PAT(pat_pci, "a PCI address");
static const struct conf_type t_bootorder = CONF_PAT(pat_bootorder, "a boot device list");
static const struct conf_type t_legacyboot = CONF_PAT(pat_legacy_boot, "a legacy boot order");
static const struct conf_type t_bootdisk = CONF_PAT(pat_bootdisk, "a disk name");
static const struct conf_type t_hotplug = CONF_PAT(pat_hotplug, "a hotplug feature list");
static const struct conf_type t_startdate = CONF_PAT(pat_startdate, "a start date");
static const struct conf_type t_serial = CONF_PAT(pat_serial, "'socket' or a /dev path");
static const struct conf_type t_parallel = CONF_PAT(pat_parallel, "a parallel port device");
static const struct conf_type t_vmgenid = CONF_PAT(pat_vmgenid, "a UUID, 0 or 1");
static const struct conf_type t_cpulist = CONF_PAT(pat_cpulist, "a CPU list");
static const struct conf_type t_cpuset = CONF_PAT(pat_cpuset, "a CPU set");
static const struct conf_type t_cpuflags = CONF_PAT(pat_cpuflags, "a CPU flag list");
static const struct conf_type t_word = CONF_PAT(pat_word, "a simple name");
static const struct conf_type t_usbhost = CONF_PAT(pat_usbhost, "a USB device");
static const struct conf_type t_b64 = CONF_PAT(pat_base64ish, "base64 text");

/* ---- property-string formats -------------------------------------------- */

/* Sub-keys every disk bus shares; bus-specific extras are simply allowed on all. */
#define DRIVE_SUBS                                                                                 \
    {"file", &conf_t_drive_file, SUB_DEFAULT}, {"volume", &conf_t_drive_file, 0},                  \
        {"media", &t_media, 0}, {"cyls", &conf_t_uint, 0}, {"heads", &conf_t_uint, 0},             \
        {"secs", &conf_t_uint, 0}, {"trans", &t_trans, 0}, {"snapshot", &conf_t_bool, 0},          \
        {"cache", &t_cache, 0}, {"format", &t_imgfmt, 0}, {"size", &conf_t_disksize, 0},           \
        {"backup", &conf_t_bool, 0}, {"replicate", &conf_t_bool, 0}, {"rerror", &t_rerror, 0},     \
        {"werror", &t_werror, 0}, {"aio", &t_aio, 0}, {"discard", &t_discard, 0},                  \
        {"detect_zeroes", &conf_t_bool, 0}, {"serial", &conf_t_urlenc, 0},                         \
        {"shared", &conf_t_bool, 0}, {"iothread", &conf_t_bool, 0}, {"model", &conf_t_urlenc, 0},  \
        {"product", &conf_t_str, 0}, {"vendor", &conf_t_str, 0}, {"queues", &t_dqueues, 0},        \
        {"ro", &conf_t_bool, 0}, {"scsiblock", &conf_t_bool, 0}, {"ssd", &conf_t_bool, 0},         \
        {"wwn", &conf_t_str, 0}, {"import-from", &conf_t_volid_or_path, 0},                        \
        {"bps", &conf_t_uint, 0}, {"bps_rd", &conf_t_uint, 0}, {"bps_wr", &conf_t_uint, 0},        \
        {"mbps", &conf_t_num, 0}, {"mbps_rd", &conf_t_num, 0}, {"mbps_wr", &conf_t_num, 0},        \
        {"iops", &conf_t_uint, 0}, {"iops_rd", &conf_t_uint, 0}, {"iops_wr", &conf_t_uint, 0},     \
        {"mbps_max", &conf_t_num, 0}, {"mbps_rd_max", &conf_t_num, 0},                             \
        {"mbps_wr_max", &conf_t_num, 0}, {"iops_max", &conf_t_uint, 0},                            \
        {"iops_rd_max", &conf_t_uint, 0}, {"iops_wr_max", &conf_t_uint, 0},                        \
        {"bps_max_length", &t_burst, 0}, {"bps_rd_max_length", &t_burst, 0},                       \
        {"bps_wr_max_length", &t_burst, 0}, {"iops_max_length", &t_burst, 0},                      \
        {"iops_rd_max_length", &t_burst, 0}, {"iops_wr_max_length", &t_burst, 0},                  \
        {"bps_rd_length", &t_burst, 0}, {"bps_wr_length", &t_burst, 0},                            \
        {"iops_rd_length", &t_burst, 0},                                                           \
    {                                                                                              \
        "iops_wr_length", &t_burst, 0                                                              \
    }

static const struct conf_sub drive_subs[] = {DRIVE_SUBS};
static const struct conf_fmt drive_fmt = {drive_subs, N(drive_subs), 0, NULL, NULL};

static const struct conf_sub efidisk_subs[] = {
    {"file", &conf_t_drive_file, SUB_DEFAULT},
    {"volume", &conf_t_drive_file, 0},
    {"format", &t_imgfmt, 0},
    {"size", &conf_t_disksize, 0},
    {"efitype", &t_efitype, 0},
    {"pre-enrolled-keys", &conf_t_bool, 0},
    {"ms-cert", &t_mscert, 0},
    {"import-from", &conf_t_volid_or_path, 0},
};
static const struct conf_fmt efidisk_fmt = {efidisk_subs, N(efidisk_subs), 0, NULL, NULL};

static const struct conf_sub tpm_subs[] = {
    {"file", &conf_t_drive_file, SUB_DEFAULT},
    {"volume", &conf_t_drive_file, 0},
    {"size", &conf_t_disksize, 0},
    {"version", &t_tpmversion, 0},
    {"import-from", &conf_t_volid_or_path, 0},
};
static const struct conf_fmt tpm_fmt = {tpm_subs, N(tpm_subs), 0, NULL, NULL};

static const struct conf_sub unused_subs[] = {
    {"file", &conf_t_volid_or_path, SUB_DEFAULT},
    {"volume", &conf_t_volid_or_path, 0},
};
static const struct conf_fmt unused_fmt = {unused_subs, N(unused_subs), 0, NULL, NULL};

/* "virtio=MAC" names the model and sets the MAC in one go */
static const struct conf_sub net_subs[] = {
    {"model", &t_nicmodel, SUB_DEFAULT},
    {"macaddr", &conf_t_mac, 0},
    {"bridge", &conf_t_ifname, 0},
    {"queues", &t_queues, 0},
    {"rate", &conf_t_num, 0},
    {"tag", &t_vlan, 0},
    {"trunks", &conf_t_vlanlist, 0},
    {"firewall", &conf_t_bool, 0},
    {"link_down", &conf_t_bool, 0},
    {"mtu", &t_mtu, 0},
};
static const struct conf_fmt net_fmt = {net_subs, N(net_subs), 0, nicmodels, &conf_t_mac};

static const struct conf_sub ipconfig_subs[] = {
    {"ip", &conf_t_ip4cidr, 0},
    {"gw", &conf_t_ip4, 0},
    {"ip6", &conf_t_ip6cidr, 0},
    {"gw6", &conf_t_ip6, 0},
};
static const struct conf_fmt ipconfig_fmt = {ipconfig_subs, N(ipconfig_subs), 0, NULL, NULL};

static const struct conf_sub hostpci_subs[] = {
    {"host", &t_pci, SUB_DEFAULT},
    {"mapping", &conf_t_str, 0},
    {"pcie", &conf_t_bool, 0},
    {"rombar", &conf_t_bool, 0},
    {"romfile", &conf_t_str, 0},
    {"x-vga", &conf_t_bool, 0},
    {"mdev", &t_word, 0},
    {"legacy-igd", &conf_t_bool, 0},
    {"device-id", &conf_t_str, 0},
    {"vendor-id", &conf_t_str, 0},
    {"sub-device-id", &conf_t_str, 0},
    {"sub-vendor-id", &conf_t_str, 0},
    {"driver", &conf_t_str, 0},
};
static const struct conf_fmt hostpci_fmt = {hostpci_subs, N(hostpci_subs), FMT_OPEN, NULL, NULL};

static const struct conf_sub usb_subs[] = {
    {"host", &t_usbhost, SUB_DEFAULT},
    {"mapping", &conf_t_str, 0},
    {"usb3", &conf_t_bool, 0},
};
static const struct conf_fmt usb_fmt = {usb_subs, N(usb_subs), 0, NULL, NULL};

static const struct conf_sub smbios_subs[] = {
    {"uuid", &conf_t_uuid, 0},   {"version", &t_b64, 0},      {"serial", &t_b64, 0},
    {"manufacturer", &t_b64, 0}, {"product", &t_b64, 0},      {"sku", &t_b64, 0},
    {"family", &t_b64, 0},       {"base64", &conf_t_bool, 0},
};
static const struct conf_fmt smbios_fmt = {smbios_subs, N(smbios_subs), 0, NULL, NULL};

static const struct conf_sub agent_subs[] = {
    {"enabled", &conf_t_bool, SUB_DEFAULT},
    {"fstrim_cloned_disks", &conf_t_bool, 0},
    {"type", &t_agenttype, 0},
    {"freeze-fs-on-backup", &conf_t_bool, 0},
    {"freeze-fs", &conf_t_bool, 0},
};
static const struct conf_fmt agent_fmt = {agent_subs, N(agent_subs), 0, NULL, NULL};

static const struct conf_sub boot_subs[] = {
    {"legacy", &t_legacyboot, SUB_DEFAULT},
    {"order", &t_bootorder, 0},
};
static const struct conf_fmt boot_fmt = {boot_subs, N(boot_subs), 0, NULL, NULL};

static const struct conf_sub vga_subs[] = {
    {"type", &t_vgatype, SUB_DEFAULT},
    {"memory", &t_vgamem, 0},
    {"clipboard", &t_clipboard, 0},
};
static const struct conf_fmt vga_fmt = {vga_subs, N(vga_subs), 0, NULL, NULL};

/* CPU models may be custom ("custom-foo"); several newer sub-keys exist */
static const struct conf_sub cpu_subs[] = {
    {"cputype", &t_word, SUB_DEFAULT}, {"flags", &t_cpuflags, 0},      {"hidden", &conf_t_bool, 0},
    {"hv-vendor-id", &t_word, 0},      {"reported-model", &t_word, 0}, {"phys-bits", &t_word, 0},
    {"guest-phys-bits", &t_awbits, 0},
};
static const struct conf_fmt cpu_fmt = {cpu_subs, N(cpu_subs), FMT_OPEN, NULL, NULL};

static const struct conf_sub machine_subs[] = {
    {"type", &t_word, SUB_DEFAULT},
    {"viommu", &t_viommu, 0},
    {"aw-bits", &t_awbits, 0},
};
static const struct conf_fmt machine_fmt = {machine_subs, N(machine_subs), FMT_OPEN, NULL, NULL};

static const struct conf_sub memory_subs[] = {{"current", &t_memory_mb, SUB_DEFAULT}};
static const struct conf_fmt memory_fmt = {memory_subs, N(memory_subs), FMT_OPEN, NULL, NULL};

static const struct conf_sub numa_subs[] = {
    {"cpus", &t_cpulist, SUB_REQ},
    {"hostnodes", &t_cpulist, 0},
    {"memory", &conf_t_uint, 0},
    {"policy", &t_numapolicy, 0},
};
static const struct conf_fmt numa_fmt = {numa_subs, N(numa_subs), 0, NULL, NULL};

static const struct conf_sub watchdog_subs[] = {
    {"model", &t_wdmodel, SUB_DEFAULT},
    {"action", &t_wdaction, 0},
};
static const struct conf_fmt watchdog_fmt = {watchdog_subs, N(watchdog_subs), 0, NULL, NULL};

static const struct conf_sub audio_subs[] = {
    {"device", &t_audiodev, SUB_REQ},
    {"driver", &t_audiodriver, 0},
};
static const struct conf_fmt audio_fmt = {audio_subs, N(audio_subs), 0, NULL, NULL};

static const struct conf_sub ivshmem_subs[] = {
    {"size", &t_cores, SUB_REQ},
    {"name", &t_word, 0},
};
static const struct conf_fmt ivshmem_fmt = {ivshmem_subs, N(ivshmem_subs), 0, NULL, NULL};

static const struct conf_sub spice_subs[] = {
    {"foldersharing", &conf_t_bool, 0},
    {"videostreaming", &t_streaming, 0},
};
static const struct conf_fmt spice_fmt = {spice_subs, N(spice_subs), 0, NULL, NULL};

static const struct conf_sub rng_subs[] = {
    {"source", &t_rngsource, SUB_DEFAULT},
    {"max_bytes", &conf_t_uint, 0},
    {"period", &conf_t_uint, 0},
};
static const struct conf_fmt rng_fmt = {rng_subs, N(rng_subs), 0, NULL, NULL};

static const struct conf_sub cicustom_subs[] = {
    {"meta", &conf_t_volid, 0},
    {"network", &conf_t_volid, 0},
    {"user", &conf_t_volid, 0},
    {"vendor", &conf_t_volid, 0},
};
static const struct conf_fmt cicustom_fmt = {cicustom_subs, N(cicustom_subs), 0, NULL, NULL};

/* amd-sev, intel-tdx, meta, virtiofs: accept any well-formed k=v */
static const struct conf_sub sev_subs[] = {{"type", &t_word, SUB_DEFAULT}};
static const struct conf_fmt sev_fmt = {sev_subs, N(sev_subs), FMT_OPEN, NULL, NULL};
static const struct conf_sub virtiofs_subs[] = {{"dirid", &t_word, SUB_DEFAULT}};
static const struct conf_fmt virtiofs_fmt = {virtiofs_subs, N(virtiofs_subs), FMT_OPEN, NULL, NULL};
static const struct conf_fmt open_fmt = {NULL, 0, FMT_OPEN, NULL, NULL};

static const struct conf_type t_drive = CONF_PROP(drive_fmt);
static const struct conf_type t_efidisk = CONF_PROP(efidisk_fmt);
static const struct conf_type t_tpm = CONF_PROP(tpm_fmt);
static const struct conf_type t_unused = CONF_PROP(unused_fmt);
static const struct conf_type t_net = CONF_PROP(net_fmt);
static const struct conf_type t_ipconfig = CONF_PROP(ipconfig_fmt);
static const struct conf_type t_hostpci = CONF_PROP(hostpci_fmt);
static const struct conf_type t_usb = CONF_PROP(usb_fmt);
static const struct conf_type t_smbios = CONF_PROP(smbios_fmt);
static const struct conf_type t_agent = CONF_PROP(agent_fmt);
static const struct conf_type t_boot = CONF_PROP(boot_fmt);
static const struct conf_type t_vga = CONF_PROP(vga_fmt);
static const struct conf_type t_cpu = CONF_PROP(cpu_fmt);
static const struct conf_type t_machine = CONF_PROP(machine_fmt);
static const struct conf_type t_memory = CONF_PROP(memory_fmt);
static const struct conf_type t_numa = CONF_PROP(numa_fmt);
static const struct conf_type t_watchdog = CONF_PROP(watchdog_fmt);
static const struct conf_type t_audio = CONF_PROP(audio_fmt);
static const struct conf_type t_ivshmem = CONF_PROP(ivshmem_fmt);
static const struct conf_type t_spice = CONF_PROP(spice_fmt);
static const struct conf_type t_rng = CONF_PROP(rng_fmt);
static const struct conf_type t_cicustom = CONF_PROP(cicustom_fmt);
static const struct conf_type t_sev = CONF_PROP(sev_fmt);
static const struct conf_type t_virtiofs = CONF_PROP(virtiofs_fmt);
static const struct conf_type t_open = CONF_PROP(open_fmt);

/* ---- keys --------------------------------------------------------------- */

static const struct conf_key qemu_keys[] = {
    {"acpi", -1, &conf_t_bool, 0},
    {"affinity", -1, &t_cpuset, 0},
    {"agent", -1, &t_agent, 0},
    {"amd-sev", -1, &t_sev, 0},
    {"arch", -1, &t_arch, 0},
    {"args", -1, &conf_t_str, CF_NOCHECK},
    {"audio0", -1, &t_audio, 0},
    {"autostart", -1, &conf_t_bool, 0},
    {"balloon", -1, &conf_t_uint, 0},
    {"bios", -1, &t_bios, 0},
    {"boot", -1, &t_boot, 0},
    {"bootdisk", -1, &t_bootdisk, 0},
    {"cdrom", -1, &t_drive, 0},
    {"cicustom", -1, &t_cicustom, 0},
    {"cipassword", -1, &conf_t_str, 0},
    {"citype", -1, &t_citype, 0},
    {"ciupgrade", -1, &conf_t_bool, 0},
    {"ciuser", -1, &conf_t_str, 0},
    {"cores", -1, &t_cores, 0},
    {"cpu", -1, &t_cpu, 0},
    {"cpulimit", -1, &t_cpulimit, 0},
    {"cpuunits", -1, &t_cpuunits, 0},
    {"efidisk0", -1, &t_efidisk, 0},
    {"freeze", -1, &conf_t_bool, 0},
    {"hookscript", -1, &conf_t_volid, 0},
    {"hostpci", 15, &t_hostpci, 0},
    {"hotplug", -1, &t_hotplug, 0},
    {"hugepages", -1, &t_hugepages, 0},
    {"ide", 3, &t_drive, 0},
    {"import-working-storage", -1, &conf_t_storage, 0},
    {"intel-tdx", -1, &t_open, 0},
    {"ipconfig", 31, &t_ipconfig, 0},
    {"ivshmem", -1, &t_ivshmem, 0},
    {"keephugepages", -1, &conf_t_bool, 0},
    {"keyboard", -1, &t_keyboard, 0},
    {"kvm", -1, &conf_t_bool, 0},
    {"localtime", -1, &conf_t_bool, 0},
    {"lock", -1, &t_lock, 0},
    {"machine", -1, &t_machine, 0},
    {"memory", -1, &t_memory, 0},
    {"meta", -1, &t_open, 0},
    {"migrate_downtime", -1, &conf_t_num, 0},
    {"migrate_speed", -1, &conf_t_uint, 0},
    {"name", -1, &conf_t_dns, 0},
    {"nameserver", -1, &conf_t_addrlist, 0},
    {"net", 31, &t_net, 0},
    {"numa", -1, &conf_t_bool, 0},
    {"numa", 7, &t_numa, 0},
    {"onboot", -1, &conf_t_bool, 0},
    {"ostype", -1, &t_ostype, 0},
    {"parallel", 2, &t_parallel, 0},
    {"parent", -1, &conf_t_snapname, 0},
    {"protection", -1, &conf_t_bool, 0},
    {"reboot", -1, &conf_t_bool, 0},
    {"rng0", -1, &t_rng, 0},
    {"running-nets-host-mtu", -1, &conf_t_str, 0},
    {"runningcpu", -1, &conf_t_str, 0},
    {"runningmachine", -1, &conf_t_str, 0},
    {"sata", 5, &t_drive, 0},
    {"scsi", 30, &t_drive, 0},
    {"scsihw", -1, &t_scsihw, 0},
    {"searchdomain", -1, &conf_t_str, 0},
    {"serial", 3, &t_serial, 0},
    {"shares", -1, &t_shares, 0},
    {"smbios1", -1, &t_smbios, 0},
    {"smp", -1, &t_cores, 0},
    {"snapstate", -1, &t_snapstate, 0},
    {"snaptime", -1, &conf_t_uint, 0},
    {"sockets", -1, &t_cores, 0},
    {"spice_enhancements", -1, &t_spice, 0},
    {"sshkeys", -1, &conf_t_urlenc, 0},
    {"startdate", -1, &t_startdate, 0},
    {"startup", -1, &conf_t_startup, 0},
    {"tablet", -1, &conf_t_bool, 0},
    {"tags", -1, &conf_t_tags, 0},
    {"tdf", -1, &conf_t_bool, 0},
    {"template", -1, &conf_t_bool, 0},
    {"tpmstate0", -1, &t_tpm, 0},
    {"unused", 255, &t_unused, 0},
    {"usb", 29, &t_usb, 0},
    {"vcpus", -1, &t_cores, 0},
    {"vga", -1, &t_vga, 0},
    {"virtio", 15, &t_drive, 0},
    {"virtiofs", 9, &t_virtiofs, 0},
    {"vmgenid", -1, &t_vmgenid, 0},
    {"vmstate", -1, &conf_t_volid, 0},
    {"vmstatestorage", -1, &conf_t_storage, 0},
    {"watchdog", -1, &t_watchdog, 0},
};

const struct conf_schema conf_qemu_schema = {
    .keys = qemu_keys,
    .nkeys = N(qemu_keys),
    .pending = "PENDING",
    .raw_check = NULL,
    .key_dash = 1,
    .special_sections = 1,
    .pending_blank_doc = 1,
};
