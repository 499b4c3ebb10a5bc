/*
 * net_nat: source NAT in nftables tables of pvefs's own (an SDN simple zone's subnets,
 * a managed bridge with "snat: 1"). A table is replaced whole in one nft transaction
 * ("table; delete table; table {...}" is nft's idempotent form), so no reader ever sees
 * half a rule set and rules that pvefs did not write are never touched. Whether a table
 * exists is asked over nfnetlink: status reads it every monitor pass, and an exec of
 * nft each time would cost more than the whole pass.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "stor.h"
#include "../fs/buf.h"

int net_nft_table_exists(const char *table)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
    struct nlmsghdr *nlh;
    struct nfgenmsg *nfg;
    unsigned seq = (unsigned)time(NULL), portid;
    ssize_t n;
    int rc;

    if (!nl)
        return -errno;
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
    nlh->nlmsg_flags = NLM_F_REQUEST; /* the answer is the table or an error, never both */
    nlh->nlmsg_seq = seq;
    nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
    nfg->nfgen_family = NFPROTO_INET;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
    mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, table);
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
        mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        rc = -errno;
        mnl_socket_close(nl);
        return rc;
    }
    portid = mnl_socket_get_portid(nl);
    n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
    if (n < 0)
        rc = -errno;
    else if (mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL) < 0)
        rc = errno == ENOENT ? 0 : -errno;
    else
        rc = 1;
    mnl_socket_close(nl);
    return rc;
}

/* Runs script through nft -f (from a memfd: no file to clean up). */
static int nft_load(const char *script, size_t len, char *err, size_t errlen)
{
    int fd = memfd_create("pvefs-nft", MFD_CLOEXEC), rc;
    char *av[] = {"nft", "-f", "/dev/stdin", NULL};

    if (fd < 0)
        return net_err(err, errlen, -errno, "cannot make a buffer for the nftables rules");
    if (write(fd, script, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) < 0) {
        rc = net_err(err, errlen, -EIO, "cannot buffer the nftables rules");
        close(fd);
        return rc;
    }
    rc = stor_run_io("nft", "load the SNAT rules", av, fd, -1, err, errlen);
    close(fd);
    return rc;
}

/* What state remembers: the script last loaded ("" when none or unreadable). */
static void state_read(const char *state, char *old, size_t len)
{
    FILE *f = state ? fopen(state, "r") : NULL;
    size_t got = 0;

    if (f) {
        got = fread(old, 1, len - 1, f);
        fclose(f);
    }
    old[got] = 0;
}

static void state_write(const char *state, const char *script)
{
    FILE *f;

    if (!state)
        return;
    if (!script) {
        unlink(state);
        return;
    }
    /* a failed write only costs a reload at the next apply */
    if (!(f = fopen(state, "w")))
        return;
    if (fputs(script, f) < 0) {
        fclose(f);
        unlink(state);
    } else if (fclose(f)) {
        unlink(state);
    }
}

int net_masq_set(const char *table, const struct net_masq *r, int n, const char *state,
                 int *changed, char *err, size_t errlen)
{
    char old[8192];
    struct pv_buf b = {0};
    int exists = net_nft_table_exists(table), rc;

    if (changed)
        *changed = 0;
    if (n == 0) {
        state_write(state, NULL);
        if (exists <= 0) /* nothing asked and nothing there: leave nftables alone */
            return 0;
        pv_buf_printf(&b, "delete table inet %s\n", table);
    } else {
        pv_buf_printf(&b,
                      "table inet %s\ndelete table inet %s\ntable inet %s {\n chain postrouting "
                      "{\n  type nat hook postrouting priority srcnat; policy accept;\n",
                      table, table, table);
        for (int i = 0; i < n; i++)
            pv_buf_printf(&b, "  %s saddr %s oifname != \"%s\" masquerade\n",
                          strchr(r[i].src, ':') ? "ip6" : "ip", r[i].src, r[i].via);
        pv_buf_printf(&b, " }\n}\n");
        state_read(state, old, sizeof(old));
        if (exists > 0 && !b.oom && state && strcmp(old, b.p) == 0) {
            pv_buf_free(&b);
            return 0;
        }
    }
    if (b.oom) {
        pv_buf_free(&b);
        return net_err(err, errlen, -ENOMEM, "out of memory");
    }
    rc = nft_load(b.p, b.len, err, errlen);
    if (rc == 0) {
        if (n)
            state_write(state, b.p);
        if (changed)
            *changed = 1;
    } else if (state) {
        unlink(state); /* tried again at the next apply */
    }
    pv_buf_free(&b);
    return rc;
}

int net_masq_network(const char *addr, char *net, size_t len)
{
    unsigned char a[16];
    char host[64], out[64];
    const char *slash = strchr(addr, '/');
    int af = strchr(addr, ':') ? AF_INET6 : AF_INET, bits, max = af == AF_INET ? 32 : 128;
    char *end;

    if (!slash || (size_t)(slash - addr) >= sizeof(host))
        return -EINVAL;
    snprintf(host, sizeof(host), "%.*s", (int)(slash - addr), addr);
    bits = (int)strtol(slash + 1, &end, 10);
    if (*end || end == slash + 1 || bits < 0 || bits > max || inet_pton(af, host, a) != 1)
        return -EINVAL;
    for (int i = 0; i < max / 8; i++) {
        int keep = bits - i * 8;
        a[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
    }
    if (!inet_ntop(af, a, out, sizeof(out)))
        return -EINVAL;
    snprintf(net, len, "%s/%d", out, bits);
    return 0;
}
