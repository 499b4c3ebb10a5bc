/* files_cluster: cluster/{name,quorate,members,errors,metrics} and the local link. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cluster/clog.h"
#include "../cluster/kvs.h"
#include "../cluster/quorum.h"
#include "files.h"
#include "fs.h"

int cluster_name_render(const struct pv_obj *o, struct pv_buf *out)
{
    struct qrm *q = fs_cluster_qrm(o->fs);
    char name[128];

    /* A --local node is a standalone host, as Proxmox calls one outside any cluster. */
    if (!q)
        return pv_buf_printf(out, "standalone\n");
    qrm_cluster_name(q, name, sizeof(name));
    return pv_buf_printf(out, "%s\n", name);
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

/* 1 if the pvefs daemon of nodeid is live on the status channel (matched by id, not name). */
static int daemon_online(const struct kvs_peer *kp, size_t n, uint32_t nodeid)
{
    for (size_t i = 0; i < n; i++)
        if (kp[i].nodeid == nodeid)
            return kp[i].online;
    return 0;
}

/*
 * Online, as pmxcfs's .members means it: corosync has the node in its membership
 * and its pvefs daemon is live, so a command sent there has someone to run it.
 */
int cluster_members_render(const struct pv_obj *o, struct pv_buf *out)
{
    struct qrm *q = fs_cluster_qrm(o->fs);
    struct kvs *k = fs_cluster_kvs(o->fs);
    struct qrm_node *nodes = q ? calloc(QRM_MAX_NODES, sizeof(*nodes)) : NULL;
    struct kvs_peer *kp = k ? calloc(QRM_MAX_NODES, sizeof(*kp)) : NULL;
    size_t n = 0, np;
    char addr[64];

    if (nodes && kp) {
        uint32_t self = qrm_nodeid(q);
        n = qrm_members(q, nodes, QRM_MAX_NODES);
        np = kvs_peers(k, kp, QRM_MAX_NODES);
        for (size_t i = 0; i < n; i++) {
            int on = nodes[i].online &&
                     (nodes[i].nodeid == self || daemon_online(kp, np, nodes[i].nodeid));
            pv_buf_printf(out, "%u %s %s %s\n", nodes[i].nodeid, nodes[i].name,
                          on ? "online" : "offline", nodes[i].addr[0] ? nodes[i].addr : "-");
        }
    }
    free(nodes);
    free(kp);
    /* Local mode, or corosync not answering yet: this node is all that is known. */
    if (n)
        return out->oom ? -ENOMEM : 0;
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

/* The known nodes: this one, the configured ones and whoever announced itself. */
struct known {
    char name[64];
    int online;
    char *text; /* its status (this node: rendered now), NULL if offline */
};

static size_t add_known(struct known *kn, size_t n, size_t max, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kn[i].name, name) == 0)
            return n;
    if (n == max || !name[0])
        return n;
    snprintf(kn[n].name, sizeof(kn[n].name), "%s", name);
    return n + 1;
}

#define MAX_KNOWN (2 * QRM_MAX_NODES + 1)

static size_t known_nodes(struct fs *fs, struct known *kn)
{
    struct qrm *q = fs_cluster_qrm(fs);
    struct kvs *k = fs_cluster_kvs(fs);
    struct qrm_node *qn = calloc(QRM_MAX_NODES, sizeof(*qn));
    struct kvs_peer *kp = calloc(QRM_MAX_NODES, sizeof(*kp));
    struct pv_obj self = {.fs = fs};
    struct pv_buf b = {0};
    size_t n = add_known(kn, 0, MAX_KNOWN, fs->node), m;

    for (m = q && qn ? qrm_members(q, qn, QRM_MAX_NODES) : 0; m; m--)
        n = add_known(kn, n, MAX_KNOWN, qn[m - 1].name);
    for (m = k && kp ? kvs_peers(k, kp, QRM_MAX_NODES) : 0; m; m--)
        n = add_known(kn, n, MAX_KNOWN, kp[m - 1].name);
    free(qn);
    free(kp);
    snprintf(self.name, sizeof(self.name), "%s", fs->node);
    snprintf(self.node, sizeof(self.node), "%s", fs->node);
    kn[0].online = 1;
    if (node_status_render(&self, &b) == 0 && !b.oom && b.p)
        kn[0].text = strndup(b.p, b.len);
    pv_buf_free(&b);
    for (size_t i = 1; k && i < n; i++) {
        size_t len;
        int64_t age;
        if (kvs_status(k, kn[i].name, &kn[i].text, &len, &kn[i].online, &age))
            continue;
        if (!kn[i].online) { /* a node that is down has no current figures */
            free(kn[i].text);
            kn[i].text = NULL;
        }
    }
    return n;
}

