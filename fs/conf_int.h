/*
 * conf_int: schema tables shared by conf.c and the per-guest-type key tables
 * (conf_qemu.c, conf_lxc.c). Not part of the public interface.
 */
#ifndef PV_CONF_INT_H
#define PV_CONF_INT_H

#include <stddef.h>

enum conf_kind {
    CK_STR,  /* any non-empty text */
    CK_INT,  /* decimal digits within [min, max] */
    CK_NUM,  /* digits with an optional fraction, within [min, max] */
    CK_BOOL, /* 0/1, also on/off, yes/no, true/false as Proxmox accepts */
    CK_ENUM, /* one of a NULL-terminated list */
    CK_PAT,  /* a checker function */
    CK_PROP, /* a property string k=v,k2=v2 */
};

/* Returns 1 when v[0..n) is acceptable. */
typedef int (*conf_pat_fn)(const char *v, size_t n);

struct conf_fmt;

struct conf_type {
    enum conf_kind kind;
    long long min, max;
    const char *const *enums;
    conf_pat_fn pat;
    const char *what; /* CK_PAT: "a MAC address", used in messages */
    const struct conf_fmt *fmt;
};

#define CONF_INT(lo, hi)                                                                           \
    {                                                                                              \
        .kind = CK_INT, .min = (lo), .max = (hi)                                                   \
    }
#define CONF_NUM(lo, hi)                                                                           \
    {                                                                                              \
        .kind = CK_NUM, .min = (lo), .max = (hi)                                                   \
    }
#define CONF_ENUM(list)                                                                            \
    {                                                                                              \
        .kind = CK_ENUM, .enums = (list)                                                           \
    }
#define CONF_PAT(fn, desc)                                                                         \
    {                                                                                              \
        .kind = CK_PAT, .pat = (fn), .what = (desc)                                                \
    }
#define CONF_PROP(f)                                                                               \
    {                                                                                              \
        .kind = CK_PROP, .fmt = &(f)                                                               \
    }
#define CONF_NOMAX (1LL << 53)

/* Sub-key flags. */
#define SUB_DEFAULT 0x1 /* value may be given without "name=" */
#define SUB_REQ     0x2 /* must be present */

struct conf_sub {
    const char *name;
    const struct conf_type *type;
    unsigned flags;
};

/* Format flags. */
#define FMT_OPEN 0x1 /* unknown sub-keys are accepted (schema too large or in flux) */

struct conf_fmt {
    const struct conf_sub *subs;
    size_t nsubs;
    unsigned flags;
    /* qemu net: "virtio=MAC" uses the model name itself as the sub-key */
    const char *const *name_keys;
    const struct conf_type *name_key_type;
};

/* Key flags. */
#define CF_NOCHECK 0x1 /* value is free text (args) */

struct conf_key {
    const char *name;
    int max_index; /* -1: plain key; N: name0..nameN */
    const struct conf_type *type;
    unsigned flags;
};

struct conf_schema {
    const struct conf_key *keys;
    size_t nkeys;
    const char *pending; /* header text of the pending section */
    /* "lxc.*" raw keys: NULL if not accepted; returns NULL or why a key is refused */
    const char *(*raw_check)(const char *key, size_t n);
    int key_dash;          /* '-' allowed in key names */
    int special_sections;  /* [special:cloudinit] / [special:fleecing] */
    int pending_blank_doc; /* write "#" for an empty pending description */
    /* A flat document: "[...]" lines are refused as they are written; names the kind in
     * the message ("an SDN config"). NULL: sections as in guest configs. */
    const char *flat;
    /* Whole-document rules (options that depend on each other); NULL if none. partial:
     * more lines may follow, so a rule that a later line can still satisfy (a required
     * key not there yet) must not fail; contradictions fail either way. */
    int (*doc_check)(const char *doc, size_t len, int partial, char *err, size_t errlen);
    /* Another accepted input form: rewrites one line into "key: value" (returns its
     * length), or returns -1 when the line is not in that form. */
    int (*convert_line)(const char *line, size_t len, char *out, size_t cap);
};

/* Shared value types, defined in conf.c. */
extern const struct conf_type conf_t_str;
extern const struct conf_type conf_t_bool;
extern const struct conf_type conf_t_uint;
extern const struct conf_type conf_t_num;
extern const struct conf_type conf_t_mac;
extern const struct conf_type conf_t_uuid;
extern const struct conf_type conf_t_dns;
extern const struct conf_type conf_t_volid;
extern const struct conf_type conf_t_volid_or_path;
extern const struct conf_type conf_t_drive_file;
extern const struct conf_type conf_t_disksize;
extern const struct conf_type conf_t_storage;
extern const struct conf_type conf_t_snapname;
extern const struct conf_type conf_t_tags;
extern const struct conf_type conf_t_startup;
extern const struct conf_type conf_t_addrlist;
extern const struct conf_type conf_t_ip4cidr;
extern const struct conf_type conf_t_ip6cidr;
extern const struct conf_type conf_t_ip4net; /* an address with its prefix, nothing else */
extern const struct conf_type conf_t_ip6net;
extern const struct conf_type conf_t_ip4;
extern const struct conf_type conf_t_ip6;
extern const struct conf_type conf_t_ifname;
extern const struct conf_type conf_t_vlanlist;
extern const struct conf_type conf_t_urlenc;

/* Pattern helpers for the key tables. */
int conf_is_hex(const char *v, size_t n);
int conf_is_digits(const char *v, size_t n);
int conf_list_ok(const char *v, size_t n, char sep, conf_pat_fn item);

/* Shared helpers of conf_types.c used by the parser. */
int conf_in_set(const char *v, size_t n, const char *set);
int conf_word_is(const char *v, size_t n, const char *w);
int conf_pat_snapname(const char *v, size_t n);
extern const char *const conf_bool_words[];

#endif
