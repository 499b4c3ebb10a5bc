/*
 * qemu: the QEMU guest driver, through libvirt.
 *
 * qemu_xml.c turns a guest's Proxmox config into libvirt domain XML (pure; no I/O).
 * qemu.c owns the libvirt connection, its event loop, lifecycle actions, snapshots,
 * and a stats thread that samples every domain once a cycle (bulk stats), so status
 * reads never call libvirt.
 */
#ifndef PV_QEMU_H
#define PV_QEMU_H

#include <stddef.h>
#include <stdint.h>

#include "../fs/buf.h"

#define QEMU_ERRLEN 512

/* Where a disk's volume lives, as the storage layer resolves a volid. */
struct qemu_disk {
    enum { QD_FILE, QD_RBD } kind;
    char path[1200];   /* QD_FILE: the image file; QD_RBD: "pool/image" */
    char format[16];   /* qcow2, raw, vmdk (QD_FILE); raw (QD_RBD) */
    char monhost[512]; /* QD_RBD: monitors ("" = from conf) */
    char conf[1024];   /* QD_RBD: a ceph.conf, "" if none */
    char user[64];     /* QD_RBD: cephx user without "client." */
    char key[128];     /* QD_RBD: the cephx secret ("" = from the keyring in conf) */
};

/* Resolves "storage:volume" (or an absolute path) to a disk. Returns 0 or -errno. */
typedef int (*qemu_resolve_fn)(void *arg, const char *volid, struct qemu_disk *out, char *err,
                               size_t errlen);

/* Whether a NIC's bridge exists where the guest runs: 0, or -ENOENT (or another -errno) with
 * err naming the bridge and the node. Asked before libvirt or LXC, whose own errors about a
 * missing bridge say neither (net_guest_bridge is the real one). */
typedef int (*qemu_bridge_fn)(void *arg, const char *bridge, char *err, size_t errlen);

struct qemu_xml_opts {
    const char *name;        /* domain name, "vm<vmid>" */
    const char *uuid;        /* from smbios1 uuid=, or NULL (libvirt picks) */
    const char *serial_log;  /* file for the serial console (ttyS0), or NULL for a pty */
    int kvm;                 /* 1: <domain type='kvm'>, 0: TCG; config "kvm: 0" forces 0 */
    qemu_resolve_fn resolve; /* for disk volids */
    void *arg;
    /* For an rbd disk with an explicit cephx key: the uuid of a libvirt secret holding it
     * (0, or -errno with err). NULL: such disks are refused. */
    int (*secret)(void *arg, const char *user, const char *key, char *uuid, size_t len, char *err,
                  size_t errlen);
    void *secret_arg;
    qemu_bridge_fn bridge; /* checks each NIC's bridge; NULL: not checked */
    void *bridge_arg;
};

/*
 * Builds domain XML for config (a canonical Proxmox qemu-server document, main
 * section only is used) into out. Understood: name, memory, balloon (ignored),
 * sockets, cores, vcpus, cpu (type; host -> host-passthrough when kvm), kvm, ostype,
 * machine (pc / q35 variants), bios (seabios / ovmf), boot (order=...), scsihw,
 * scsiN / virtioN / sataN / ideN (volid or "none", media=cdrom, cache, discard,
 * iothread, size ignored), netN (model=MAC, bridge, tag, firewall ignored,
 * link_down), serial0 (socket), args (only -kernel, -initrd, -append are mapped:
 * direct kernel boot for tests). Unknown keys are ignored (they are validated by the
 * config schema already). Returns 0, or -EINVAL / -ENOENT (a volume that cannot be
 * resolved) with err filled.
 */
int qemu_xml(const char *config, size_t len, const struct qemu_xml_opts *o, struct pv_buf *out,
             char *err, size_t errlen);

