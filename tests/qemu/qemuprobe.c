/*
 * qemuprobe: drives one real TCG guest through the QEMU driver (drivers/qemu*.c) in
 * libvirt's embed mode and checks every action against the guest's serial markers
 * (tests/qemu/build-guest.sh). Prints a timing for each step; exits 1 on a failure.
 *
 * usage: qemuprobe [GUESTDIR [WORKDIR]]   (defaults /tmp/pvguest, /tmp/qemuprobe-work)
 * As root, libvirt's embed mode also writes /run/libvirt/{common,hostdevmgr}; run it
 * in `unshare --mount --propagation private` with a tmpfs on /run to keep the host clean.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../drivers/qemu.h"
#include "../../fs/conf.h"

static const char *guest = "/tmp/pvguest", *work = "/tmp/qemuprobe-work";
static char serial[1200];
static int failures;
static struct timespec t0;

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static char ev_state[16], ev_why[32];
static int ev_count;

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
}

static void check(int ok, const char *fmt, ...)
{
    va_list ap;

    printf("%8.3f %s ", now_s(), ok ? "ok  " : "FAIL");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!ok)
        failures++;
}

static void on_event(void *arg, const char *vmid, const char *state, const char *why)
{
    (void)arg;
    printf("%8.3f       event vm %s: %s (%s)\n", now_s(), vmid, state, why);
    pthread_mutex_lock(&ev_lock);
    snprintf(ev_state, sizeof(ev_state), "%s", state);
    snprintf(ev_why, sizeof(ev_why), "%s", why);
    ev_count++;
    pthread_mutex_unlock(&ev_lock);
}

/* Waits for an event with state and why after the count'th one. */
static int wait_event(int count, const char *state, const char *why, double secs)
{
    double end = now_s() + secs;

    while (now_s() < end) {
        int ok;
        pthread_mutex_lock(&ev_lock);
        ok = ev_count > count && strcmp(ev_state, state) == 0 && strcmp(ev_why, why) == 0;
        pthread_mutex_unlock(&ev_lock);
        if (ok)
            return 1;
        usleep(10000);
    }
    return 0;
}

static int events(void)
{
    int n;

    pthread_mutex_lock(&ev_lock);
    n = ev_count;
    pthread_mutex_unlock(&ev_lock);
    return n;
}

static int resolve(void *arg, const char *volid, struct qemu_disk *out, char *err, size_t errlen)
{
    const char *vol = strncmp(volid, "local:", 6) == 0 ? volid + 6 : NULL;

    (void)arg;
    memset(out, 0, sizeof(*out));
    if (!vol) {
        snprintf(err, errlen, "no storage for volume '%s'", volid);
        return -ENOENT;
    }
    out->kind = QD_FILE;
    snprintf(out->path, sizeof(out->path), "%s/%s.qcow2", work, vol);
    snprintf(out->format, sizeof(out->format), "qcow2");
    return 0;
}

/* Occurrences of marker in the serial log, and the number after the last one. */
static int count(const char *marker, long *last)
{
    FILE *f = fopen(serial, "r");
    char line[512];
    int n = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        char *p = strstr(line, marker);
        if (p) {
            n++;
            if (last)
                *last = strtol(p + strlen(marker), NULL, 10);
        }
    }
    fclose(f);
    return n;
}

static int wait_marker(const char *marker, int n, double secs)
{
    double end = now_s() + secs;

    while (now_s() < end) {
        if (count(marker, NULL) >= n)
            return 1;
        usleep(20000);
    }
    return 0;
}

static void run(const char *cmd)
{
    int r = system(cmd);
    if (r != 0) {
        fprintf(stderr, "'%s' failed (%d)\n", cmd, r);
        exit(2);
    }
}

static double t_act;
#define ACT(call) (t_act = now_s(), r = (call), t_act = now_s() - t_act, r)

static int list_snap(void *arg, const struct qemu_snapinfo *s)
{
    int *n = arg;

    (*n)++;
    printf("               snapshot %s parent '%s' time %lld vmstate %d\n", s->name, s->parent,
           (long long)s->time, s->vmstate);
    return 0;
}

