/*
 * conf_types: the value types shared by the qemu and lxc key tables: patterns
 * (MAC, UUID, IP/CIDR, volume ids, tags, ...) and their conf_type records.
 */
#include "conf_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"

/* ---- pattern helpers ---------------------------------------------------- */

int conf_is_digits(const char *v, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)v[i]))
            return 0;
    return 1;
}

int conf_is_hex(const char *v, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)v[i]))
            return 0;
    return 1;
}

int conf_list_ok(const char *v, size_t n, char sep, conf_pat_fn item)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && v[i] != sep)
            continue;
        if (!item(v + start, i - start))
            return 0;
        start = i + 1;
    }
    return 1;
}

int conf_in_set(const char *v, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && !strchr(set, v[i]))
            return 0;
    return n > 0;
}

static int pat_mac(const char *v, size_t n)
{
    if (n != 17)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 3 == 2 ? v[i] != ':' : !isxdigit((unsigned char)v[i]))
            return 0;
    }
    /* Proxmox refuses multicast addresses (low bit of the first octet) */
    int lo = isdigit((unsigned char)v[1]) ? v[1] - '0' : tolower((unsigned char)v[1]) - 'a' + 10;
    return (lo & 1) == 0;
}

static int pat_uuid(const char *v, size_t n)
{
    static const size_t grp[] = {8, 4, 4, 4, 12};
    size_t pos = 0;
    for (size_t g = 0; g < 5; g++) {
        if (pos + grp[g] > n || !conf_is_hex(v + pos, grp[g]))
            return 0;
        pos += grp[g];
        if (g < 4 && (pos >= n || v[pos++] != '-'))
            return 0;
    }
    return pos == n;
}

static int pat_label(const char *v, size_t n)
{
    return n > 0 && n <= 63 && conf_in_set(v, n, "-") && v[0] != '-' && v[n - 1] != '-';
}

static int pat_dns(const char *v, size_t n)
{
    return n <= 255 && conf_list_ok(v, n, '.', pat_label);
}

static int pat_storage(const char *v, size_t n)
{
    return n >= 2 && isalpha((unsigned char)v[0]) && isalnum((unsigned char)v[n - 1]) &&
           conf_in_set(v, n, "-_.");
}

static int pat_volid(const char *v, size_t n)
{
    const char *colon = memchr(v, ':', n);
    return colon && pat_storage(v, (size_t)(colon - v)) && colon + 1 < v + n;
}

static int pat_volid_or_path(const char *v, size_t n)
{
    return (n > 1 && v[0] == '/') || pat_volid(v, n);
}

static int pat_drive_file(const char *v, size_t n)
{
    return (n == 4 && !memcmp(v, "none", 4)) || (n == 5 && !memcmp(v, "cdrom", 5)) ||
           pat_volid_or_path(v, n);
}

static int pat_disksize(const char *v, size_t n)
{
    if (n > 0 && strchr("KMGT", v[n - 1]))
        n--;
    const char *dot = memchr(v, '.', n);
    if (!dot)
        return conf_is_digits(v, n);
    return conf_is_digits(v, (size_t)(dot - v)) &&
           conf_is_digits(dot + 1, n - (size_t)(dot - v) - 1);
}

int conf_pat_snapname(const char *v, size_t n)
{
    return n >= 2 && n <= 40 && isalpha((unsigned char)v[0]) && conf_in_set(v, n, "-_");
}

static int pat_tag(const char *v, size_t n)
{
    return n == 0 || (conf_in_set(v, n, "_-+.") && v[0] != '-' && v[0] != '+' && v[0] != '.');
}

static int pat_tags(const char *v, size_t n)
{
    /* any of ';', ',' or ' ' separates tags */
    char tmp[1024];
    if (n >= sizeof(tmp))
        return 0;
    for (size_t i = 0; i < n; i++)
        tmp[i] = (v[i] == ',' || v[i] == ' ') ? ';' : v[i];
    return conf_list_ok(tmp, n, ';', pat_tag);
}

static int ip_ok(int af, const char *v, size_t n)
{
    char tmp[64];
    unsigned char out[16];
    if (n == 0 || n >= sizeof(tmp))
        return 0;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    return inet_pton(af, tmp, out) == 1;
}

static int pat_ip4(const char *v, size_t n)
{
    return ip_ok(AF_INET, v, n);
}

static int pat_ip6(const char *v, size_t n)
{
    return ip_ok(AF_INET6, v, n);
}

static int pat_ip(const char *v, size_t n)
{
    return n == 0 || pat_ip4(v, n) || pat_ip6(v, n);
}

static int cidr_ok(int af, const char *v, size_t n, int maxbits)
{
    const char *slash = memchr(v, '/', n);
    if (!slash || !ip_ok(af, v, (size_t)(slash - v)))
        return 0;
    size_t bl = n - (size_t)(slash - v) - 1;
    return conf_is_digits(slash + 1, bl) && bl <= 3 && atoi(slash + 1) <= maxbits;
}

int conf_word_is(const char *v, size_t n, const char *w)
{
    return strlen(w) == n && !memcmp(v, w, n);
}

