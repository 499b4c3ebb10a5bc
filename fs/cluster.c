/*
 * cluster: the fs side of cluster mode. Owns the quorum tracker and the status
 * channel, publishes this node's status, and runs the commands other nodes
 * forward here through the same apply() a local write would reach.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "../cluster/clog.h"
#include "../cluster/kvs.h"
#include "../cluster/quorum.h"
#include "files.h"
#include "fs.h"
#include "notify.h"

#define PUBLISH_EVERY_NS 1000000000LL /* a node whose status is 3 s old counts as down */
#define KVS_WAIT_S       30           /* the store already waited for corosync */

struct cl_glue {
    struct fs *fs;
    struct qrm *q;
    struct kvs *k;
    int quorate; /* last state logged; -1 before the first */
    uint64_t last_hash;
    int64_t last_ns;
};

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_quorum(void *arg, int quorate)
{
    struct cl_glue *cl = arg;

    if (cl->quorate == quorate)
        return;
    cl->quorate = quorate;
    clog_append("quorum", "%s", quorate ? "cluster is quorate" : "cluster lost quorum: read-only");
    notify_inval_all(cl->fs); /* mode bits show quorum; the kernel's cached ones are stale */
}

/*
 * Finds the generated file that path names ("/nodes/n2/qemu/100/ctl"): every
 * component but the last is a stored directory, the last a row of its type's table.
 */
static int resolve(struct fs *fs, const char *path, uint64_t *dir, const struct pv_file **file,
                   char *msg, size_t msglen)
{
    char buf[KVS_MAX_PATH + 1], *save = NULL, *name, *next;
    const struct memdb_entry *e;
    const struct pv_type *t;
    int row, rc = 0;

    snprintf(buf, sizeof(buf), "%s", path);
    memdb_rdlock(fs->mem);
    e = memdb_get(fs->mem, MEMDB_ROOT);
    name = strtok_r(buf, "/", &save);
    for (; e && name && (next = strtok_r(NULL, "/", &save)); name = next) {
        e = memdb_lookup(fs->mem, e->inode, name);
        if (e && e->kind != MEMDB_DIR)
            e = NULL;
    }
    if (!e || !name || !(t = pv_type(e->objtype)) || (row = pv_type_file(t, name)) < 0) {
        rc = -ENOENT;
        snprintf(msg, msglen, "%s does not exist on this node", path);
    } else if (!t->files[row].apply ||
               (t->files[row].kind != PK_CTL && t->files[row].kind != PK_STATE)) {
        rc = -EINVAL;
        snprintf(msg, msglen, "%s takes no commands", path);
    } else {
        *dir = e->inode;
        *file = &t->files[row];
    }
    memdb_unlock(fs->mem);
    return rc;
}

/* Runs a command forwarded by another node (on a status channel worker thread). */
static int exec_cmd(void *arg, const char *path, const char *cmd, size_t len, char *msg,
                    size_t msglen)
{
    struct fs *fs = arg;
    const struct pv_file *file = NULL;
    struct pv_err e = {0};
    struct pv_obj o;
    uint64_t dir = 0;
    int rc;

    if ((rc = resolve(fs, path, &dir, &file, msg, msglen)))
        return rc;
    if (!pv_text_ok(cmd, len)) {
        snprintf(msg, msglen, "binary data in a command (control characters or bad UTF-8)");
        return -EINVAL;
    }
    fs_obj(fs, dir, &o);
    /* Ownership may have moved since the sender looked: never pass a command on again. */
    if (strcmp(o.node, fs->node) != 0) {
        snprintf(msg, msglen, "%s is not on node %s (owner: %s)", o.path, fs->node,
                 o.node[0] ? o.node : "none");
        return -EHOSTUNREACH;
    }
    o.file = file->name;
    rc = file->apply(&o, cmd, len, &e);
    if (rc && e.err)
        rc = -e.err;
    snprintf(msg, msglen, "%s", rc ? e.msg : "");
    return rc < 0 ? rc : rc ? -EIO : 0;
}

int fs_cluster_start(struct fs *fs, char *err, size_t errlen)
{
    struct cl_glue *cl = calloc(1, sizeof(*cl));
    int rc;

    if (!cl)
        return -ENOMEM;
    cl->fs = fs;
    cl->quorate = -1;
    if ((rc = qrm_open(&cl->q, fs->st, on_quorum, cl, err, errlen))) {
        free(cl);
        return rc;
    }
    if ((rc = kvs_open(&cl->k, fs->node, exec_cmd, fs, KVS_WAIT_S, err, errlen))) {
        qrm_close(cl->q);
        free(cl);
        return rc;
    }
    fs->cl = cl;
    return 0;
}

void fs_cluster_stop(struct fs *fs)
{
    struct cl_glue *cl = fs->cl;

    if (!cl)
        return;
    fs->cl = NULL;
    kvs_close(cl->k);
    qrm_close(cl->q);
    free(cl);
}

void fs_cluster_tick(struct fs *fs)
{
    struct cl_glue *cl = fs->cl;
    struct pv_obj o = {.fs = fs};
    struct pv_buf b = {0};
    int64_t now = mono_ns();
    uint64_t h;

    if (!cl)
        return;
    snprintf(o.name, sizeof(o.name), "%s", fs->node);
    snprintf(o.node, sizeof(o.node), "%s", fs->node);
    o.dir = fs->node_dir;
    if (node_status_render(&o, &b) == 0 && !b.oom) {
        h = XXH3_64bits(b.p, b.len);
        if (h != cl->last_hash || now - cl->last_ns >= PUBLISH_EVERY_NS) {
            if (kvs_publish(cl->k, b.p ? b.p : "", b.len) == 0) {
                cl->last_hash = h;
                cl->last_ns = now;
            }
        }
    }
    pv_buf_free(&b);
}

struct kvs *fs_cluster_kvs(struct fs *fs)
{
    return fs->cl ? fs->cl->k : NULL;
}

struct qrm *fs_cluster_qrm(struct fs *fs)
{
    return fs->cl ? fs->cl->q : NULL;
}
