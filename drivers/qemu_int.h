/*
 * qemu_int: state shared by the QEMU driver's files.
 *
 *   qemu.c        connection, event loop, reconnect, lifecycle events, the status table
 *   qemu_stats.c  the stats thread (bulk domain stats once a cycle, pid, uptime)
 *   qemu_life.c   start / stop / shutdown / reboot / reset / suspend / resume
 *   qemu_hotplug.c  hot-plugging a disk or NIC
 *   qemu_snap.c   snapshots
 *
 * Locks: qg.lock guards qg and every qemu_vm's fields except act. It is never held
 * across a libvirt call that may block. qemu_vm.act serializes actions on one guest
 * and is taken before qg.lock, never after.
 */
#ifndef PV_QEMU_INT_H
#define PV_QEMU_INT_H

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdint.h>

#include "qemu.h"

#define QEMU_STATS_MS   1000 /* stats cycle */
#define QEMU_WAIT_S     30   /* start, suspend, resume, reset, reboot reach their state */
#define QEMU_SHUTDOWN_S 60   /* default ACPI shutdown timeout */

/* One guest ever seen; entries live until qemu_close, so pointers to them stay valid. */
struct qemu_vm {
    char vmid[16];
    pthread_mutex_t act; /* serializes actions on this guest */
    /* qg.lock: */
    struct qemu_stats st;
    uint64_t cpu_ns;     /* cpu.time at cpu_at */
    int64_t cpu_at;      /* monotonic ns of that sample, 0 none */
    int64_t started;     /* CLOCK_MONOTONIC s of the last STARTED event, 0 unknown */
    unsigned long evgen; /* qg.evseq at the last event or action: older samples are stale */
    unsigned cycle;      /* the last stats cycle that listed it */
    unsigned reboots;    /* REBOOT events seen (guest or host reset) */
    char pending[16];    /* state the stats thread saw once without an event */
    char last[48];       /* "state why" last notified, to drop libvirt's doubled events */
    int64_t last_ms;
};

struct qemu_global {
    pthread_mutex_t lock;
    virConnectPtr conn; /* NULL while (re)connecting */
    int lost;           /* the close callback fired: reconnect in the stats thread */
    int ready, stopping;
    int kvm;
    unsigned long evseq; /* counts state changes from events and actions */
    int lc_cb, rb_cb;    /* event callback ids on conn, -1 none */
    char uri[1200];
    char piddir[1220]; /* where libvirt keeps <name>.pid, "" unknown */
    char logdir[1024];
    qemu_resolve_fn resolve;
    void *resolve_arg;
    qemu_bridge_fn bridge;
    void *bridge_arg;
    qemu_event_fn on_event;
    void *event_arg;
    struct qemu_vm **vms;
    size_t nvms, capvms;
    pthread_t stats_th;
    pthread_cond_t stats_cv; /* wakes the stats thread: close, events */
};
extern struct qemu_global qg;

/* The guest's entry, created on first use; NULL only on ENOMEM. Takes qg.lock. */
struct qemu_vm *qemu_vm(const char *vmid);
/* vmid for a domain name "vm<digits>", or NULL. */
const char *qemu_vmid_of(const char *name, char *vmid, size_t len);

/* Sets a guest's state in the table now (after an action), so reads see it at once. */
void qemu_set_state(const char *vmid, const char *state);
/* Zeroes a guest's live figures (it stopped). qg.lock held. */
void qemu_clear_live(struct qemu_vm *vm);
/* Calls env->on_event (not under qg.lock). */
void qemu_notify(const char *vmid, const char *state, const char *why);
/* "running", "paused" or "stopped" for a libvirt domain state. */
const char *qemu_state_name(int st);

/* A referenced connection (virConnectClose it), or NULL with err filled (-EIO). */
virConnectPtr qemu_conn(char *err, size_t errlen);
/* Opens the connection and registers callbacks; 0 or -errno. Called from open and reconnect. */
int qemu_connect(char *err, size_t errlen);
/* Drops the connection (stats thread, after the close callback). */
void qemu_disconnect(void);

/*
 * Fills err with "what: <libvirt's last error>" (what formatted from fmt) and returns
 * the -errno that fits libvirt's error code.
 */
int qemu_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* snprintf into err and return r. */
int qemu_err(int r, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* One action on a guest: its entry (act held), a connection and the domain (NULL if
 * libvirt does not know it: never started here). */
struct qemu_act {
    struct qemu_vm *vm;
    const char *vmid;
    char name[24]; /* vm<vmid> */
    virConnectPtr c;
    virDomainPtr d;
};
int qemu_begin(const char *vmid, struct qemu_act *a, char *err, size_t errlen);
void qemu_end(struct qemu_act *a);
/* The domain's state name (NULL domain: "stopped"); raw gets libvirt's state if not NULL. */
const char *qemu_dom_state(virDomainPtr d, int *raw);
/* Domain XML for config through qemu_xml() with this driver's options. */
int qemu_build_xml(const char *vmid, const char *config, size_t len, const char *uuid,
                   struct pv_buf *out, char *err, size_t errlen);

/* The stats thread. */
void *qemu_stats_main(void *arg);
/* The QEMU pid from libvirt's pid file for domain name; 0 when unknown. */
int qemu_pid_file(const char *name);

int64_t qemu_mono_ms(void);

#endif
