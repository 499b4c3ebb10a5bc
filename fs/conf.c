/*
 * conf: generic parser, validator and canonical writer for Proxmox guest
 * configs. The key tables live in conf_qemu.c and conf_lxc.c.
 */
#include "conf.h"
#include "conf_int.h"
#include "buf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Proxmox's own writer never comes close; anything longer is not a config. */
#define CONF_MAXLINE ((size_t)64 * 1024)
/* How much of a bad value an error message quotes. */
#define QUOTE_MAX 48
#define QN(n)     ((int)((n) > QUOTE_MAX ? QUOTE_MAX : (n)))

/* ---- value checks ------------------------------------------------------- */

static int bad(char *why, size_t wl, const char *v, size_t n, const char *what)
{
    snprintf(why, wl, "'%.*s%s' is %s", (int)(n > QUOTE_MAX ? QUOTE_MAX : n), v,
             n > QUOTE_MAX ? "..." : "", what);
    return -EINVAL;
}

static int check_range(const struct conf_type *t, const char *v, size_t n, char *why, size_t wl)
{
    char tmp[32];
    size_t ip = n;
    const char *dot = memchr(v, '.', n);
    if (dot && t->kind == CK_NUM)
        ip = (size_t)(dot - v);
    if (!conf_is_digits(v, ip) || (ip < n && !conf_is_digits(v + ip + 1, n - ip - 1)))
        return bad(why, wl, v, n, t->kind == CK_INT ? "not an integer" : "not a number");
    while (ip > 1 && v[0] == '0')
        v++, ip--, n--;
    if (ip > 16)
        return bad(why, wl, v, n, "out of range");
    memcpy(tmp, v, ip);
    tmp[ip] = '\0';
    long long x = strtoll(tmp, NULL, 10);
    /* a non-zero fraction on top of max exceeds it */
    int frac = 0;
    for (size_t i = ip + 1; i < n; i++)
        frac |= v[i] != '0';
    if (x < t->min || x > t->max || (x == t->max && frac)) {
        char what[80];
        if (t->max >= CONF_NOMAX)
            snprintf(what, sizeof(what), "below the minimum %lld", t->min);
        else
            snprintf(what, sizeof(what), "out of range (%lld..%lld)", t->min, t->max);
        return bad(why, wl, v, n, what);
    }
    return 0;
}

static int check_prop(const struct conf_fmt *f, const char *v, size_t n, char *why, size_t wl);

static int check_value(const struct conf_type *t, const char *v, size_t n, char *why, size_t wl)
{
    if (n == 0 && t->kind != CK_PROP) {
        snprintf(why, wl, "empty value");
        return -EINVAL;
    }
    switch (t->kind) {
    case CK_STR:
        return 0;
    case CK_INT:
    case CK_NUM:
        return check_range(t, v, n, why, wl);
    case CK_BOOL:
        for (size_t i = 0; conf_bool_words[i]; i++)
            if (strlen(conf_bool_words[i]) == n && !strncasecmp(v, conf_bool_words[i], n))
                return 0;
        return bad(why, wl, v, n, "not a boolean");
    case CK_ENUM:
        for (const char *const *e = t->enums; *e; e++)
            if (conf_word_is(v, n, *e))
                return 0;
        return bad(why, wl, v, n, "not a valid choice");
    case CK_PAT: {
        char what[96];
        if (t->pat(v, n))
            return 0;
        snprintf(what, sizeof(what), "not %s", t->what);
        return bad(why, wl, v, n, what);
    }
    case CK_PROP:
        return check_prop(t->fmt, v, n, why, wl);
    }
    return -EINVAL;
}

static const struct conf_sub *find_sub(const struct conf_fmt *f, const char *k, size_t kn)
{
    for (size_t i = 0; i < f->nsubs; i++)
        if (conf_word_is(k, kn, f->subs[i].name))
            return &f->subs[i];
    return NULL;
}

static int is_name_key(const struct conf_fmt *f, const char *k, size_t kn)
{
    if (!f->name_keys)
        return 0;
    for (const char *const *e = f->name_keys; *e; e++)
        if (conf_word_is(k, kn, *e))
            return 1;
    return 0;
}

