/* stor_rbd_int: what the rbd backend's files (stor_rbd.c, stor_rbd_import.c) share. */
#ifndef PV_STOR_RBD_INT_H
#define PV_STOR_RBD_INT_H

#include <rbd/librbd.h>

#include "ceph.h"
#include "stor.h"

#define RBD_FEATURES                                                                               \
    (RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP |                  \
     RBD_FEATURE_FAST_DIFF | RBD_FEATURE_DEEP_FLATTEN)
#define RBD_ORDER 22 /* 4 MiB objects, as Proxmox and rbd create */

/* One call's view of the storage: where, as whom, and the pool's ioctx. */
struct rx {
    struct ceph_target t;
    char pool[128];
    rados_t c;
    rados_ioctx_t io;
};

/* Opens the storage's pool as c says (x->io); 0 or -errno with err. */
int rx_open(const struct stor_cfg *c, struct rx *x, char *err, size_t errlen);
void rx_close(struct rx *x);
/* Fills err with "rbd <what> <pool>/<image>: <strerror>"; returns rc. */
int rbd_fail(struct rx *x, int rc, const char *what, const char *image, char *err, size_t errlen);
int rbd_locate(const struct stor_cfg *c, const char *name, const char *fmt, struct stor_vol *v,
               char *err, size_t errlen);
/* The volume's size, format and parent, from an open ioctx. */
int vol_info(struct rx *x, const char *name, struct stor_vol *out, char *err, size_t errlen);
/* Creates volume name from image file src (stor_ops.import). */
int rbd_import(const struct stor_cfg *c, const char *name, const char *src, const char *fmt,
               struct stor_vol *out, char *err, size_t errlen);

#endif
