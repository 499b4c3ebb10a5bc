/*
 * qemu_snap: internal snapshots through libvirt. A running guest's snapshot holds its
 * RAM (libvirt's default for a running domain on qcow2); a stopped guest's holds its
 * disks only. Rolling back restores the state the snapshot had: running when it holds
 * RAM, stopped otherwise. libvirt keeps the snapshot records beside the domain, so a
 * guest needs a libvirt definition (it was started once here) to have snapshots.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_int.h"

static int no_domain(struct qemu_act *a, char *err, size_t errlen)
{
    return qemu_err(-ENOENT, err, errlen,
                    "vm %s has no libvirt definition (it was never started on this node)", a->vmid);
}

/* Escapes &, <, >, ' and " for an XML text node; 0, or -ENAMETOOLONG. */
static int xml_escape(const char *s, char *out, size_t len)
{
    size_t o = 0;

    for (; *s; s++) {
        const char *e = *s == '&'    ? "&amp;"
                        : *s == '<'  ? "&lt;"
                        : *s == '>'  ? "&gt;"
                        : *s == '\'' ? "&apos;"
                        : *s == '"'  ? "&quot;"
                                     : NULL;
        size_t n = e ? strlen(e) : 1;
        if (o + n >= len)
            return -ENAMETOOLONG;
        memcpy(out + o, e ? e : s, n);
        o += n;
    }
    out[o] = '\0';
    return 0;
}

static virDomainSnapshotPtr lookup(struct qemu_act *a, const char *name, int *r, char *err,
                                   size_t errlen)
{
    virDomainSnapshotPtr s = virDomainSnapshotLookupByName(a->d, name, 0);

    if (!s)
        *r = qemu_fail(err, errlen, "vm %s: no snapshot '%s'", a->vmid, name);
    return s;
}

int qemu_snapshot(const char *vmid, const char *name, char *err, size_t errlen)
{
    char esc[400], xml[512];
    struct qemu_act a;
    virDomainSnapshotPtr s = NULL;
    int r;

    if (!name[0] || strlen(name) >= sizeof(((struct qemu_snapinfo *)0)->name))
        return qemu_err(-EINVAL, err, errlen, "snapshot name '%s' is empty or too long", name);
    if (xml_escape(name, esc, sizeof(esc)) < 0)
        return qemu_err(-ENAMETOOLONG, err, errlen, "snapshot name '%s' is too long", name);
    if ((r = qemu_begin(vmid, &a, err, errlen)) < 0)
        return r;
    if (!a.d) {
        r = no_domain(&a, err, errlen);
        goto out;
    }
    snprintf(xml, sizeof(xml), "<domainsnapshot><name>%s</name></domainsnapshot>", esc);
    if (!(s = virDomainSnapshotCreateXML(a.d, xml, 0))) {
        r = qemu_fail(err, errlen, "vm %s: cannot take snapshot '%s'", vmid, name);
        goto out;
    }
    virDomainSnapshotFree(s);
    qemu_set_state(vmid, qemu_dom_state(a.d, NULL)); /* the guest is paused while RAM is saved */
out:
    qemu_end(&a);
    return r;
}

/* Starts an action on snapshot name of vmid: 0 with *s held, or -errno (action ended). */
static int snap_begin(const char *vmid, const char *name, struct qemu_act *a,
                      virDomainSnapshotPtr *s, char *err, size_t errlen)
{
    int r;

    if ((r = qemu_begin(vmid, a, err, errlen)) < 0)
        return r;
    if (!a->d)
        r = no_domain(a, err, errlen);
    else if ((*s = lookup(a, name, &r, err, errlen)))
        return 0;
    qemu_end(a);
    return r;
}

