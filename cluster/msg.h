/*
 * msg: the wire format of a store change ("batch"), as it goes over the
 * replication channel. Local mode encodes and decodes it too, so the single-node
 * path and the cluster path apply exactly the same bytes.
 *
 * All integers are big-endian. Layout:
 *
 *   offset size  field
 *   0      4     magic "PVFS"
 *   4      2     format version (MSG_VERSION)
 *   6      2     number of ops (1..MSG_MAX_OPS)
 *   8      4     writer node id
 *   12     8     writer sequence number (matches a reply to its waiter)
 *   20     8     mtime, ns since the epoch, on the writer's clock
 *   28     ...   ops
 *
 * An op is: code u8, flags u8, then per code
 *   CREATE  parent u64, kind u16, objtype u16, mode u32, uid u32, gid u32, name, data
 *   WRITE   inode u64, [if_version u64 when MSG_F_IFVERSION], data
 *   SETATTR inode u64, mask u32, mode u32, uid u32, gid u32, mtime i64
 *   DELETE  inode u64                       (flags: MSG_F_RECURSIVE)
 *   RENAME  inode u64, dst_parent u64, name (replaces a target of the same kind)
 * where name is u16 length + bytes (1..255, no '/' or NUL) and data is
 * u32 length + bytes (at most MSG_MAX_DATA).
 *
 * A WRITE with MSG_F_IFVERSION applies only if the file's version is still
 * if_version, else fails with -ESTALE on every node alike: a compare-and-set
 * that the total order of batches makes safe across nodes (HA leases use it).
 *
 * A parent or inode field with MSG_REF set refers to the inode created by op
 * number (field & 0xffff) of the same batch.
 */
#ifndef PV_MSG_H
#define PV_MSG_H

#include <stddef.h>
#include <stdint.h>

#define MSG_MAGIC    0x50564653u
#define MSG_VERSION  1
#define MSG_MAX_OPS  16
#define MSG_MAX_DATA (1u << 20)
#define MSG_MAX_NAME 255
#define MSG_REF      (1ull << 63)

enum msg_code { MSG_CREATE = 1, MSG_WRITE, MSG_SETATTR, MSG_DELETE, MSG_RENAME };

enum { MSG_F_RECURSIVE = 1, MSG_F_NOREPLACE = 2, MSG_F_IFVERSION = 4 };

/* SETATTR mask bits */
enum { MSG_SET_MODE = 1, MSG_SET_UID = 2, MSG_SET_GID = 4, MSG_SET_MTIME = 8 };

struct msg_op {
    uint8_t code;
    uint8_t flags;
    uint64_t inode;      /* target (WRITE, SETATTR, DELETE, RENAME) or parent (CREATE) */
    uint64_t dst_parent; /* RENAME */
    uint64_t if_version; /* WRITE with MSG_F_IFVERSION: the version the file must have */
    uint16_t kind, objtype;
    uint32_t mask, mode, uid, gid;
    int64_t mtime;
    char name[MSG_MAX_NAME + 1];
    const uint8_t *data; /* points into the caller's or the decoded buffer */
    uint32_t size;
};

struct msg_batch {
    uint32_t writer;
    uint64_t seq;
    int64_t mtime;
    uint16_t nops;
    struct msg_op ops[MSG_MAX_OPS];
};

/* Encoded size of b, or 0 if it cannot be encoded. */
size_t msg_encoded_size(const struct msg_batch *b);

/* Encode into buf (at least msg_encoded_size bytes). Returns bytes written or -EINVAL. */
long msg_encode(const struct msg_batch *b, uint8_t *buf, size_t len);

/*
 * Decode and bounds-check buf. Data pointers in *b point into buf, which must
 * outlive b. Returns 0 or -EBADMSG with why filled in.
 */
int msg_decode(const uint8_t *buf, size_t len, struct msg_batch *b, char *why, size_t whylen);

#endif
