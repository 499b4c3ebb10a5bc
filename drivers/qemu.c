/*
 * qemu: the libvirt connection of the QEMU driver, its event loop, lifecycle events,
 * reconnection and the status table that state and stats reads are served from.
 *
 * Domains are named "vm<vmid>". libvirt's default event loop runs on its own thread;
 * lifecycle events update the table and reach env->on_event on that thread. When a
 * daemon connection drops (libvirtd restarted), the close callback marks it lost and
 * the stats thread reconnects once a cycle until it succeeds.
 */
#include <errno.h>
#include <libvirt/virterror.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "qemu_int.h"
#include "drv.h"

#define SYSTEM_SOCK "/run/libvirt/libvirt-sock"

struct qemu_global qg = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .stats_cv = PTHREAD_COND_INITIALIZER,
    .lc_cb = -1,
    .rb_cb = -1,
};

static int ev_registered;   /* virEventRegisterDefaultImpl works once per process */
static volatile int ev_run; /* the event thread loops while set */
static pthread_t ev_th;

int64_t qemu_mono_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int qemu_err(int r, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return r;
}

static int errno_of(int code)
{
    switch (code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_DOMAIN_SNAPSHOT:
        return -ENOENT;
    case VIR_ERR_OPERATION_INVALID:
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_SNAPSHOT_REVERT_RISKY:
        return -EINVAL;
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
        return -ETIMEDOUT;
    case VIR_ERR_OPERATION_UNSUPPORTED:
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
        return -EOPNOTSUPP;
    case VIR_ERR_NO_MEMORY:
        return -ENOMEM;
    case VIR_ERR_DOM_EXIST:
        return -EEXIST;
    case VIR_ERR_OPERATION_DENIED:
    case VIR_ERR_ACCESS_DENIED:
    case VIR_ERR_AUTH_FAILED:
        return -EACCES;
    case VIR_ERR_OPERATION_ABORTED:
        return -ECANCELED;
    default:
        return -EIO;
    }
}

int qemu_fail(char *err, size_t errlen, const char *fmt, ...)
{
    virErrorPtr e = virGetLastError();
    int r = errno_of(e ? e->code : VIR_ERR_INTERNAL_ERROR);
    size_t n;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    n = strlen(err);
    if (n < errlen)
        snprintf(err + n, errlen - n, ": %s", e && e->message ? e->message : "unknown error");
    return r;
}

const char *qemu_vmid_of(const char *name, char *vmid, size_t len)
{
    size_t n;

    if (!name || strncmp(name, "vm", 2) != 0)
        return NULL;
    name += 2;
    n = strspn(name, "0123456789");
    if (n == 0 || n != strlen(name) || n >= len || name[0] == '0')
        return NULL;
    memcpy(vmid, name, n + 1);
    return vmid;
}

const char *qemu_state_name(int st)
{
    switch (st) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
    case VIR_DOMAIN_SHUTDOWN: /* still running while the guest shuts down */
        return "running";
    case VIR_DOMAIN_PAUSED:
    case VIR_DOMAIN_PMSUSPENDED:
        return "paused";
    default:
        return "stopped";
    }
}

/* Under qg.lock. */
static struct qemu_vm *find_vm(const char *vmid)
{
    for (size_t i = 0; i < qg.nvms; i++)
        if (strcmp(qg.vms[i]->vmid, vmid) == 0)
            return qg.vms[i];
    return NULL;
}

struct qemu_vm *qemu_vm(const char *vmid)
{
    struct qemu_vm *vm;

    if (strlen(vmid) >= sizeof(vm->vmid))
        return NULL;
    pthread_mutex_lock(&qg.lock);
    vm = find_vm(vmid);
    if (!vm && qg.nvms == qg.capvms) {
        size_t cap = qg.capvms ? qg.capvms * 2 : 16;
        struct qemu_vm **v = realloc(qg.vms, cap * sizeof(*v));
        if (v) {
            qg.vms = v;
            qg.capvms = cap;
        }
    }
    if (!vm && qg.nvms < qg.capvms && (vm = calloc(1, sizeof(*vm)))) {
        snprintf(vm->vmid, sizeof(vm->vmid), "%s", vmid);
        pthread_mutex_init(&vm->act, NULL);
        snprintf(vm->st.state, sizeof(vm->st.state), "stopped");
        qg.vms[qg.nvms++] = vm;
    }
    pthread_mutex_unlock(&qg.lock);
    return vm;
}

