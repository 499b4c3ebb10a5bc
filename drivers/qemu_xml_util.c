/* qemu_xml_util: the pure helpers of qemu_xml.c (see qemu_xml_int.h). */
#include "qemu_xml_int.h"

#include <stdio.h>
#include <string.h>

/* ---- small parsing helpers ---------------------------------------------- */

int qx_eq(struct str s, const char *lit)
{
    return s.p && strlen(lit) == s.n && !memcmp(s.p, lit, s.n);
}

int qx_lookup(const char *const *tab, size_t n, struct str s)
{
    for (size_t i = 0; i < n; i++)
        if (qx_eq(s, tab[i]))
            return (int)i;
    return -1;
}

/* Decimal without sign; -1 if not one or above max. */
long qx_num(struct str s, long max)
{
    long x = 0;
    if (!s.n || s.n > 12)
        return -1;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        x = x * 10 + (s.p[i] - '0');
    }
    return x > max ? -1 : x;
}

/* Proxmox booleans; -1 if not one. */
int qx_boolean(struct str s)
{
    const char *const t[] = {"1", "on", "yes", "true"}, *const f[] = {"0", "off", "no", "false"};
    if (qx_lookup(t, N(t), s) >= 0)
        return 1;
    return qx_lookup(f, N(f), s) >= 0 ? 0 : -1;
}

/* Next ','-separated field of a property string: name (empty if bare) and value. */
int qx_next_field(struct str *rest, struct str *name, struct str *val)
{
    if (!rest->p || !rest->n)
        return 0;
    const char *end = memchr(rest->p, ',', rest->n);
    size_t fl = end ? (size_t)(end - rest->p) : rest->n;
    const char *eqs = memchr(rest->p, '=', fl);
    *name = (struct str){rest->p, eqs ? (size_t)(eqs - rest->p) : 0};
    *val = eqs ? (struct str){eqs + 1, fl - name->n - 1} : (struct str){rest->p, fl};
    rest->p += fl + (end ? 1 : 0);
    rest->n -= fl + (end ? 1 : 0);
    if (!end)
        rest->p = NULL;
    return 1;
}

/* The value of sub-key k in a property string, or {NULL, 0}. */
struct str qx_field(struct str v, const char *k)
{
    struct str name, val;
    while (qx_next_field(&v, &name, &val))
        if (qx_eq(name, k))
            return val;
    return (struct str){NULL, 0};
}

/* A property string's main value: its bare first field or sub-key k. */
struct str qx_main_field(struct str v, const char *k)
{
    struct str name, val, r = qx_field(v, k);
    if (!r.p && qx_next_field(&v, &name, &val) && !name.n)
        r = val;
    return r;
}

/* Index of "<prefix><digits>" keys (no leading zeros), or -1. */
int qx_key_index(struct str key, const char *prefix, int max)
{
    size_t pl = strlen(prefix);
    if (key.n <= pl || memcmp(key.p, prefix, pl) != 0 || (key.n > pl + 1 && key.p[pl] == '0'))
        return -1;
    long i = qx_num((struct str){key.p + pl, key.n - pl}, 999);
    return i < max ? (int)i : -1;
}

/* s matches pat, where 'x' stands for a hex digit ("xx:xx" etc.) */
int qx_hexpat(struct str s, const char *pat)
{
    if (s.n != strlen(pat))
        return 0;
    for (size_t i = 0; i < s.n; i++) {
        char ch = s.p[i];
        int hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        if (pat[i] == 'x' ? !hex : ch != pat[i])
            return 0;
    }
    return 1;
}

/* libvirt's disk naming: 0 -> a, 25 -> z, 26 -> aa. */
void qx_target_name(char *out, size_t len, const char *prefix, int idx)
{
    char rev[8];
    int n = 0;
    for (; idx >= 0 && n < (int)sizeof(rev); idx = idx / 26 - 1)
        rev[n++] = (char)('a' + idx % 26);
    size_t o = (size_t)snprintf(out, len, "%s", prefix);
    while (n > 0 && o + 1 < len)
        out[o++] = rev[--n];
    out[o < len ? o : len - 1] = '\0';
}

/* ---- output ------------------------------------------------------------- */

void qx_put(struct pv_buf *b, const char *s)
{
    pv_buf_add(b, s, strlen(s));
}

/* XML-escapes text; drops characters XML 1.0 cannot carry, '?' for broken UTF-8. */
void qx_esc(struct pv_buf *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)p[i];
        const char special[] = "&<>'\"";
        const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&apos;", "&quot;"};
        const char *hit = ch ? strchr(special, ch) : NULL;
        const char *e = hit ? ents[hit - special] : NULL;
        size_t l = 1;
        if (e)
            qx_put(b, e);
        else if (ch < 0x20 && ch != '\t' && ch != '\n')
            ; /* not representable in XML 1.0 */
        else if (ch < 0x80)
            pv_buf_add(b, p + i, 1);
        else if ((l = pv_utf8_len((const unsigned char *)p + i, n - i)) > 0)
            pv_buf_add(b, p + i, l);
        else
            l = 1, qx_put(b, "?");
        i += l;
    }
}

void qx_attr(struct pv_buf *b, const char *name, struct str v)
{
    pv_buf_printf(b, " %s='", name);
    qx_esc(b, v.p, v.n);
    qx_put(b, "'");
}

/* "<tag name='v'/>" where open is the indented "<tag" */
void qx_leaf(struct pv_buf *b, const char *open, const char *name, struct str v)
{
    qx_put(b, open);
    qx_attr(b, name, v);
    qx_put(b, "/>\n");
}

struct str qx_sz(const char *s)
{
    return (struct str){s, s ? strlen(s) : 0};
}

void qx_elem(struct pv_buf *b, const char *indent, const char *tag, struct str v)
{
    pv_buf_printf(b, "%s<%s>", indent, tag);
    qx_esc(b, v.p, v.n);
    pv_buf_printf(b, "</%s>\n", tag);
}