/* Sub-keys in Proxmox property strings are unique; a bitmask tracks them. */
static int check_prop(const struct conf_fmt *f, const char *v, size_t n, char *why, size_t wl)
{
    uint64_t seen = 0;
    size_t start = 0;
    const struct conf_sub *def = NULL;
    for (size_t i = 0; i < f->nsubs; i++)
        if (f->subs[i].flags & SUB_DEFAULT)
            def = &f->subs[i];

    for (size_t i = 0; i <= n; i++) {
        if (i < n && v[i] != ',')
            continue;
        const char *p = v + start;
        size_t pn = i - start;
        start = i + 1;
        if (pn == 0)
            continue;
        const char *eq = memchr(p, '=', pn);
        const char *k = p, *val = p;
        size_t kn = 0, vn = pn;
        const struct conf_sub *s = def;
        const struct conf_type *t = def ? def->type : NULL;
        if (eq) {
            kn = (size_t)(eq - p);
            val = eq + 1;
            vn = pn - kn - 1;
            s = find_sub(f, k, kn);
            t = s ? s->type : NULL;
            if (!s && is_name_key(f, k, kn)) {
                s = def;
                t = f->name_key_type;
            }
            if (!s && !(f->flags & FMT_OPEN))
                return bad(why, wl, k, kn, "not a known option");
            if (!s && (kn == 0 || !conf_in_set(k, kn, "-_.")))
                return bad(why, wl, p, pn, "not a valid option");
        } else if (!def) {
            return bad(why, wl, p, pn, "not a key=value option");
        }
        if (s) {
            uint64_t bit = 1ULL << (size_t)(s - f->subs);
            if (seen & bit)
                return bad(why, wl, s->name, strlen(s->name), "given twice");
            seen |= bit;
        }
        if (t) {
            char inner[CONF_ERRLEN - 64]; /* room for the sub-key prefix */
            if (check_value(t, val, vn, inner, sizeof(inner)) < 0) {
                snprintf(why, wl, "%.*s%s%s", eq ? QN(kn) : 0, k, eq ? ": " : "", inner);
                return -EINVAL;
            }
        }
    }
    for (size_t i = 0; i < f->nsubs; i++)
        if ((f->subs[i].flags & SUB_REQ) && !(seen & (1ULL << i)))
            return bad(why, wl, f->subs[i].name, strlen(f->subs[i].name), "missing");
    return 0;
}

/* ---- lines -------------------------------------------------------------- */

enum sect_kind { S_MAIN, S_PENDING, S_SPECIAL, S_SNAP, S_ANY };
enum line_kind { L_BLANK, L_COMMENT, L_SECTION, L_KEY, L_RAW, L_DESCR };

struct pline {
    enum line_kind kind;
    enum sect_kind sect; /* L_SECTION */
    const char *a, *b;   /* key / section name / comment text; value */
    size_t an, bn;
};

__attribute__((format(printf, 4, 5))) static int lerr(char *err, size_t errlen, int lineno,
                                                      const char *fmt, ...)
{
    char tmp[CONF_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (err && errlen)
        snprintf(err, errlen, "line %d: %s", lineno, tmp);
    return -EINVAL;
}

static int check_text(const char *line, size_t len, int lineno, char *err, size_t errlen)
{
    if (len > CONF_MAXLINE)
        return lerr(err, errlen, lineno, "line too long");
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)line[i];
        if (c == '\r')
            return lerr(err, errlen, lineno, "carriage return (CRLF line ending?)");
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return lerr(err, errlen, lineno, "binary data");
        size_t l = pv_utf8_len((const unsigned char *)line + i, len - i);
        if (!l)
            return lerr(err, errlen, lineno, "binary data");
        i += l;
    }
    return 0;
}

static void trim(const char **v, size_t *n)
{
    while (*n && (**v == ' ' || **v == '\t'))
        (*v)++, (*n)--;
    while (*n && ((*v)[*n - 1] == ' ' || (*v)[*n - 1] == '\t'))
        (*n)--;
}

static const struct conf_key *find_key(const struct conf_schema *s, const char *k, size_t n)
{
    size_t base = n;
    while (base > 0 && isdigit((unsigned char)k[base - 1]))
        base--;
    for (size_t i = 0; i < s->nkeys; i++) {
        const struct conf_key *row = &s->keys[i];
        if (row->max_index < 0) {
            if (conf_word_is(k, n, row->name))
                return row;
            continue;
        }
        if (base == n || !conf_word_is(k, base, row->name))
            continue;
        if ((n - base > 1 && k[base] == '0') || n - base > 4)
            continue;
        if (atoi(k + base) <= row->max_index)
            return row;
    }
    return NULL;
}