static int pat_ip4cidr(const char *v, size_t n)
{
    return conf_word_is(v, n, "dhcp") || conf_word_is(v, n, "manual") || cidr_ok(AF_INET, v, n, 32);
}

static int pat_ip6cidr(const char *v, size_t n)
{
    return conf_word_is(v, n, "dhcp") || conf_word_is(v, n, "auto") ||
           conf_word_is(v, n, "manual") || cidr_ok(AF_INET6, v, n, 128);
}

/* A host address with its prefix, as an interface carries it (no dhcp/auto words). */
static int pat_ip4net(const char *v, size_t n)
{
    return cidr_ok(AF_INET, v, n, 32);
}

static int pat_ip6net(const char *v, size_t n)
{
    return cidr_ok(AF_INET6, v, n, 128);
}

static int pat_addrlist(const char *v, size_t n)
{
    char tmp[1024];
    if (n >= sizeof(tmp))
        return 0;
    for (size_t i = 0; i < n; i++)
        tmp[i] = (v[i] == ',' || v[i] == ';') ? ' ' : v[i];
    return conf_list_ok(tmp, n, ' ', pat_ip);
}

static int pat_ifname(const char *v, size_t n)
{
    return conf_in_set(v, n, "-_.");
}

static int pat_vlan(const char *v, size_t n)
{
    const char *dash = memchr(v, '-', n);
    if (!dash)
        return conf_is_digits(v, n);
    return conf_is_digits(v, (size_t)(dash - v)) &&
           conf_is_digits(dash + 1, n - (size_t)(dash - v) - 1);
}

static int pat_vlanlist(const char *v, size_t n)
{
    return conf_list_ok(v, n, ';', pat_vlan);
}

static int pat_urlenc(const char *v, size_t n)
{
    return conf_in_set(v, n, "-%_.!~*'()");
}

const char *const conf_bool_words[] = {"1", "0", "on", "off", "yes", "no", "true", "false", NULL};

int conf_bool_true(const char *v)
{
    return !strcasecmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") ||
           !strcasecmp(v, "true");
}

const struct conf_type conf_t_str = {.kind = CK_STR};
const struct conf_type conf_t_bool = {.kind = CK_BOOL};
const struct conf_type conf_t_uint = CONF_INT(0, CONF_NOMAX);
const struct conf_type conf_t_num = CONF_NUM(0, CONF_NOMAX);
const struct conf_type conf_t_mac = CONF_PAT(pat_mac, "a unicast MAC address");
const struct conf_type conf_t_uuid = CONF_PAT(pat_uuid, "a UUID");
const struct conf_type conf_t_dns = CONF_PAT(pat_dns, "a DNS name");
const struct conf_type conf_t_volid = CONF_PAT(pat_volid, "a volume ID");
const struct conf_type conf_t_volid_or_path =
    CONF_PAT(pat_volid_or_path, "a volume ID or absolute path");
const struct conf_type conf_t_drive_file = CONF_PAT(pat_drive_file, "a volume, path or 'none'");
const struct conf_type conf_t_disksize = CONF_PAT(pat_disksize, "a disk size");
const struct conf_type conf_t_storage = CONF_PAT(pat_storage, "a storage ID");
const struct conf_type conf_t_snapname = CONF_PAT(conf_pat_snapname, "a snapshot name");
const struct conf_type conf_t_tags = CONF_PAT(pat_tags, "a tag list");
const struct conf_type conf_t_addrlist = CONF_PAT(pat_addrlist, "a list of IP addresses");
const struct conf_type conf_t_ip4cidr = CONF_PAT(pat_ip4cidr, "an IPv4 CIDR, 'dhcp' or 'manual'");
const struct conf_type conf_t_ip6cidr = CONF_PAT(pat_ip6cidr, "an IPv6 CIDR, 'auto' or 'dhcp'");
const struct conf_type conf_t_ip4net =
    CONF_PAT(pat_ip4net, "an IPv4 address with its prefix length (10.10.10.1/24)");
const struct conf_type conf_t_ip6net =
    CONF_PAT(pat_ip6net, "an IPv6 address with its prefix length (fd00::1/64)");
const struct conf_type conf_t_ip4 = CONF_PAT(pat_ip4, "an IPv4 address");
const struct conf_type conf_t_ip6 = CONF_PAT(pat_ip6, "an IPv6 address");
const struct conf_type conf_t_ifname = CONF_PAT(pat_ifname, "an interface name");
const struct conf_type conf_t_vlanlist = CONF_PAT(pat_vlanlist, "a VLAN list");
const struct conf_type conf_t_urlenc = CONF_PAT(pat_urlenc, "URL-encoded text");

static const struct conf_sub startup_subs[] = {
    {"order", &conf_t_uint, 0},
    {"up", &conf_t_uint, 0},
    {"down", &conf_t_uint, 0},
};
static const struct conf_fmt startup_fmt = {startup_subs, 3, 0, NULL, NULL};
const struct conf_type conf_t_startup = CONF_PROP(startup_fmt);
