/*
 * qemu_xml_int: the string slices, property-string parsing and XML output that
 * qemu_xml.c builds a domain from. Pure helpers, no state.
 */
#ifndef PV_QEMU_XML_INT_H
#define PV_QEMU_XML_INT_H

#include <stddef.h>

#include "../fs/buf.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A slice of the config text (not NUL-terminated). */
struct str {
    const char *p;
    size_t n;
};

int qx_eq(struct str s, const char *lit);
int qx_lookup(const char *const *tab, size_t n, struct str s);
/* Decimal without sign; -1 if not one or above max. */
long qx_num(struct str s, long max);
/* Proxmox booleans; -1 if not one. */
int qx_boolean(struct str s);
/* Next ','-separated field of a property string: name (empty if bare) and value. */
int qx_next_field(struct str *rest, struct str *name, struct str *val);
/* The value of sub-key k in a property string, or {NULL, 0}. */
struct str qx_field(struct str v, const char *k);
/* A property string's main value: its bare first field or sub-key k. */
struct str qx_main_field(struct str v, const char *k);
/* Index of "<prefix><digits>" keys (no leading zeros), or -1. */
int qx_key_index(struct str key, const char *prefix, int max);
/* s matches pat, where 'x' stands for a hex digit ("xx:xx" etc.) */
int qx_hexpat(struct str s, const char *pat);
/* libvirt's disk naming: 0 -> a, 25 -> z, 26 -> aa. */
void qx_target_name(char *out, size_t len, const char *prefix, int idx);

void qx_put(struct pv_buf *b, const char *s);
/* XML-escapes text; drops characters XML 1.0 cannot carry, '?' for broken UTF-8. */
void qx_esc(struct pv_buf *b, const char *p, size_t n);
void qx_attr(struct pv_buf *b, const char *name, struct str v);
/* "<tag name='v'/>" where open is the indented "<tag" */
void qx_leaf(struct pv_buf *b, const char *open, const char *name, struct str v);
struct str qx_sz(const char *s);
void qx_elem(struct pv_buf *b, const char *indent, const char *tag, struct str v);

#endif
