/*
 * vol_xfer: copies a container's subvol volume to another node, for a migration off
 * storage the target cannot reach. The source serves one tar stream on its cluster
 * address to the first peer that shows a random token; the target, told over the
 * cluster channel (node ctl "import-volume"), connects, unpacks into its own storage
 * and records the volume as its own. Bulk data never crosses corosync.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../cluster/clog.h"
#include "../cluster/quorum.h"
#include "conf.h"
#include "files.h"
#include "storage.h"

#define XFER_HELLO     "PVEFS-XFER 1 "
#define XFER_ACCEPT_MS 60000 /* the target connects within this */
#define XFER_HELLO_MS  10000

struct vol_send {
    int lfd, rc;
    char token[33], path[1200], err[STOR_ERRLEN];
    pthread_t th;
};

/* Reads the peer's hello line; 1 when it carries our token. */
static int hello_ok(int fd, const char *token)
{
    char buf[64] = "", want[64];
    size_t n = 0, wl = (size_t)snprintf(want, sizeof(want), "%s%s\n", XFER_HELLO, token);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    unsigned diff = 0;

    while (n < wl) {
        ssize_t r;
        if (poll(&p, 1, XFER_HELLO_MS) <= 0 || (r = read(fd, buf + n, wl - n)) <= 0)
            return 0;
        n += (size_t)r;
    }
    for (size_t i = 0; i < wl; i++) /* constant time: the token is the only key */
        diff |= (unsigned)(buf[i] ^ want[i]);
    return diff == 0;
}

static void *send_main(void *arg)
{
    struct vol_send *s = arg;
    struct pollfd p = {.fd = s->lfd, .events = POLLIN};
    char *av[] = {"tar", "-c", "-p", "--numeric-owner", "-f", "-", "-C", s->path, ".", NULL};
    int fd;

    for (;;) {
        if (poll(&p, 1, XFER_ACCEPT_MS) <= 0 || (p.revents & (POLLHUP | POLLERR))) {
            snprintf(s->err, sizeof(s->err), "the target never fetched the volume");
            s->rc = -ETIMEDOUT;
            shutdown(s->lfd, SHUT_RDWR); /* a late peer is refused, not left waiting */
            return NULL;
        }
        if ((fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
            continue;
        if (hello_ok(fd, s->token))
            break;
        close(fd); /* a stranger: keep waiting for the target */
    }
    s->rc = stor_run_io("tar", "send the volume", av, -1, fd, s->err, sizeof(s->err));
    close(fd);
    return NULL;
}

/* This node's address in the corosync nodelist. */
static int own_addr(struct fs *fs, char *addr, size_t len)
{
    struct qrm *q = fs_cluster_qrm(fs);
    struct qrm_node nodes[QRM_MAX_NODES];
    size_t n = q ? qrm_members(q, nodes, QRM_MAX_NODES) : 0;

    for (size_t i = 0; i < n; i++)
        if (strcmp(nodes[i].name, fs->node) == 0 && nodes[i].addr[0]) {
            snprintf(addr, len, "%s", nodes[i].addr);
            return 0;
        }
    return -ENOENT;
}

/* Listens on addr (a ring0_addr may be a name), port chosen by the kernel; both numeric out. */
static int listen_on(char *addr, size_t alen, char *port, size_t plen)
{
    struct addrinfo hint = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd, rc;

    if (getaddrinfo(addr, "0", &hint, &ai))
        return -EINVAL;
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 2) ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) ||
        getnameinfo((struct sockaddr *)&ss, sl, addr, (socklen_t)alen, port, (socklen_t)plen,
                    NI_NUMERICHOST | NI_NUMERICSERV)) {
        rc = -errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return rc ? rc : -EIO;
    }
    freeaddrinfo(ai);
    return fd;
}

int vol_send_start(struct fs *fs, const char *path, struct vol_send **out, char *where, size_t wlen,
                   struct pv_err *e)
{
    unsigned char r[16];
    char addr[256], port[16];
    struct vol_send *s;
    int rc;

    if (own_addr(fs, addr, sizeof(addr)))
        return pv_fail(e, EHOSTUNREACH, "node %s has no address in the cluster's nodelist",
                       fs->node);
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return pv_fail(e, EIO, "no random bytes for a transfer token: %s", strerror(errno));
    if (!(s = calloc(1, sizeof(*s))))
        return pv_fail(e, ENOMEM, "out of memory");
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(s->token + 2 * i, 3, "%02x", r[i]);
    snprintf(s->path, sizeof(s->path), "%s", path);
    if ((s->lfd = listen_on(addr, sizeof(addr), port, sizeof(port))) < 0) {
        rc = s->lfd;
        free(s);
        return pv_fail(e, -rc, "cannot listen on %s for a volume transfer: %s", addr,
                       strerror(-rc));
    }
    if ((rc = pthread_create(&s->th, NULL, send_main, s))) {
        close(s->lfd);
        free(s);
        return pv_fail(e, rc, "cannot start a transfer thread: %s", strerror(rc));
    }
    snprintf(where, wlen, "%s %s %s", addr, port, s->token);
    *out = s;
    return 0;
}

int vol_send_end(struct vol_send *s, struct pv_err *e)
{
    int rc;

    shutdown(s->lfd, SHUT_RDWR); /* wakes a sender still waiting for its peer */
    pthread_join(s->th, NULL);
    close(s->lfd);
    rc = s->rc;
    if (rc && e)
        pv_fail(e, -rc, "%s", s->err);
    free(s);
    return rc;
}

