/*
 * qemu_migrate: live migration of a running guest to another node's libvirt, peer to
 * peer: the source libvirtd talks to the target's itself, and QEMU streams the guest
 * over the nodes' cluster addresses. Disks stay where they are (shared storage).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "qemu_int.h"

const char *qemu_uri(void)
{
    return qg.uri;
}

int qemu_migrate(const char *vmid, const char *dest_uri, const char *stream_uri, char *err,
                 size_t errlen)
{
    virTypedParameterPtr params = NULL;
    int np = 0, maxp = 0, r;
    struct qemu_act a;
    /* UNSAFE: libvirt cannot tell that pvefs storage marked shared is shared */
    unsigned int flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
                         VIR_MIGRATE_UNDEFINE_SOURCE | VIR_MIGRATE_UNSAFE;

    if ((r = qemu_begin(vmid, &a, err, errlen)) < 0)
        return r;
    if (!a.d || strcmp(qemu_dom_state(a.d, NULL), "stopped") == 0) {
        r = qemu_err(-EINVAL, err, errlen, "vm %s is not running", vmid);
    } else if (stream_uri && stream_uri[0] &&
               virTypedParamsAddString(&params, &np, &maxp, VIR_MIGRATE_PARAM_URI, stream_uri) <
                   0) {
        r = qemu_err(-ENOMEM, err, errlen, "vm %s: out of memory", vmid);
    } else if (virDomainMigrateToURI3(a.d, dest_uri, params, (unsigned int)np, flags) < 0) {
        r = qemu_fail(err, errlen, "vm %s: live migration to %s failed", vmid, dest_uri);
    } else {
        qemu_set_state(vmid, "stopped"); /* it runs on the target now */
    }
    virTypedParamsFree(params, np);
    qemu_end(&a);
    return r;
}
