/*
 * qemu_life: lifecycle actions and hot-plug. Each action holds the guest's act lock,
 * so actions on one guest run one at a time while different guests proceed in
 * parallel. Each returns once libvirt reports the target state, and writes that
 * state into the status table before returning, so a read right after sees it.
 */
#include <errno.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fs/conf.h"
#include "qemu_int.h"
#include "drv.h"

int qemu_begin(const char *vmid, struct qemu_act *a, char *err, size_t errlen)
{
    size_t n = strspn(vmid, "0123456789");

    memset(a, 0, sizeof(*a));
    if (n == 0 || vmid[n] != '\0' || n > 9) {
        qemu_err(-EINVAL, err, errlen, "'%s' is not a vmid", vmid);
        return -EINVAL;
    }
    if (!(a->vm = qemu_vm(vmid))) {
        qemu_err(-ENOMEM, err, errlen, "vm %s: out of memory", vmid);
        return -ENOMEM;
    }
    a->vmid = a->vm->vmid;
    snprintf(a->name, sizeof(a->name), "vm%s", vmid);
    pthread_mutex_lock(&a->vm->act);
    if (!(a->c = qemu_conn(err, errlen))) {
        pthread_mutex_unlock(&a->vm->act);
        return -EIO;
    }
    a->d = virDomainLookupByName(a->c, a->name);
    if (!a->d)
        virResetLastError(); /* never started here: callers treat that as stopped */
    return 0;
}

void qemu_end(struct qemu_act *a)
{
    if (a->d)
        virDomainFree(a->d);
    if (a->c)
        virConnectClose(a->c);
    pthread_mutex_unlock(&a->vm->act);
}

const char *qemu_dom_state(virDomainPtr d, int *raw)
{
    int st = VIR_DOMAIN_SHUTOFF, reason;

    if (d && virDomainGetState(d, &st, &reason, 0) < 0) {
        virResetLastError();
        st = VIR_DOMAIN_SHUTOFF;
    }
    if (raw)
        *raw = st;
    return qemu_state_name(st);
}

/* Polls libvirt until the domain is in state; fast at first, as most actions are quick. */
static int wait_state(struct qemu_act *a, const char *state, int timeout_s, char *err,
                      size_t errlen)
{
    int64_t end = qemu_mono_ms() + (int64_t)timeout_s * 1000;
    const char *now;

    for (int i = 0;; i++) {
        now = qemu_dom_state(a->d, NULL);
        if (strcmp(now, state) == 0) {
            qemu_set_state(a->vmid, state);
            return 0;
        }
        if (qemu_mono_ms() >= end)
            break;
        usleep(i < 50 ? 20000 : 100000);
    }
    qemu_set_state(a->vmid, now);
    return qemu_err(-ETIMEDOUT, err, errlen, "vm %s is still %s after %d s (waited for %s)",
                    a->vmid, now, timeout_s, state);
}

/* -EINVAL unless the guest is in one of the states (a space-separated list). */
static int need(struct qemu_act *a, const char *states, char *err, size_t errlen)
{
    const char *now = qemu_dom_state(a->d, NULL);
    char list[64];

    snprintf(list, sizeof(list), " %s ", states);
    for (const char *p = strstr(list, now); p; p = strstr(p + 1, now))
        if (p[-1] == ' ' && p[strlen(now)] == ' ')
            return 0;
    if (strcmp(now, "stopped") == 0)
        return qemu_err(-EINVAL, err, errlen, "vm %s is not running", a->vmid);
    return qemu_err(-EINVAL, err, errlen, "vm %s is %s", a->vmid, now);
}

/* The uuid= part of smbios1 ("uuid=...,manufacturer=..."), or "". */
static void smbios_uuid(const char *config, size_t len, char *uuid, size_t ulen)
{
    char v[1024];
    const char *p;

    uuid[0] = '\0';
    if (conf_get(config, len, "smbios1", v, sizeof(v)) < 0)
        return;
    for (p = v; p && *p; p = strchr(p, ','), p = p ? p + 1 : NULL)
        if (strncmp(p, "uuid=", 5) == 0) {
            size_t n = strcspn(p + 5, ",");
            snprintf(uuid, ulen, "%.*s", (int)(n < ulen ? n : ulen - 1), p + 5);
            return;
        }
}