static int parse_section(const struct conf_schema *s, const char *line, size_t len, int lineno,
                         struct pline *pl, char *err, size_t errlen)
{
    const char *end = memchr(line, ']', len);
    size_t rest = end ? len - (size_t)(end - line) - 1 : 0;
    const char *r = end ? end + 1 : NULL;
    trim(&r, &rest);
    if (s->flat)
        return lerr(err, errlen, lineno, "%s has no sections", s->flat);
    if (!end || rest)
        return lerr(err, errlen, lineno, "malformed section header");
    pl->kind = L_SECTION;
    pl->a = line + 1;
    pl->an = (size_t)(end - line) - 1;
    if (strlen(s->pending) == pl->an && !strncasecmp(pl->a, s->pending, pl->an))
        pl->sect = S_PENDING;
    else if (s->special_sections && (conf_word_is(pl->a, pl->an, "special:cloudinit") ||
                                     conf_word_is(pl->a, pl->an, "special:fleecing")))
        pl->sect = S_SPECIAL;
    else if (conf_pat_snapname(pl->a, pl->an))
        pl->sect = S_SNAP;
    else
        return lerr(err, errlen, lineno, "invalid section name '%.*s'", QN(pl->an), pl->a);
    return 0;
}

/* "delete: net0,!scsi1" lists keys to drop when pending changes apply. */
static int check_delete(const struct conf_schema *s, const char *v, size_t n, int lineno, char *err,
                        size_t errlen)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && !strchr(",; ", v[i]))
            continue;
        const char *k = v + start;
        size_t kn = i - start;
        start = i + 1;
        if (kn && *k == '!')
            k++, kn--;
        if (kn && !find_key(s, k, kn) && !conf_word_is(k, kn, "description"))
            return lerr(err, errlen, lineno, "delete: unknown key '%.*s'", QN(kn), k);
    }
    return 0;
}

static int parse_key_line(const struct conf_schema *s, const char *line, size_t len, int lineno,
                          enum sect_kind sect, struct pline *pl, char *err, size_t errlen)
{
    size_t i = 0;
    int raw = s->raw_check && len > 4 && !memcmp(line, "lxc.", 4);
    if (raw) {
        while (i < len && (islower((unsigned char)line[i]) || isdigit((unsigned char)line[i]) ||
                           strchr("_-.", line[i])))
            i++;
    } else {
        while (i < len && (islower((unsigned char)line[i]) || line[i] == '_' ||
                           (s->key_dash && line[i] == '-' && i > 0)))
            i++;
        while (i < len && i > 0 && isdigit((unsigned char)line[i]))
            i++;
    }
    pl->a = line;
    pl->an = i;
    size_t sep = i;
    if (raw)
        while (sep < len && (line[sep] == ' ' || line[sep] == '\t'))
            sep++;
    if (i == 0 || sep >= len || !(line[sep] == ':' || (raw && line[sep] == '=')) ||
        (line[sep] == ':' && sep != i))
        return lerr(err, errlen, lineno, "malformed line");
    pl->b = line + sep + 1;
    pl->bn = len - sep - 1;
    trim(&pl->b, &pl->bn);
    if (raw) {
        const char *why = s->raw_check(pl->a, pl->an);
        pl->kind = L_RAW;
        if (why && !*why)
            return lerr(err, errlen, lineno, "unknown key '%.*s'", QN(pl->an), pl->a);
        return why ? lerr(err, errlen, lineno, "%.*s: %s", QN(pl->an), pl->a, why) : 0;
    }
    pl->kind = L_KEY;
    if (conf_word_is(pl->a, pl->an, "description")) {
        pl->kind = L_DESCR;
        return 0;
    }
    if (!s->flat && conf_word_is(pl->a, pl->an, "delete")) {
        if (sect != S_PENDING && sect != S_ANY)
            return lerr(err, errlen, lineno, "'delete' is only allowed in [%s]", s->pending);
        return check_delete(s, pl->b, pl->bn, lineno, err, errlen);
    }
    if (sect == S_SPECIAL)
        return 0; /* Proxmox keeps these sections informative and unchecked */
    const struct conf_key *k = find_key(s, pl->a, pl->an);
    if (!k)
        return lerr(err, errlen, lineno, "unknown key '%.*s'", QN(pl->an), pl->a);
    if (k->flags & CF_NOCHECK)
        return pl->bn ? 0 : lerr(err, errlen, lineno, "%.*s: empty value", QN(pl->an), pl->a);
    char why[CONF_ERRLEN];
    if (check_value(k->type, pl->b, pl->bn, why, sizeof(why)) < 0)
        return lerr(err, errlen, lineno, "%.*s: %s", QN(pl->an), pl->a, why);
    /* Proxmox stores booleans as 1/0 and integers without leading zeros */
    if (k->type->kind == CK_BOOL) {
        int on = (pl->b[0] == '1' || !strncasecmp(pl->b, "on", 2) || !strncasecmp(pl->b, "y", 1) ||
                  !strncasecmp(pl->b, "t", 1));
        pl->b = on ? "1" : "0";
        pl->bn = 1;
    } else if (k->type->kind == CK_INT) {
        while (pl->bn > 1 && pl->b[0] == '0')
            pl->b++, pl->bn--;
    }
    return 0;
}

