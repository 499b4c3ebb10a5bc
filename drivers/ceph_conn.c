/*
 * ceph_conn: cached librados connections and the raw mon command call.
 *
 * Connecting costs a monitor round trip plus cephx, so handles are kept per
 * target. A dropped handle may still be in use by another thread (there is no
 * release call), so it is retired and shut down only after RETIRE_GRACE_S, by
 * which time every call on it has hit its client timeout. Failed connects are
 * not cached: each caller retries, and waits up to the timeout.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ceph.h"

#define SLOTS          8
#define RETIRED        8
#define RETIRE_GRACE_S 120

struct slot {
    int used;
    struct ceph_target t;
    rados_t c;
    time_t last; /* last handed out, picks the eviction victim */
};

struct retired {
    rados_t c;
    time_t when;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[SLOTS];
static struct retired retired[RETIRED];

static time_t now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static int same_target(const struct ceph_target *a, const struct ceph_target *b)
{
    return strcmp(a->conf, b->conf) == 0 && strcmp(a->monhost, b->monhost) == 0 &&
           strcmp(a->user, b->user) == 0 && strcmp(a->keyring, b->keyring) == 0 &&
           strcmp(a->key, b->key) == 0;
}

/* A copy with every field NUL-terminated and zero-padded. */
static void norm_target(struct ceph_target *dst, const struct ceph_target *src)
{
    memset(dst, 0, sizeof(*dst));
    snprintf(dst->conf, sizeof(dst->conf), "%.*s", (int)sizeof(src->conf) - 1, src->conf);
    snprintf(dst->monhost, sizeof(dst->monhost), "%.*s", (int)sizeof(src->monhost) - 1,
             src->monhost);
    snprintf(dst->user, sizeof(dst->user), "%.*s", (int)sizeof(src->user) - 1, src->user);
    snprintf(dst->keyring, sizeof(dst->keyring), "%.*s", (int)sizeof(src->keyring) - 1,
             src->keyring);
    snprintf(dst->key, sizeof(dst->key), "%.*s", (int)sizeof(src->key) - 1, src->key);
}

/*
 * Moves a handle to the retired list (lock held). Returns a handle the caller
 * must shut down after unlocking when the list was full, else NULL.
 */
static rados_t retire_locked(rados_t c)
{
    size_t oldest = 0;
    rados_t victim;

    for (size_t i = 0; i < RETIRED; i++) {
        if (!retired[i].c) {
            retired[i].c = c;
            retired[i].when = now();
            return NULL;
        }
        if (retired[i].when < retired[oldest].when)
            oldest = i;
    }
    victim = retired[oldest].c;
    retired[oldest].c = c;
    retired[oldest].when = now();
    return victim;
}

/* Shuts down retired handles past their grace; rados_shutdown can block, so not under lock. */
static void reap_retired(void)
{
    rados_t done[RETIRED];
    size_t n = 0;
    time_t t = now();

    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < RETIRED; i++)
        if (retired[i].c && t - retired[i].when >= RETIRE_GRACE_S) {
            done[n++] = retired[i].c;
            retired[i].c = NULL;
        }
    pthread_mutex_unlock(&lock);
    for (size_t i = 0; i < n; i++)
        rados_shutdown(done[i]);
}

int ceph_timeout_s(int *out, char *err, size_t errlen)
{
    const char *v = getenv("PVEFS_CEPH_TIMEOUT");
    char *end;
    long n;

    *out = CEPH_TIMEOUT_S;
    if (!v || !*v)
        return 0;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || *end || n < 1 || n > 3600) {
        snprintf(err, errlen, "PVEFS_CEPH_TIMEOUT=%s is not a number of seconds between 1 and 3600",
                 v);
        return -EINVAL;
    }
    *out = (int)n;
    return 0;
}

/* Where we try to connect, for messages. */
static void mon_desc(rados_t c, const struct ceph_target *t, char *buf, size_t len)
{
    if (t->monhost[0])
        snprintf(buf, len, "%s", t->monhost);
    else if (rados_conf_get(c, "mon_host", buf, len) < 0 || !buf[0])
        snprintf(buf, len, "(no mon_host in %s)",
                 t->conf[0]            ? t->conf
                 : getenv("CEPH_CONF") ? getenv("CEPH_CONF")
                                       : "the default ceph.conf");
}