/* Under qg.lock: a state change, from an event or an action. */
static void apply_state(struct qemu_vm *vm, const char *state)
{
    vm->st.known = 1;
    snprintf(vm->st.state, sizeof(vm->st.state), "%s", state);
    vm->evgen = ++qg.evseq;
    vm->pending[0] = '\0';
    if (strcmp(state, "stopped") == 0) {
        qemu_clear_live(vm);
        vm->started = 0;
    }
}

void qemu_clear_live(struct qemu_vm *vm)
{
    vm->st.pid = 0;
    vm->st.cpu = 0;
    vm->st.uptime_s = 0;
    vm->st.mem = 0;
    vm->st.migration[0] = '\0';
    vm->cpu_at = 0;
}

void qemu_set_state(const char *vmid, const char *state)
{
    struct qemu_vm *vm = qemu_vm(vmid);

    if (!vm)
        return;
    pthread_mutex_lock(&qg.lock);
    apply_state(vm, state);
    pthread_mutex_unlock(&qg.lock);
}

static const char *pick(const char *const *tab, size_t size, int detail)
{
    return detail >= 0 && (size_t)detail < size / sizeof(tab[0]) ? tab[detail] : "";
}

/* libvirt's lifecycle event → our state and a short reason; 0 for events without a change. */
static int map_event(int event, int detail, const char **state, const char **why)
{
    static const char *const started[] = {"started", "migrated", "restored", "rollback", "wakeup"};
    static const char *const suspended[] = {"paused",   "migrating", "io-error",
                                            "watchdog", "restored",  "rollback",
                                            "error",    "postcopy",  "postcopy-failed"};
    static const char *const resumed[] = {"resumed", "migrated", "rollback", "postcopy",
                                          "postcopy-failed"};
    /* FAILED: the QEMU process went away without being asked (killed, died) */
    static const char *const stopped[] = {"shutdown", "destroyed", "crashed", "migrated",
                                          "saved",    "killed",    "rollback"};

    switch (event) {
    case VIR_DOMAIN_EVENT_STARTED:
        *state = "running";
        *why = pick(started, sizeof(started), detail);
        return 1;
    case VIR_DOMAIN_EVENT_SUSPENDED:
        *state = "paused";
        *why = pick(suspended, sizeof(suspended), detail);
        return 1;
    case VIR_DOMAIN_EVENT_RESUMED:
        *state = "running";
        *why = pick(resumed, sizeof(resumed), detail);
        return 1;
    case VIR_DOMAIN_EVENT_STOPPED:
        *state = "stopped";
        *why = pick(stopped, sizeof(stopped), detail);
        return 1;
    case VIR_DOMAIN_EVENT_PMSUSPENDED:
        *state = "paused";
        *why = "pmsuspended";
        return 1;
    case VIR_DOMAIN_EVENT_CRASHED:
        *state = "stopped";
        *why = "crashed";
        return 1;
    default: /* DEFINED, UNDEFINED, SHUTDOWN (STOPPED follows) */
        return 0;
    }
}

void qemu_notify(const char *vmid, const char *state, const char *why)
{
    qemu_event_fn fn;
    void *arg;

    pthread_mutex_lock(&qg.lock);
    fn = qg.on_event;
    arg = qg.event_arg;
    pthread_mutex_unlock(&qg.lock);
    if (fn)
        fn(arg, vmid, state, why);
}

/*
 * Applies an event to the table; 0 when it repeats the last one. libvirt reports a start
 * as RESUMED then STARTED, a rollback as STARTED then RESUMED, and QEMU often resets
 * twice in a row: each is told once.
 */