static int parse_line(const struct conf_schema *s, const char *line, size_t len, int lineno,
                      enum sect_kind sect, struct pline *pl, char *err, size_t errlen)
{
    int rc = check_text(line, len, lineno, err, errlen);
    if (rc < 0)
        return rc;
    const char *t = line;
    size_t tn = len;
    trim(&t, &tn);
    if (tn == 0) {
        pl->kind = L_BLANK;
        return 0;
    }
    if (line[0] == '#') {
        pl->kind = L_COMMENT;
        pl->a = line + 1;
        pl->an = len - 1;
        return 0;
    }
    if (line[0] == '[')
        return parse_section(s, line, len, lineno, pl, err, errlen);
    return parse_key_line(s, line, len, lineno, sect, pl, err, errlen);
}

int conf_check_line(const struct conf_schema *schema, const char *line, size_t len, int lineno,
                    char *err, size_t errlen)
{
    struct pline pl = {0};
    char conv[1024];
    int cl;
    if (err && errlen)
        err[0] = '\0';
    if (schema->convert_line && (cl = schema->convert_line(line, len, conv, sizeof(conv))) >= 0)
        return parse_line(schema, conv, (size_t)cl, lineno, S_ANY, &pl, err, errlen);
    return parse_line(schema, line, len, lineno, S_ANY, &pl, err, errlen);
}

/* The document with every line in the schema's other form rewritten; NULL if none was. */
static char *convert_doc(const struct conf_schema *s, const char *in, size_t len, size_t *outlen)
{
    size_t pos = 0, n = 0, cap = len * 2 + 64;
    char *out = malloc(cap), conv[1024];
    int changed = 0;

    if (!out)
        return NULL;
    while (pos < len) {
        const char *nl = memchr(in + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (in + pos)) : len - pos;
        int cl = s->convert_line(in + pos, ll, conv, sizeof(conv));
        const char *src = cl >= 0 ? conv : in + pos;
        size_t sl = cl >= 0 ? (size_t)cl : ll;
        changed |= cl >= 0;
        if (n + sl + 2 > cap) {
            char *p = realloc(out, (cap = (n + sl + 2) * 2));
            if (!p) {
                free(out);
                return NULL;
            }
            out = p;
        }
        memcpy(out + n, src, sl);
        n += sl;
        out[n++] = '\n';
        pos += ll + 1;
    }
    if (!changed) {
        free(out);
        return NULL;
    }
    *outlen = n;
    return out;
}

/* ---- documents ---------------------------------------------------------- */

struct ent {
    const char *k, *v;
    size_t kn, vn;
    int line;
};

struct entv {
    struct ent *a;
    size_t n, cap;
};

struct sect {
    enum sect_kind kind;
    const char *name;
    size_t nn;
    int line;
    struct entv keys, raw, cmt;
};

struct doc {
    struct sect *a;
    size_t n, cap;
};

struct buf {
    char *p;
    size_t n, cap;
};

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np)
        return -ENOMEM;
    *p = np;
    *cap = nc;
    return 0;
}

static int push(struct entv *v, const char *k, size_t kn, const char *val, size_t vn, int line)
{
    if (grow((void **)&v->a, &v->cap, v->n + 1, sizeof(*v->a)) < 0)
        return -ENOMEM;
    v->a[v->n++] = (struct ent){k, val, kn, vn, line};
    return 0;
}

