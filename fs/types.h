/*
 * types: the object-type registry that the whole /pve tree is built from.
 *
 * Every stored directory carries an object type (persisted in the store, so the
 * numbers below never change meaning). A type lists its files, the fixed
 * subdirectories created with it, what users may mkdir in it, and flags. The fs
 * layer is generic over these tables: a new object type is one table plus its
 * render/apply callbacks; no path is dispatched by string comparison chains.
 */
#ifndef PV_TYPES_H
#define PV_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

struct conf_schema;
struct fs;

/* Persisted object type ids: append only. */
enum pv_type_id {
    T_NONE = 0,
    T_ROOT = 1,
    T_CLUSTER,
    T_NODES,
    T_NODE,
    T_QEMU_LIST,
    T_QEMU,
    T_LXC_LIST,
    T_LXC,
    T_SNAPS,
    T_NODE_STORAGE,
    T_NODE_NET,
    T_STORAGE_LIST,
    T_CEPH,
    T_CEPH_POOLS,
    T_CEPH_OSDS,
    T_SDN,
    T_ZONES,
    T_VNETS,
    T_HA,
    T_HA_GROUPS,
    T_HA_RESOURCES,
    T_PRIV,
    T_PLAIN, /* a directory users made in priv/: scratch only */
    T_VMS,
    T_FILE, /* stored plain (scratch) file */
    T_STORAGE,
    T_VOLUMES,
    T_VOLUME,
    T_VOL_SNAPS,
    T_VOL_SNAP,
    T_NODE_STOR, /* nodes/<node>/storage/<id> */
    T_CEPH_POOL,
    T_CEPH_OSD,
    T_GSNAP,       /* nodes/<node>/{qemu,lxc}/<id>/snapshots/<name> */
    T_ZONE,        /* sdn/zones/<zone> */
    T_VNET,        /* sdn/vnets/<vnet> */
    T_SUBNETS,     /* sdn/vnets/<vnet>/subnets */
    T_SUBNET,      /* sdn/vnets/<vnet>/subnets/<subnet> */
    T_HA_GROUP,    /* ha/groups/<group> */
    T_HA_RESOURCE, /* ha/resources/<sid> */
    T_NODE_IFACE,  /* nodes/<node>/network/<iface> */
    T_MAX
};

/* Uniqueness classes (memdb): guest ids are unique across qemu and lxc, tree-wide. */
enum { U_NONE = 0, U_GUEST_ID = 1 };

enum pv_kind {
    PK_CONFIG, /* stored; validated against schema; canonical read-back */
    PK_STATUS, /* generated at open, read-only */
    PK_CTL,    /* write-only; each write(2) is one command */
    PK_STATE,  /* read: rendered; write: applied whole */
    PK_LOG,    /* generated, append-only, addressed by offset */
    PK_LINK,   /* generated symlink */
};

/* What a file callback gets: the object it belongs to. */
struct pv_obj {
    struct fs *fs;
    uint64_t dir;     /* inode of the object's directory */
    uint16_t type;    /* its object type */
    char name[256];   /* its directory name (vmid, node name, ...) */
    char node[64];    /* the node that owns it ("" if none) */
    char path[1024];  /* its path under the mount, "/nodes/n1/qemu/100" */
    const char *file; /* the file a render or apply is for ("size"), else NULL */
};

/* Error report of a refused change: errno (positive) and the reason. */
struct pv_err {
    int err;
    char msg[512];
};

/* Fills e and returns -err: `return pv_fail(e, EINVAL, "bad %s", x);` */
int pv_fail(struct pv_err *e, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

enum {
    PF_VOLATILE = 1,  /* content may change at any time: mtime is "now" */
    PF_ROOT_READ = 2, /* only root may read */
    PF_RECORD = 4     /* PK_CONFIG written by pvefs itself (a driver's record); read-only */
};

struct pv_file {
    const char *name;
    mode_t mode;
    enum pv_kind kind;
    unsigned flags;
    int (*render)(const struct pv_obj *o, struct pv_buf *out);
    int (*apply)(const struct pv_obj *o, const char *in, size_t len, struct pv_err *e);
    const struct conf_schema *schema;                           /* PK_CONFIG */
    int (*initial)(const struct pv_obj *o, struct pv_buf *out); /* PK_CONFIG at mkdir */
    /* PK_CONFIG: the document's rules against the rest of the tree (the storage a disk
     * names, the zone a VNet names). Pure, so it runs at every write(2) that completes
     * lines, with partial set: a rule that a later line can still satisfy must not fail
     * then, so that every other refusal reaches the writer at write(2), where bash sees
     * it. Run whole again at commit, before before_commit. Fills e, returns -errno. */
    int (*check)(const struct pv_obj *o, const char *doc, size_t len, int partial,
                 struct pv_err *e);
    /* PK_CONFIG: may rewrite a validated document before it is stored (*doc is malloc'd;
     * replace it and *len to change it). Fills e and returns -errno to refuse it. */
    int (*before_commit)(const struct pv_obj *o, char **doc, size_t *len, struct pv_err *e);
    /* PK_CONFIG: told after the document was stored (errors are the callee's to report). */
    void (*after_commit)(const struct pv_obj *o);
};

struct pv_sub {
    const char *name;
    uint16_t type;
};

enum {
    PT_SCRATCH = 1,   /* accepts scratch files (temp files of editors and tools) */
    PT_RMDIR = 2,     /* users may rmdir objects of this type */
    PT_MKDIR_ID = 4,  /* children are named by a guest id */
    PT_GUEST = 8,     /* a guest (qemu or lxc) */
    PT_VMS = 16,      /* lists every VM as a symlink */
    PT_OWNED = 32,    /* owner node is the "node:" of its status record, if set */
    PT_MIRRORED = 64, /* a monitor adds and removes these behind the kernel: no name caching */
};

struct pv_type {
    const char *name;
    mode_t mode;                 /* directory permission bits */
    const struct pv_file *files; /* ends with {NULL} */
    const struct pv_sub *subs;   /* ends with {NULL}; created with the object */
    uint16_t child;              /* type of user-made subdirectories, T_NONE if none */
    uint32_t uniq;               /* uniqueness class of objects of this type */
    unsigned flags;
    const char *nomkdir; /* why mkdir is refused here, for the error message */
    /* Checks a user-chosen child name; NULL: any name the store takes. */
    int (*name_ok)(const char *name, struct pv_err *e);
    /* mkdir here asks a driver: it acts on the backend, then commits the child itself. */
    int (*create)(struct fs *fs, uint64_t dir, const char *name, struct pv_err *e);
    /* rmdir of an object of this type: the driver acts, then removes the entry itself. */
    int (*destroy)(const struct pv_obj *o, struct pv_err *e);
};

const struct pv_type *pv_type(uint16_t id);
/* Row index of name in the type's files, or -1. */
int pv_type_file(const struct pv_type *t, const char *name);
uint32_t pv_type_uniq(uint16_t objtype);

/* Checks a user-chosen child directory name for type t (e.g. a guest id). */
int pv_type_child_ok(const struct pv_type *t, const char *name, struct pv_err *e);

#endif
