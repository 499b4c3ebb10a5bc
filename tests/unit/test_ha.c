/*
 * Unit tests for the HA state machine (cluster/ha_sm.c, ha_sm_text.c) and the
 * simulator scenarios under tests/fixtures/ha/<name>/{cmds,expected}: each run's
 * event log must equal `expected` line for line, and no run may log a
 * VIOLATION. HA_SIM_WRITE=1 rewrites the expected files from the runs (then
 * read every one of them before committing: they are the spec).
 */
#include "../../cluster/ha_sm.h"
#include "ha_sim.h"
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PV_FIXTURES
#define PV_FIXTURES "tests/fixtures"
#endif

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;

    if (!f)
        return NULL;
    for (;;) {
        char *p = realloc(buf, len + 4097);
        size_t n;

        if (!p) {
            free(buf);
            fclose(f);
            return NULL;
        }
        buf = p;
        n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n < 4096)
            break;
    }
    buf[len] = 0;
    fclose(f);
    return buf;
}

/* Prints the first differing line with a little context on both sides. */
static void show_diff(const char *name, const char *want, const char *got)
{
    int line = 1;

    while (*want && *want == *got) {
        line += *want == '\n';
        want++, got++;
    }
    while (line > 1 && want[-1] != '\n')
        want--, got--;
    fprintf(stderr, "  ha/%s: log differs from expected at line %d\n", name, line);
    for (int i = 0; i < 4 && (*want || *got); i++) {
        int wn = (int)strcspn(want, "\n"), gn = (int)strcspn(got, "\n");

        fprintf(stderr, "    - %.*s\n    + %.*s\n", wn, want, gn, got);
        want += wn + (want[wn] == '\n');
        got += gn + (got[gn] == '\n');
    }
}

static int is_dir_entry(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

static void test_ha_scenarios(void)
{
    const char *write = getenv("HA_SIM_WRITE");
    struct dirent **list;
    int n = scandir(PV_FIXTURES "/ha", &list, is_dir_entry, alphasort), ran = 0;

    CHECK(n > 0);
    for (int i = 0; i < n; i++) {
        char path[512], err[256], *cmds, *want, *got = NULL;
        int rc;

        snprintf(path, sizeof(path), "%s/ha/%s/cmds", PV_FIXTURES, list[i]->d_name);
        cmds = slurp(path);
        if (!cmds) {
            fprintf(stderr, "  ha/%s: cannot read %s: %s\n", list[i]->d_name, path,
                    strerror(errno));
            unit_failed_checks++;
            free(list[i]);
            continue;
        }
        rc = ha_sim_run(cmds, &got, err, sizeof(err));
        if (rc)
            fprintf(stderr, "  ha/%s: %s\n", list[i]->d_name, err);
        CHECK(rc == 0);
        snprintf(path, sizeof(path), "%s/ha/%s/expected", PV_FIXTURES, list[i]->d_name);
        if (write && *write == '1' && got) {
            FILE *f = fopen(path, "w");

            CHECK(f && fputs(got, f) >= 0 && fclose(f) == 0);
        }
        want = slurp(path);
        if (!want || !got || strcmp(want, got) != 0) {
            if (!want)
                fprintf(stderr, "  ha/%s: no expected log at %s\n", list[i]->d_name, path);
            else
                show_diff(list[i]->d_name, want, got ? got : "");
            unit_failed_checks++;
        } else {
            ran++;
        }
        free(cmds);
        free(want);
        free(got);
        free(list[i]);
    }
    if (n > 0)
        free(list);
    printf("     ha: %d of %d scenarios match\n", ran, n);
}

/* ---- the pure functions ---- */

static struct ha_config cfg;
static struct ha_node_in nodes[4];
static struct ha_lrm_report lrm[4];
static const struct ha_timeouts to = HA_TIMEOUTS_PROXMOX;

static struct ha_input input(uint64_t now, size_t n)
{
    struct ha_input in = {.now = now, .master = "n1", .to = &to, .cfg = &cfg};

    in.nodes = nodes;
    in.nnodes = n;
    in.lrm = lrm;
    in.nlrm = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(nodes[i].name, HA_NAME_LEN, "n%zu", i + 1);
        snprintf(lrm[i].node, HA_NAME_LEN, "n%zu", i + 1);
        lrm[i].mode = HA_LRM_ACTIVE;
    }
    return in;
}