static int put(struct buf *b, const char *s, size_t n)
{
    if (grow((void **)&b->p, &b->cap, b->n + n + 1, 1) < 0)
        return -ENOMEM;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

static int bytecmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static int ent_cmp(const void *x, const void *y)
{
    const struct ent *a = x, *b = y;
    int c = bytecmp(a->k, a->kn, b->k, b->kn);
    return c ? c : (a->line > b->line) - (a->line < b->line);
}

/* Proxmox's order: main, pending, special sections, then snapshots by name. */
static int sect_cmp(const void *x, const void *y)
{
    const struct sect *a = x, *b = y;
    if (a->kind != b->kind)
        return (a->kind > b->kind) - (a->kind < b->kind);
    int c = a->kind == S_PENDING ? 0 : bytecmp(a->name, a->nn, b->name, b->nn);
    return c ? c : (a->line > b->line) - (a->line < b->line);
}

static void doc_free(struct doc *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->a[i].keys.a);
        free(d->a[i].raw.a);
        free(d->a[i].cmt.a);
    }
    free(d->a);
}

static int add_sect(struct doc *d, enum sect_kind kind, const char *name, size_t nn, int line)
{
    if (grow((void **)&d->a, &d->cap, d->n + 1, sizeof(*d->a)) < 0)
        return -ENOMEM;
    d->a[d->n++] = (struct sect){.kind = kind, .name = name, .nn = nn, .line = line};
    return 0;
}

