/*
 * drv_fork: a fork in a multithreaded daemon copies only the forking thread, and a lock
 * another thread held at that instant stays held in the child for good. libvirt's
 * embedded QEMU driver forks inside pvefsd and the child allocates before it execs; the
 * sanitizer build's allocator is not fork-safe (a forked libvirt child was seen stuck on
 * a futex). So the daemon's periodic background work runs under a shared lock that a
 * call which forks takes exclusively: while it forks, no background thread allocates.
 */
#include <pthread.h>

#include "drv.h"

static pthread_rwlock_t guard = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

void drv_bg_enter(void)
{
    pthread_rwlock_rdlock(&guard);
}

void drv_bg_leave(void)
{
    pthread_rwlock_unlock(&guard);
}

void drv_fork_enter(void)
{
    pthread_rwlock_wrlock(&guard);
}

void drv_fork_leave(void)
{
    pthread_rwlock_unlock(&guard);
}