/* 1 if some key source cephx can use is readable; librados silently drops cephx otherwise. */
static int have_key(rados_t c)
{
    char buf[1024], *save = NULL;

    if ((rados_conf_get(c, "key", buf, sizeof(buf)) == 0 && buf[0]) ||
        (rados_conf_get(c, "keyfile", buf, sizeof(buf)) == 0 && buf[0]))
        return 1;
    if (rados_conf_get(c, "keyring", buf, sizeof(buf)) < 0)
        return 1; /* unknown: do not guess */
    for (char *f = strtok_r(buf, ",; ", &save); f; f = strtok_r(NULL, ",; ", &save))
        if (access(f, R_OK) == 0)
            return 1;
    return 0;
}

static int set_opt(rados_t c, const char *key, const char *val, char *err, size_t errlen)
{
    int r = rados_conf_set(c, key, val);

    if (r < 0)
        snprintf(err, errlen, "cannot set Ceph client option %s=%s: %s", key, val, strerror(-r));
    return r;
}

/* Creates, configures and connects a new handle for t. */
static int open_conn(const struct ceph_target *t, rados_t *out, char *err, size_t errlen)
{
    /* after the conf file, so a conf's log settings cannot send librados output to us */
    static const char *const quiet[][2] = {
        {"log_to_stderr", "false"}, {"err_to_stderr", "false"}, {"log_to_syslog", "false"},
        {"log_file", ""},           {"admin_socket", ""},
    };
    static const char *const timeouts[] = {"client_mount_timeout", "rados_mon_op_timeout",
                                           "rados_osd_op_timeout"};
    char name[96], secs[16], mons[1100];
    const char *user = t->user[0] ? t->user : "admin";
    rados_t c;
    int r, tmo;

    if ((r = ceph_timeout_s(&tmo, err, errlen)) < 0)
        return r;
    snprintf(name, sizeof(name), "client.%s", user);
    if ((r = rados_create2(&c, "ceph", name, 0)) < 0) {
        snprintf(err, errlen, "cannot create a Ceph client as %s: %s", name, strerror(-r));
        return r;
    }
    if (t->conf[0] && (r = rados_conf_read_file(c, t->conf)) < 0) {
        snprintf(err, errlen, "cannot read Ceph config %s: %s", t->conf, strerror(-r));
        goto fail;
    }
    /* NULL reads $CEPH_CONF or the default locations */
    if (!t->conf[0] && !t->monhost[0] && (r = rados_conf_read_file(c, NULL)) < 0) {
        snprintf(err, errlen,
                 "no Ceph cluster configured: no conf or monhost given, and %s is not readable: "
                 "%s",
                 getenv("CEPH_CONF") ? getenv("CEPH_CONF") : "/etc/ceph/ceph.conf", strerror(-r));
        goto fail;
    }
    if (t->monhost[0] && (r = set_opt(c, "mon_host", t->monhost, err, errlen)) < 0)
        goto fail;
    if (t->keyring[0] && (r = set_opt(c, "keyring", t->keyring, err, errlen)) < 0)
        goto fail;
    if (t->key[0] && (r = set_opt(c, "key", t->key, err, errlen)) < 0)
        goto fail;
    for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
        if ((r = set_opt(c, quiet[i][0], quiet[i][1], err, errlen)) < 0)
            goto fail;
    snprintf(secs, sizeof(secs), "%d", tmo);
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++)
        if ((r = set_opt(c, timeouts[i], secs, err, errlen)) < 0)
            goto fail;
    if ((r = rados_connect(c)) < 0) {
        mon_desc(c, t, mons, sizeof(mons));
        if (r == -ETIMEDOUT && !have_key(c))
            snprintf(err, errlen,
                     "cannot connect to Ceph monitors at %s as %s: %s (no readable keyring, so "
                     "no cephx key to log in with)",
                     mons, name, strerror(-r));
        else if (r == -ETIMEDOUT)
            snprintf(err, errlen,
                     "cannot reach Ceph monitors at %s: %s (none let %s in within %d s)", mons,
                     strerror(-r), name, tmo);
        else if (r == -EACCES || r == -EPERM)
            snprintf(err, errlen,
                     "cannot connect to Ceph monitors at %s as %s: %s (the monitors do not accept "
                     "its key)",
                     mons, name, strerror(-r));
        else
            snprintf(err, errlen, "cannot connect to Ceph monitors at %s as %s: %s", mons, name,
                     strerror(-r));
        goto fail;
    }
    *out = c;
    return 0;
fail:
    rados_shutdown(c);
    return r;
}