/* Live figures of a guest (from the last stats cycle). */
struct qemu_stats {
    int known;
    char state[16]; /* running, paused, stopped */
    int pid;
    uint64_t uptime_s;
    double cpu;      /* share of one host CPU over the last cycle, 0..cpus */
    uint64_t mem;    /* bytes in use (balloon rss, else max) */
    uint64_t maxmem; /* bytes */
    uint64_t diskread, diskwrite, netin, netout; /* bytes, since start */
    char migration[64];                          /* "" or "running 42%" while a migration runs */
};

/* Called (on libvirt's event thread) when a guest's state changes; why is a short reason. */
typedef void (*qemu_event_fn)(void *arg, const char *vmid, const char *state, const char *why);

struct qemu_env {
    const char *uri;    /* libvirt URI; NULL: qemu:///system if its socket exists, else embed */
    const char *root;   /* embed root (e.g. <datadir>/libvirt) */
    const char *logdir; /* serial logs: <logdir>/<vmid>.serial */
    qemu_resolve_fn resolve;
    void *resolve_arg;
    qemu_bridge_fn bridge; /* NICs' bridges are checked before libvirt is asked */
    void *bridge_arg;
    qemu_event_fn on_event;
    void *event_arg;
};

/* Connects, starts the event loop and the stats thread. Returns 0 or -errno with err. */
int qemu_open(const struct qemu_env *env, char *err, size_t errlen);
void qemu_close(void);
/* 1 when qemu_open succeeded (the driver can act). */
int qemu_ready(void);

/* Actual state: "running", "paused", "stopped". */
int qemu_state(const char *vmid, char *buf, size_t len);
int qemu_stats(const char *vmid, struct qemu_stats *s);

/*
 * Lifecycle. start builds XML from config and starts the domain; each returns when
 * the guest reached the target state, or fails with the reason (-ETIMEDOUT and
 * "still running after N s" for a shutdown the guest ignored).
 */
int qemu_start(const char *vmid, const char *config, size_t len, char *err, size_t errlen);
int qemu_stop(const char *vmid, char *err, size_t errlen); /* hard */
int qemu_shutdown(const char *vmid, int timeout_s, int force, char *err, size_t errlen);
int qemu_reboot(const char *vmid, char *err, size_t errlen); /* ACPI reboot */
int qemu_reset(const char *vmid, char *err, size_t errlen);
int qemu_suspend(const char *vmid, char *err, size_t errlen);
int qemu_resume(const char *vmid, char *err, size_t errlen);

/* Snapshots (internal, qcow2; with RAM when running). */
int qemu_snapshot(const char *vmid, const char *name, char *err, size_t errlen);
int qemu_rollback(const char *vmid, const char *name, char *err, size_t errlen);
int qemu_delsnapshot(const char *vmid, const char *name, char *err, size_t errlen);
struct qemu_snapinfo {
    char name[64], parent[64];
    int64_t time;
    int vmstate; /* holds RAM */
};
typedef int (*qemu_snap_fn)(void *arg, const struct qemu_snapinfo *s);
int qemu_snapshots(const char *vmid, qemu_snap_fn fn, void *arg, char *err, size_t errlen);

/* Hot-plugs disk key ("scsi1", "virtio2") / NIC ("net1") from config into a running guest. */
int qemu_hotplug(const char *vmid, const char *config, size_t len, const char *key, char *err,
                 size_t errlen);

/* Grows disk (its image path or rbd "pool/image") of a running guest to size bytes. */
int qemu_block_resize(const char *vmid, const char *disk, uint64_t size, char *err, size_t errlen);

/* The libvirt URI this node's driver uses. */
const char *qemu_uri(void);
/* Moves running guest vmid live to the libvirt at dest_uri; stream_uri ("tcp://addr") says
 * where QEMU sends the guest, NULL for libvirt's choice. */
int qemu_migrate(const char *vmid, const char *dest_uri, const char *stream_uri, char *err,
                 size_t errlen);

/* drv_qemu.c: starts and stops the driver behind drv.h's ops table. */
int drv_qemu_start(const struct qemu_env *env);
void drv_qemu_stop(void);

#endif
