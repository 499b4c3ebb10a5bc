/*
 * conf: parser, validator and canonical writer for Proxmox guest configs
 * (qemu-server and pct formats).
 *
 * A document is a main section, then optional "[PENDING]", "[special:...]" and
 * "[<snapshot>]" sections. Each section holds "# comment" lines (the description)
 * and "key: value" lines. Keys and values are checked against a schema table.
 *
 * Canonical form is what Proxmox itself writes: a section's comment lines first,
 * then its keys sorted bytewise, then "[PENDING]", then the other sections sorted
 * by name, each preceded by one empty line. Every line ends in '\n'.
 *
 * All functions are pure (no I/O, no globals beyond const tables) and thread-safe.
 */
#ifndef PV_CONF_H
#define PV_CONF_H

#include <stddef.h>

struct conf_schema;

extern const struct conf_schema conf_qemu_schema;
extern const struct conf_schema conf_lxc_schema;
extern const struct conf_schema conf_storage_schema;     /* storage/<id>/config */
extern const struct conf_schema conf_zone_schema;        /* sdn/zones/<zone>/config */
extern const struct conf_schema conf_vnet_schema;        /* sdn/vnets/<vnet>/config */
extern const struct conf_schema conf_subnet_schema;      /* sdn/vnets/<vnet>/subnets/<s>/config */
extern const struct conf_schema conf_ceph_schema;        /* ceph/config */
extern const struct conf_schema conf_network_schema;     /* nodes/<n>/network/<iface>/config */
extern const struct conf_schema conf_ha_resource_schema; /* ha/resources/<sid>/config */
extern const struct conf_schema conf_ha_group_schema;    /* ha/groups/<group>/config */

/* Room for an error message; messages name the line: "line 3: unknown key 'foo'". */
#define CONF_ERRLEN 256

/*
 * Check one line (no trailing '\n') as it would appear at line number lineno.
 * Comments, blank lines and section headers are accepted here; context checks
 * (duplicate keys, key before section) happen in conf_canonicalize.
 * Returns 0, or -EINVAL with err filled.
 */
int conf_check_line(const struct conf_schema *schema, const char *line, size_t len, int lineno,
                    char *err, size_t errlen);

/*
 * Validate a whole document and produce its canonical form in a malloc'd
 * buffer (*out, *outlen; NUL-terminated for convenience, not counted).
 * Returns 0, -EINVAL (err names the line and the reason) or -ENOMEM.
 */
int conf_canonicalize(const struct conf_schema *schema, const char *in, size_t len, char **out,
                      size_t *outlen, char *err, size_t errlen);

/*
 * The same for a document still being written (the complete lines so far): every rule
 * applies except one that a later line can still satisfy (a required key not there
 * yet), so a refusal here is final and can be returned by the write(2) that made it.
 */
int conf_canonicalize_prefix(const struct conf_schema *schema, const char *in, size_t len,
                             char **out, size_t *outlen, char *err, size_t errlen);

/*
 * Look up the value of key in the main section of a canonical document.
 * Copies at most vallen-1 bytes into val. Returns the value's length or -ENOENT.
 */
int conf_get(const char *doc, size_t len, const char *key, char *val, size_t vallen);

/* 1 when a boolean value (as the schema accepts them: 1, on, yes, true) says true. */
int conf_bool_true(const char *v);

#endif