static int seen(struct qemu_vm *vm, int event, const char **why, const char *state)
{
    int64_t now = qemu_mono_ms();
    char last[sizeof(vm->last)], name[24];
    int dup, pid = 0;

    /* the first stats sample of a booting TCG guest can take seconds; the pid cannot wait */
    if (strcmp(state, "running") == 0) {
        snprintf(name, sizeof(name), "vm%s", vm->vmid);
        pid = qemu_pid_file(name);
    }
    pthread_mutex_lock(&qg.lock);
    if (event == VIR_DOMAIN_EVENT_RESUMED && strcmp(vm->st.state, "stopped") == 0)
        *why = "started";
    if (event >= 0) {
        apply_state(vm, state);
        if (event == VIR_DOMAIN_EVENT_STARTED)
            vm->started = now / 1000;
        if (pid)
            vm->st.pid = pid;
        /* sample now: status should carry the new pid before the next publication */
        pthread_cond_signal(&qg.stats_cv);
    }
    snprintf(last, sizeof(last), "%s %s", state, *why);
    dup = strcmp(last, vm->last) == 0 && now - vm->last_ms < 2000;
    memcpy(vm->last, last, sizeof(last));
    vm->last_ms = now;
    pthread_mutex_unlock(&qg.lock);
    return !dup;
}

static int on_lifecycle(virConnectPtr c, virDomainPtr d, int event, int detail, void *opaque)
{
    char vmid[16];
    const char *state, *why;
    struct qemu_vm *vm;

    (void)c;
    (void)opaque;
    if (!qemu_vmid_of(virDomainGetName(d), vmid, sizeof(vmid)) ||
        !map_event(event, detail, &state, &why))
        return 0;
    if (!(vm = qemu_vm(vmid)))
        return 0;
    if (seen(vm, event, &why, state))
        qemu_notify(vmid, state, why);
    return 0;
}

/* A reset, from the guest or from us: reboot waits for one. */
static void on_reboot(virConnectPtr c, virDomainPtr d, void *opaque)
{
    const char *why = "reboot";
    char vmid[16];
    struct qemu_vm *vm;

    (void)c;
    (void)opaque;
    if (!qemu_vmid_of(virDomainGetName(d), vmid, sizeof(vmid)) || !(vm = qemu_vm(vmid)))
        return;
    pthread_mutex_lock(&qg.lock);
    vm->reboots++;
    pthread_mutex_unlock(&qg.lock);
    if (seen(vm, -1, &why, "running"))
        qemu_notify(vmid, "running", why);
}

/* On libvirt's event thread: only mark; closing a connection here would deadlock. */
static void on_close(virConnectPtr c, int reason, void *opaque)
{
    (void)c;
    (void)reason;
    (void)opaque;
    pthread_mutex_lock(&qg.lock);
    qg.lost = 1;
    pthread_mutex_unlock(&qg.lock);
}

virConnectPtr qemu_conn(char *err, size_t errlen)
{
    virConnectPtr c = NULL;

    pthread_mutex_lock(&qg.lock);
    if (qg.conn && !qg.lost && virConnectRef(qg.conn) == 0)
        c = qg.conn;
    else if (qg.ready)
        qemu_err(-EIO, err, errlen, "not connected to libvirt at %s (reconnecting)", qg.uri);
    else
        qemu_err(-EIO, err, errlen, "the qemu driver is not open");
    pthread_mutex_unlock(&qg.lock);
    return c;
}

int qemu_connect(char *err, size_t errlen)
{
    virConnectPtr c;

    /* the embedded driver probes QEMU's capabilities by forking it */
    drv_fork_enter();
    c = virConnectOpen(qg.uri);
    drv_fork_leave();
    int lc, rb;

    if (!c)
        return qemu_fail(err, errlen, "cannot connect to libvirt at %s", qg.uri);
    /* a dead daemon is noticed within ~15 s even when idle; embed has no keepalive */
    virConnectSetKeepAlive(c, 5, 3);
    virConnectRegisterCloseCallback(c, on_close, NULL, NULL);
    lc = virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                          VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), NULL, NULL);
    if (lc < 0) {
        int r = qemu_fail(err, errlen, "cannot watch guest events on %s", qg.uri);
        virConnectUnregisterCloseCallback(c, on_close);
        virConnectClose(c);
        return r;
    }
    rb = virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_REBOOT,
                                          VIR_DOMAIN_EVENT_CALLBACK(on_reboot), NULL, NULL);
    pthread_mutex_lock(&qg.lock);
    qg.conn = c;
    qg.lc_cb = lc;
    qg.rb_cb = rb;
    qg.lost = 0;
    pthread_mutex_unlock(&qg.lock);
    return 0;
}

