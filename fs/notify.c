/* notify: the notifier thread (pollers, cache invalidation, CPU sampling); see notify.h. */
#include "notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "files.h"

struct inval {
    uint64_t ino, parent; /* parent != 0: an entry (parent, name) */
    char name[MSG_MAX_NAME + 1];
};

struct notify {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop, kick;           /* protected by lock */
    int all;                  /* protected by lock: invalidate every entry */
    struct io_handle **polls; /* protected by lock */
    size_t npoll, cappoll;
    struct inval *inv; /* protected by lock */
    size_t ninv, capinv;
};

static void queue_inval(struct notify *nt, uint64_t ino, uint64_t parent, const char *name)
{
    if (nt->stop)
        return; /* the session is gone; the store may still deliver until it closes */
    if (nt->ninv == nt->capinv) {
        size_t cap = nt->capinv ? nt->capinv * 2 : 64;
        struct inval *n = realloc(nt->inv, cap * sizeof(*n));
        if (!n)
            return; /* caches then expire by their timeout */
        nt->inv = n;
        nt->capinv = cap;
    }
    nt->inv[nt->ninv].ino = ino;
    nt->inv[nt->ninv].parent = parent;
    snprintf(nt->inv[nt->ninv].name, sizeof(nt->inv[0].name), "%s", name ? name : "");
    nt->ninv++;
    nt->kick = 1;
    pthread_cond_signal(&nt->cond);
}

void notify_inval(struct fs *fs, uint64_t ino)
{
    struct notify *nt = fs->nt;

    if (!nt)
        return;
    pthread_mutex_lock(&nt->lock);
    queue_inval(nt, ino, 0, NULL);
    pthread_mutex_unlock(&nt->lock);
}

void notify_inval_all(struct fs *fs)
{
    struct notify *nt = fs->nt;

    if (!nt)
        return;
    pthread_mutex_lock(&nt->lock);
    nt->all = 1;
    nt->kick = 1;
    pthread_cond_signal(&nt->cond);
    pthread_mutex_unlock(&nt->lock);
}

struct inodes {
    uint64_t *a;
    size_t n, cap;
};

static void collect_ino(void *arg, const struct memdb_entry *e)
{
    struct inodes *in = arg;

    if (in->n < in->cap)
        in->a[in->n++] = e->inode;
}

static void inval_everything(struct fs *fs)
{
    struct inodes in = {0};

    memdb_rdlock(fs->mem);
    in.cap = memdb_count(fs->mem);
    in.a = malloc((in.cap ? in.cap : 1) * sizeof(*in.a));
    if (in.a)
        memdb_for_each(fs->mem, collect_ino, &in);
    memdb_unlock(fs->mem);
    for (size_t i = 0; i < in.n; i++)
        fuse_lowlevel_notify_inval_inode(fs->se, in.a[i], -1, 0); /* attributes only */
    free(in.a);
}

void notify_changes(void *arg, const struct memdb_change *c, int n)
{
    struct fs *fs = arg;
    struct notify *nt = fs->nt;
    uint32_t self = store_nodeid(fs->st);

    if (!nt)
        return;
    pthread_mutex_lock(&nt->lock);
    for (int i = 0; i < n; i++) {
        /* The kernel already knows what came through it; only others' changes need telling. */
        if (c[i].writer == self)
            continue;
        /*
         * Attributes only. Names are never invalidated: the kernel takes the directory's
         * lock for that, and a local writer holding it while it waits for this daemon
         * deadlocks a daemon that dies meanwhile. A cluster node caches no names instead
         * (fs_entry_timeout).
         */
        queue_inval(nt, c[i].inode, 0, NULL);
        if (c[i].code == MSG_CREATE || c[i].code == MSG_DELETE || c[i].code == MSG_RENAME)
            queue_inval(nt, c[i].parent, 0, NULL);
        if (c[i].code == MSG_RENAME && c[i].old_parent != c[i].parent)
            queue_inval(nt, c[i].old_parent, 0, NULL);
    }
    nt->kick = 1; /* pollers of derived files (guest status) re-check now */
    pthread_cond_signal(&nt->cond);
    pthread_mutex_unlock(&nt->lock);
}

void notify_kick(struct fs *fs)
{
    struct notify *nt = fs->nt;

    if (!nt)
        return;
    pthread_mutex_lock(&nt->lock);
    nt->kick = 1;
    pthread_cond_signal(&nt->cond);
    pthread_mutex_unlock(&nt->lock);
}

void notify_poll_add(struct fs *fs, struct io_handle *h, struct fuse_pollhandle *ph)
{
    struct notify *nt = fs->nt;

    pthread_mutex_lock(&nt->lock);
    if (h->ph) {
        fuse_pollhandle_destroy(h->ph);
    } else {
        if (nt->npoll == nt->cappoll) {
            size_t cap = nt->cappoll ? nt->cappoll * 2 : 16;
            struct io_handle **p = realloc(nt->polls, cap * sizeof(*p));
            if (!p) {
                /* No room to remember the poller: wake it at once rather than never. */
                fuse_lowlevel_notify_poll(ph);
                fuse_pollhandle_destroy(ph);
                pthread_mutex_unlock(&nt->lock);
                return;
            }
            nt->polls = p;
            nt->cappoll = cap;
        }
        nt->polls[nt->npoll++] = h;
    }
    h->ph = ph;
    pthread_mutex_unlock(&nt->lock);
}