static void add_res(const char *sid, const char *node, const char *group)
{
    struct ha_resource *r = &cfg.res[cfg.nres++];

    CHECK(ha_resource_init(r, sid, node) == 0);
    snprintf(r->group, sizeof(r->group), "%s", group);
}

static void add_group(const char *name, const char *spec, int restricted, int nofailback)
{
    struct ha_group *g = &cfg.groups[cfg.ngroups++];
    char err[128];

    memset(g, 0, sizeof(*g));
    snprintf(g->name, sizeof(g->name), "%s", name);
    CHECK(ha_group_set_nodes(g, spec, err, sizeof(err)) == 0);
    g->restricted = restricted;
    g->nofailback = nofailback;
}

static const char *pick(const struct ha_input *in, const struct ha_status *st, const char *sid,
                        int skip_failed)
{
    for (size_t i = 0; i < st->nsvc; i++)
        if (!strcmp(st->svc[i].sid, sid)) {
            int at = ha_select_node(in, st, &st->svc[i], skip_failed);
            return at < 0 ? "none" : st->nodes[at].name;
        }
    return "?";
}

static void test_ha_placement(void)
{
    static struct ha_status st;
    static struct ha_output out;
    struct ha_input in;

    memset(&cfg, 0, sizeof(cfg));
    memset(&st, 0, sizeof(st));
    add_group("prio", "n1:1,n2:2,n3:2", 0, 0);
    add_group("only1", "n1", 1, 0);
    add_group("sticky", "n2:5,n3", 0, 1);
    add_res("vm:100", "n1", "");
    add_res("vm:101", "n1", "");
    add_res("vm:102", "n1", "prio");
    add_res("vm:103", "n2", "only1");
    add_res("vm:104", "n3", "sticky");
    in = input(0, 3);
    for (size_t i = 0; i < 3; i++)
        nodes[i].member = 1;
    ha_manager_step(&in, &st, &out);
    CHECK(st.nnodes == 3 && st.nsvc == 5);
    for (size_t i = 0; i < st.nsvc; i++)
        st.svc[i].state = HA_S_STOPPED; /* stopped services weigh nothing */
    /* no group: fewest services, node order breaks ties; staying put is free */
    CHECK_STR(pick(&in, &st, "vm:100", 0), "n1");
    st.svc[0].state = HA_S_STARTED;
    snprintf(st.svc[1].node, HA_NAME_LEN, "n9");
    CHECK_STR(pick(&in, &st, "vm:101", 0), "n2");
    st.svc[1].state = HA_S_STARTED;
    /* priority beats load; among equals the emptier node */
    CHECK_STR(pick(&in, &st, "vm:102", 0), "n2");
    snprintf(st.svc[1].node, HA_NAME_LEN, "n2");
    CHECK_STR(pick(&in, &st, "vm:102", 0), "n3");
    st.svc[2].state = HA_S_MIGRATE; /* a move counts on its target */
    snprintf(st.svc[2].target, HA_NAME_LEN, "n1");
    snprintf(st.svc[0].node, HA_NAME_LEN, "n2");
    snprintf(st.svc[1].node, HA_NAME_LEN, "n9");
    CHECK_STR(pick(&in, &st, "vm:101", 0), "n3");
    /* restricted: only its own node, and none when that one is down */
    CHECK_STR(pick(&in, &st, "vm:103", 0), "n1");
    st.nodes[0].state = HA_N_UNKNOWN;
    CHECK_STR(pick(&in, &st, "vm:103", 0), "none");
    /* unrestricted group with its nodes down falls back to any node */
    st.nodes[1].state = st.nodes[2].state = HA_N_UNKNOWN;
    st.nodes[0].state = HA_N_ONLINE;
    CHECK_STR(pick(&in, &st, "vm:104", 0), "n1");
    /* nofailback keeps a service where it is, even off its preferred node */
    st.nodes[1].state = st.nodes[2].state = HA_N_ONLINE;
    CHECK_STR(pick(&in, &st, "vm:104", 0), "n3");
    cfg.groups[2].nofailback = 0;
    CHECK_STR(pick(&in, &st, "vm:104", 0), "n2");
    /* nodes it crashed out of are skipped when relocating, and a shut-down LRM never gets one */
    snprintf(st.svc[4].failed, HA_FAILED_LEN, "n2,n3");
    CHECK_STR(pick(&in, &st, "vm:104", 1), "n1");
    lrm[0].mode = HA_LRM_SHUTDOWN;
    CHECK_STR(pick(&in, &st, "vm:104", 1), "none");
}