void qemu_disconnect(void)
{
    virConnectPtr c;
    int lc, rb;

    pthread_mutex_lock(&qg.lock);
    c = qg.conn;
    lc = qg.lc_cb;
    rb = qg.rb_cb;
    qg.conn = NULL;
    qg.lc_cb = qg.rb_cb = -1;
    pthread_mutex_unlock(&qg.lock);
    if (!c)
        return;
    /* these fail on a dead connection; the close below frees what is left */
    if (lc >= 0)
        virConnectDomainEventDeregisterAny(c, lc);
    if (rb >= 0)
        virConnectDomainEventDeregisterAny(c, rb);
    virConnectUnregisterCloseCallback(c, on_close);
    virConnectClose(c);
    virResetLastError();
}

static void *ev_main(void *arg)
{
    (void)arg;
    while (ev_run)
        virEventRunDefaultImpl();
    return NULL;
}

static void ev_wake(int timer, void *opaque)
{
    (void)opaque;
    virEventRemoveTimeout(timer);
}

/* libvirt prints every error to stderr unless a handler is set; ours come back as err. */
static void quiet(void *arg, virErrorPtr e)
{
    (void)arg;
    (void)e;
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, 0755);
        *p = '/';
        if (r < 0 && errno != EEXIST)
            return -errno;
    }
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/*
 * The embedded driver reads ROOT/etc/qemu.conf. As root, QEMU must run as root (there is
 * no libvirt-qemu setup to hand files to), libvirt must not chown, label or cgroup
 * anything, and QEMU's output goes to files (no virtlogd).
 */
static int embed_conf(const char *root, char *err, size_t errlen)
{
    char dir[1100], path[1200], tmp[1300];
    FILE *f;
    int r;

    snprintf(dir, sizeof(dir), "%s/etc", root);
    snprintf(path, sizeof(path), "%s/qemu.conf", dir);
    if (access(path, F_OK) == 0)
        return 0;
    if ((r = mkdirs(dir)) < 0)
        return qemu_err(r, err, errlen, "cannot create %s: %s", dir, strerror(-r));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (!(f = fopen(tmp, "w")))
        return qemu_err(-errno, err, errlen, "cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "# written by pvefs for libvirt's embedded qemu driver\n");
    if (geteuid() == 0)
        fprintf(f, "user = \"root\"\ngroup = \"root\"\n");
    fprintf(f, "stdio_handler = \"file\"\ndynamic_ownership = 0\nremember_owner = 0\n"
               "cgroup_controllers = [ ]\nsecurity_driver = \"none\"\nnamespaces = [ ]\n");
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        r = -errno;
        unlink(tmp);
        return qemu_err(r, err, errlen, "cannot write %s: %s", path, strerror(-r));
    }
    return 0;
}

/*
 * The embedded driver logs warnings (e.g. "tainted: high-privileges" for every root
 * guest) to our stderr; send them to ROOT/log/libvirt.log unless the user chose.
 * libvirt reads this once, in virInitialize.
 */
static void embed_log(const char *root)
{
    char dir[1100], out[1200];

    if (getenv("LIBVIRT_LOG_OUTPUTS") || getenv("LIBVIRT_DEBUG"))
        return;
    snprintf(dir, sizeof(dir), "%s/log", root);
    if (mkdirs(dir) < 0)
        return;
    snprintf(out, sizeof(out), "3:file:%s/libvirt.log", dir);
    setenv("LIBVIRT_LOG_OUTPUTS", out, 0);
}

static void pick_uri(const struct qemu_env *env)
{
    const char *embed = "qemu:///embed?root=";

    if (env->uri)
        snprintf(qg.uri, sizeof(qg.uri), "%s", env->uri);
    else if (access(SYSTEM_SOCK, F_OK) == 0)
        snprintf(qg.uri, sizeof(qg.uri), "qemu:///system");
    else
        snprintf(qg.uri, sizeof(qg.uri), "%s%s", embed, env->root ? env->root : "");
    qg.piddir[0] = '\0';
    if (strncmp(qg.uri, embed, strlen(embed)) == 0)
        snprintf(qg.piddir, sizeof(qg.piddir), "%.1200s/run/qemu", qg.uri + strlen(embed));
    else if (strcmp(qg.uri, "qemu:///system") == 0)
        snprintf(qg.piddir, sizeof(qg.piddir), "/run/libvirt/qemu");
}

