/*
 * cpglat: bare corosync CPG baselines for tests/bench/cluster_bench.py. Run it inside a
 * node's network namespace (nsenter --net=/run/netns/...): corosync's IPC uses abstract
 * unix sockets, which are per network namespace, so it talks to that node's corosync.
 *
 *   cpglat [-g GROUP] [-t SECS] lat COUNT SIZE [WARMUP]
 *       joins GROUP (default "pvefs-cpglat"), then COUNT times: multicast one SIZE-byte
 *       CPG_TYPE_AGREED message and wait for its own delivery (the total-order round trip a
 *       replicated write needs at least once). WARMUP (default 20) untimed round trips first.
 *       stdout: one line per sample (microseconds), then
 *       "RESULT n=COUNT size=SIZE p50=..us p99=..us min=..us max=..us"
 *   cpglat [-g GROUP] [-t SECS] watch NODEID
 *       follows the totem membership (not the group's: nobody needs to join on NODEID).
 *       Prints "READY <mono>" once NODEID is a member, then "DOWN <mono>" when a membership
 *       without NODEID is delivered, and exits 0. <mono> is CLOCK_MONOTONIC in seconds (the
 *       same clock as Python's time.monotonic(), in every network namespace).
 * Exit status 2 on a corosync error or timeout (-t, default 60 s).
 *
 * Build: gcc -O2 -std=c11 -D_GNU_SOURCE -o cpglat cpglat.c -lcpg
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <corosync/corotypes.h>
#include <corosync/cpg.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x7076636cu /* "pvcl" */

struct hdr {
    uint32_t magic, pid, seq, pad;
};

static cpg_handle_t h;
static struct cpg_name group;
static uint32_t my_nodeid, my_pid;
static long delivered_seq = -1;
static int totem_seen, watch_node, node_present, node_gone;

static double mono(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, int e)
{
    fprintf(stderr, "cpglat: %s: cs_error %d\n", what, e);
    exit(2);
}

static void deliver_cb(cpg_handle_t hd, const struct cpg_name *g, uint32_t nodeid, uint32_t pid, void *msg,
                       size_t len)
{
    const struct hdr *m = msg;

    (void)hd;
    (void)g;
    if (len >= sizeof(*m) && m->magic == MAGIC && nodeid == my_nodeid && pid == my_pid && m->pid == my_pid)
        delivered_seq = m->seq;
}

static void confchg_cb(cpg_handle_t hd, const struct cpg_name *g, const struct cpg_address *m, size_t nm,
                       const struct cpg_address *l, size_t nl, const struct cpg_address *j, size_t nj)
{
    (void)hd, (void)g, (void)m, (void)nm, (void)l, (void)nl, (void)j, (void)nj;
}

static void totem_cb(cpg_handle_t hd, struct cpg_ring_id rid, uint32_t n, const uint32_t *ids)
{
    int in = 0;

    (void)hd;
    (void)rid;
    totem_seen = 1;
    for (uint32_t i = 0; i < n; i++)
        in |= ids[i] == (uint32_t)watch_node;
    if (in && !node_present) {
        node_present = 1;
        printf("READY %.6f\n", mono());
        fflush(stdout);
    } else if (!in && node_present && !node_gone) {
        node_gone = 1;
        printf("DOWN %.6f\n", mono());
        fflush(stdout);
    }
}

/* Waits up to ms for the CPG fd and dispatches what is there. */
static void pump(int ms)
{
    struct pollfd p = {.events = POLLIN};
    cs_error_t e;

    if (cpg_fd_get(h, &p.fd) != CS_OK)
        die("cpg_fd_get", CS_ERR_LIBRARY);
    if (poll(&p, 1, ms) < 0 && errno != EINTR)
        die("poll", CS_ERR_LIBRARY);
    if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
        die("disconnected from corosync", CS_ERR_LIBRARY);
    e = cpg_dispatch(h, CS_DISPATCH_ALL);
    if (e != CS_OK && e != CS_ERR_TRY_AGAIN)
        die("cpg_dispatch", e);
}