/* Decodes standard base64 (a cephx key) into out; its length, or -1. */
static int unbase64(const char *in, unsigned char *out, size_t cap)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned v = 0;
    int bits = 0;
    size_t n = 0;

    for (; *in && *in != '='; in++) {
        const char *p = strchr(a, *in);
        if (!p || !*in)
            return -1;
        v = (v << 6) | (unsigned)(p - a);
        if ((bits += 6) >= 8) {
            if (n == cap)
                return -1;
            out[n++] = (unsigned char)(v >> (bits -= 8));
        }
    }
    return (int)n;
}

/*
 * A libvirt secret (usage ceph) holding key, for an rbd disk whose storage has a key of
 * its own; one per user and key, found again by its usage name on later starts.
 */
static int rbd_secret(void *arg, const char *user, const char *key, char *uuid, size_t len,
                      char *err, size_t errlen)
{
    char usage[160], xml[400];
    unsigned char raw[128];
    virConnectPtr c = qemu_conn(err, errlen);
    virSecretPtr s;
    unsigned h = 5381;
    int n, r = 0;

    (void)arg;
    if (!c)
        return -EIO;
    /* libvirt 9.0's embedded qemu driver cannot reach any secret driver (it asks for a
     * secret:///embed without root): only a libvirtd can hand QEMU a cephx key */
    if (strncmp(qg.uri, "qemu:///embed?", 14) == 0) {
        virConnectClose(c);
        return qemu_err(-EOPNOTSUPP, err, errlen,
                        "an rbd disk with its own cephx key needs a libvirtd (pvefsd --libvirt "
                        "qemu:///system); the embedded libvirt cannot pass keys to QEMU");
    }
    for (const char *p = key; *p; p++)
        h = h * 33 + (unsigned char)*p; /* tells keys apart without showing them */
    snprintf(usage, sizeof(usage), "pvefs client.%.64s %08x", user, h);
    if ((n = unbase64(key, raw, sizeof(raw))) <= 0) {
        virConnectClose(c);
        return qemu_err(-EINVAL, err, errlen, "the cephx key of client.%s is not base64", user);
    }
    if (!(s = virSecretLookupByUsage(c, VIR_SECRET_USAGE_TYPE_CEPH, usage))) {
        snprintf(xml, sizeof(xml),
                 "<secret ephemeral='no' private='yes'><usage type='ceph'><name>%s</name>"
                 "</usage></secret>",
                 usage);
        s = virSecretDefineXML(c, xml, 0);
    }
    if (!s || virSecretSetValue(s, raw, (size_t)n, 0) < 0 || virSecretGetUUIDString(s, uuid) < 0)
        r = qemu_fail(err, errlen, "cannot keep the cephx key of client.%s in libvirt", user);
    (void)len;
    if (s)
        virSecretFree(s);
    virConnectClose(c);
    return r;
}

int qemu_build_xml(const char *vmid, const char *config, size_t len, const char *uuid,
                   struct pv_buf *out, char *err, size_t errlen)
{
    char name[24], log[1100];
    struct qemu_xml_opts o = {
        .name = name,
        .uuid = uuid && uuid[0] ? uuid : NULL,
        .serial_log = log,
        .kvm = qg.kvm,
        .resolve = qg.resolve,
        .arg = qg.resolve_arg,
        .secret = rbd_secret,
        .bridge = qg.bridge,
        .bridge_arg = qg.bridge_arg,
    };
    char why[QEMU_ERRLEN];
    int rc;

    snprintf(name, sizeof(name), "vm%s", vmid);
    snprintf(log, sizeof(log), "%s/%s.serial", qg.logdir, vmid);
    if ((rc = qemu_xml(config, len, &o, out, err, errlen)) < 0) {
        /* qemu_xml names the key ("net0: ..."); the reader of cluster/errors needs the VM */
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, errlen, "vm %s: %s", vmid, why);
    }
    return rc;
}

/*
 * Makes the persistent definition match config. libvirt keys domains by uuid: without
 * smbios1 the existing uuid is kept; a changed smbios1 uuid needs a fresh definition,
 * which would orphan libvirt's snapshot records, so it is refused while there are any.
 */