int qemu_open(const struct qemu_env *env, char *err, size_t errlen)
{
    const char *kvm = getenv("PVEFS_QEMU_KVM");
    int r;

    if (qg.ready)
        return qemu_err(-EALREADY, err, errlen, "the qemu driver is already open");
    pick_uri(env);
    if (!env->uri && strncmp(qg.uri, "qemu:///embed", 13) == 0) {
        if (!env->root || !env->root[0])
            return qemu_err(-EINVAL, err, errlen, "no root directory for libvirt's embed mode");
        if ((r = embed_conf(env->root, err, errlen)) < 0)
            return r;
    }
    snprintf(qg.logdir, sizeof(qg.logdir), "%s", env->logdir ? env->logdir : "/tmp");
    qg.resolve = env->resolve;
    qg.resolve_arg = env->resolve_arg;
    qg.bridge = env->bridge;
    qg.bridge_arg = env->bridge_arg;
    qg.on_event = env->on_event;
    qg.event_arg = env->event_arg;
    /* /dev/kvm may exist without running stock kernels (kvm_pvm): TCG unless told */
    qg.kvm = kvm && strcmp(kvm, "1") == 0;
    qg.stopping = 0;

    if (!env->uri && strncmp(qg.uri, "qemu:///embed", 13) == 0)
        embed_log(env->root);
    if (virInitialize() < 0)
        return qemu_fail(err, errlen, "cannot initialise libvirt");
    virSetErrorFunc(NULL, quiet);
    if (!ev_registered) {
        if (virEventRegisterDefaultImpl() < 0)
            return qemu_fail(err, errlen, "cannot set up libvirt's event loop");
        ev_registered = 1;
    }
    ev_run = 1;
    if ((r = pthread_create(&ev_th, NULL, ev_main, NULL)) != 0)
        return qemu_err(-r, err, errlen, "cannot start the libvirt event thread: %s", strerror(r));
    if ((r = qemu_connect(err, errlen)) < 0)
        goto out_ev;
    qg.ready = 1;
    if ((r = pthread_create(&qg.stats_th, NULL, qemu_stats_main, NULL)) != 0) {
        qemu_err(-r, err, errlen, "cannot start the qemu stats thread: %s", strerror(r));
        r = -r;
        qg.ready = 0;
        qemu_disconnect();
        goto out_ev;
    }
    return 0;

out_ev:
    ev_run = 0;
    virEventAddTimeout(0, ev_wake, NULL, NULL);
    pthread_join(ev_th, NULL);
    return r;
}

void qemu_close(void)
{
    if (!qg.ready)
        return;
    pthread_mutex_lock(&qg.lock);
    qg.stopping = 1;
    pthread_cond_signal(&qg.stats_cv);
    pthread_mutex_unlock(&qg.lock);
    pthread_join(qg.stats_th, NULL);
    qemu_disconnect();
    ev_run = 0;
    virEventAddTimeout(0, ev_wake, NULL, NULL); /* wakes the loop so the thread sees ev_run */
    pthread_join(ev_th, NULL);

    pthread_mutex_lock(&qg.lock);
    for (size_t i = 0; i < qg.nvms; i++) {
        pthread_mutex_destroy(&qg.vms[i]->act);
        free(qg.vms[i]);
    }
    free(qg.vms);
    qg.vms = NULL;
    qg.nvms = qg.capvms = 0;
    qg.ready = 0;
    qg.on_event = NULL;
    pthread_mutex_unlock(&qg.lock);
}

int qemu_ready(void)
{
    return qg.ready;
}

int qemu_state(const char *vmid, char *buf, size_t len)
{
    struct qemu_vm *vm;

    pthread_mutex_lock(&qg.lock);
    vm = find_vm(vmid);
    snprintf(buf, len, "%s", vm && vm->st.known ? vm->st.state : "stopped");
    pthread_mutex_unlock(&qg.lock);
    return 0;
}

int qemu_stats(const char *vmid, struct qemu_stats *s)
{
    struct qemu_vm *vm;

    pthread_mutex_lock(&qg.lock);
    vm = find_vm(vmid);
    if (vm && vm->st.known) {
        *s = vm->st;
    } else {
        memset(s, 0, sizeof(*s));
        snprintf(s->state, sizeof(s->state), "stopped");
    }
    pthread_mutex_unlock(&qg.lock);
    return 0;
}
