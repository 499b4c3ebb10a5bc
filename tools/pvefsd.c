/*
 * pvefsd: the pvefs daemon. Opens the store in the data directory, makes sure the
 * skeleton of the tree exists, mounts /pve and serves it with libfuse's
 * multithreaded loop until SIGTERM/SIGINT, then unmounts.
 *
 * usage: pvefsd [-f] [--local] [--node NAME] [--data DIR] [MOUNTPOINT]
 */
#include <errno.h>
#include <pthread.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "../cluster/clog.h"
#include "../cluster/quorum.h"
#include "../cluster/store.h"
#include "../fs/fs.h"
#include "../fs/io.h"
#include "../fs/notify.h"
#include "../fs/files.h"
#include "../fs/ha.h"
#include "../fs/storage.h"
#include "../fs/network.h"
#include "../drivers/lxc.h"
#include "../drivers/net.h"

struct opts {
    int foreground, local, debug;
    const char *node, *data, *mnt, *libvirt;
    char host[256];
};

static void usage(FILE *f)
{
    fprintf(f, "usage: pvefsd [-f] [--local] [--node NAME] [--data DIR] [MOUNTPOINT]\n"
               "  -f            stay in the foreground\n"
               "  --local       standalone node: no corosync, always quorate\n"
               "  --node NAME   this node's name (default: the short hostname)\n"
               "  --data DIR    data directory (default: /var/lib/pvefs)\n"
               "  --libvirt URI libvirt URI of this node (default: $PVEFS_LIBVIRT_URI, else\n"
               "                qemu:///system when libvirtd runs, else an embedded libvirt)\n"
               "  -d            FUSE debug output (implies -f)\n"
               "  MOUNTPOINT    default: /pve\n");
}

/* Containers: <data>/lxc holds the LXC configs pvefs generates; cgroups go under
 * $PVEFS_LXC_CGROUP (default "lxc", as on Proxmox). */
static void start_lxc_driver(struct fs *fs, const struct opts *o)
{
    static char lxcpath[1024];
    struct lxc_env env = {0};

    snprintf(lxcpath, sizeof(lxcpath), "%s/lxc", o->data);
    env.node = fs->node;
    env.lxcpath = lxcpath;
    env.cgroup = getenv("PVEFS_LXC_CGROUP");
    env.resolve = storage_resolve;
    env.resolve_arg = fs;
    env.bridge = net_guest_bridge;
    env.bridge_arg = (void *)fs->node;
    env.on_event = lxc_event;
    env.event_arg = fs;
    if (drv_lxc_start(&env))
        clog_append("lxc", "LXC driver unavailable on %s; container actions will fail with ENOTSUP",
                    fs->node);
}

/* The QEMU driver: libvirt per --libvirt, its state under the data dir. A node whose
 * libvirt cannot be reached still serves the tree; its QEMU actions say why they fail. */
