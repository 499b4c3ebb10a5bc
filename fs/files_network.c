/*
 * files_network: nodes/<node>/network/<iface>/ (status, config, counters, ctl).
 *
 * mkdir makes a managed entry (its record says "managed: 1"); writing its config
 * makes or changes the device on the entry's node: the writer checks the
 * document and sends "config type=.. mtu=.. ports=a,b cidr=.. cidr6=.. snat=1" to
 * that node's ctl (fs_cmd forwards it), which checks everything it can before it
 * touches the kernel, so bad input changes nothing. rmdir sends "destroy" the same
 * way. The owner holds the monitor's lock around a change and records the result
 * before it answers, so status is current when write(2) or rmdir(2) returns.
 *
 * Ports a config drops are released only if the old config listed them: guests'
 * NICs that their drivers put on the bridge are never touched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cluster/clog.h"
#include "../drivers/net_extra.h"
#include "conf.h"
#include "files.h"
#include "network.h"

#define MAX_PORTS 32

/* What a config asks for. */
struct iface_spec {
    char type[16]; /* bridge | ovs-bridge | "" (none yet) */
    unsigned mtu;  /* 0: leave it */
    char ports[MAX_PORTS][IFNAMSIZ];
    int nports;
    struct iface_l3 l3; /* addresses and SNAT (net_l3.c) */
};

int iface_name_ok(const char *name, struct pv_err *e)
{
    size_t n = strlen(name);

    if (n == 0 || n >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != n)
        return pv_fail(e, EINVAL,
                       "'%.64s' is not a valid interface name (1-%d characters of a-z A-Z 0-9 "
                       ". _ -)",
                       name, IFNAMSIZ - 1);
    return 0;
}

static int has_port(const struct iface_spec *s, const char *p)
{
    for (int i = 0; i < s->nports; i++)
        if (strcmp(s->ports[i], p) == 0)
            return 1;
    return 0;
}

/* Adds the ports of list (separated by sep) to s. */
static int parse_ports(const char *list, char sep, struct iface_spec *s, struct pv_err *e)
{
    for (const char *p = list; *p;) {
        size_t l = strcspn(p, (char[]){sep, 0});
        char name[IFNAMSIZ];
        if (l) {
            if (l >= IFNAMSIZ)
                return pv_fail(e, EINVAL, "port name '%.*s' is longer than %d characters", (int)l,
                               p, IFNAMSIZ - 1);
            snprintf(name, sizeof(name), "%.*s", (int)l, p);
            if (iface_name_ok(name, e))
                return -e->err;
            if (has_port(s, name))
                return pv_fail(e, EINVAL, "port %s is listed twice", name);
            if (s->nports == MAX_PORTS)
                return pv_fail(e, EINVAL, "more than %d ports", MAX_PORTS);
            snprintf(s->ports[s->nports++], IFNAMSIZ, "%s", name);
        }
        p += l + (p[l] == sep);
    }
    return 0;
}

static int parse_mtu(const char *v, unsigned *mtu, struct pv_err *e)
{
    char *end;
    unsigned long m = strtoul(v, &end, 10);

    if (!*v || *end || m < 1280 || m > 65520)
        return pv_fail(e, EINVAL, "mtu '%.32s' is out of range 1280..65520", v);
    *mtu = (unsigned)m;
    return 0;
}

static int spec_from_doc(const char *doc, size_t len, struct iface_spec *s, struct pv_err *e)
{
    char v[1024];

    memset(s, 0, sizeof(*s));
    if (conf_get(doc, len, "type", s->type, sizeof(s->type)) < 0)
        s->type[0] = 0;
    if (conf_get(doc, len, "mtu", v, sizeof(v)) >= 0 && parse_mtu(v, &s->mtu, e))
        return -e->err;
    if (conf_get(doc, len, "ports", v, sizeof(v)) >= 0 && parse_ports(v, ' ', s, e))
        return -e->err;
    if (conf_get(doc, len, "cidr", v, sizeof(v)) > 0)
        snprintf(s->l3.cidr, sizeof(s->l3.cidr), "%.*s", (int)sizeof(s->l3.cidr) - 1, v);
    if (conf_get(doc, len, "cidr6", v, sizeof(v)) > 0)
        snprintf(s->l3.cidr6, sizeof(s->l3.cidr6), "%.*s", (int)sizeof(s->l3.cidr6) - 1, v);
    s->l3.snat = conf_get(doc, len, "snat", v, sizeof(v)) > 0 && conf_bool_true(v);
    return 0;
}

