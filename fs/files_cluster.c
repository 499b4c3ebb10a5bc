/* files_cluster: cluster/{name,quorate,members,errors,metrics} and the local link. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cluster/clog.h"
#include "files.h"
#include "fs.h"

int cluster_name_render(const struct pv_obj *o, struct pv_buf *out)
{
    (void)o;
    /* A --local node is a standalone host, as Proxmox calls one outside any cluster. */
    return pv_buf_printf(out, "standalone\n");
}

int cluster_quorate_render(const struct pv_obj *o, struct pv_buf *out)
{
    return pv_buf_printf(out, "%d\n", store_quorate(o->fs->st) ? 1 : 0);
}

static void primary_address(char *buf, size_t len)
{
    struct ifaddrs *ifa, *i;

    snprintf(buf, len, "127.0.0.1");
    if (getifaddrs(&ifa))
        return;
    for (i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) ||
            !(i->ifa_flags & IFF_UP))
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, buf,
                  (socklen_t)len);
        break;
    }
    freeifaddrs(ifa);
}

int cluster_members_render(const struct pv_obj *o, struct pv_buf *out)
{
    char addr[64];

    primary_address(addr, sizeof(addr));
    return pv_buf_printf(out, "%u %s online %s\n", store_nodeid(o->fs->st), o->fs->node, addr);
}

int cluster_errors_render(const struct pv_obj *o, struct pv_buf *out)
{
    char *b;
    size_t n;
    int rc;

    (void)o;
    if ((rc = clog_errors_render(&b, &n, NULL)))
        return rc;
    rc = pv_buf_add(out, b, n);
    free(b);
    return rc;
}

int root_local_render(const struct pv_obj *o, struct pv_buf *out)
{
    return pv_buf_printf(out, "nodes/%s", o->fs->node);
}

#define GAUGE(name, help) "# HELP " name " " help "\n# TYPE " name " gauge\n"

