/* net_extra: Open vSwitch calls that drivers/net.h lacks (bridge removal, MTU), for the
 * node network files. Same conventions as net.h: a negative errno plus a message in err
 * naming the object, the operation and the reason; *changed (may be NULL) as there. */
#ifndef PV_NET_EXTRA_H
#define PV_NET_EXTRA_H

#include <stddef.h>

/* Deletes OVS bridge name and its ports; absent is not an error (*changed = 0). */
int net_ovs_bridge_delete(const char *name, int *changed, char *err, size_t errlen);
/* Asks ovs-vswitchd for an MTU on the bridge's own interface (mtu_request): OVS owns that
 * device's MTU and would undo one set over netlink. */
int net_ovs_bridge_mtu(const char *name, unsigned mtu, char *err, size_t errlen);

#endif
