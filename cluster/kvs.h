/*
 * kvs: the live status channel and command forwarding, over a CPG group of its
 * own ("pvefs-kvs"), separate from the config store's group and never persisted
 * (pmxcfs keeps the same two channels apart).
 *
 * Each node publishes its status text at least once a second; receivers keep the
 * last text of every node with the sender's nodeid and the receive time. A node
 * is online while it is a member of the group and its last status is fresh.
 * Node names map to nodeids by what each node announces (HELLO, STATUS), never by
 * assumption.
 *
 * A command for another node goes out as FWD_REQ; the target runs it on a worker
 * thread through the exec callback (a command may take long: the dispatch thread
 * must keep delivering) and answers with FWD_REPLY.
 *
 * Wire format (all integers big-endian):
 *   header    u32 magic "PVKV" | u8 version (1) | u8 type | u16 zero
 *   HELLO     u16 name_len | name
 *   STATUS    u64 seq | u16 name_len | name | u32 text_len | text
 *   FWD_REQ   u64 id | u32 from | u32 to | u16 path_len | path | u32 cmd_len | cmd
 *   FWD_REPLY u64 id | u32 to | u32 errno | u16 msg_len | msg
 * The decoder checks every length against the buffer and the limits below and
 * refuses trailing bytes: a malformed message is logged and dropped.
 */
#ifndef PV_KVS_H
#define PV_KVS_H

#include <stddef.h>
#include <stdint.h>

#define KVS_GROUP      "pvefs-kvs"
#define KVS_MAGIC      0x50564b56u /* "PVKV" */
#define KVS_VERSION    1
#define KVS_MAX_NAME   63
#define KVS_MAX_PATH   1023
#define KVS_MAX_CMD    4096
#define KVS_MAX_TEXT   (32u << 10) /* as pmxcfs's per-value limit */
#define KVS_MAX_MSG    511
#define KVS_FRESH_MS   3000  /* a status older than this means the node is down */
#define KVS_TIMEOUT_MS 30000 /* default wait for a forwarded command */

enum kvs_type { KVS_HELLO = 1, KVS_STATUS = 2, KVS_FWD_REQ = 3, KVS_FWD_REPLY = 4 };

/* One message. Decoded strings point into the buffer and are not NUL-terminated. */
struct kvs_msg {
    uint8_t type;
    uint64_t id;       /* STATUS: sequence; FWD_*: request id */
    uint32_t from, to; /* FWD_REQ: requester and target; FWD_REPLY: requester (to) */
    uint32_t err;      /* FWD_REPLY: 0 or a positive errno */
    const char *name;  /* HELLO, STATUS: the sender's node name */
    size_t name_len;
    const char *path; /* FWD_REQ: the file the command is for ("/nodes/n2/ctl") */
    size_t path_len;
    const char *data; /* STATUS: text; FWD_REQ: command; FWD_REPLY: message */
    size_t data_len;
};

/* Bytes m encodes to, or 0 if m breaks a limit (the decoder would refuse it). */
size_t kvs_encoded_size(const struct kvs_msg *m);
/* Encodes m into buf. Returns the length, or -EINVAL (bad m) or -EMSGSIZE (cap too small). */
int kvs_encode(const struct kvs_msg *m, uint8_t *buf, size_t cap);
/* Decodes and checks buf. Returns 0, or -EBADMSG with the reason in why. */
int kvs_decode(const uint8_t *buf, size_t len, struct kvs_msg *m, char *why, size_t whylen);

/*
 * Runs a forwarded command on this node: path names the file, cmd its bytes.
 * Returns 0 or a negative errno, with the reason in msg. Called on a worker thread.
 */
typedef int (*kvs_exec_fn)(void *arg, const char *path, const char *cmd, size_t len, char *msg,
                           size_t msglen);

struct kvs;

/* Joins the group as node name (waiting up to wait_s for corosync) and starts the threads. */
int kvs_open(struct kvs **out, const char *name, kvs_exec_fn exec, void *arg, int wait_s, char *err,
             size_t errlen);
void kvs_close(struct kvs *k);

/* This node's status text; sent soon by the sender thread (never blocks on the network). */
int kvs_publish(struct kvs *k, const char *text, size_t len);

/*
 * Runs cmd on node through its exec callback and waits for the result (timeout_ms <= 0:
 * KVS_TIMEOUT_MS). Returns 0 or a negative errno, the reason in msg: -EHOSTUNREACH at
 * once if node is not a current member, or when it leaves while the request is pending;
 * -ETIMEDOUT when no answer came in time.
 */
int kvs_forward(struct kvs *k, const char *node, const char *path, const char *cmd, size_t len,
                int timeout_ms, char *msg, size_t msglen);

struct kvs_peer {
    uint32_t nodeid;
    char name[KVS_MAX_NAME + 1];
    int member;     /* in the group now */
    int online;     /* member with a fresh status */
    int has_status; /* a status was ever received */
    int64_t age_ms; /* since the last status, if any */
};

/*
 * The last status text of node (malloc'd, NUL-terminated; the caller frees it), whether it
 * is online and how old the text is. Returns 0, or -ENOENT if nothing was ever received.
 */
int kvs_status(struct kvs *k, const char *node, char **text, size_t *len, int *online,
               int64_t *age_ms);
/* Every node heard of (named), up to max. Returns the count. */
size_t kvs_peers(struct kvs *k, struct kvs_peer *out, size_t max);

#endif
