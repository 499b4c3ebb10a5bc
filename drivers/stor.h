/*
 * stor: storage backends, one ops table per storage type (dir, rbd).
 *
 * The fs layer keeps the replicated catalog (storage/<id>/volumes/...); a backend
 * only acts on real storage: files through qemu-img for dir, images through librbd
 * for rbd. Every call blocks and may be slow, so callers run them outside any
 * tree lock, on the node that owns the volume. Calls return 0 or -errno with err
 * filled with what failed and why ("qemu-img resize: ...: No space left").
 */
#ifndef PV_STOR_H
#define PV_STOR_H

#include <stddef.h>
#include <stdint.h>

#define STOR_ERRLEN 512

/* A storage's parsed config (storage/<id>/config); unset strings are "". */
struct stor_cfg {
    char id[64];
    char type[16];
    /* dir */
    char path[1024];
    char format[16]; /* default image format of new volumes: qcow2 unless set */
    /* rbd; monhost "" means the cluster's own Ceph (ceph/config) */
    char pool[128]; /* default "rbd" */
    char monhost[512];
    char username[64]; /* default "admin" */
    char keyring[1024];
    char conf[1024]; /* a ceph.conf to read first, "" for none */
    char key[128];   /* a cephx secret, when no keyring file is named */
};

struct stor_vol {
    char name[128];   /* the catalog name: "vm-100-disk-0", "vm-100-disk-1.raw" */
    char format[16];  /* qcow2, raw, vmdk, subvol (dir); raw (rbd) */
    uint64_t size;    /* virtual size in bytes */
    char path[1200];  /* dir: the file or directory; rbd: "pool/image" */
    char parent[256]; /* rbd: "pool/image@snap" of a clone, else "" */
};

struct stor_usage {
    uint64_t total, used, avail;
};

enum stor_snap_op {
    STOR_SNAP_CREATE,
    STOR_SNAP_REMOVE,
    STOR_SNAP_ROLLBACK,
    STOR_SNAP_PROTECT,
    STOR_SNAP_UNPROTECT,
};

typedef int (*stor_vol_fn)(void *arg, const struct stor_vol *v);
typedef int (*stor_snap_fn)(void *arg, const char *snap, int protect);

struct stor_ops {
    const char *type;
    /* Where volume name lives and in what format (fmt NULL: from the name or the
     * storage default). No I/O. -EINVAL for a name the type cannot hold. */
    int (*locate)(const struct stor_cfg *c, const char *name, const char *fmt, struct stor_vol *v,
                  char *err, size_t errlen);
    /* Creates volume name of size bytes (0 allowed). -EEXIST if it exists. */
    int (*alloc)(const struct stor_cfg *c, const char *name, const char *fmt, uint64_t size,
                 struct stor_vol *out, char *err, size_t errlen);
    /*
     * Creates volume name from the image file src (an absolute path on this node; see
     * stor_probe_import for what is refused), converted to fmt (NULL: dir: from the
     * name or the storage default; rbd: raw). -EEXIST if the volume exists, -ENOENT if
     * src is missing, -EINVAL for a source that is not an importable image. A failed
     * import leaves no volume behind.
     */
    int (*import)(const struct stor_cfg *c, const char *name, const char *src, const char *fmt,
                  struct stor_vol *out, char *err, size_t errlen);
    /* Removes the volume and its snapshots. -EBUSY if clones depend on it. */
    int (*free)(const struct stor_cfg *c, const char *name, char *err, size_t errlen);
    /* Reads the volume's format and size from the backend. -ENOENT if missing. */
    int (*info)(const struct stor_cfg *c, const char *name, struct stor_vol *out, char *err,
                size_t errlen);
    /* Grows to size bytes. The caller refuses shrinks. */
    int (*resize)(const struct stor_cfg *c, const char *name, uint64_t size, char *err,
                  size_t errlen);
    int (*snap)(const struct stor_cfg *c, const char *name, const char *snap, enum stor_snap_op op,
                char *err, size_t errlen);
    /* Lists the snapshots of a volume, oldest first. */
    int (*snaps)(const struct stor_cfg *c, const char *name, stor_snap_fn fn, void *arg, char *err,
                 size_t errlen);
    /* Makes newname from name (at snapshot snap, or its current state if snap is NULL). */
    int (*clone)(const struct stor_cfg *c, const char *name, const char *snap, const char *newname,
                 struct stor_vol *out, char *err, size_t errlen);
    /* Cuts a clone loose from its parent (no-op where clones are full copies). */
    int (*flatten)(const struct stor_cfg *c, const char *name, char *err, size_t errlen);
    /* Capacity of the storage as this node sees it. */
    int (*usage)(const struct stor_cfg *c, struct stor_usage *u, char *err, size_t errlen);
    /* Every image volume the backend holds (for rescans). */
    int (*list)(const struct stor_cfg *c, stor_vol_fn fn, void *arg, char *err, size_t errlen);
};

/* The backend of a storage type, or NULL. */
const struct stor_ops *stor_ops(const char *type);

extern const struct stor_ops stor_dir;
extern const struct stor_ops stor_rbd;

struct pv_buf;

/*
 * Runs qemu-img with argv (argv[0] is the subcommand), its stdout into out (may be
 * NULL) and, when fd3 >= 0, that fd as its fd 3 (a secret for --object ...,file=/dev/fd/3,
 * kept off the command line). On failure err says "qemu-img <what>: <qemu-img's own
 * words>" and the return is the errno those words carry (-EIO when none).
 */
/* Subvol (directory) volumes of dir storage (stor_subvol.c). */
int stor_rmtree(const char *path);
int stor_subvol_copy(const char *src, const char *dst, const char *what, char *err, size_t errlen);
int stor_subvol_snap(const struct stor_vol *v, const char *snap, enum stor_snap_op op, char *err,
                     size_t errlen);
int stor_subvol_snaps(const struct stor_vol *v, stor_snap_fn fn, void *arg, char *err,
                      size_t errlen);
int stor_subvol_clone(const struct stor_vol *v, const char *snap, const char *dst, char *err,
                      size_t errlen);
int stor_subvol_free(const struct stor_vol *v);

/* Runs prog (argv[0] is its name) with no shell; 0, or -errno and what it said on stderr. */
int stor_run(const char *prog, const char *what, char *const argv[], char *err, size_t errlen);
/* The same with stdin from in and stdout to out (-1: /dev/null, discarded). */
int stor_run_io(const char *prog, const char *what, char *const argv[], int in, int out, char *err,
                size_t errlen);
int stor_qimg(const char *what, char *const argv[], int fd3, struct pv_buf *out, char *err,
              size_t errlen);

/*
 * Checks an image file to import and fills path, format and size (virtual) of out:
 * src must be an absolute path to a vmdk, vhdx, qcow2, raw or vpc image (raw only in
 * whole sectors, so a stray text file is not taken for a disk) that reads no other
 * file (no backing file, no external data file, no vmdk extent outside its
 * directory). -ENOENT if src is missing, -EINVAL for what it refuses.
 */
int stor_probe_import(const char *src, struct stor_vol *out, char *err, size_t errlen);

/* Fills err from fmt and returns rc: `return stor_fail(err, len, -EIO, "...", ...);` */
int stor_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Parses "4G", "512M", "1024" (bytes), "1.5T", with K/M/G/T binary units. -EINVAL if bad. */
int stor_parse_size(const char *s, uint64_t *out);

/* The guest id a volume name carries ("vm-100-disk-0" -> 100), or -EINVAL. */
int stor_vol_vmid(const char *name, unsigned long *vmid);

#endif