int main(int argc, char **argv)
{
    char root[1100], logdir[1100], cmd[4096], err[QEMU_ERRLEN], cerr[CONF_ERRLEN], *cfg, *cfg2;
    char raw[2048], state[16];
    size_t cfglen, cfg2len;
    struct qemu_stats st, st2;
    long tick, tick2;
    int r, n, e;
    double t;

    if (argc > 1)
        guest = argv[1];
    if (argc > 2)
        work = argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    snprintf(root, sizeof(root), "%s/root", work);
    snprintf(logdir, sizeof(logdir), "%s/log", work);
    snprintf(serial, sizeof(serial), "%s/100.serial", logdir);
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s && rm -f %s/*.qcow2 && qemu-img create -q -f qcow2 "
             "%s/vm-100-disk-0.qcow2 64M && qemu-img create -q -f qcow2 %s/vm-100-disk-1.qcow2 32M",
             work, work, work, work);
    run(cmd);

    snprintf(raw, sizeof(raw),
             "memory: 128\ncores: 1\nkvm: 0\nvirtio0: local:vm-100-disk-0,size=64M\n"
             "args: -kernel %s/vmlinux -initrd %s/initrd.gz -append \"console=ttyS0 panic=-1\"\n",
             guest, guest);
    if (conf_canonicalize(&conf_qemu_schema, raw, strlen(raw), &cfg, &cfglen, cerr, sizeof(cerr)) <
        0) {
        fprintf(stderr, "config: %s\n", cerr);
        return 2;
    }
    strcat(raw, "virtio1: local:vm-100-disk-1,size=32M\n");
    if (conf_canonicalize(&conf_qemu_schema, raw, strlen(raw), &cfg2, &cfg2len, cerr,
                          sizeof(cerr)) < 0) {
        fprintf(stderr, "config: %s\n", cerr);
        return 2;
    }

    struct qemu_env env = {
        .root = root, .logdir = logdir, .resolve = resolve, .on_event = on_event};
    r = ACT(qemu_open(&env, err, sizeof(err)));
    check(r == 0, "open (%.3f s) %s", t_act, r ? err : "");
    if (r)
        return 1;

    /* 1. start, boot */
    e = events();
    r = ACT(qemu_start("100", cfg, cfglen, err, sizeof(err)));
    check(r == 0, "start (%.3f s) %s", t_act, r ? err : "");
    if (r)
        goto out;
    qemu_state("100", state, sizeof(state));
    check(strcmp(state, "running") == 0, "state right after start: %s", state);
    check(wait_event(e, "running", "started", 5), "event running (started)");
    t = now_s();
    r = wait_marker("PVEFS-BOOT-OK", 1, 120);
    check(r, "boot marker %.3f s after start returned", now_s() - t);
    r = ACT(qemu_start("100", cfg, cfglen, err, sizeof(err)));
    check(r == -EINVAL, "start again: %d %s", r, err);

    /* 2. stats */
    sleep(2);
    qemu_stats("100", &st);
    check(st.known && st.pid > 0 && st.cpu > 0 && st.maxmem == 128ULL << 20,
          "stats: %s pid %d uptime %llu cpu %.3f mem %llu maxmem %llu rd %llu wr %llu", st.state,
          st.pid, (unsigned long long)st.uptime_s, st.cpu, (unsigned long long)st.mem,
          (unsigned long long)st.maxmem, (unsigned long long)st.diskread,
          (unsigned long long)st.diskwrite);

    /* 3. suspend / resume with ticks */
    r = ACT(qemu_suspend("100", err, sizeof(err)));
    qemu_state("100", state, sizeof(state));
    check(r == 0 && strcmp(state, "paused") == 0, "suspend (%.3f s) state %s %s", t_act, state,
          r ? err : "");
    count("PVEFS-TICK ", &tick);
    sleep(3);
    count("PVEFS-TICK ", &tick2);
    check(tick2 == tick, "paused: ticks %ld -> %ld", tick, tick2);
    r = ACT(qemu_suspend("100", err, sizeof(err)));
    check(r == -EINVAL, "suspend paused: %d %s", r, err);
    r = ACT(qemu_resume("100", err, sizeof(err)));
    check(r == 0, "resume (%.3f s) %s", t_act, r ? err : "");
    sleep(3);
    count("PVEFS-TICK ", &tick2);
    check(tick2 >= tick + 2, "running: ticks %ld -> %ld", tick, tick2);

    /* 4. hot-plug */
    n = count("PVEFS-DISK", NULL);
    r = ACT(qemu_hotplug("100", cfg2, cfg2len, "virtio1", err, sizeof(err)));
    check(r == 0, "hotplug virtio1 (%.3f s) %s", t_act, r ? err : "");
    t = now_s();
    r = wait_marker("PVEFS-DISK vdb", 1, 30);
    check(r, "guest sees vdb %.3f s later (%d disks before)", now_s() - t, n);

    /* 5. snapshot with RAM, rollback */
    count("PVEFS-TICK ", &tick);
    r = ACT(qemu_snapshot("100", "s1", err, sizeof(err)));
    check(r == 0, "snapshot s1 (%.3f s) at tick %ld %s", t_act, tick, r ? err : "");
    sleep(3);
    count("PVEFS-TICK ", &tick2);
    n = 0;
    r = qemu_snapshots("100", list_snap, &n, err, sizeof(err));
    check(r == 0 && n == 1, "list: %d snapshot(s) %s", n, r ? err : "");
    r = ACT(qemu_rollback("100", "s1", err, sizeof(err)));
    qemu_state("100", state, sizeof(state));
    check(r == 0 && strcmp(state, "running") == 0, "rollback s1 (%.3f s) state %s %s", t_act, state,
          r ? err : "");
    n = count("PVEFS-TICK ", NULL);
    t = now_s();
    while (count("PVEFS-TICK ", NULL) == n && now_s() - t < 10)
        usleep(20000);
    count("PVEFS-TICK ", &tick2);
    check(tick2 <= tick + 2, "after rollback the guest ticks from the snapshot: %ld (saved at %ld)",
          tick2, tick);

    /* 6. reset, reboot */
    n = count("PVEFS-BOOT-OK", NULL);
    r = ACT(qemu_reset("100", err, sizeof(err)));
    t = now_s();
    e = r == 0 && wait_marker("PVEFS-BOOT-OK", n + 1, 120);
    check(e, "reset (%.3f s), boot marker again after %.3f s %s", t_act, now_s() - t, r ? err : "");
    n = count("PVEFS-BOOT-OK", NULL);
    t = now_s();
    r = ACT(qemu_reboot("100", err, sizeof(err)));
    e = r == 0 && wait_marker("PVEFS-BOOT-OK", n + 1, 120);
    check(e, "reboot (%.3f s), boot marker again %.3f s after the call %s", t_act, now_s() - t,
          r ? err : "");

    /* 7. shutdown */
    e = events();
    r = ACT(qemu_shutdown("100", 30, 0, err, sizeof(err)));
    qemu_state("100", state, sizeof(state));
    check(r == 0 && strcmp(state, "stopped") == 0 && count("PVEFS-POWERDOWN", NULL) >= 1,
          "shutdown (%.3f s) state %s %s", t_act, state, r ? err : "");
    check(wait_event(e, "stopped", "shutdown", 5), "event stopped (shutdown)");
    r = ACT(qemu_suspend("100", err, sizeof(err)));
    check(r == -EINVAL, "suspend stopped: %d %s", r, err);

    /* 8. snapshot of a stopped guest (disks only) */
    r = ACT(qemu_snapshot("100", "s2", err, sizeof(err)));
    check(r == 0, "snapshot s2 of the stopped guest (%.3f s) %s", t_act, r ? err : "");
    n = 0;
    r = qemu_snapshots("100", list_snap, &n, err, sizeof(err));
    check(r == 0 && n == 2, "list: %d snapshot(s) %s", n, r ? err : "");

    /* 9. start again (warm), kill -9 outside pvefs */
    r = ACT(qemu_start("100", cfg, cfglen, err, sizeof(err)));
    t = now_s();
    e = r == 0 && wait_marker("PVEFS-BOOT-OK", 1, 120);
    check(e, "start again (%.3f s), boot marker %.3f s later %s", t_act, now_s() - t, r ? err : "");
    sleep(2);
    qemu_stats("100", &st);
    e = events();
    check(st.pid > 0 && kill(st.pid, SIGKILL) == 0, "kill -9 %d", st.pid);
    t = now_s();
    r = wait_event(e, "stopped", "killed", 10);
    check(r, "event stopped (killed) after %.3f s", now_s() - t);
    qemu_state("100", state, sizeof(state));
    check(strcmp(state, "stopped") == 0, "state after kill: %s", state);

    /* 10. shutdown that times out (power button pressed before the guest watches it) */
    r = ACT(qemu_start("100", cfg, cfglen, err, sizeof(err)));
    check(r == 0, "start (%.3f s) %s", t_act, r ? err : "");
    r = ACT(qemu_shutdown("100", 1, 0, err, sizeof(err)));
    printf("               shutdown 1 s during boot: %d (%.3f s) %s\n", r, t_act, r ? err : "");
    check(r == 0 || r == -ETIMEDOUT, "shutdown timeout result");
    qemu_state("100", state, sizeof(state));
    if (strcmp(state, "running") == 0) {
        r = ACT(qemu_shutdown("100", 1, 1, err, sizeof(err)));
        qemu_state("100", state, sizeof(state));
        check(r == 0 && strcmp(state, "stopped") == 0, "shutdown --force (%.3f s) %s %s", t_act,
              state, r ? err : "");
    }

    /* 11. rollback to the RAM snapshot from stopped: it runs again */
    r = ACT(qemu_rollback("100", "s1", err, sizeof(err)));
    qemu_state("100", state, sizeof(state));
    check(r == 0 && strcmp(state, "running") == 0, "rollback s1 from stopped (%.3f s) state %s %s",
          t_act, state, r ? err : "");

    /* 12. the daemon restarts: the guest keeps running and is found again */
    usleep(1500 * 1000); /* a stats cycle after the rollback */
    qemu_stats("100", &st);
    qemu_close();
    r = ACT(qemu_open(&env, err, sizeof(err)));
    check(r == 0, "reopen (%.3f s) %s", t_act, r ? err : "");
    usleep(1500 * 1000);
    qemu_stats("100", &st2);
    check(st2.known && strcmp(st2.state, "running") == 0 && st2.pid == st.pid && st2.uptime_s > 0,
          "after reopen: %s pid %d (was %d) uptime %llu", st2.state, st2.pid, st.pid,
          (unsigned long long)st2.uptime_s);

    /* 13. hard stop, cleanup */
    e = events();
    r = ACT(qemu_stop("100", err, sizeof(err)));
    qemu_state("100", state, sizeof(state));
    check(r == 0 && strcmp(state, "stopped") == 0, "stop (%.3f s) state %s %s", t_act, state,
          r ? err : "");
    check(wait_event(e, "stopped", "destroyed", 5), "event stopped (destroyed)");
    r = ACT(qemu_stop("100", err, sizeof(err)));
    check(r == -EINVAL, "stop stopped: %d %s", r, err);
    r = ACT(qemu_rollback("100", "nope", err, sizeof(err)));
    check(r == -ENOENT, "rollback unknown: %d %s", r, err);
    r = ACT(qemu_delsnapshot("100", "s2", err, sizeof(err)));
    check(r == 0, "delete s2 (%.3f s) %s", t_act, r ? err : "");
    r = ACT(qemu_delsnapshot("100", "s1", err, sizeof(err)));
    check(r == 0, "delete s1 (%.3f s) %s", t_act, r ? err : "");
    r = qemu_snapshots("101", list_snap, &n, err, sizeof(err));
    check(r == 0, "list of an unknown vm: %d", r);
    r = qemu_snapshot("101", "x", err, sizeof(err));
    check(r == -ENOENT, "snapshot of an unknown vm: %d %s", r, err);

out:
    r = ACT((qemu_close(), 0));
    check(1, "close (%.3f s)", t_act);
    free(cfg);
    free(cfg2);
    printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
    return failures ? 1 : 0;
}