int ceph_connect(const struct ceph_target *t, rados_t *out, char *err, size_t errlen)
{
    struct ceph_target key;
    rados_t c, loser = NULL, evicted = NULL;
    size_t i, victim = 0;
    int r;

    norm_target(&key, t);
    reap_retired();
    pthread_mutex_lock(&lock);
    for (i = 0; i < SLOTS; i++)
        if (slots[i].used && same_target(&slots[i].t, &key)) {
            slots[i].last = now();
            *out = slots[i].c;
            pthread_mutex_unlock(&lock);
            return 0;
        }
    pthread_mutex_unlock(&lock);

    /* connecting can take the whole timeout: not under the lock */
    if ((r = open_conn(&key, &c, err, errlen)) < 0)
        return r;

    pthread_mutex_lock(&lock);
    for (i = 0; i < SLOTS; i++)
        if (slots[i].used && same_target(&slots[i].t, &key))
            break;
    if (i < SLOTS) { /* another thread connected first: use its handle */
        loser = c;
        c = slots[i].c;
        slots[i].last = now();
    } else {
        for (i = 0; i < SLOTS; i++) {
            if (!slots[i].used)
                break;
            if (slots[i].last < slots[victim].last)
                victim = i;
        }
        if (i == SLOTS) {
            i = victim;
            evicted = retire_locked(slots[i].c);
        }
        slots[i].used = 1;
        slots[i].t = key;
        slots[i].c = c;
        slots[i].last = now();
    }
    pthread_mutex_unlock(&lock);
    if (loser)
        rados_shutdown(loser);
    if (evicted)
        rados_shutdown(evicted);
    *out = c;
    return 0;
}

static int retired_full_locked(void)
{
    for (size_t i = 0; i < RETIRED; i++)
        if (!retired[i].c)
            return 0;
    return 1;
}

void ceph_drop(const struct ceph_target *t)
{
    struct ceph_target key;

    norm_target(&key, t);
    reap_retired();
    pthread_mutex_lock(&lock);
    /*
     * With every retired slot in its grace, a drop is a reconnect storm: keep the
     * handle (librados re-hunts monitors itself) rather than shut down one in use.
     */
    for (size_t i = 0; i < SLOTS && !retired_full_locked(); i++)
        if (slots[i].used && same_target(&slots[i].t, &key)) {
            retire_locked(slots[i].c);
            memset(&slots[i], 0, sizeof(slots[i]));
        }
    pthread_mutex_unlock(&lock);
}

void ceph_shutdown_all(void)
{
    rados_t all[SLOTS + RETIRED];
    size_t n = 0;

    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < SLOTS; i++)
        if (slots[i].used) {
            all[n++] = slots[i].c;
            memset(&slots[i], 0, sizeof(slots[i]));
        }
    for (size_t i = 0; i < RETIRED; i++)
        if (retired[i].c) {
            all[n++] = retired[i].c;
            retired[i].c = NULL;
        }
    pthread_mutex_unlock(&lock);
    for (size_t i = 0; i < n; i++)
        rados_shutdown(all[i]);
}

int ceph_mon(rados_t c, const char *json, char **out, size_t *outlen, char *err, size_t errlen)
{
    const char *cmd[1] = {json};
    char *buf = NULL, *st = NULL, *copy;
    size_t blen = 0, slen = 0;
    int r;

    if (out)
        *out = NULL;
    if (outlen)
        *outlen = 0;
    r = rados_mon_command(c, cmd, 1, "", 0, &buf, &blen, &st, &slen);
    if (r < 0) {
        char secs[16];

        /* librados's own status for this is a bare "timed out" */
        if (r == -ETIMEDOUT && rados_conf_get(c, "rados_mon_op_timeout", secs, sizeof(secs)) == 0)
            snprintf(err, errlen, "%s (no monitor answered within %s s)", strerror(ETIMEDOUT),
                     secs);
        else if (slen)
            snprintf(err, errlen, "%.*s", (int)slen, st);
        else
            snprintf(err, errlen, "%s", strerror(-r));
        /* the mon ends some status strings with a newline or ". " */
        for (size_t n = strlen(err); n && (err[n - 1] == '\n' || err[n - 1] == ' '); n--)
            err[n - 1] = 0;
        goto done;
    }
    if (out) {
        if (!(copy = malloc(blen + 1))) {
            snprintf(err, errlen, "out of memory for a %zu-byte mon reply", blen);
            r = -ENOMEM;
            goto done;
        }
        if (blen)
            memcpy(copy, buf, blen);
        copy[blen] = 0;
        *out = copy;
        if (outlen)
            *outlen = blen;
    }
done:
    rados_buffer_free(buf);
    rados_buffer_free(st);
    return r;
}