static int define(struct qemu_act *a, const char *config, size_t len, char *err, size_t errlen)
{
    char uuid[VIR_UUID_STRING_BUFLEN + 64], old[VIR_UUID_STRING_BUFLEN] = "";
    struct pv_buf xml = {0};
    virDomainPtr nd;
    int r;

    smbios_uuid(config, len, uuid, sizeof(uuid));
    if (a->d && virDomainGetUUIDString(a->d, old) < 0)
        old[0] = '\0';
    if (!uuid[0])
        snprintf(uuid, sizeof(uuid), "%s", old);
    if (a->d && old[0] && strcasecmp(uuid, old) != 0) {
        int ns = virDomainSnapshotNum(a->d, 0);
        if (ns > 0)
            return qemu_err(-EBUSY, err, errlen,
                            "vm %s: smbios1 uuid changed from %s, but libvirt keeps %d "
                            "snapshot(s) under the old uuid; delete them or restore the uuid",
                            a->vmid, old, ns);
        if (virDomainUndefineFlags(a->d, VIR_DOMAIN_UNDEFINE_KEEP_NVRAM) < 0)
            return qemu_fail(err, errlen, "vm %s: cannot drop the definition with uuid %s", a->vmid,
                             old);
        virDomainFree(a->d);
        a->d = NULL;
    }
    if ((r = qemu_build_xml(a->vmid, config, len, uuid, &xml, err, errlen)) < 0)
        goto out;
    if (xml.oom) {
        r = qemu_err(-ENOMEM, err, errlen, "vm %s: out of memory for the domain XML", a->vmid);
        goto out;
    }
    if (!(nd = virDomainDefineXML(a->c, xml.p))) {
        r = qemu_fail(err, errlen, "vm %s: libvirt rejected the domain", a->vmid);
        goto out;
    }
    if (a->d)
        virDomainFree(a->d);
    a->d = nd;
    r = 0;
out:
    pv_buf_free(&xml);
    return r;
}

int qemu_start(const char *vmid, const char *config, size_t len, char *err, size_t errlen)
{
    struct qemu_act a;
    int r, st;

    if ((r = qemu_begin(vmid, &a, err, errlen)) < 0)
        return r;
    if (a.d && virDomainIsActive(a.d) == 1) {
        const char *now = qemu_dom_state(a.d, &st);
        /* a crashed guest kept for inspection is restarted, as Proxmox does */
        if (st != VIR_DOMAIN_CRASHED) {
            r = qemu_err(-EINVAL, err, errlen, "vm %s is already %s", vmid, now);
            goto out;
        }
        virDomainDestroy(a.d);
    }
    if (mkdir(qg.logdir, 0755) < 0 && errno != EEXIST) {
        r = qemu_err(-errno, err, errlen, "vm %s: cannot create the log directory %s: %s", vmid,
                     qg.logdir, strerror(errno));
        goto out;
    }
    if ((r = define(&a, config, len, err, errlen)) < 0)
        goto out;
    drv_fork_enter();
    r = virDomainCreate(a.d);
    drv_fork_leave();
    if (r < 0) {
        r = qemu_fail(err, errlen, "vm %s: cannot start", vmid);
        goto out;
    }
    r = wait_state(&a, "running", QEMU_WAIT_S, err, errlen);
out:
    qemu_end(&a);
    return r;
}

static int destroy(struct qemu_act *a, char *err, size_t errlen)
{
    /* SIGTERM, then SIGKILL after libvirt's grace period */
    if (virDomainDestroy(a->d) < 0 && virDomainIsActive(a->d) == 1)
        return qemu_fail(err, errlen, "vm %s: cannot stop", a->vmid);
    virResetLastError();
    return wait_state(a, "stopped", QEMU_WAIT_S, err, errlen);
}

int qemu_stop(const char *vmid, char *err, size_t errlen)
{
    struct qemu_act a;
    int r;

    if ((r = qemu_begin(vmid, &a, err, errlen)) < 0)
        return r;
    if ((r = need(&a, "running paused", err, errlen)) == 0)
        r = destroy(&a, err, errlen);
    qemu_end(&a);
    return r;
}

