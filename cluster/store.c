/* store: stamping, transport and the data directory lock; see store.h. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int lock_datadir(const char *dir, int *fdp, char *err, size_t errlen)
{
    char path[4096], pid[32] = "";
    int fd;

    if (mkdir(dir, 0700) && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data directory %s: %s", dir, strerror(errno));
        return -errno;
    }
    snprintf(path, sizeof(path), "%s/pvefsd.lock", dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -errno;
    }
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        int e = errno;
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        snprintf(err, errlen, "data directory %s is in use by another pvefsd (pid %s)", dir,
                 *pid ? pid : "?");
        close(fd);
        return e == EWOULDBLOCK ? -EBUSY : -e;
    }
    snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) || pwrite(fd, pid, strlen(pid), 0) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return -EIO;
    }
    *fdp = fd;
    return 0;
}

int store_open(struct store **out, const struct store_cfg *cfg, char *err, size_t errlen)
{
    struct store *st = calloc(1, sizeof(*st));
    char path[4096];
    int rc;

    if (!st)
        return -ENOMEM;
    st->lockfd = -1;
    st->nodeid = cfg->nodeid;
    st->quorate = 1; /* the loopback transport is its own majority */
    pthread_mutex_init(&st->commit_lock, NULL);
    pthread_cond_init(&st->cond, NULL);
    if (!(st->node = strdup(cfg->node))) {
        rc = -ENOMEM;
        goto out_free;
    }
    if ((rc = lock_datadir(cfg->datadir, &st->lockfd, err, errlen)))
        goto out_free;
    snprintf(path, sizeof(path), "%s/config.db", cfg->datadir);
    if ((rc = db_open(&st->db, path, err, errlen)))
        goto out_unlock;
    if ((rc = memdb_open(&st->mem, st->db, cfg->uniq, err, errlen)))
        goto out_db;
    if (cfg->cluster) {
        st->cluster = 1;
        st->quorate = 0; /* until votequorum says otherwise */
        if ((rc = store_cl_open(st, cfg->wait_s, err, errlen)))
            goto out_mem;
    }
    *out = st;
    return 0;

out_mem:
    memdb_close(st->mem);

out_db:
    db_close(st->db);
out_unlock:
    close(st->lockfd);
out_free:
    free(st->node);
    pthread_mutex_destroy(&st->commit_lock);
    free(st);
    return rc;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    if (st->cluster)
        store_cl_close(st);
    memdb_close(st->mem);
    db_close(st->db);
    if (st->lockfd >= 0)
        close(st->lockfd);
    pthread_mutex_destroy(&st->commit_lock);
    pthread_cond_destroy(&st->cond);
    free(st->node);
    free(st);
}

struct memdb *store_memdb(struct store *st)
{
    return st->mem;
}

const char *store_node(struct store *st)
{
    return st->node;
}

uint32_t store_nodeid(struct store *st)
{
    return st->cluster && st->grp ? grp_nodeid(st->grp) : st->nodeid;
}

int store_quorate(struct store *st)
{
    return __atomic_load_n(&st->quorate, __ATOMIC_ACQUIRE);
}

void store_set_abort(struct store *st, int (*aborted)(void *arg), void *arg)
{
    st->abort_arg = arg;
    st->aborted = aborted;
}

void store_set_quorate(struct store *st, int quorate)
{
    __atomic_store_n(&st->quorate, quorate ? 1 : 0, __ATOMIC_RELEASE);
    if (st->sync)
        sync_set_quorate(st->sync, quorate);
}

void store_on_change(struct store *st, memdb_change_fn fn, void *arg)
{
    memdb_on_change(st->mem, fn, arg);
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The loopback transport: deliver our own encoded message to ourselves. */
static int loopback_deliver(struct store *st, const uint8_t *buf, size_t len,
                            struct memdb_result *res)
{
    struct msg_batch in;
    char why[128];

    if (msg_decode(buf, len, &in, why, sizeof(why))) {
        snprintf(res->msg, sizeof(res->msg), "malformed store message: %s", why);
        return res->err = -EIO;
    }
    return memdb_apply(st->mem, &in, res);
}

int store_commit(struct store *st, struct msg_batch *b, struct memdb_result *res)
{
    size_t len;
    uint8_t *buf;
    int rc;

    memset(res, 0, sizeof(*res));
    res->failed_op = -1;
    if (!store_quorate(st)) {
        snprintf(res->msg, sizeof(res->msg), "cluster not quorate: the store is read-only");
        return res->err = -EROFS;
    }
    b->writer = store_nodeid(st);
    if (!b->mtime)
        b->mtime = now_ns();
    len = msg_encoded_size(b);
    if (!len) {
        snprintf(res->msg, sizeof(res->msg), "change cannot be encoded (too large?)");
        return res->err = -EFBIG;
    }
    if (!(buf = malloc(len))) {
        snprintf(res->msg, sizeof(res->msg), "out of memory");
        return res->err = -ENOMEM;
    }
    if (st->cluster) {
        pthread_mutex_lock(&st->commit_lock);
        b->seq = ++st->seq;
        pthread_mutex_unlock(&st->commit_lock);
        msg_encode(b, buf, len);
        rc = store_cl_commit(st, buf, len, b->seq, res);
        free(buf);
        return rc;
    }
    pthread_mutex_lock(&st->commit_lock);
    b->seq = ++st->seq;
    msg_encode(b, buf, len);
    rc = loopback_deliver(st, buf, len, res);
    pthread_mutex_unlock(&st->commit_lock);
    free(buf);
    return rc;
}

void store_note_pid(struct store *st)
{
    char pid[32];

    /* After daemonizing the pid changed; the lock (held by the inherited fd) did not. */
    snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(st->lockfd, 0) || pwrite(st->lockfd, pid, strlen(pid), 0) < 0)
        fprintf(stderr, "pvefsd: cannot record pid in the lock file: %s\n", strerror(errno));
}
