/*
 * ceph: librados connections and the cluster-level Ceph operations behind ceph/
 * (status, pools, OSDs), through rados_mon_command JSON parsed with json-c.
 *
 * Connections are cached per target and shared by the rbd storage backend. Every
 * connection sets client timeouts (mount, mon op, OSD op), so a dead Ceph makes a
 * call fail with -ETIMEDOUT within seconds instead of hanging its caller.
 */
#ifndef PV_CEPH_H
#define PV_CEPH_H

#include <rados/librados.h>
#include <stddef.h>
#include <stdint.h>

#include "../fs/buf.h"

#define CEPH_TIMEOUT_S 5 /* default client timeouts; PVEFS_CEPH_TIMEOUT overrides */

/* How to reach a Ceph cluster; "" fields are unset. */
struct ceph_target {
    char conf[1024];   /* ceph.conf to read first */
    char monhost[512]; /* "127.0.0.1:6789 10.0.0.2" or "[v2:...,v1:...]" */
    char user[64];     /* without "client."; default "admin" */
    char keyring[1024];
    char key[128]; /* a cephx secret itself (from priv/ceph/<storage>.keyring) */
};

/*
 * A connected handle for t (cached; do not shut it down). Returns 0 or -errno
 * (-ETIMEDOUT when no monitor answered within the timeout).
 */
int ceph_connect(const struct ceph_target *t, rados_t *out, char *err, size_t errlen);
/*
 * The client timeout in seconds: CEPH_TIMEOUT_S, or PVEFS_CEPH_TIMEOUT when set.
 * -EINVAL with err filled if that is not a number of seconds from 1 to 3600.
 */
int ceph_timeout_s(int *out, char *err, size_t errlen);
/* Forgets t's cached connection after a failure, so the next call reconnects. */
void ceph_drop(const struct ceph_target *t);
/* Shuts every cached connection down (daemon exit). */
void ceph_shutdown_all(void);

/* Runs a mon command (JSON); *out gets the malloc'd reply, NUL-terminated. */
int ceph_mon(rados_t c, const char *json, char **out, size_t *outlen, char *err, size_t errlen);

/*
 * ceph/status as text, one "key: value" per line: health, health checks,
 * monitors, quorum, osds, osds_up, osds_in, pgs, pg states, objects, bytes
 * used/avail/total. Four mon commands or fewer.
 */
int ceph_status_text(rados_t c, struct pv_buf *out, char *err, size_t errlen);

struct ceph_pool {
    char name[128];
    int64_t id;
    int size, min_size, pg_num;
    uint64_t stored, objects, max_avail; /* from df */
    char application[64];
};
typedef int (*ceph_pool_fn)(void *arg, const struct ceph_pool *p);
int ceph_pools(rados_t c, ceph_pool_fn fn, void *arg, char *err, size_t errlen);
/* Creates a replicated pool; size/min_size 0 keep the cluster defaults. app may be NULL. */
int ceph_pool_create(rados_t c, const char *name, int pg_num, int size, int min_size,
                     const char *app, char *err, size_t errlen);
/* Sets size, min_size or pg_num. */
int ceph_pool_set(rados_t c, const char *name, const char *key, int value, char *err,
                  size_t errlen);
/* Opens pool for I/O; -ENOENT if it does not exist, -ETIMEDOUT if Ceph does not answer. */
int ceph_pool_open(rados_t c, const char *pool, rados_ioctx_t *io, char *err, size_t errlen);
/* Deletes a pool; -ENOTEMPTY if it holds objects other than rbd's own bookkeeping. */
int ceph_pool_delete(rados_t c, const char *name, char *err, size_t errlen);

struct ceph_osd {
    int id;
    int up, in;
    double weight;
    char addr[128];
};
typedef int (*ceph_osd_fn)(void *arg, const struct ceph_osd *o);
int ceph_osds(rados_t c, ceph_osd_fn fn, void *arg, char *err, size_t errlen);
/* Marks OSD id in (1) or out (0). */
int ceph_osd_inout(rados_t c, int id, int in, char *err, size_t errlen);

#endif