static void connect_join(double deadline)
{
    cpg_model_v1_data_t model = {.model = CPG_MODEL_V1,
                                 .cpg_deliver_fn = deliver_cb,
                                 .cpg_confchg_fn = confchg_cb,
                                 .cpg_totem_confchg_fn = totem_cb,
                                 .flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF};
    cs_error_t e;

    while ((e = cpg_model_initialize(&h, CPG_MODEL_V1, (cpg_model_data_t *)&model, NULL)) != CS_OK) {
        if (mono() > deadline)
            die("cpg_model_initialize", e);
        usleep(10000);
    }
    if ((e = cpg_local_get(h, &my_nodeid)) != CS_OK)
        die("cpg_local_get", e);
    while ((e = cpg_join(h, &group)) == CS_ERR_TRY_AGAIN) {
        if (mono() > deadline)
            die("cpg_join", e);
        usleep(10000);
    }
    if (e != CS_OK)
        die("cpg_join", e);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int do_lat(long count, size_t size, long warmup, double deadline)
{
    char *buf = calloc(1, size < sizeof(struct hdr) ? sizeof(struct hdr) : size);
    double *us = calloc((size_t)count, sizeof(*us));
    struct hdr *m = (struct hdr *)buf;
    struct iovec iov = {buf, size < sizeof(struct hdr) ? sizeof(struct hdr) : size};

    if (!buf || !us)
        die("out of memory", CS_ERR_NO_MEMORY);
    memset(buf, 'x', iov.iov_len);
    connect_join(deadline);
    while (!totem_seen) /* the initial totem membership: the join has been processed */
        if (pump(50), mono() > deadline)
            die("no membership after the join", CS_ERR_TIMEOUT);
    for (long i = 0; i < warmup + count; i++) {
        double t0 = mono();
        cs_error_t e;

        m->magic = MAGIC;
        m->pid = my_pid;
        m->seq = (uint32_t)i;
        while ((e = cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1)) == CS_ERR_TRY_AGAIN)
            pump(1);
        if (e != CS_OK)
            die("cpg_mcast_joined", e);
        while (delivered_seq != i) {
            pump(100);
            if (mono() > deadline)
                die("own message not delivered in time", CS_ERR_TIMEOUT);
        }
        if (i >= warmup)
            us[i - warmup] = (mono() - t0) * 1e6;
    }
    for (long i = 0; i < count; i++)
        printf("%.1f\n", us[i]);
    qsort(us, (size_t)count, sizeof(*us), cmp_double);
    printf("RESULT n=%ld size=%zu p50=%.1fus p99=%.1fus min=%.1fus max=%.1fus\n", count, size, us[count / 2],
           us[(long)((double)count * 0.99) < count ? (long)((double)count * 0.99) : count - 1], us[0],
           us[count - 1]);
    cpg_leave(h, &group);
    cpg_finalize(h);
    free(buf);
    free(us);
    return 0;
}

static int do_watch(double deadline)
{
    connect_join(deadline);
    while (!node_gone) {
        pump(100);
        if (mono() > deadline) {
            fprintf(stderr, "cpglat: watch: node %d %s\n", watch_node,
                    node_present ? "did not leave in time" : "never seen in the membership");
            return 2;
        }
    }
    cpg_finalize(h);
    return 0;
}

static long num(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (!*s || *end || v < 0) {
        fprintf(stderr, "cpglat: '%s' is not a number\n", s);
        exit(64);
    }
    return v;
}

int main(int argc, char **argv)
{
    const char *gname = "pvefs-cpglat";
    double timeout = 60;
    int opt;

    while ((opt = getopt(argc, argv, "+g:t:")) != -1) {
        switch (opt) {
        case 'g': gname = optarg; break;
        case 't': timeout = atof(optarg); break;
        default: fprintf(stderr, "usage: see the head of cpglat.c\n"); return 64;
        }
    }
    if (strlen(gname) >= sizeof(group.value)) {
        fprintf(stderr, "cpglat: group name too long\n");
        return 64;
    }
    group.length = (uint32_t)strlen(gname);
    memcpy(group.value, gname, group.length);
    my_pid = (uint32_t)getpid();
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (optind + 3 <= argc && !strcmp(argv[optind], "lat")) {
        long count = num(argv[optind + 1]), size = num(argv[optind + 2]);
        long warmup = optind + 3 < argc ? num(argv[optind + 3]) : 20;

        if (count < 1 || size < 1 || size > 1 << 20) {
            fprintf(stderr, "cpglat: bad COUNT or SIZE\n");
            return 64;
        }
        return do_lat(count, (size_t)size, warmup, mono() + timeout);
    }
    if (optind + 2 == argc && !strcmp(argv[optind], "watch")) {
        watch_node = (int)num(argv[optind + 1]);
        return do_watch(mono() + timeout);
    }
    fprintf(stderr, "usage: cpglat [-g GROUP] [-t SECS] lat COUNT SIZE [WARMUP] | watch NODEID\n");
    return 64;
}
