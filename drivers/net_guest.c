/*
 * net_guest: what a guest's NIC needs of the node before its driver is called. A
 * missing bridge is found here, by name in this namespace (the node's), so the error
 * names the bridge and the node instead of what libvirt or LXC make of it later.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>

#include "net.h"

int net_guest_bridge(void *node, const char *bridge, char *err, size_t errlen)
{
    if (if_nametoindex(bridge) != 0)
        return 0;
    if (errno != ENODEV && errno != ENXIO)
        return net_err(err, errlen, -errno, "cannot look up bridge %s on node %s: %m", bridge,
                       (const char *)node);
    return net_err(err, errlen, -ENOENT, "bridge %s does not exist on node %s", bridge,
                   (const char *)node);
}