static void test_ha_status_text(void)
{
    static struct ha_status st, back;
    char a[4096], b[4096], err[128];

    memset(&st, 0, sizeof(st));
    snprintf(st.master, HA_NAME_LEN, "n2");
    st.time = 140000;
    st.next_uid = 17;
    st.nnodes = 2;
    st.nodes[0] = (struct ha_node_status){"n1", HA_N_FENCE, 10000};
    st.nodes[1] = (struct ha_node_status){"n2", HA_N_ONLINE, 0};
    st.nsvc = 2;
    st.svc[0] = (struct ha_svc_status){"ct:200", HA_S_MIGRATE, "n2", "n1", HA_CMD_MIGRATE, 16, 1,
                                       0,        "n3,n4"};
    st.svc[1] = (struct ha_svc_status){.sid = "vm:100", .state = HA_S_FENCE, .node = "n1"};
    CHECK(ha_status_format(&st, a, sizeof(a)) < sizeof(a));
    CHECK_STR(a, "master: n2\ntime: 140000\nnext-uid: 17\n"
                 "node/n1: fence since=10000\nnode/n2: online since=0\n"
                 "service/ct:200: migrate node=n2 target=n1 cmd=migrate uid=16 restarts=1 "
                 "relocates=0 failed=n3,n4\n"
                 "service/vm:100: fence node=n1 target=- cmd=- uid=0 restarts=0 relocates=0 "
                 "failed=-\n");
    CHECK(ha_status_parse(&back, a, err, sizeof(err)) == 0);
    CHECK(back.nnodes == 2 && back.nsvc == 2 && back.next_uid == 17 && back.time == 140000);
    CHECK(back.nodes[0].state == HA_N_FENCE && back.nodes[0].since == 10000);
    CHECK(back.svc[0].state == HA_S_MIGRATE && back.svc[0].cmd == HA_CMD_MIGRATE &&
          back.svc[0].uid == 16 && back.svc[0].restarts == 1 && !strcmp(back.svc[0].target, "n1") &&
          !strcmp(back.svc[0].failed, "n3,n4"));
    CHECK(back.svc[1].state == HA_S_FENCE && !back.svc[1].target[0] && !back.svc[1].failed[0]);
    ha_status_format(&back, b, sizeof(b));
    CHECK_STR(a, b);
    CHECK(ha_status_format(&st, a, 10) > 10); /* reports the length it needs */
    ha_status_render(&st, a, sizeof(a));
    CHECK_STR(a, "master: n2\nnode n1: fence\nnode n2: online\n"
                 "service ct:200: migrate on n2 -> n1\nservice vm:100: fence on n1\n");
    CHECK(ha_status_parse(&back, "master: n1\nbogus: 1\n", err, sizeof(err)) == -EINVAL);
    CHECK(strstr(err, "line 2") != NULL);
    CHECK(ha_status_parse(&back, "node/n1: sleeping since=0\n", err, sizeof(err)) == -EINVAL);
    CHECK(ha_status_parse(&back, "service/vm:1: started node=n1\n", err, sizeof(err)) == -EINVAL);
    CHECK(ha_status_parse(&back, "time: 12x\n", err, sizeof(err)) == -EINVAL);
    CHECK(ha_status_parse(&back, "", err, sizeof(err)) == 0 && back.nsvc == 0);
}