static void start_guest_drivers(struct fs *fs, const struct opts *o)
{
    static char root[1024], logdir[1024];
    struct qemu_env env = {0};

    snprintf(root, sizeof(root), "%s/libvirt", o->data);
    snprintf(logdir, sizeof(logdir), "%s/serial", o->data);
    mkdir(root, 0700);
    mkdir(logdir, 0755);
    env.uri = o->libvirt ? o->libvirt : getenv("PVEFS_LIBVIRT_URI");
    env.root = root;
    env.logdir = logdir;
    env.resolve = storage_resolve;
    env.resolve_arg = fs;
    env.bridge = net_guest_bridge;
    env.bridge_arg = (void *)fs->node;
    env.on_event = guest_event;
    env.event_arg = fs;
    if (drv_qemu_start(&env))
        clog_append("qemu", "QEMU driver unavailable on %s; VM actions will fail with ENOTSUP",
                    fs->node);
    start_lxc_driver(fs, o);
}

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"local", no_argument, NULL, 'l'},      {"node", required_argument, NULL, 'n'},
        {"data", required_argument, NULL, 'D'}, {"libvirt", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->data = "/var/lib/pvefs";
    o->mnt = "/pve";
    while ((c = getopt_long(argc, argv, "fdh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            o->foreground = 1;
            break;
        case 'd':
            o->debug = o->foreground = 1;
            break;
        case 'l':
            o->local = 1;
            break;
        case 'n':
            o->node = optarg;
            break;
        case 'D':
            o->data = optarg;
            break;
        case 'L':
            o->libvirt = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc)
        o->mnt = argv[optind++];
    if (optind < argc) {
        usage(stderr);
        return -1;
    }
    if (!o->node) {
        if (gethostname(o->host, sizeof(o->host) - 1))
            snprintf(o->host, sizeof(o->host), "localhost");
        o->host[strcspn(o->host, ".")] = 0;
        o->node = o->host;
    }
    if (!*o->node || strlen(o->node) > 63 || strchr(o->node, '/') || o->node[0] == '.') {
        fprintf(stderr, "pvefsd: '%s' is not a valid node name\n", o->node);
        return -1;
    }
    return 0;
}

/* A daemon killed with -9 leaves a dead FUSE mount ("transport endpoint is not connected"). */
static int prepare_mountpoint(const char *mnt)
{
    struct statfs sfs;
    struct stat st;

    /* statfs always reaches the FUSE server; stat may be answered from the attr cache. */
    if (statfs(mnt, &sfs) && errno == ENOTCONN) {
        if (umount2(mnt, MNT_DETACH))
            fprintf(stderr, "pvefsd: cannot detach stale mount %s: %s\n", mnt, strerror(errno));
        else
            fprintf(stderr, "pvefsd: detached stale mount at %s\n", mnt);
    }
    if (stat(mnt, &st) && errno == ENOENT && mkdir(mnt, 0755) && errno != EEXIST) {
        fprintf(stderr, "pvefsd: cannot create mount point %s: %s\n", mnt, strerror(errno));
        return -1;
    }
    return 0;
}

static int stopping; /* atomic */

static int session_exited(void *arg)
{
    return fuse_session_exited(arg);
}

/* Cluster mode: makes this node's part of the tree once the cluster lets it write. */
static void *skeleton_main(void *arg)
{
    struct fs *fs = arg;
    char err[512];

    while (!__atomic_load_n(&stopping, __ATOMIC_ACQUIRE)) {
        if (store_quorate(fs->st) && fs_skeleton(fs, err, sizeof(err)) == 0)
            return NULL;
        usleep(100000);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct fs fs = {.hlock = PTHREAD_MUTEX_INITIALIZER};
    struct store_cfg cfg = {0};
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    struct fuse_loop_config loop = {.clone_fd = 0, .max_idle_threads = 8};
    struct fuse_session *se = NULL;
    struct timespec ts;
    pthread_t skel;
    int have_skel = 0;
    char err[512] = "";
    struct ha_timeouts ha_to;
    int rc = 1;

    if (parse(argc, argv, &o))
        return 2;
    /* HA timeouts that could break fencing refuse the start, not a later failover */
    if (ha_timeouts_env(&ha_to, err, sizeof(err))) {
        fprintf(stderr, "pvefsd: HA timeouts: %s\n", err);
        return 2;
    }
    /* A name corosync does not know would join as a member nobody configured (and be
     * marked for fencing): refused before anything is spawned, opened or mounted. */
    if (!o.local && qrm_check_node(o.node, 30, err, sizeof(err))) {
        fprintf(stderr, "pvefsd: %s\n", err);
        return 1;
    }
    /* before any thread exists, like the LXC worker: it must outlive this process */
    if (ha_wd_spawn(err, sizeof(err)))
        fprintf(stderr, "pvefsd: no HA watchdog process: %s\n", err);
    /* before any thread or descriptor exists: liblxc's process gets none of them */
    if (geteuid() == 0) {
        char lxcpath[1100];
        snprintf(lxcpath, sizeof(lxcpath), "%s/lxc", o.data);
        if (lxc_worker_spawn(lxcpath, err, sizeof(err)))
            fprintf(stderr, "pvefsd: no LXC worker: %s\n", err);
    }
    clog_init(o.node);
    cfg.datadir = o.data;
    cfg.node = o.node;
    cfg.nodeid = 1;
    cfg.uniq = pv_type_uniq;
    cfg.cluster = !o.local;
    cfg.wait_s = 30;
    if (store_open(&fs.st, &cfg, err, sizeof(err))) {
        fprintf(stderr, "pvefsd: %s\n", err);
        return 1;
    }
    fs.mem = store_memdb(fs.st);
    fs.node = o.node;
    fs.datadir = o.data;
    clock_gettime(CLOCK_REALTIME, &ts);
    fs.start_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (!o.local && fs_cluster_start(&fs, err, sizeof(err))) {
        fprintf(stderr, "pvefsd: %s\n", err);
        goto out_store;
    }
    /* A cluster node gets its tree by syncing, which needs quorum: make the skeleton later. */
    if (o.local && fs_skeleton(&fs, err, sizeof(err))) {
        fprintf(stderr, "pvefsd: %s\n", err);
        goto out_store;
    }
    if (prepare_mountpoint(o.mnt))
        goto out_store;

    if (fuse_opt_add_arg(&args, "pvefsd") ||
        fuse_opt_add_arg(&args, "-oallow_other,default_permissions,fsname=pvefs,subtype=pvefs") ||
        (o.debug && fuse_opt_add_arg(&args, "-d")))
        goto out_args;
    se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), &fs);
    if (!se)
        goto out_args;
    fs.se = se;
    if (fuse_set_signal_handlers(se))
        goto out_session;
    if (fuse_session_mount(se, o.mnt)) {
        fprintf(stderr, "pvefsd: cannot mount %s\n", o.mnt);
        goto out_signals;
    }
    if (fuse_daemonize(o.foreground))
        goto out_unmount;
    store_note_pid(fs.st);
    store_set_abort(fs.st, session_exited, se);
    store_on_change(fs.st, notify_changes, &fs);
    if (notify_start(&fs)) {
        fprintf(stderr, "pvefsd: cannot start the notifier thread\n");
        goto out_unmount;
    }
    start_guest_drivers(&fs, &o);
    if (stor_mon_start(&fs))
        fprintf(stderr, "pvefsd: cannot start the storage monitor; storage status stays empty\n");
    if (net_mon_start(&fs))
        fprintf(stderr, "pvefsd: cannot start the network monitor; network/ is not mirrored\n");
    if (sdn_mon_start(&fs))
        fprintf(stderr, "pvefsd: cannot start the SDN agent; sdn/ is not applied here\n");
    if (ha_run_start(&fs, &ha_to))
        fprintf(stderr, "pvefsd: cannot start the HA agents; HA resources are not managed here\n");
    if (!o.local && pthread_create(&skel, NULL, skeleton_main, &fs) == 0)
        have_skel = 1;
    clog_append("pvefsd", "node %s serving %s (data %s, %s mode)", o.node, o.mnt, o.data,
                o.local ? "local" : "cluster");
    /* A signal ends the loop with the signal number: a clean stop. */
    rc = fuse_session_loop_mt(se, &loop) < 0 ? 1 : 0;
    if (have_skel) {
        __atomic_store_n(&stopping, 1, __ATOMIC_RELEASE);
        pthread_join(skel, NULL);
    }
    clog_append("pvefsd", "stopping");
    ha_run_stop(&fs); /* stops this node's HA guests while the drivers still run */
    stor_mon_stop(&fs);
    net_mon_stop(&fs);
    sdn_mon_stop();
    drv_qemu_stop();
    drv_lxc_stop();
    notify_stop(&fs);
    io_free_all(&fs);
out_unmount:
    fuse_session_unmount(se);
out_signals:
    fuse_remove_signal_handlers(se);
out_session:
    fuse_session_destroy(se);
out_args:
    fuse_opt_free_args(&args);
out_store:
    if (!o.local)
        fs_cluster_stop(&fs);
    store_close(fs.st);
    notify_free(&fs);
    return rc;
}
