// clang-format off
/* Build (from the repository root):
 * gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined -o build/asan/netprobe tests/net/netprobe.c drivers/net_link.c drivers/net_apply.c drivers/net_ovs.c fs/buf.c $(pkg-config --cflags --libs libnl-route-3.0 libmnl)
 */
// clang-format on
/*
 * netprobe: a command line over drivers/net.h, for tests and for poking at a namespace by
 * hand (run it under `ip netns exec`). Writes print "changed" or "unchanged"; errors go to
 * stderr and the exit code is the errno, so a test can assert both. `netprobe batch` reads
 * one command per line from stdin and prints one result per line. */
#include "../../drivers/net.h"
#include "../../fs/buf.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What read commands return: they printed their own output, there is no "changed". */
#define PRINTED 1

static const char *opt(const char *s)
{
    return strcmp(s, "-") ? s : NULL;
}

static unsigned num(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);

    if (!*s || *end || v > 0xffffffffUL) {
        fprintf(stderr, "netprobe: \"%s\" is not a number\n", s);
        exit(EINVAL);
    }
    return (unsigned)v;
}

static int cmd_list(char **a, int n, int *chg, char *err, size_t len)
{
    struct net_link *v;
    int cnt, rc = net_link_list(&v, &cnt, err, len);

    (void)a;
    (void)n;
    (void)chg;
    for (int i = 0; !rc && i < cnt; i++)
        printf("%d %s %s %s %s\n", v[i].ifindex, v[i].name, v[i].type, v[i].state,
               v[i].master[0] ? v[i].master : "-");
    if (!rc)
        net_link_list_free(v, cnt);
    return rc ? rc : PRINTED;
}

static int cmd_show(char **a, int n, int *chg, char *err, size_t len)
{
    struct pv_buf b = {0};
    struct net_link l;
    int rc = net_link_get(a[0], &l, err, len);

    (void)n;
    (void)chg;
    if (rc)
        return rc;
    rc = net_link_render(&l, &b);
    if (!rc)
        fputs(b.p, stdout);
    pv_buf_free(&b);
    net_link_free(&l);
    return rc ? rc : PRINTED;
}

static int cmd_bridge(char **a, int n, int *chg, char *err, size_t len)
{
    return net_bridge_ensure(a[0], n > 1 ? num(a[1]) : 0, chg, err, len);
}

static int cmd_vxlan(char **a, int n, int *chg, char *err, size_t len)
{
    return net_vxlan_ensure(a[0], num(a[1]), opt(a[2]), num(a[3]), n > 5 ? num(a[5]) : 0, opt(a[4]),
                            chg, err, len);
}

static int cmd_peers(char **a, int n, int *chg, char *err, size_t len)
{
    return net_vxlan_set_peers(a[0], (const char *const *)a + 1, n - 1, chg, err, len);
}

static int cmd_veth(char **a, int n, int *chg, char *err, size_t len)
{
    (void)n;
    return net_veth_ensure(a[0], a[1], chg, err, len);
}

static int cmd_del(char **a, int n, int *chg, char *err, size_t len)
{
    (void)n;
    return net_link_delete(a[0], chg, err, len);
}

static int cmd_master(char **a, int n, int *chg, char *err, size_t len)
{
    (void)n;
    return net_link_set_master(a[0], opt(a[1]), chg, err, len);
}

static int cmd_up(char **a, int n, int *chg, char *err, size_t len)
{
    (void)n;
    return net_link_set_up(a[0], 1, chg, err, len);
}

static int cmd_down(char **a, int n, int *chg, char *err, size_t len)
{
    (void)n;
    return net_link_set_up(a[0], 0, chg, err, len);
}

static int cmd_mtu(char **a, int n, int *chg, char *err, size_t len)
{
    (void)n;
    return net_link_set_mtu(a[0], num(a[1]), chg, err, len);
}

static int cmd_vlanfilter(char **a, int n, int *chg, char *err, size_t len)
{
    (void)n;
    return net_bridge_vlan_filtering(a[0], (int)num(a[1]), chg, err, len);
}

static int cmd_ovsbr(char **a, int n, int *chg, char *err, size_t len)
{
    return net_ovs_bridge_ensure(a[0], n > 1 ? a[1] : NULL, chg, err, len);
}

static int cmd_ovsport(char **a, int n, int *chg, char *err, size_t len)
{
    return net_ovs_port_ensure(a[0], a[1], n > 2 ? (int)num(a[2]) : 0, chg, err, len);
}

static int cmd_ovsdel(char **a, int n, int *chg, char *err, size_t len)
{
    (void)n;
    return net_ovs_port_delete(a[0], chg, err, len);
}

/* Concurrency: each thread creates, re-ensures, reads and deletes its own bridge. */
struct worker {
    pthread_t t;
    int id, iters, rc;
    char err[512];
};