static int connect_to(const char *addr, const char *port)
{
    struct addrinfo hint = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                            .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int fd, rc;

    if (getaddrinfo(addr, port, &hint, &ai))
        return -EINVAL;
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen)) {
        rc = -errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return rc;
    }
    freeaddrinfo(ai);
    return fd;
}

/* Unpacks the stream served at addr:port into dir (an empty subvol). */
static int receive(const char *dir, char **argv, char *err, size_t errlen)
{
    char hello[64],
        *av[] = {"tar", "-x", "-p", "--numeric-owner", "-f", "-", "-C", (char *)dir, NULL};
    int fd = connect_to(argv[0], argv[1]), n, rc;

    if (fd < 0)
        return stor_fail(err, errlen, fd, "cannot reach the source at %s port %s: %s", argv[0],
                         argv[1], strerror(-fd));
    n = snprintf(hello, sizeof(hello), "%s%.32s\n", XFER_HELLO, argv[2]);
    if (send(fd, hello, (size_t)n, MSG_NOSIGNAL) != n) {
        rc = -errno;
        close(fd);
        return stor_fail(err, errlen, rc, "cannot greet the source: %s", strerror(-rc));
    }
    rc = stor_run_io("tar", "receive the volume", av, fd, -1, err, errlen);
    close(fd);
    return rc;
}

/* The catalog entry of volume name in storage d, 0 if none; its node in node. */
static uint64_t catalog_entry(struct fs *fs, const struct storage_def *d, const char *name,
                              char *node, size_t nlen)
{
    const struct memdb_entry *v, *r;
    uint64_t ino = 0;

    node[0] = '\0';
    memdb_rdlock(fs->mem);
    v = memdb_lookup(fs->mem, d->volumes, name);
    r = v ? memdb_lookup(fs->mem, v->inode, "status") : NULL;
    if (v) {
        ino = v->inode;
        if (r && r->data)
            conf_get((const char *)r->data, r->size, "node", node, nlen);
    }
    memdb_unlock(fs->mem);
    return ino;
}

/* The source's marker beside path (same storage id): 1 when this node sees it, then gone. */
static int took_marker(const char *path, const char *marker)
{
    const char *slash = strrchr(path, '/');
    char m[1300];

    if (!marker || !slash || strspn(marker, "abcdefpvsxr0123456789-") != strlen(marker))
        return 0;
    snprintf(m, sizeof(m), "%.*s/.%s", (int)(slash - path), path, marker);
    return unlink(m) == 0;
}

/*
 * import-volume <storage>:<volume> <size> <addr> <port> <token> [<marker>], on the
 * target node: fetches the volume from the source into this node's storage.
 */
int vol_xfer_import(const struct pv_obj *o, const char *rest, struct pv_err *e)
{
    char line[1024], *argv[8], sid[64], err[STOR_ERRLEN] = "", ig[STOR_ERRLEN], holder[64];
    const struct stor_ops *ops;
    struct storage_def d;
    struct stor_vol v = {0};
    const char *name;
    uint64_t sdir, vdir, size = 0;
    int argc, rc;

    snprintf(line, sizeof(line), "%s", rest);
    argc = pv_split(line, argv, 8);
    if ((argc != 5 && argc != 6) || !(name = strchr(argv[0], ':')) ||
        (size_t)(name - argv[0]) >= sizeof(sid) || stor_parse_size(argv[1], &size))
        return pv_fail(e, EINVAL,
                       "usage: import-volume <storage>:<volume> <size> <addr> <port> <token> "
                       "[<marker>]");
    snprintf(sid, sizeof(sid), "%.*s", (int)(name - argv[0]), argv[0]);
    name++;
    if (volume_name_ok(name, e))
        return -e->err;
    if (!(sdir = fs_child(o->fs, fs_child(o->fs, MEMDB_ROOT, "storage"), sid)))
        return pv_fail(e, ENOENT, "no storage %s", sid);
    if (storage_load(o->fs, sdir, &d, e) || storage_usable_here(o->fs, &d, e))
        return -e->err;
    vdir = catalog_entry(o->fs, &d, name, holder, sizeof(holder));
    if (vdir && (d.shared || !holder[0] || strcmp(holder, o->fs->node) == 0))
        return pv_fail(e, EEXIST, "volume %s:%s exists on %s", sid, name, o->fs->node);
    ops = stor_ops(d.cfg.type);
    if ((rc = ops->locate(&d.cfg, name, "subvol", &v, err, sizeof(err))))
        return pv_fail(e, -rc, "%s (on node %s)", err, o->fs->node);
    v.size = size;
    if (vdir && took_marker(v.path, argc > 5 ? argv[5] : NULL)) {
        /* this node's path is the source's very directory: nothing to copy */
        snprintf(v.format, sizeof(v.format), "subvol");
        return storage_record_volume(o->fs, &d, &v, vdir, e);
    }
    if ((rc = ops->alloc(&d.cfg, name, "subvol", 0, &v, err, sizeof(err))))
        return pv_fail(e, -rc, "%s (on node %s)", err, o->fs->node);
    v.size = size;
    if ((rc = receive(v.path, argv + 2, err, sizeof(err)))) {
        ops->free(&d.cfg, name, ig, sizeof(ig));
        return pv_fail(e, -rc, "%s:%s on %s: %s", sid, name, o->fs->node, err);
    }
    /* the same storage id on another node: the entry now says the volume lives here */
    if ((rc = storage_record_volume(o->fs, &d, &v, vdir, e))) {
        ops->free(&d.cfg, name, ig, sizeof(ig));
        return rc;
    }
    clog_append("storage", "received %s:%s on %s", sid, name, o->fs->node);
    return 0;
}
