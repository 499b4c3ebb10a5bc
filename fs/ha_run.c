/*
 * ha_run: the HA agents of this node on two threads, one running the CRM round
 * and one the LRM round, each every round_ms. They are apart so a manager round
 * that waits on the store never delays the LRM's lease renewal (and its pet).
 * The LRM thread also wakes early when a command finished or the local CRM
 * issued commands.
 *
 * Locks: lock guards stop and wake; the agent's CRM fields belong to the CRM
 * thread and its LRM fields to the LRM thread (ha_env.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../cluster/clog.h"
#include "ha.h"

static struct {
    struct fs *fs;
    struct ha_real *real;
    struct ha_agent agent;
    struct ha_timeouts to;
    pthread_t crm, lrm;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop, wake; /* under lock */
} run = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

void ha_run_wake(void)
{
    pthread_mutex_lock(&run.lock);
    run.wake = 1;
    pthread_cond_broadcast(&run.cond);
    pthread_mutex_unlock(&run.lock);
}

/* Sleeps ms, or less if woken (when wakeable) or stopped. Returns 1 to stop. */
static int pause_ms(uint64_t ms, int wakeable)
{
    struct timespec ts;
    int stop;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&run.lock);
    while (!run.stop && !(wakeable && run.wake))
        if (pthread_cond_timedwait(&run.cond, &run.lock, &ts) == ETIMEDOUT)
            break;
    if (wakeable)
        run.wake = 0;
    stop = run.stop;
    pthread_mutex_unlock(&run.lock);
    return stop;
}

/*
 * Whether HA has anything to do: a resource is configured, or the manager status still
 * lists services (their removal must be processed). A cluster without HA resources never
 * writes a lease or a report, as Proxmox's agents idle until services exist.
 */
static int ha_in_use(struct fs *fs)
{
    const struct memdb_entry *ha, *res, *st;
    int used = 0;

    if (!fs->node_dir) /* a cluster node has its skeleton only once synced */
        return 0;
    memdb_rdlock(fs->mem);
    ha = memdb_lookup(fs->mem, MEMDB_ROOT, "ha");
    res = ha ? memdb_lookup(fs->mem, ha->inode, "resources") : NULL;
    st = ha ? memdb_lookup(fs->mem, ha->inode, HA_MANAGER_STATUS) : NULL;
    used = (res && res->nkids) ||
           (st && st->data && memmem(st->data, st->size, "\nservice/", 9) != NULL);
    memdb_unlock(fs->mem);
    return used;
}

static void *crm_main(void *arg)
{
    (void)arg;
    do {
        if (ha_in_use(run.fs) || run.agent.master)
            ha_crm_round(&run.agent);
    } while (!pause_ms(run.to.round_ms, 0));
    return NULL;
}

static void *lrm_main(void *arg)
{
    (void)arg;
    do {
        /* once active, it keeps renewing: its guests rely on the lease */
        if (ha_in_use(run.fs) || run.agent.lrm_active)
            ha_lrm_round(&run.agent);
    } while (!pause_ms(run.to.round_ms, 1));
    return NULL;
}

int ha_run_start(struct fs *fs, const struct ha_timeouts *to)
{
    run.fs = fs;
    run.to = *to;
    run.real = ha_real_new(fs, to);
    if (!run.real)
        return -ENOMEM;
    run.agent.env = ha_real_env(run.real);
    pthread_cond_destroy(&run.cond);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&run.cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (pthread_create(&run.crm, NULL, crm_main, NULL)) {
        ha_real_free(run.real);
        run.real = NULL;
        return -EAGAIN;
    }
    if (pthread_create(&run.lrm, NULL, lrm_main, NULL)) {
        pthread_mutex_lock(&run.lock);
        run.stop = 1;
        pthread_cond_broadcast(&run.cond);
        pthread_mutex_unlock(&run.lock);
        pthread_join(run.crm, NULL);
        ha_real_free(run.real);
        run.real = NULL;
        return -EAGAIN;
    }
    run.started = 1;
    clog_append("ha",
                "%s: HA agents running (round %llu ms, lease %llu ms, self-fence %llu ms, "
                "margin %llu ms)",
                fs->node, (unsigned long long)to->round_ms, (unsigned long long)to->lease_ms,
                (unsigned long long)to->self_fence_ms, (unsigned long long)to->fence_margin_ms);
    return 0;
}

void ha_run_stop(struct fs *fs)
{
    int pids[4];
    unsigned long long starts[4];

    if (!run.started)
        return;
    pthread_mutex_lock(&run.lock);
    run.stop = 1;
    pthread_cond_broadcast(&run.cond);
    pthread_mutex_unlock(&run.lock);
    pthread_join(run.crm, NULL);
    pthread_join(run.lrm, NULL);
    run.started = 0;
    /* commands in flight finish first: a start racing our stops would leave a guest behind */
    for (int i = 0; i < 600 && ha_real_busy(run.real); i++)
        usleep(100000);
    ha_real_set_sync(run.real, 1);
    if (fs->node_dir && (run.agent.lrm_active || run.agent.rep.n) && ha_lrm_shutdown(&run.agent))
        clog_append("ha",
                    "%s: could not report the clean stop (no quorum?); the manager will "
                    "fence this node, which is safe: its HA guests are stopped",
                    fs->node);
    /* nothing left to protect: let the watchdog go (ha_lrm_shutdown did when it could report) */
    if (ha_guest_pids(fs, pids, starts, 4) == 0)
        ha_wd_arm(fs, 0, 0);
    ha_real_free(run.real);
    run.real = NULL;
}