static void poll_remove_locked(struct notify *nt, size_t i)
{
    nt->polls[i] = nt->polls[--nt->npoll];
}

void notify_poll_del(struct fs *fs, struct io_handle *h)
{
    struct notify *nt = fs->nt;

    if (!nt)
        return;
    pthread_mutex_lock(&nt->lock);
    for (size_t i = 0; i < nt->npoll; i++) {
        if (nt->polls[i] == h) {
            poll_remove_locked(nt, i);
            break;
        }
    }
    if (h->ph)
        fuse_pollhandle_destroy(h->ph);
    h->ph = NULL;
    pthread_mutex_unlock(&nt->lock);
}

/* Wakes every poller whose file now differs from its snapshot (lock held). */
static void check_polls(struct fs *fs, struct notify *nt)
{
    for (size_t i = 0; i < nt->npoll;) {
        struct io_handle *h = nt->polls[i];
        uint64_t now = io_current_hash(fs, h->ino), seen;

        pthread_mutex_lock(&h->lock);
        seen = h->hash;
        pthread_mutex_unlock(&h->lock);
        if (now == seen) {
            i++;
            continue;
        }
        fuse_lowlevel_notify_poll(h->ph);
        fuse_pollhandle_destroy(h->ph);
        h->ph = NULL;
        poll_remove_locked(nt, i);
    }
}

static void run_invals(struct fs *fs, struct inval *inv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* Errors (e.g. ENOENT for an inode the kernel never saw) are expected and harmless. */
        if (inv[i].parent)
            fuse_lowlevel_notify_inval_entry(fs->se, inv[i].parent, inv[i].name,
                                             strlen(inv[i].name));
        else
            fuse_lowlevel_notify_inval_inode(fs->se, inv[i].ino, 0, 0);
    }
}

static void *notify_main(void *arg)
{
    struct fs *fs = arg;
    struct notify *nt = fs->nt;
    struct timespec next, now;

    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&nt->lock);
    while (!nt->stop) {
        struct inval *inv;
        size_t ninv;

        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec ||
            (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
            /* unlocked: rendering the node's status reaches the drivers, whose events
             * queue invalidations under this lock */
            pthread_mutex_unlock(&nt->lock);
            node_sample_cpu();
            fs_cluster_tick(fs);
            pthread_mutex_lock(&nt->lock);
            next = now;
            next.tv_sec += 1;
        }
        inv = nt->inv;
        ninv = nt->ninv;
        nt->inv = NULL;
        nt->ninv = nt->capinv = 0;
        if (ninv) {
            pthread_mutex_unlock(&nt->lock);
            run_invals(fs, inv, ninv);
            pthread_mutex_lock(&nt->lock);
        }
        free(inv);
        if (nt->all) {
            nt->all = 0;
            pthread_mutex_unlock(&nt->lock);
            inval_everything(fs);
            pthread_mutex_lock(&nt->lock);
        }
        check_polls(fs, nt);
        if (!nt->kick && !nt->stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 500000000L; /* twice a second: volatile status files */
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&nt->cond, &nt->lock, &until);
        }
        nt->kick = 0;
    }
    pthread_mutex_unlock(&nt->lock);
    return NULL;
}

int notify_start(struct fs *fs)
{
    struct notify *nt = calloc(1, sizeof(*nt));
    int rc;

    if (!nt)
        return -ENOMEM;
    pthread_mutex_init(&nt->lock, NULL);
    pthread_cond_init(&nt->cond, NULL);
    fs->nt = nt;
    node_sample_cpu();
    if ((rc = pthread_create(&nt->thread, NULL, notify_main, fs))) {
        fs->nt = NULL;
        free(nt);
        return -rc;
    }
    return 0;
}

void notify_stop(struct fs *fs)
{
    struct notify *nt = fs->nt;

    if (!nt)
        return;
    pthread_mutex_lock(&nt->lock);
    nt->stop = 1;
    pthread_cond_signal(&nt->cond);
    pthread_mutex_unlock(&nt->lock);
    pthread_join(nt->thread, NULL);
    pthread_mutex_lock(&nt->lock);
    for (size_t i = 0; i < nt->npoll; i++) {
        fuse_pollhandle_destroy(nt->polls[i]->ph);
        nt->polls[i]->ph = NULL;
    }
    nt->npoll = 0;
    pthread_mutex_unlock(&nt->lock);
}

void notify_free(struct fs *fs)
{
    struct notify *nt = fs->nt;

    if (!nt)
        return;
    fs->nt = NULL;
    free(nt->polls);
    free(nt->inv);
    pthread_mutex_destroy(&nt->lock);
    pthread_cond_destroy(&nt->cond);
    free(nt);
}