static int read_doc(const struct conf_schema *s, const char *in, size_t len, struct doc *d,
                    int *bad_line, char *msg, size_t msglen)
{
    int lineno = 0;
    size_t pos = 0;
    if (add_sect(d, S_MAIN, "", 0, 0) < 0)
        return -ENOMEM;
    while (pos < len) {
        const char *nl = memchr(in + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (in + pos)) : len - pos;
        struct sect *cur = &d->a[d->n - 1];
        struct pline pl = {0};
        int rc;
        lineno++;
        if (parse_line(s, in + pos, ll, lineno, cur->kind, &pl, msg, msglen) < 0) {
            *bad_line = lineno;
            return 0;
        }
        pos += ll + (nl ? 1 : 0);
        switch (pl.kind) {
        case L_BLANK:
            rc = 0;
            break;
        case L_COMMENT:
            rc = push(&cur->cmt, NULL, 0, pl.a, pl.an, lineno);
            break;
        case L_DESCR:
            rc = push(&cur->cmt, NULL, 0, pl.b, pl.bn, lineno);
            break;
        case L_SECTION:
            rc = add_sect(d, pl.sect, pl.a, pl.an, lineno);
            break;
        case L_RAW:
            rc = push(&cur->raw, pl.a, pl.an, pl.b, pl.bn, lineno);
            break;
        default:
            rc = push(&cur->keys, pl.a, pl.an, pl.b, pl.bn, lineno);
            break;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

struct dup {
    int line; /* 0: none */
    const char *what, *name;
    size_t nn;
};

static void note_dup(struct dup *dup, int line, const char *what, const char *name, size_t nn)
{
    if (!dup->line || line < dup->line)
        *dup = (struct dup){line, what, name, nn};
}

/* Sorts sections and keys into canonical order, noting the first repeated one. */
static void sort_doc(struct doc *d, struct dup *dup)
{
    if (d->n > 2)
        qsort(d->a + 1, d->n - 1, sizeof(*d->a), sect_cmp);
    for (size_t i = 2; i < d->n; i++) {
        struct sect a = d->a[i], b = d->a[i - 1];
        a.line = b.line = 0;
        if (!sect_cmp(&a, &b))
            note_dup(dup, d->a[i].line, "section", d->a[i].name, d->a[i].nn);
    }
    for (size_t i = 0; i < d->n; i++) {
        struct entv *k = &d->a[i].keys;
        if (k->n > 1)
            qsort(k->a, k->n, sizeof(*k->a), ent_cmp);
        for (size_t j = 1; j < k->n; j++)
            if (!bytecmp(k->a[j].k, k->a[j].kn, k->a[j - 1].k, k->a[j - 1].kn))
                note_dup(dup, k->a[j].line, "key", k->a[j].k, k->a[j].kn);
    }
}

static int is_blank(const char *v, size_t n)
{
    trim(&v, &n);
    return n == 0;
}

static int emit_sect(const struct conf_schema *s, const struct sect *sec, struct buf *b)
{
    int rc = 0;
    size_t keep = sec->cmt.n;
    /* Proxmox strips trailing whitespace off the description */
    while (keep > 0 && is_blank(sec->cmt.a[keep - 1].v, sec->cmt.a[keep - 1].vn))
        keep--;
    if (sec->kind == S_PENDING && !sec->keys.n && !sec->raw.n && !sec->cmt.n)
        return 0;
    if (sec->kind != S_MAIN) {
        const char *name = sec->kind == S_PENDING ? s->pending : sec->name;
        size_t nn = sec->kind == S_PENDING ? strlen(s->pending) : sec->nn;
        rc |= put(b, "\n[", 2);
        rc |= put(b, name, nn);
        rc |= put(b, "]\n", 2);
    }
    for (size_t i = 0; i < keep; i++) {
        const char *v = sec->cmt.a[i].v;
        size_t vn = sec->cmt.a[i].vn;
        if (i == keep - 1)
            while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
                vn--;
        rc |= put(b, "#", 1);
        rc |= put(b, v, vn);
        rc |= put(b, "\n", 1);
    }
    if (!keep && sec->cmt.n && sec->kind == S_PENDING && s->pending_blank_doc)
        rc |= put(b, "#\n", 2);
    const struct entv *lists[] = {&sec->keys, &sec->raw};
    for (size_t l = 0; l < 2; l++) {
        for (size_t i = 0; i < lists[l]->n; i++) {
            const struct ent *e = &lists[l]->a[i];
            rc |= put(b, e->k, e->kn);
            rc |= put(b, ": ", 2);
            rc |= put(b, e->v, e->vn);
            rc |= put(b, "\n", 1);
        }
    }
    return rc ? -ENOMEM : 0;
}

static int canonicalize(const struct conf_schema *schema, const char *in, size_t len, int partial,
                        char **out, size_t *outlen, char *err, size_t errlen)
{
    struct doc d = {0};
    struct buf b = {0};
    char msg[CONF_ERRLEN] = "";
    int bad_line = 0;

    size_t convlen = 0;
    char *conv = schema->convert_line ? convert_doc(schema, in, len, &convlen) : NULL;

    *out = NULL;
    *outlen = 0;
    if (err && errlen)
        err[0] = '\0';
    if (conv) {
        in = conv;
        len = convlen;
    }
    int rc = read_doc(schema, in, len, &d, &bad_line, msg, sizeof(msg));
    if (rc < 0)
        goto done;
    struct dup dup = {0};
    sort_doc(&d, &dup);
    if (dup.line && (!bad_line || dup.line < bad_line)) {
        rc = lerr(err, errlen, dup.line, "duplicate %s '%.*s'", dup.what, QN(dup.nn), dup.name);
        goto done;
    }
    if (bad_line) {
        if (err && errlen)
            snprintf(err, errlen, "%s", msg);
        rc = -EINVAL;
        goto done;
    }
    rc = put(&b, "", 0);
    for (size_t i = 0; i < d.n && rc == 0; i++)
        rc = emit_sect(schema, &d.a[i], &b);
    if (rc == 0 && schema->doc_check)
        rc = schema->doc_check(b.p ? b.p : "", b.n, partial, err, errlen);
    if (rc == 0) {
        *out = b.p;
        *outlen = b.n;
        b.p = NULL;
    }
done:
    free(b.p);
    doc_free(&d);
    free(conv);
    return rc;
}

int conf_canonicalize(const struct conf_schema *schema, const char *in, size_t len, char **out,
                      size_t *outlen, char *err, size_t errlen)
{
    return canonicalize(schema, in, len, 0, out, outlen, err, errlen);
}

int conf_canonicalize_prefix(const struct conf_schema *schema, const char *in, size_t len,
                             char **out, size_t *outlen, char *err, size_t errlen)
{
    return canonicalize(schema, in, len, 1, out, outlen, err, errlen);
}

int conf_get(const char *doc, size_t len, const char *key, char *val, size_t vallen)
{
    size_t kl = strlen(key);
    size_t pos = 0;
    while (pos < len) {
        const char *line = doc + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + 1;
        if (line[0] == '[')
            break;
        if (ll <= kl || memcmp(line, key, kl) != 0 || line[kl] != ':')
            continue;
        const char *v = line + kl + 1;
        size_t vn = ll - kl - 1;
        trim(&v, &vn);
        if (vallen) {
            size_t c = vn < vallen - 1 ? vn : vallen - 1;
            memcpy(val, v, c);
            val[c] = '\0';
        }
        return vn > INT32_MAX ? INT32_MAX : (int)vn;
    }
    return -ENOENT;
}