int qemu_shutdown(const char *vmid, int timeout_s, int force, char *err, size_t errlen)
{
    struct qemu_act a;
    int r;

    if (timeout_s <= 0)
        timeout_s = QEMU_SHUTDOWN_S;
    if ((r = qemu_begin(vmid, &a, err, errlen)) < 0)
        return r;
    if (force && need(&a, "paused", err, errlen) == 0) {
        r = destroy(&a, err, errlen); /* a paused guest cannot see the power button */
        goto out;
    }
    if ((r = need(&a, "running", err, errlen)) < 0) {
        if (strstr(err, " is paused"))
            qemu_err(r, err, errlen,
                     "vm %s is paused and cannot react to the power button; resume it, "
                     "or use shutdown --force or stop",
                     vmid);
        goto out;
    }
    if (virDomainShutdownFlags(a.d, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) < 0) {
        r = qemu_fail(err, errlen, "vm %s: cannot press the power button", vmid);
        goto out;
    }
    r = wait_state(&a, "stopped", timeout_s, err, errlen);
    if (r == -ETIMEDOUT) {
        if (force)
            r = destroy(&a, err, errlen);
        else
            qemu_err(r, err, errlen,
                     "vm %s is still running after %d s; use shutdown --force or stop", vmid,
                     timeout_s);
    }
out:
    qemu_end(&a);
    return r;
}

int qemu_reboot(const char *vmid, char *err, size_t errlen)
{
    struct qemu_act a;
    unsigned before;
    int64_t end;
    int r;

    if ((r = qemu_begin(vmid, &a, err, errlen)) < 0)
        return r;
    if ((r = need(&a, "running", err, errlen)) < 0)
        goto out;
    pthread_mutex_lock(&qg.lock);
    before = a.vm->reboots;
    pthread_mutex_unlock(&qg.lock);
    if (virDomainReboot(a.d, VIR_DOMAIN_REBOOT_ACPI_POWER_BTN) < 0) {
        r = qemu_fail(err, errlen, "vm %s: cannot press the power button to reboot", vmid);
        goto out;
    }
    /* libvirt turns the guest's power-off into a reset, which raises a REBOOT event */
    end = qemu_mono_ms() + (int64_t)QEMU_SHUTDOWN_S * 1000;
    for (;;) {
        unsigned now;
        pthread_mutex_lock(&qg.lock);
        now = a.vm->reboots;
        pthread_mutex_unlock(&qg.lock);
        if (now != before) {
            r = wait_state(&a, "running", QEMU_WAIT_S, err, errlen);
            break;
        }
        if (virDomainIsActive(a.d) != 1) {
            qemu_set_state(vmid, "stopped");
            r = qemu_err(-EIO, err, errlen, "vm %s stopped instead of rebooting", vmid);
            break;
        }
        if (qemu_mono_ms() >= end) {
            r = qemu_err(-ETIMEDOUT, err, errlen,
                         "vm %s did not reboot within %d s (the guest ignored the power "
                         "button); use reset",
                         vmid, QEMU_SHUTDOWN_S);
            break;
        }
        usleep(50000);
    }
out:
    qemu_end(&a);
    return r;
}

int qemu_reset(const char *vmid, char *err, size_t errlen)
{
    struct qemu_act a;
    int r;

    if ((r = qemu_begin(vmid, &a, err, errlen)) < 0)
        return r;
    if ((r = need(&a, "running paused", err, errlen)) == 0) {
        const char *was = qemu_dom_state(a.d, NULL);
        if (virDomainReset(a.d, 0) < 0)
            r = qemu_fail(err, errlen, "vm %s: cannot reset", vmid);
        else
            r = wait_state(&a, was, QEMU_WAIT_S, err, errlen); /* a paused guest stays paused */
    }
    qemu_end(&a);
    return r;
}

int qemu_suspend(const char *vmid, char *err, size_t errlen)
{
    struct qemu_act a;
    int r;

    if ((r = qemu_begin(vmid, &a, err, errlen)) < 0)
        return r;
    if ((r = need(&a, "running", err, errlen)) == 0) {
        if (virDomainSuspend(a.d) < 0)
            r = qemu_fail(err, errlen, "vm %s: cannot pause", vmid);
        else
            r = wait_state(&a, "paused", QEMU_WAIT_S, err, errlen);
    }
    qemu_end(&a);
    return r;
}

int qemu_resume(const char *vmid, char *err, size_t errlen)
{
    struct qemu_act a;
    int r;

    if ((r = qemu_begin(vmid, &a, err, errlen)) < 0)
        return r;
    if ((r = need(&a, "paused", err, errlen)) == 0) {
        if (virDomainResume(a.d) < 0)
            r = qemu_fail(err, errlen, "vm %s: cannot resume", vmid);
        else
            r = wait_state(&a, "running", QEMU_WAIT_S, err, errlen);
    }
    qemu_end(&a);
    return r;
}