/* The number after "key:" at the start of a line of text; 0 if not found. */
static int figure(const char *text, const char *key, double *v)
{
    size_t kl = strlen(key);
    char *end;

    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) != 0 || p[kl] != ':')
            continue;
        *v = strtod(p + kl + 1, &end);
        return end != p + kl + 1;
    }
    return 0;
}

/* Node figures as metrics, from each node's status lines. */
static const struct {
    const char *metric, *help, *key;
    int prec;
} node_metrics[] = {
    {"pvefs_node_uptime_seconds", "Host uptime.", "uptime", 0},
    {"pvefs_node_cpu_ratio", "Share of CPU time busy over the last second.", "cpu", 4},
    {"pvefs_node_cpus", "Online CPUs.", "cpus", 0},
    {"pvefs_node_load1", "One-minute load average.", "loadavg", 2},
    {"pvefs_node_memory_total_bytes", "Memory size.", "memtotal", 0},
    {"pvefs_node_memory_used_bytes", "Memory in use (total less available).", "memused", 0},
    {"pvefs_node_swap_used_bytes", "Swap in use.", "swapused", 0},
};

static void gauge(struct pv_buf *out, const char *name, const char *help)
{
    pv_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

int cluster_metrics_render(const struct pv_obj *o, struct pv_buf *out)
{
    struct memdb *m = o->fs->mem;
    unsigned long long version, count, bytes, digest;
    struct qrm *q = fs_cluster_qrm(o->fs);
    struct known *kn = calloc(MAX_KNOWN, sizeof(*kn));
    size_t n;

    if (!kn)
        return -ENOMEM;
    memdb_rdlock(m);
    version = memdb_version(m);
    count = memdb_count(m);
    bytes = memdb_bytes(m);
    digest = memdb_digest(m);
    memdb_unlock(m);
    n = known_nodes(o->fs, kn);
    pv_buf_printf(out,
                  "# HELP pvefs_store_version Global version of the config store.\n"
                  "# TYPE pvefs_store_version counter\npvefs_store_version %llu\n",
                  version);
    gauge(out, "pvefs_store_entries", "Files and directories in the config store.");
    pv_buf_printf(out, "pvefs_store_entries %llu\n", count);
    gauge(out, "pvefs_store_bytes", "Bytes of file data in the store.");
    pv_buf_printf(out, "pvefs_store_bytes %llu\n", bytes);
    gauge(out, "pvefs_store_digest_info", "XXH3 digest of the whole tree.");
    pv_buf_printf(out, "pvefs_store_digest_info{digest=\"%016llx\"} 1\n", digest);
    gauge(out, "pvefs_cluster_quorate", "1 if the cluster has quorum.");
    pv_buf_printf(out, "pvefs_cluster_quorate %d\n", store_quorate(o->fs->st) ? 1 : 0);
    gauge(out, "pvefs_cluster_members", "Nodes in the current corosync membership.");
    pv_buf_printf(out, "pvefs_cluster_members %zu\n", q ? qrm_online(q) : (size_t)1);
    gauge(out, "pvefs_node_online", "1 if the node is online.");
    for (size_t i = 0; i < n; i++)
        pv_buf_printf(out, "pvefs_node_online{node=\"%s\"} %d\n", kn[i].name, kn[i].online);
    for (size_t j = 0; j < sizeof(node_metrics) / sizeof(node_metrics[0]); j++) {
        gauge(out, node_metrics[j].metric, node_metrics[j].help);
        for (size_t i = 0; i < n; i++) {
            double v;
            if (kn[i].text && figure(kn[i].text, node_metrics[j].key, &v))
                pv_buf_printf(out, "%s{node=\"%s\"} %.*f\n", node_metrics[j].metric, kn[i].name,
                              node_metrics[j].prec, v);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(kn[i].text);
    free(kn);
    return out->oom ? -ENOMEM : 0;
}