int qemu_rollback(const char *vmid, const char *name, char *err, size_t errlen)
{
    struct qemu_act a;
    virDomainSnapshotPtr s = NULL;
    int r;

    if ((r = snap_begin(vmid, name, &a, &s, err, errlen)) < 0)
        return r;
    if (virDomainRevertToSnapshot(s, 0) < 0) {
        virErrorPtr e = virGetLastError();
        /* e.g. a disk-only snapshot while the guest runs: Proxmox stops it, so do we */
        if (e && e->code == VIR_ERR_SNAPSHOT_REVERT_RISKY &&
            virDomainRevertToSnapshot(s, VIR_DOMAIN_SNAPSHOT_REVERT_FORCE) == 0)
            r = 0;
        else
            r = qemu_fail(err, errlen, "vm %s: cannot roll back to snapshot '%s'", vmid, name);
    }
    virDomainSnapshotFree(s);
    qemu_set_state(vmid, qemu_dom_state(a.d, NULL));
    qemu_end(&a);
    return r;
}

int qemu_delsnapshot(const char *vmid, const char *name, char *err, size_t errlen)
{
    struct qemu_act a;
    virDomainSnapshotPtr s = NULL;
    int r;

    if ((r = snap_begin(vmid, name, &a, &s, err, errlen)) < 0)
        return r;
    /* children are re-parented to this snapshot's parent */
    if (virDomainSnapshotDelete(s, 0) < 0)
        r = qemu_fail(err, errlen, "vm %s: cannot delete snapshot '%s'", vmid, name);
    virDomainSnapshotFree(s);
    qemu_end(&a);
    return r;
}

/* The text of the first <tag>...</tag> in xml, or "". */
static void xml_text(const char *xml, const char *tag, char *out, size_t len)
{
    char open[40];
    const char *p, *e;

    out[0] = '\0';
    snprintf(open, sizeof(open), "<%s>", tag);
    if (!(p = strstr(xml, open)))
        return;
    p += strlen(open);
    if ((e = strchr(p, '<')))
        snprintf(out, len, "%.*s", (int)(e - p), p);
}

static void info(virDomainSnapshotPtr s, struct qemu_snapinfo *si)
{
    virDomainSnapshotPtr parent;
    char *xml, buf[64];

    memset(si, 0, sizeof(*si));
    snprintf(si->name, sizeof(si->name), "%s", virDomainSnapshotGetName(s));
    if ((parent = virDomainSnapshotGetParent(s, 0))) {
        snprintf(si->parent, sizeof(si->parent), "%s", virDomainSnapshotGetName(parent));
        virDomainSnapshotFree(parent);
    } else {
        virResetLastError(); /* a root snapshot has none */
    }
    if (!(xml = virDomainSnapshotGetXMLDesc(s, VIR_DOMAIN_SNAPSHOT_XML_SECURE))) {
        virResetLastError();
        return;
    }
    xml_text(xml, "creationTime", buf, sizeof(buf));
    si->time = strtoll(buf, NULL, 10);
    xml_text(xml, "state", buf, sizeof(buf));
    /* the snapshot's <state> is the guest's at the time; RAM was kept if it ran */
    si->vmstate = strcmp(buf, "running") == 0 || strcmp(buf, "paused") == 0 ||
                  strstr(xml, "<memory snapshot='internal'") != NULL;
    free(xml);
}

int qemu_snapshots(const char *vmid, qemu_snap_fn fn, void *arg, char *err, size_t errlen)
{
    virDomainSnapshotPtr *snaps = NULL;
    struct qemu_snapinfo si;
    struct qemu_act a;
    int r, n;

    if ((r = qemu_begin(vmid, &a, err, errlen)) < 0)
        return r;
    if (!a.d) /* never started here: no snapshots */
        goto out;
    if ((n = virDomainListAllSnapshots(a.d, &snaps, 0)) < 0) {
        r = qemu_fail(err, errlen, "vm %s: cannot list snapshots", vmid);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        if (r == 0) {
            info(snaps[i], &si);
            r = fn(arg, &si);
        }
        virDomainSnapshotFree(snaps[i]);
    }
    free(snaps);
    if (r > 0) /* fn asked to stop early */
        r = 0;
    if (r < 0)
        qemu_err(r, err, errlen, "vm %s: listing snapshots stopped: %s", vmid, strerror(-r));
out:
    qemu_end(&a);
    return r;
}