int cluster_metrics_render(const struct pv_obj *o, struct pv_buf *out)
{
    struct memdb *m = o->fs->mem;
    unsigned long long version, count, bytes, digest;
    const char *n = o->fs->node;
    struct node_fig f;

    memdb_rdlock(m);
    version = memdb_version(m);
    count = memdb_count(m);
    bytes = memdb_bytes(m);
    digest = memdb_digest(m);
    memdb_unlock(m);
    node_figures(&f);
    pv_buf_printf(
        out,
        "# HELP pvefs_store_version Global version of the config store.\n"
        "# TYPE pvefs_store_version counter\npvefs_store_version %llu\n" GAUGE(
            "pvefs_store_entries",
            "Files and directories in the config store.") "pvefs_store_entries "
                                                          "%llu\n" GAUGE(
                                                              "pvefs_store_"
                                                              "bytes",
                                                              "Bytes of file "
                                                              "data in the "
                                                              "store.") "pvefs"
                                                                        "_stor"
                                                                        "e_"
                                                                        "bytes"
                                                                        " %"
                                                                        "llu"
                                                                        "\n" GAUGE(
                                                                            "pvefs_store_digest_"
                                                                            "info",
                                                                            "XXH3 digest of the "
                                                                            "whole tree.") "pvefs_"
                                                                                           "store_"
                                                                                           "digest_"
                                                                                           "info{"
                                                                                           "digest="
                                                                                           "\"%"
                                                                                           "016llx"
                                                                                           "\"} "
                                                                                           "1"
                                                                                           "\n" GAUGE(
                                                                                               "pve"
                                                                                               "fs_"
                                                                                               "clu"
                                                                                               "ste"
                                                                                               "r_"
                                                                                               "quo"
                                                                                               "rat"
                                                                                               "e",
                                                                                               "1 "
                                                                                               "if "
                                                                                               "the"
                                                                                               " cl"
                                                                                               "ust"
                                                                                               "er "
                                                                                               "has"
                                                                                               " qu"
                                                                                               "oru"
                                                                                               "m.") "pvefs_cluster_quorate %d\n",
        version, count, bytes, digest, store_quorate(o->fs->st) ? 1 : 0);
    pv_buf_printf(out,
                  GAUGE("pvefs_node_online", "1 if the node is online.") "pvefs_node_online{node="
                                                                         "\"%s\"} "
                                                                         "1\n" GAUGE(
                                                                             "pvefs_node_uptime_"
                                                                             "seconds",
                                                                             "Host uptime.") "pvefs"
                                                                                             "_"
                                                                                             "node_"
                                                                                             "uptim"
                                                                                             "e_"
                                                                                             "secon"
                                                                                             "ds{"
                                                                                             "node="
                                                                                             "\"%"
                                                                                             "s\"} "
                                                                                             "%."
                                                                                             "0f"
                                                                                             "\n" GAUGE(
                                                                                                 "p"
                                                                                                 "v"
                                                                                                 "e"
                                                                                                 "f"
                                                                                                 "s"
                                                                                                 "_"
                                                                                                 "n"
                                                                                                 "o"
                                                                                                 "d"
                                                                                                 "e"
                                                                                                 "_"
                                                                                                 "c"
                                                                                                 "p"
                                                                                                 "u"
                                                                                                 "_"
                                                                                                 "r"
                                                                                                 "a"
                                                                                                 "t"
                                                                                                 "i"
                                                                                                 "o",
                                                                                                 "S"
                                                                                                 "h"
                                                                                                 "a"
                                                                                                 "r"
                                                                                                 "e"
                                                                                                 " "
                                                                                                 "o"
                                                                                                 "f"
                                                                                                 " "
                                                                                                 "C"
                                                                                                 "P"
                                                                                                 "U"
                                                                                                 " "
                                                                                                 "t"
                                                                                                 "i"
                                                                                                 "m"
                                                                                                 "e"
                                                                                                 " "
                                                                                                 "b"
                                                                                                 "u"
                                                                                                 "s"
                                                                                                 "y"
                                                                                                 " "
                                                                                                 "o"
                                                                                                 "v"
                                                                                                 "e"
                                                                                                 "r"
                                                                                                 " "
                                                                                                 "t"
                                                                                                 "h"
                                                                                                 "e"
                                                                                                 " "
                                                                                                 "l"
                                                                                                 "a"
                                                                                                 "s"
                                                                                                 "t"
                                                                                                 " "
                                                                                                 "s"
                                                                                                 "e"
                                                                                                 "c"
                                                                                                 "o"
                                                                                                 "n"
                                                                                                 "d"
                                                                                                 ".") "pvefs_node_cpu_ratio{node=\"%s\"} %.4f\n" GAUGE("pvefs_node_cpus", "Online CPUs.") "pvefs_node_cpus{node=\"%s\"} %d\n" GAUGE("pvefs_node_load1",
                                                                                                                                                                                                                                    "One-minute load average.") "pvefs_node_load1{node=\"%s\"} %.2f\n" GAUGE("pvefs_node_memory_total_bytes", "Memory size.") "pvefs_node_memory_"
                                                                                                                                                                                                                                                                                                                                                              "total_bytes{node="
                                                                                                                                                                                                                                                                                                                                                              "\"%s\"} "
                                                                                                                                                                                                                                                                                                                                                              "%llu\n" GAUGE("pve"
                                                                                                                                                                                                                                                                                                                                                                             "fs_"
                                                                                                                                                                                                                                                                                                                                                                             "nod"
                                                                                                                                                                                                                                                                                                                                                                             "e_"
                                                                                                                                                                                                                                                                                                                                                                             "mem"
                                                                                                                                                                                                                                                                                                                                                                             "ory"
                                                                                                                                                                                                                                                                                                                                                                             "_us"
                                                                                                                                                                                                                                                                                                                                                                             "ed_"
                                                                                                                                                                                                                                                                                                                                                                             "byt"
                                                                                                                                                                                                                                                                                                                                                                             "es",
                                                                                                                                                                                                                                                                                                                                                                             "Mem"
                                                                                                                                                                                                                                                                                                                                                                             "ory"
                                                                                                                                                                                                                                                                                                                                                                             " in"
                                                                                                                                                                                                                                                                                                                                                                             " us"
                                                                                                                                                                                                                                                                                                                                                                             "e "
                                                                                                                                                                                                                                                                                                                                                                             "(to"
                                                                                                                                                                                                                                                                                                                                                                             "tal"
                                                                                                                                                                                                                                                                                                                                                                             " le"
                                                                                                                                                                                                                                                                                                                                                                             "ss "
                                                                                                                                                                                                                                                                                                                                                                             "ava"
                                                                                                                                                                                                                                                                                                                                                                             "ila"
                                                                                                                                                                                                                                                                                                                                                                             "ble"
                                                                                                                                                                                                                                                                                                                                                                             ").") "pvefs_node_memory_used_bytes{node=\"%s\"} %llu\n" GAUGE("pvefs_node_swap_used_bytes",
                                                                                                                                                                                                                                                                                                                                                                                                                                            "Swap in use.") "pvefs_node_swap_used_bytes{node=\"%s\"} %llu\n",
                  n, n, f.uptime, n, f.cpu, n, f.cpus, n, f.load[0], n, f.memtotal, n, f.memused, n,
                  f.swapused);
    return out->oom ? -1 : 0;
}