static void test_ha_config_parsers(void)
{
    struct ha_group g = {.name = "g"};
    struct ha_resource r;
    struct ha_timeouts t = HA_TIMEOUTS_PROXMOX;
    char err[160];

    CHECK(ha_group_set_nodes(&g, "n1:2,n2,n3:-1", err, sizeof(err)) == 0);
    CHECK(g.n == 3 && g.prio[0] == 2 && g.prio[1] == 0 && g.prio[2] == -1);
    CHECK(ha_group_set_nodes(&g, "n1,n1", err, sizeof(err)) == -EINVAL);
    CHECK(strstr(err, "twice") != NULL);
    CHECK(ha_group_set_nodes(&g, "n1:x", err, sizeof(err)) == -EINVAL);
    CHECK(ha_group_set_nodes(&g, "", err, sizeof(err)) == -EINVAL);
    CHECK(ha_group_set_nodes(&g, "n1,,n2", err, sizeof(err)) == -EINVAL);
    CHECK(ha_resource_init(&r, "vm:100", "n1") == 0 && r.max_restart == 1 && r.max_relocate == 1 &&
          r.req == HA_REQ_STARTED);
    CHECK(ha_resource_init(&r, "ct:7", "n1") == 0);
    CHECK(ha_resource_init(&r, "vm:", "n1") == -EINVAL);
    CHECK(ha_resource_init(&r, "qemu:100", "n1") == -EINVAL);
    CHECK(ha_resource_init(&r, "vm:10a", "n1") == -EINVAL);
    CHECK(ha_timeouts_check(&t, err, sizeof(err)) == 0);
    t.self_fence_ms = 115000;
    CHECK(ha_timeouts_check(&t, err, sizeof(err)) == -EINVAL);
    CHECK(strstr(err, "exceeds the lease") != NULL);
}

/* The claim waits for lease + margin after the last renewal; the claim itself is the fence. */
static void test_ha_fence_timing(void)
{
    static struct ha_status st;
    static struct ha_output out;
    struct ha_input in;

    memset(&cfg, 0, sizeof(cfg));
    memset(&st, 0, sizeof(st));
    memset(lrm, 0, sizeof(lrm));
    add_res("vm:100", "n2", "");
    in = input(0, 3);
    for (size_t i = 0; i < 3; i++) {
        nodes[i].member = 1;
        nodes[i].lease = HA_LEASE_HELD;
        nodes[i].renewed = 0;
    }
    ha_manager_step(&in, &st, &out);
    CHECK(out.ncmd == 1 && out.cmd[0].kind == HA_CMD_START && !strcmp(out.cmd[0].node, "n2"));
    nodes[1].member = 0;
    in.now = 10000;
    ha_manager_step(&in, &st, &out);
    CHECK(st.svc[0].state == HA_S_FENCE && st.nodes[1].state == HA_N_FENCE);
    nodes[1].lease = HA_LEASE_FREE;
    in.now = 129999;
    ha_manager_step(&in, &st, &out);
    CHECK(out.nclaim == 0);
    in.now = 130000;
    ha_manager_step(&in, &st, &out);
    CHECK(out.nclaim == 1 && !strcmp(out.claim[0], "n2") && st.svc[0].state == HA_S_FENCE);
    nodes[1].lease = HA_LEASE_CLAIMED;
    nodes[1].renewed = 130000;
    in.now = 140000;
    ha_manager_step(&in, &st, &out);
    CHECK(st.svc[0].state == HA_S_STARTED && !strcmp(st.svc[0].node, "n1"));
    CHECK(out.ncmd == 1 && out.cmd[0].kind == HA_CMD_START && !strcmp(out.cmd[0].node, "n1"));
    CHECK(st.nodes[1].state == HA_N_UNKNOWN);
    /* back online: the claimed lease is handed back */
    nodes[1].member = 1;
    in.now = 150000;
    ha_manager_step(&in, &st, &out);
    CHECK(out.nrelease == 1 && !strcmp(out.release[0], "n2"));
}

