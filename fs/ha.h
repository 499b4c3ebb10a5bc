/*
 * ha: what the HA files (files_ha.c), the real HA environment (ha_env_real.c)
 * and the HA threads (ha_run.c) share.
 *
 * Where HA keeps its state in the replicated store (all PF_RECORD files: users
 * read them, only pvefs writes them):
 *   ha/manager_status        the CRM's status text (ha_status_format)
 *   ha/manager_lock          the manager lease ("holder: <node>\nrenewed: <ms>\n")
 *   nodes/<node>/lrm_lock    that node's LRM lease (holder <node>, or "crm" when claimed)
 *   nodes/<node>/lrm_status  that node's LRM report (ha_lrm_format)
 * A lease changes only by a conditional write (MSG_F_IFVERSION) of the version
 * that was read, so of two nodes racing for a lease exactly one wins.
 */
#ifndef PV_HA_H
#define PV_HA_H

#include <stddef.h>
#include <stdint.h>

#include "../cluster/ha_env.h"
#include "fs.h"

#define HA_MANAGER_STATUS "manager_status"
#define HA_MANAGER_LOCK   "manager_lock"
#define HA_LRM_LOCK       "lrm_lock"
#define HA_LRM_STATUS     "lrm_status"
#define HA_REQUESTS       "requests"

/* Copies stored file name of directory dir into buf (NUL-terminated). Its length,
 * or -ENOENT; *version (if not NULL) gets the file's store version. */
int ha_file_read(struct fs *fs, uint64_t dir, const char *name, char *buf, size_t len,
                 uint64_t *version);
/* Inodes of ha/ and of nodes/<node>/ (0 if missing). */
uint64_t ha_dir(struct fs *fs);
/* Queues migrate|relocate of sid to target for the manager (ha_env_real.c). */
int ha_request_add(struct fs *fs, const char *sid, const char *verb, const char *target,
                   struct pv_err *e);
uint64_t ha_node_dir(struct fs *fs, const char *node);
/* The directory of guest sid ("vm:100", "ct:100") and its node; 0 if no such guest of
 * that kind. */
uint64_t ha_guest_dir(struct fs *fs, const char *sid, char *node, size_t len);

/* The HA config in the store (resources, groups). 0 or -errno. */
int ha_config_load(struct fs *fs, struct ha_config *cfg);

/* Timeouts from PVEFS_HA_{ROUND,LEASE,FENCE,MARGIN} (seconds, fractions allowed) over the
 * defaults; -EINVAL with the reason in err when they break the fencing guarantee. */
int ha_timeouts_env(struct ha_timeouts *to, char *err, size_t errlen);

/* The real environment (ha_env_real.c) and the threads running it (ha_run.c). */
struct ha_real;
struct ha_real *ha_real_new(struct fs *fs, const struct ha_timeouts *to);
void ha_real_free(struct ha_real *r);
struct ha_env *ha_real_env(struct ha_real *r);
/* Commands still running on worker threads (0 when idle). */
int ha_real_busy(struct ha_real *r);
/* Makes exec() wait for its command (used by the clean shutdown). */
void ha_real_set_sync(struct ha_real *r, int sync);

/* The watchdog (ha_watchdog.c): /dev/watchdog if present, and always a process of its
 * own that kills the node's HA guests and this daemon if not petted in time. */
int ha_wd_spawn(char *err, size_t errlen); /* before any thread exists */
void ha_wd_arm(struct fs *fs, uint64_t timeout_ms, int arm);
/* Stops this node's HA guests at once (SIGKILL) and exits the daemon; never returns. */
void ha_wd_fence_now(struct fs *fs, const char *why) __attribute__((noreturn));
/* The pids of this node's running HA guests, for the fence. Returns the count. */
size_t ha_guest_pids(struct fs *fs, int *pids, unsigned long long *starts, size_t max);

int ha_run_start(struct fs *fs, const struct ha_timeouts *to);
/* Runs this node's LRM round now (a command finished, or new commands for it). */
void ha_run_wake(void);
/* A clean stop: this node's HA guests stop, the LRM says so and gives its lease back. */
void ha_run_stop(struct fs *fs);

#endif
