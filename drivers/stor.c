/*
 * stor: the backend table by storage type, and the volume-name and size rules
 * every backend shares.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "stor.h"

static const struct {
    const char *type;
    const struct stor_ops *ops;
} backends[] = {
    {"dir", &stor_dir},
    {"rbd", &stor_rbd},
};

const struct stor_ops *stor_ops(const char *type)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strcmp(backends[i].type, type) == 0)
            return backends[i].ops;
    return NULL;
}

static const struct {
    char unit;
    unsigned shift;
} units[] = {
    {'K', 10},
    {'M', 20},
    {'G', 30},
    {'T', 40},
};

/* The shift of unit suffix s ("", "B", "G", "GB", "GiB"), or -1. */
static int unit_shift(const char *s)
{
    unsigned shift = 0;

    if (*s && !(toupper((unsigned char)*s) == 'B' && !s[1])) {
        size_t i;

        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (toupper((unsigned char)*s) == units[i].unit)
                break;
        if (i == sizeof(units) / sizeof(units[0]))
            return -1;
        shift = units[i].shift;
        s++;
        if (*s == 'i' && toupper((unsigned char)s[1]) == 'B')
            s += 2;
        else if (toupper((unsigned char)*s) == 'B')
            s++;
        if (*s)
            return -1;
    }
    return (int)shift;
}

int stor_parse_size(const char *s, uint64_t *out)
{
    uint64_t whole = 0, frac = 0, scale = 1, mult, v;
    const char *p = s;
    int shift;

    if (!s || !isdigit((unsigned char)*p))
        return -EINVAL;
    for (; isdigit((unsigned char)*p); p++)
        if (__builtin_mul_overflow(whole, 10, &whole) ||
            __builtin_add_overflow(whole, (uint64_t)(*p - '0'), &whole))
            return -EINVAL;
    if (*p == '.') {
        if (!isdigit((unsigned char)*++p))
            return -EINVAL;
        /* Digits past 1e-18 cannot change a whole byte: units stop at 2^40. */
        for (; isdigit((unsigned char)*p); p++)
            if (scale < 1000000000000000000ULL) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
    }
    if ((shift = unit_shift(p)) < 0)
        return -EINVAL;
    if (shift == 0 && frac)
        return -EINVAL; /* a fraction of a byte */
    mult = 1ULL << shift;
    if (__builtin_mul_overflow(whole, mult, &v) ||
        __builtin_add_overflow(v, (uint64_t)((unsigned __int128)frac * mult / scale), &v))
        return -EINVAL;
    *out = v;
    return 0;
}

static const char *const vol_prefixes[] = {"vm-", "base-", "subvol-", "basevol-"};
static const char *const vol_exts[] = {".qcow2", ".raw", ".vmdk"};

#define VOL_NAME_MAX 120

int stor_vol_vmid(const char *name, unsigned long *vmid)
{
    const char *p = NULL, *rest;
    unsigned long id = 0;
    size_t n, i;

    if (!name || strlen(name) > VOL_NAME_MAX)
        return -EINVAL;
    for (i = 0; i < sizeof(vol_prefixes) / sizeof(vol_prefixes[0]) && !p; i++)
        if (strncmp(name, vol_prefixes[i], strlen(vol_prefixes[i])) == 0)
            p = name + strlen(vol_prefixes[i]);
    if (!p || *p < '1' || *p > '9')
        return -EINVAL;
    for (n = 0; isdigit((unsigned char)p[n]); n++) {
        if (n == 9)
            return -EINVAL;
        id = id * 10 + (unsigned long)(p[n] - '0');
    }
    if (id < 100 || p[n] != '-')
        return -EINVAL;
    rest = p + n + 1;
    n = strspn(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-");
    if (n == 0)
        return -EINVAL;
    if (rest[n]) {
        for (i = 0; i < sizeof(vol_exts) / sizeof(vol_exts[0]); i++)
            if (strcmp(rest + n, vol_exts[i]) == 0)
                break;
        if (i == sizeof(vol_exts) / sizeof(vol_exts[0]))
            return -EINVAL;
    }
    if (vmid)
        *vmid = id;
    return 0;
}

int stor_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}
