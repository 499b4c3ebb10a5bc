/*
 * qemu_hotplug: attaches one disk or NIC of a config to a running guest. The device
 * XML comes from qemu_xml() itself, so it matches what a fresh start would build: the
 * <disk>/<interface> element whose alias names the key ("ua-<key>" or "<key>"), or
 * failing that, the one element of that kind that the XML without the key lacks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fs/conf.h"
#include "qemu_int.h"

/* Next <tag ...>...</tag> element at or after *pos; its span, or 0 when none. */
static int next_elem(const char *tag, const char **pos, const char **start, size_t *len)
{
    char open[32], close[32];
    const char *p = *pos, *e;
    size_t ol;

    snprintf(open, sizeof(open), "<%s", tag);
    snprintf(close, sizeof(close), "</%s>", tag);
    ol = strlen(open);
    for (; (p = strstr(p, open)); p += ol) {
        if (p[ol] != ' ' && p[ol] != '>' && p[ol] != '/')
            continue; /* <diskfoo> */
        if (!(e = strstr(p, close)))
            return 0;
        e += strlen(close);
        *start = p;
        *len = (size_t)(e - p);
        *pos = e;
        return 1;
    }
    return 0;
}

static int has_alias(const char *el, size_t len, const char *key)
{
    char a[4][64];

    snprintf(a[0], sizeof(a[0]), "<alias name='ua-%s'/>", key);
    snprintf(a[1], sizeof(a[1]), "<alias name=\"ua-%s\"/>", key);
    snprintf(a[2], sizeof(a[2]), "<alias name='%s'/>", key);
    snprintf(a[3], sizeof(a[3]), "<alias name=\"%s\"/>", key);
    for (int i = 0; i < 4; i++) {
        const char *p = memmem(el, len, a[i], strlen(a[i]));
        if (p)
            return 1;
    }
    return 0;
}

/* config without key's line in the main section. */
static int drop_key(const char *config, size_t len, const char *key, struct pv_buf *out)
{
    size_t kl = strlen(key), i = 0;

    while (i < len) {
        const char *nl = memchr(config + i, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - (config + i)) + 1 : len - i;
        const char *l = config + i;

        if (l[0] == '[') { /* later sections are kept whole */
            pv_buf_add(out, l, len - i);
            break;
        }
        if (!(ll > kl && memcmp(l, key, kl) == 0 && l[kl] == ':'))
            pv_buf_add(out, l, ll);
        i += ll;
    }
    return out->oom ? -ENOMEM : 0;
}

/* The device element for key into dev; 0 or -errno with err. */
static int device_xml(const char *vmid, const char *config, size_t len, const char *key,
                      const char *tag, struct pv_buf *dev, char *err, size_t errlen)
{
    struct pv_buf full = {0}, cut = {0}, less = {0};
    const char *pos, *el, *found = NULL;
    size_t el_len, found_len = 0;
    int r, n = 0;

    if ((r = qemu_build_xml(vmid, config, len, NULL, &full, err, errlen)) < 0)
        goto out;
    for (pos = full.p ? full.p : ""; next_elem(tag, &pos, &el, &el_len);)
        if (has_alias(el, el_len, key)) {
            found = el;
            found_len = el_len;
            n = 1;
            break;
        }
    if (!found) {
        if ((r = drop_key(config, len, key, &cut)) < 0 ||
            (r = qemu_build_xml(vmid, cut.p ? cut.p : "", cut.len, NULL, &less, err, errlen)) < 0)
            goto out;
        for (pos = full.p ? full.p : ""; next_elem(tag, &pos, &el, &el_len);) {
            char *copy = strndup(el, el_len);
            int common = copy && less.p && strstr(less.p, copy);
            free(copy);
            if (!common) {
                found = el;
                found_len = el_len;
                n++;
            }
        }
    }
    if (n != 1) {
        r = qemu_err(-EOPNOTSUPP, err, errlen,
                     "vm %s: cannot tell which <%s> in the domain XML is %s (%d candidates)", vmid,
                     tag, key, n);
        goto out;
    }
    pv_buf_add(dev, found, found_len);
    pv_buf_add(dev, "", 1);
    r = dev->oom ? qemu_err(-ENOMEM, err, errlen, "vm %s: out of memory", vmid) : 0;
out:
    pv_buf_free(&full);
    pv_buf_free(&cut);
    pv_buf_free(&less);
    return r;
}

static const char *kind_of(const char *key)
{
    static const char *const disks[] = {"scsi", "virtio", "sata", "ide"};
    size_t n;

    for (size_t i = 0; i < sizeof(disks) / sizeof(disks[0]); i++) {
        n = strlen(disks[i]);
        if (strncmp(key, disks[i], n) == 0 && key[n] &&
            strspn(key + n, "0123456789") == strlen(key + n))
            return "disk";
    }
    if (strncmp(key, "net", 3) == 0 && key[3] && strspn(key + 3, "0123456789") == strlen(key + 3))
        return "interface";
    return NULL;
}

int qemu_hotplug(const char *vmid, const char *config, size_t len, const char *key, char *err,
                 size_t errlen)
{
    const char *tag = kind_of(key);
    struct pv_buf dev = {0};
    struct qemu_act a;
    char val[8];
    int r;

    if (!tag || strlen(key) > 16)
        return qemu_err(-EINVAL, err, errlen,
                        "'%s' is not a disk (scsiN, virtioN, sataN, ideN) or NIC (netN) key", key);
    if (conf_get(config, len, key, val, sizeof(val)) < 0)
        return qemu_err(-ENOENT, err, errlen, "vm %s: the config has no %s", vmid, key);
    if ((r = qemu_begin(vmid, &a, err, errlen)) < 0)
        return r;
    if (!a.d || strcmp(qemu_dom_state(a.d, NULL), "stopped") == 0) {
        r = qemu_err(-EINVAL, err, errlen, "vm %s is not running (%s is used at the next start)",
                     vmid, key);
        goto out;
    }
    if ((r = device_xml(vmid, config, len, key, tag, &dev, err, errlen)) < 0)
        goto out;
    if (virDomainAttachDeviceFlags(a.d, dev.p, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG) <
        0)
        r = qemu_fail(err, errlen, "vm %s: cannot hot-plug %s", vmid, key);
out:
    pv_buf_free(&dev);
    qemu_end(&a);
    return r;
}

int qemu_block_resize(const char *vmid, const char *disk, uint64_t size, char *err, size_t errlen)
{
    struct qemu_act a;
    int r;

    if ((r = qemu_begin(vmid, &a, err, errlen)) < 0)
        return r;
    if (!a.d || strcmp(qemu_dom_state(a.d, NULL), "stopped") == 0)
        r = qemu_err(-EINVAL, err, errlen, "vm %s is not running", vmid);
    /* libvirt finds the disk by its source path; QEMU grows the image and tells the guest */
    else if (virDomainBlockResize(a.d, disk, size, VIR_DOMAIN_BLOCK_RESIZE_BYTES) < 0)
        r = qemu_fail(err, errlen, "vm %s: cannot resize %s", vmid, disk);
    qemu_end(&a);
    return r;
}