/* The stored config of dir as a spec (an absent or empty config: no type). */
static int stored_spec(struct fs *fs, uint64_t dir, struct iface_spec *s, struct pv_err *e)
{
    const struct memdb_entry *c;
    char *doc = NULL;
    size_t len = 0;
    int rc;

    memdb_rdlock(fs->mem);
    c = memdb_lookup(fs->mem, dir, "config");
    if (c && c->size && (doc = malloc(c->size)))
        memcpy(doc, c->data, (len = c->size));
    memdb_unlock(fs->mem);
    rc = spec_from_doc(doc ? doc : "", len, s, e);
    free(doc);
    return rc;
}

/* "type=bridge mtu=9000 ports=eth1,veth3", as iface_config_before sends it. */
static int spec_from_cmd(char *args, struct iface_spec *s, struct pv_err *e)
{
    char *save = NULL;

    memset(s, 0, sizeof(*s));
    for (char *w = strtok_r(args, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (strncmp(w, "type=", 5) == 0 && strlen(w + 5) < sizeof(s->type))
            snprintf(s->type, sizeof(s->type), "%s", w + 5);
        else if (strncmp(w, "mtu=", 4) == 0) {
            if (parse_mtu(w + 4, &s->mtu, e))
                return -e->err;
        } else if (strncmp(w, "ports=", 6) == 0) {
            if (parse_ports(w + 6, ',', s, e))
                return -e->err;
        } else if (strncmp(w, "cidr=", 5) == 0 && strlen(w + 5) < sizeof(s->l3.cidr))
            snprintf(s->l3.cidr, sizeof(s->l3.cidr), "%s", w + 5);
        else if (strncmp(w, "cidr6=", 6) == 0 && strlen(w + 6) < sizeof(s->l3.cidr6))
            snprintf(s->l3.cidr6, sizeof(s->l3.cidr6), "%s", w + 6);
        else if (strcmp(w, "snat=1") == 0)
            s->l3.snat = 1;
        else
            return pv_fail(e, EINVAL,
                           "unknown setting '%.64s' (type=, mtu=, ports=, cidr=, cidr6=, snat=1)",
                           w);
    }
    if (strcmp(s->type, "bridge") != 0 && strcmp(s->type, "ovs-bridge") != 0)
        return pv_fail(e, EINVAL, "unknown interface type '%s' (bridge or ovs-bridge)", s->type);
    return 0;
}

static int net_fail(const struct pv_obj *o, int rc, const char *err, struct pv_err *e)
{
    return pv_fail(e, rc < 0 ? -rc : EIO, "node %s: %s", o->node, err);
}

/* Every check that needs the kernel, before anything changes. */
static int check_ports(const struct pv_obj *o, const struct iface_spec *old,
                       const struct iface_spec *s, struct pv_err *e)
{
    for (int i = 0; i < s->nports; i++) {
        const char *p = s->ports[i];
        struct net_link l;
        char err[256];
        int rc;
        if (strcmp(p, o->name) == 0)
            return pv_fail(e, EINVAL, "%s cannot be a port of itself", p);
        if ((rc = net_link_get(p, &l, err, sizeof(err))) == -ENODEV)
            return pv_fail(e, EINVAL, "port %s does not exist on node %s", p, o->node);
        if (rc)
            return net_fail(o, rc, err, e);
        rc = l.master[0] && strcmp(l.master, o->name) != 0 && strcmp(l.master, "ovs-system") != 0 &&
             !has_port(old, p);
        if (rc)
            pv_fail(e, EBUSY, "port %s is already a port of %s on node %s", p, l.master, o->node);
        net_link_free(&l);
        if (rc)
            return -EBUSY;
    }
    return 0;
}

static int check_spec(const struct pv_obj *o, const struct iface_spec *old,
                      const struct iface_spec *s, struct pv_err *e)
{
    struct net_link l;
    char err[256];
    int rc;

    if (old->type[0] && strcmp(old->type, s->type) != 0)
        return pv_fail(e, EINVAL, "%s is a %s; its type cannot change (rmdir and mkdir it again)",
                       o->name, old->type);
    if (net_name_check("interface", o->name, err, sizeof(err)))
        return pv_fail(e, EINVAL, "%s", err);
    if (iface_l3_check(&s->l3, err, sizeof(err)))
        return pv_fail(e, EINVAL, "%s: %s", o->name, err);
    rc = net_link_get(o->name, &l, err, sizeof(err));
    if (rc && rc != -ENODEV)
        return net_fail(o, rc, err, e);
    if (rc == 0) {
        int bad = strcmp(s->type, "bridge") == 0 && strcmp(l.type, "bridge") != 0;
        if (bad)
            pv_fail(e, EEXIST, "%s exists on node %s as a %s device, not a bridge", o->name,
                    o->node, l.type);
        net_link_free(&l);
        if (bad)
            return -EEXIST;
    }
    return check_ports(o, old, s, e);
}

static int apply_bridge(const struct pv_obj *o, const struct iface_spec *old,
                        const struct iface_spec *s, char *err, size_t errlen)
{
    struct net_link l;
    int rc;

    if ((rc = net_bridge_ensure(o->name, s->mtu, NULL, err, errlen)))
        return rc;
    for (int i = 0; i < old->nports; i++) {
        if (has_port(s, old->ports[i]) || net_link_get(old->ports[i], &l, err, errlen))
            continue;
        rc = strcmp(l.master, o->name) == 0
                 ? net_link_set_master(old->ports[i], NULL, NULL, err, errlen)
                 : 0;
        net_link_free(&l);
        if (rc)
            return rc;
    }
    for (int i = 0; i < s->nports && !rc; i++)
        if (!(rc = net_link_set_master(s->ports[i], o->name, NULL, err, errlen)))
            rc = net_link_set_up(s->ports[i], 1, NULL, err, errlen);
    /* a port with a smaller MTU may have lowered the bridge's */
    if (!rc && s->mtu)
        rc = net_link_set_mtu(o->name, s->mtu, NULL, err, errlen);
    return rc;
}

static int apply_ovs(const struct pv_obj *o, const struct iface_spec *old,
                     const struct iface_spec *s, char *err, size_t errlen)
{
    /* Without the kernel module only the userspace datapath works. */
    const char *dp = access("/sys/module/openvswitch", F_OK) == 0 ? NULL : "netdev";
    int rc;

    if ((rc = net_ovs_bridge_ensure(o->name, dp, NULL, err, errlen)))
        return rc;
    for (int i = 0; i < old->nports && !rc; i++)
        if (!has_port(s, old->ports[i]))
            rc = net_ovs_port_delete(old->ports[i], NULL, err, errlen);
    for (int i = 0; i < s->nports && !rc; i++)
        if (!(rc = net_ovs_port_ensure(o->name, s->ports[i], 0, NULL, err, errlen)))
            rc = net_link_set_up(s->ports[i], 1, NULL, err, errlen);
    if (!rc && s->mtu)
        rc = net_ovs_bridge_mtu(o->name, s->mtu, err, errlen);
    if (!rc)
        rc = net_link_set_up(o->name, 1, NULL, err, errlen);
    return rc;
}

/* Makes the device match s (old: what was applied before). Monitor lock held. */
static int apply_spec(const struct pv_obj *o, const struct iface_spec *old,
                      const struct iface_spec *s, struct pv_err *e)
{
    int ovs = strcmp(s->type, "ovs-bridge") == 0, existed, rc;
    struct net_link l;
    char err[512];

    if ((rc = check_spec(o, old, s, e)))
        return rc;
    existed = net_link_get(o->name, &l, err, sizeof(err)) == 0;
    if (existed)
        net_link_free(&l);
    rc = ovs ? apply_ovs(o, old, s, err, sizeof(err)) : apply_bridge(o, old, s, err, sizeof(err));
    if (!rc)
        rc = iface_l3_apply(o->name, &old->l3, &s->l3, err, sizeof(err));
    if (!rc)
        return 0;
    if (!existed && !old->type[0]) { /* a failed first apply leaves no half-made device */
        char ig[256];
        iface_l3_remove(o->name, ig, sizeof(ig));
        if (ovs)
            net_ovs_bridge_delete(o->name, NULL, ig, sizeof(ig));
        else
            net_link_delete(o->name, NULL, ig, sizeof(ig));
    }
    return net_fail(o, rc, err, e);
}

static int refuse_unmanaged(const struct pv_obj *o, const char *what, struct pv_err *e)
{
    int managed;

    memdb_rdlock(o->fs->mem);
    managed = net_managed_locked(o->fs, o->dir);
    memdb_unlock(o->fs->mem);
    if (managed)
        return 0;
    return pv_fail(e, EPERM,
                   "%s on node %s was not made by pvefs: %s (only interfaces made by mkdir in "
                   "nodes/<node>/network/ are)",
                   o->name, o->node, what);
}

static int destroy_locked(const struct pv_obj *o, struct pv_err *e)
{
    struct iface_spec s;
    char err[512];
    int rc = 0;

    if (refuse_unmanaged(o, "pvefs does not remove it", e) || stored_spec(o->fs, o->dir, &s, e))
        return -e->err;
    /* the SNAT rules first: without the bridge they would masquerade a network nobody has */
    if ((rc = iface_l3_remove(o->name, err, sizeof(err))))
        return net_fail(o, rc, err, e);
    if (strcmp(s.type, "bridge") == 0)
        rc = net_link_delete(o->name, NULL, err, sizeof(err));
    else if (strcmp(s.type, "ovs-bridge") == 0)
        rc = net_ovs_bridge_delete(o->name, NULL, err, sizeof(err));
    if (rc)
        return net_fail(o, rc, err, e);
    return fs_catalog_remove(o->fs, o->dir, e);
}

int net_iface_reapply_locked(struct fs *fs, uint64_t dir, struct pv_err *e)
{
    struct iface_spec s;
    struct pv_obj o;

    fs_obj(fs, dir, &o);
    if (stored_spec(fs, dir, &s, e))
        return -e->err;
    return apply_spec(&o, &s, &s, e);
}

int iface_ctl_apply(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e)
{
    struct iface_spec old, s;
    char line[1024], *rest;
    int rc;

    if (len >= sizeof(line))
        return pv_fail(e, EINVAL, "command too long");
    memcpy(line, in, len);
    line[len] = 0;
    rest = line + strcspn(line, " ");
    if (*rest)
        *rest++ = 0;
    net_mon_lock();
    if (strcmp(line, "destroy") == 0 && !*rest)
        rc = destroy_locked(o, e);
    else if (strcmp(line, "apply") != 0 && strcmp(line, "config") != 0)
        rc = pv_fail(e, EINVAL, "unknown command '%.64s' (apply)", line);
    else if (refuse_unmanaged(o, "it takes no config", e) || stored_spec(o->fs, o->dir, &old, e))
        rc = -e->err;
    else if (strcmp(line, "config") == 0) /* from a config write: old -> new */
        rc = spec_from_cmd(rest, &s, e) ? -e->err : apply_spec(o, &old, &s, e);
    else if (*rest)
        rc = pv_fail(e, EINVAL, "usage: apply (re-applies the stored config)");
    else if (!old.type[0])
        rc = pv_fail(e, EINVAL, "%s has no config to apply", o->name);
    else
        rc = apply_spec(o, &old, &old, e);
    if (rc == 0)
        net_mon_sync_locked(o->fs);
    net_mon_unlock();
    return rc;
}

/* What the tree alone can tell, at every write: the node's own devices are checked there,
 * when the config is committed and sent to it. */
int iface_config_check(const struct pv_obj *o, const char *doc, size_t len, int partial,
                       struct pv_err *e)
{
    struct iface_spec s, old;
    char err[256];

    if (refuse_unmanaged(o, "it takes no config", e) || spec_from_doc(doc, len, &s, e) ||
        stored_spec(o->fs, o->dir, &old, e))
        return -e->err;
    if (s.type[0] && old.type[0] && strcmp(old.type, s.type) != 0)
        return pv_fail(e, EINVAL, "%s is a %s; its type cannot change (rmdir and mkdir it again)",
                       o->name, old.type);
    /* snat without an address yet may still get its cidr in a later line */
    if (partial && s.l3.snat && !s.l3.cidr[0] && !s.l3.cidr6[0])
        s.l3.snat = 0;
    if (iface_l3_check(&s.l3, err, sizeof(err)))
        return pv_fail(e, EINVAL, "%s: %s", o->name, err);
    if (!partial && !s.type[0])
        return pv_fail(e, EINVAL, "the config needs 'type: bridge' or 'type: ovs-bridge'");
    return 0;
}

int iface_config_before(const struct pv_obj *o, char **doc, size_t *len, struct pv_err *e)
{
    struct iface_spec s;
    struct pv_buf cmd = {0};
    int rc;

    if (refuse_unmanaged(o, "it takes no config", e) || spec_from_doc(*doc, *len, &s, e))
        return -e->err;
    if (!s.type[0])
        return pv_fail(e, EINVAL, "the config needs 'type: bridge' or 'type: ovs-bridge'");
    pv_buf_printf(&cmd, "config type=%s", s.type);
    if (s.mtu)
        pv_buf_printf(&cmd, " mtu=%u", s.mtu);
    for (int i = 0; i < s.nports; i++)
        pv_buf_printf(&cmd, "%s%s", i ? "," : " ports=", s.ports[i]);
    if (s.l3.cidr[0])
        pv_buf_printf(&cmd, " cidr=%s", s.l3.cidr);
    if (s.l3.cidr6[0])
        pv_buf_printf(&cmd, " cidr6=%s", s.l3.cidr6);
    if (s.l3.snat)
        pv_buf_printf(&cmd, " snat=1");
    rc = cmd.oom ? pv_fail(e, ENOMEM, "out of memory")
                 : fs_cmd(o->fs, o->dir, "ctl", cmd.p, cmd.len, e);
    pv_buf_free(&cmd);
    return rc;
}

int iface_config_initial(const struct pv_obj *o, struct pv_buf *out)
{
    (void)o;
    /* Kept as the description until a config replaces it; says what a config takes. */
    return pv_buf_printf(out, "# Only an interface made by mkdir takes a config: type: bridge | "
                              "ovs-bridge,\n# mtu: 1280..65520, ports: <if> <if>..., cidr: "
                              "<ipv4>/<prefix>,\n# cidr6: <ipv6>/<prefix>, snat: 0 | 1, "
                              "comments: <text>\n");
}

int iface_create(struct fs *fs, uint64_t dir, const char *name, struct pv_err *e)
{
    struct pv_buf rec = {0};
    int rc;

    if (net_absent_record(name, &rec))
        return pv_fail(e, ENOMEM, "out of memory");
    rc = fs_catalog_create(fs, dir, name, T_NODE_IFACE, rec.p, NULL, e);
    pv_buf_free(&rec);
    return rc;
}

int iface_destroy(const struct pv_obj *o, struct pv_err *e)
{
    return fs_cmd(o->fs, o->dir, "ctl", "destroy", 7, e);
}

int iface_counters_render(const struct pv_obj *o, struct pv_buf *out)
{
    static const char *const keys[] = {"rx_bytes",  "tx_bytes",  "rx_packets", "tx_packets",
                                       "rx_errors", "tx_errors", "rx_dropped", "tx_dropped"};
    struct net_link_stats s;
    int known = net_counters_of(o->fs, o->node, o->name, &s) == 0;
    const uint64_t v[] = {s.rx_bytes,  s.tx_bytes,  s.rx_packets, s.tx_packets,
                          s.rx_errors, s.tx_errors, s.rx_dropped, s.tx_dropped};

    /* every key is always there; "-" when the node has not reported the interface */
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (known)
            pv_buf_printf(out, "%s: %llu\n", keys[i], (unsigned long long)v[i]);
        else
            pv_buf_printf(out, "%s: -\n", keys[i]);
    }
    return 0;
}