static void *work(void *p)
{
    struct worker *w = p;
    char name[IFNAMSIZ];
    struct net_link *v;
    int chg, cnt, i;

    snprintf(name, sizeof name, "thr%d", w->id);
    for (i = 0; i < w->iters; i++) {
        if ((w->rc = net_bridge_ensure(name, 1400, &chg, w->err, sizeof w->err)) || !chg ||
            (w->rc = net_bridge_ensure(name, 1400, &chg, w->err, sizeof w->err)) || chg ||
            (w->rc = net_link_list(&v, &cnt, w->err, sizeof w->err)))
            break;
        net_link_list_free(v, cnt);
        if ((w->rc = net_link_delete(name, &chg, w->err, sizeof w->err)) || !chg)
            break;
    }
    if (!w->rc && i < w->iters) { /* left the loop on a wrong *changed */
        w->rc = -EPROTO;
        snprintf(w->err, sizeof w->err, "%s: wrong changed flag in iteration %d", name, i);
    }
    return NULL;
}

static int cmd_threads(char **a, int n, int *chg, char *err, size_t len)
{
    int nt = (int)num(a[0]), iters = n > 1 ? (int)num(a[1]) : 10, rc = 0;
    struct worker *w = calloc((size_t)nt, sizeof *w);

    (void)chg;
    if (!w)
        return -ENOMEM;
    for (int i = 0; i < nt; i++) {
        w[i].id = i;
        w[i].iters = iters;
        if (pthread_create(&w[i].t, NULL, work, &w[i]))
            w[i].rc = -EAGAIN;
    }
    for (int i = 0; i < nt; i++) {
        if (w[i].rc != -EAGAIN)
            pthread_join(w[i].t, NULL);
        if (!rc && w[i].rc) {
            rc = w[i].rc ? w[i].rc : -EPROTO;
            snprintf(err, len, "thread %d: %s", i, w[i].err);
        }
    }
    free(w);
    if (!rc)
        printf("ok %d threads x %d\n", nt, iters);
    return rc ? rc : PRINTED;
}

static const struct {
    const char *name;
    int min, max; /* argument counts */
    int (*fn)(char **, int, int *, char *, size_t);
    const char *usage;
} cmds[] = {
    {"list", 0, 0, cmd_list, ""},
    {"show", 1, 1, cmd_show, "<iface>"},
    {"bridge", 1, 2, cmd_bridge, "<name> [mtu]"},
    {"vxlan", 5, 6, cmd_vxlan, "<name> <vni> <local|-> <dstport> <bridge|-> [mtu]"},
    {"peers", 1, 64, cmd_peers, "<vxlan> [ip...]"},
    {"veth", 2, 2, cmd_veth, "<name> <peer>"},
    {"del", 1, 1, cmd_del, "<name>"},
    {"master", 2, 2, cmd_master, "<name> <bridge|->"},
    {"up", 1, 1, cmd_up, "<name>"},
    {"down", 1, 1, cmd_down, "<name>"},
    {"mtu", 2, 2, cmd_mtu, "<name> <mtu>"},
    {"vlanfilter", 2, 2, cmd_vlanfilter, "<bridge> 0|1"},
    {"ovsbr", 1, 2, cmd_ovsbr, "<name> [datapath_type]"},
    {"ovsport", 2, 3, cmd_ovsport, "<bridge> <port> [tag]"},
    {"ovsdel", 1, 1, cmd_ovsdel, "<port>"},
    {"threads", 1, 2, cmd_threads, "<threads> [iterations]"},
};

/* Run one command line (argv[0] is the command); the result is the exit code. */
static int dispatch(int argc, char **argv)
{
    char err[1024] = "";
    int changed = 0, rc;

    for (size_t i = 0; argc > 0 && i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(argv[0], cmds[i].name) != 0)
            continue;
        if (argc - 1 < cmds[i].min || argc - 1 > cmds[i].max) {
            fprintf(stderr, "usage: netprobe %s %s\n", cmds[i].name, cmds[i].usage);
            return EINVAL;
        }
        rc = cmds[i].fn(argv + 1, argc - 1, &changed, err, sizeof err);
        if (rc == PRINTED)
            return 0;
        if (rc < 0) {
            fprintf(stderr, "netprobe: %s\n", err[0] ? err : strerror(-rc));
            return -rc;
        }
        puts(changed ? "changed" : "unchanged");
        fflush(stdout);
        return 0;
    }
    fprintf(stderr, "usage: netprobe <command> ... | netprobe batch < lines; commands:\n");
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(stderr, "  %s %s\n", cmds[i].name, cmds[i].usage);
    return EINVAL;
}

/* "batch": one command per stdin line, one result per line, stop at the first error. Lets a
 * test apply a node's whole configuration in one process (one sanitizer start and exit). */
static int batch(void)
{
    char line[4096], *v[72];
    int rc = 0;

    while (!rc && fgets(line, sizeof line, stdin)) {
        int n = 0;

        for (char *save, *t = strtok_r(line, " \t\n", &save); t && n < 71;
             t = strtok_r(NULL, " \t\n", &save))
            v[n++] = t;
        if (n && v[0][0] != '#')
            rc = dispatch(n, v);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "batch"))
        return batch();
    return dispatch(argc - 1, argv + 1);
}