/* An LRM runs each uid once: the plan skips what its report says already ran. */
/* The LRM report is what a rebooted LRM continues from: every field must come back. */
static void test_ha_lrm_text(void)
{
    struct ha_lrm_report r = {.node = "n2", .mode = HA_LRM_SHUTDOWN, .time = 123456, .n = 2}, q;
    char buf[512], err[128] = "";

    r.svc[0] = (struct ha_lrm_svc){"ct:100", HA_RUN_CRASHED, 42, 1};
    r.svc[1] = (struct ha_lrm_svc){"vm:101", HA_RUN_RUNNING, 7, 0};
    CHECK(ha_lrm_format(&r, buf, sizeof(buf)) < sizeof(buf));
    CHECK(ha_lrm_parse(&q, buf, err, sizeof(err)) == 0);
    CHECK(!strcmp(q.node, "n2") && q.mode == HA_LRM_SHUTDOWN && q.time == 123456 && q.n == 2);
    for (size_t i = 0; i < 2; i++)
        CHECK(!strcmp(q.svc[i].sid, r.svc[i].sid) && q.svc[i].run == r.svc[i].run &&
              q.svc[i].done_uid == r.svc[i].done_uid && q.svc[i].rc == r.svc[i].rc);
    CHECK(ha_lrm_parse(&q, "node: n1\nservice/ct:1: flying uid=1 rc=0\n", err, sizeof(err)) ==
          -EINVAL);
    CHECK(strstr(err, "line 2") != NULL);
    CHECK(ha_lrm_parse(&q, "node: n1\nmode: active\nbogus: 1\n", err, sizeof(err)) == -EINVAL);
}

static void test_ha_lrm_plan(void)
{
    static struct ha_status st;
    struct ha_lrm_report rep = {.node = "n1", .mode = HA_LRM_ACTIVE, .n = 1};
    struct ha_cmd cmd[4];

    memset(&st, 0, sizeof(st));
    st.nsvc = 3;
    st.svc[0] = (struct ha_svc_status){.sid = "vm:1", .node = "n1", .cmd = HA_CMD_START, .uid = 5};
    st.svc[1] = (struct ha_svc_status){.sid = "vm:2", .node = "n2", .cmd = HA_CMD_START, .uid = 6};
    st.svc[2] = (struct ha_svc_status){
        .sid = "vm:3", .node = "n1", .target = "n2", .cmd = HA_CMD_MIGRATE, .uid = 7};
    snprintf(rep.svc[0].sid, HA_NAME_LEN, "vm:1");
    rep.svc[0].done_uid = 5;
    CHECK(ha_lrm_plan(&st, "n1", &rep, cmd, 4) == 1);
    CHECK(cmd[0].uid == 7 && cmd[0].kind == HA_CMD_MIGRATE && !strcmp(cmd[0].target, "n2"));
    CHECK(ha_lrm_plan(&st, "n2", NULL, cmd, 4) == 1 && cmd[0].uid == 6);
    CHECK(ha_lrm_plan(&st, "n3", NULL, cmd, 4) == 0);
}

/* The checker itself: with the self-fence later than the lease, recovery runs a second copy. */
static void test_ha_checker_fires(void)
{
    char err[160], *log = NULL;
    int rc = ha_sim_run("timeouts lease 30s fence 60s margin 0s\n"
                        "config service vm:100 node n1\n"
                        "advance 5s\nnetwork n1 off\nadvance 60s\n",
                        &log, err, sizeof(err));

    CHECK(rc == -EINVAL);
    CHECK(strstr(err, "invariant violations") != NULL);
    CHECK(log && strstr(log, "VIOLATION vm:100 started on n2 while n1 still runs it"));
    free(log);
    CHECK(ha_sim_run("advance 1s\nnodes 4\n", &log, err, sizeof(err)) == -EINVAL);
    CHECK(strstr(err, "line 2") != NULL);
    free(log);
}

const struct unit_test ha_tests[] = {
    {"ha_placement", test_ha_placement},
    {"ha_status_text", test_ha_status_text},
    {"ha_config_parsers", test_ha_config_parsers},
    {"ha_fence_timing", test_ha_fence_timing},
    {"ha_lrm_plan", test_ha_lrm_plan},
    {"ha_lrm_text", test_ha_lrm_text},
    {"ha_checker_fires", test_ha_checker_fires},
    {"ha_scenarios", test_ha_scenarios},
    {NULL, NULL},
};
