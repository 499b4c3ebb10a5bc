/* sync: state sync after membership changes, and digest verification; see sync.h. */
#include "sync.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clog.h"
#include "wire.h"

#define SYNC_VERSION 1
#define HDR          16
#define MAX_MEMBERS  64
#define CHUNK        ((size_t)192 * 1024) /* keeps every message well inside corosync's limits */

enum { T_START = 1, T_STATE, T_INDEX, T_DATA, T_END, T_VERIFY_REQ, T_VERIFY };

enum phase {
    P_SYNCED,      /* holding the agreed state */
    P_WAIT_START,  /* membership changed; waiting for START */
    P_WAIT_STATES, /* START seen; collecting STATE from every member */
    P_LEADING,     /* leader: collecting INDEX from the members that differ */
    P_FOLLOWING,   /* differs: waiting for DATA and END */
};

struct member {
    uint32_t id;
    int reported, differs, indexed;
    uint64_t version, digest, trusted;
    struct memdb_ix *ix; /* leader: the member's index */
    size_t nix, capix;
};

struct staged {
    struct db_row *rows;
    size_t n, cap;
};

struct sync {
    pthread_mutex_t lock; /* the dispatch thread and sync_tick */
    struct sync_env env;
    uint32_t self;
    enum phase phase;
    struct member mem[MAX_MEMBERS];
    size_t nmem;
    uint64_t epoch, next_epoch, leader_version, leader_digest;
    uint32_t leader;
    struct staged st;       /* follower: rows received so far */
    uint64_t vid, next_vid; /* verification round */
    int trusted;            /* held the agreed state since the last membership change */
    int quorate;            /* votequorum's word: only a quorate node's state is agreed */
    int ticks;
};

static void put_hdr(struct wire_w *w, int type, uint64_t epoch)
{
    wire_put(w, SYNC_MAGIC, 4);
    wire_put(w, SYNC_VERSION, 2);
    wire_put(w, (uint64_t)type, 2);
    wire_put(w, epoch, 8);
}

static int send_small(struct sync *s, int type, uint64_t epoch, const uint64_t *v, int nv)
{
    uint8_t buf[HDR + 8 * 8];
    struct wire_w w = {buf};

    put_hdr(&w, type, epoch);
    for (int i = 0; i < nv; i++)
        wire_put(&w, v[i], 8);
    return s->env.send(s->env.arg, buf, (size_t)(w.p - buf));
}

static struct member *member_of(struct sync *s, uint32_t id)
{
    for (size_t i = 0; i < s->nmem; i++)
        if (s->mem[i].id == id)
            return &s->mem[i];
    return NULL;
}

static void staged_free(struct staged *st)
{
    for (size_t i = 0; i < st->n; i++) {
        free((void *)st->rows[i].name);
        free((void *)st->rows[i].data);
    }
    free(st->rows);
    memset(st, 0, sizeof(*st));
}

static void reset_round(struct sync *s)
{
    for (size_t i = 0; i < s->nmem; i++) {
        free(s->mem[i].ix);
        s->mem[i] = (struct member){.id = s->mem[i].id};
    }
    staged_free(&s->st);
}

static void set_phase(struct sync *s, enum phase p)
{
    int was = s->phase == P_SYNCED, now = p == P_SYNCED;

    if (now)
        s->trusted = s->quorate;
    else if (p == P_FOLLOWING)
        s->trusted = 0;
    s->phase = p;
    if (was != now)
        s->env.synced(s->env.arg, now, s->epoch);
}

/* A node whose state proved wrong gives up any claim to lead the next sync. */
static void rejoin(struct sync *s)
{
    s->trusted = 0;
    s->env.rejoin(s->env.arg);
}

struct sync *sync_new(const struct sync_env *env, uint32_t self)
{
    struct sync *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->env = *env;
    s->self = self;
    s->phase = P_WAIT_START; /* nothing is agreed before the first membership */
    s->quorate = 1;          /* until the owner says otherwise (the simulator never does) */
    return s;
}

void sync_free(struct sync *s)
{
    if (!s)
        return;
    reset_round(s);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int sync_trusted(struct sync *s)
{
    int r;

    pthread_mutex_lock(&s->lock);
    r = s->trusted;
    pthread_mutex_unlock(&s->lock);
    return r;
}

void sync_set_quorate(struct sync *s, int quorate)
{
    pthread_mutex_lock(&s->lock);
    s->quorate = quorate;
    if (!quorate)
        s->trusted = 0;
    pthread_mutex_unlock(&s->lock);
}

void sync_trust(struct sync *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->phase == P_SYNCED && s->quorate)
        s->trusted = 1;
    pthread_mutex_unlock(&s->lock);
}

int sync_is_synced(struct sync *s)
{
    int r;

    pthread_mutex_lock(&s->lock);
    r = s->phase == P_SYNCED;
    pthread_mutex_unlock(&s->lock);
    return r;
}

static uint32_t lowest(const struct sync *s)
{
    uint32_t lo = UINT32_MAX;

    for (size_t i = 0; i < s->nmem; i++)
        if (s->mem[i].id < lo)
            lo = s->mem[i].id;
    return lo;
}

void sync_confchg(struct sync *s, const uint32_t *members, size_t n)
{
    pthread_mutex_lock(&s->lock);
    reset_round(s);
    s->nmem = n < MAX_MEMBERS ? n : MAX_MEMBERS;
    for (size_t i = 0; i < s->nmem; i++)
        s->mem[i] = (struct member){.id = members[i]};
    s->epoch = 0;
    s->vid = 0;
    set_phase(s, P_WAIT_START);
    if (s->nmem && lowest(s) == s->self) {
        uint8_t buf[HDR + 4 + 4 * MAX_MEMBERS];
        struct wire_w w = {buf};
        put_hdr(&w, T_START, (uint64_t)s->self << 32 | ++s->next_epoch);
        wire_put(&w, s->nmem, 4);
        for (size_t i = 0; i < s->nmem; i++)
            wire_put(&w, s->mem[i].id, 4);
        if (s->env.send(s->env.arg, buf, (size_t)(w.p - buf)))
            clog_append("sync", "cannot send START; waiting for the next membership change");
    }
    pthread_mutex_unlock(&s->lock);
}

static void on_start(struct sync *s, uint64_t epoch, struct wire_r *r)
{
    uint32_t n = (uint32_t)wire_get(r, 4);
    uint64_t v[3];

    if (r->bad || n != s->nmem)
        return; /* an older membership's START */
    for (uint32_t i = 0; i < n; i++)
        if (!member_of(s, (uint32_t)wire_get(r, 4)) || r->bad)
            return;
    reset_round(s);
    s->epoch = epoch;
    set_phase(s, P_WAIT_STATES);
    memdb_rdlock(s->env.mem);
    v[0] = memdb_version(s->env.mem);
    v[1] = memdb_digest(s->env.mem);
    memdb_unlock(s->env.mem);
    v[2] = (uint64_t)s->trusted;
    send_small(s, T_STATE, epoch, v, 3);
}

/* Follower: sends the index of every entry, in chunks. */
static void send_index(struct sync *s)
{
    struct memdb_ix *ix = NULL;
    uint64_t version, digest;
    size_t n = 0, per = (CHUNK - HDR - 5) / 16, at = 0;
    uint8_t *buf = malloc(CHUNK);

    if (!buf || memdb_index(s->env.mem, &ix, &n, &version, &digest)) {
        clog_append("sync", "out of memory building the index; leaving to resync");
        free(buf);
        rejoin(s);
        return;
    }
    do {
        size_t k = n - at < per ? n - at : per;
        struct wire_w w = {buf};
        put_hdr(&w, T_INDEX, s->epoch);
        wire_put(&w, at + k == n, 1);
        wire_put(&w, k, 4);
        for (size_t i = 0; i < k; i++) {
            wire_put(&w, ix[at + i].inode, 8);
            wire_put(&w, ix[at + i].hash, 8);
        }
        if (s->env.send(s->env.arg, buf, (size_t)(w.p - buf)))
            break;
        at += k;
    } while (at < n);
    free(ix);
    free(buf);
}

/*
 * Members that held the agreed state since the last membership change are the
 * candidates (all members when none did, as at a cold start): a node that was out
 * of step may have applied changes the others refused, so its version proves
 * nothing. Among candidates the highest version wins; among those, the digest
 * most of them hold, then the lowest node id.
 */
static struct member *pick_leader(struct sync *s)
{
    struct member *lead = NULL;
    uint64_t top = 0, want = 0;
    size_t best = 0;

    for (size_t i = 0; i < s->nmem; i++)
        want |= s->mem[i].trusted;
    for (size_t i = 0; i < s->nmem; i++)
        if (s->mem[i].trusted == want && s->mem[i].version > top)
            top = s->mem[i].version;
    for (size_t i = 0; i < s->nmem; i++) {
        struct member *m = &s->mem[i];
        size_t n = 0;
        if (m->version != top || m->trusted != want)
            continue;
        for (size_t j = 0; j < s->nmem; j++)
            n += s->mem[j].version == top && s->mem[j].trusted == want &&
                 s->mem[j].digest == m->digest;
        if (!lead || n > best || (n == best && m->id < lead->id)) {
            lead = m;
            best = n;
        }
    }
    return lead;
}

static void on_state(struct sync *s, uint32_t from, struct wire_r *r)
{
    struct member *m = member_of(s, from), *lead = NULL;
    uint64_t version = wire_get(r, 8), digest = wire_get(r, 8), trusted = wire_get(r, 8);

    if (r->bad || !m || s->phase != P_WAIT_STATES || m->reported)
        return;
    m->reported = 1;
    m->version = version;
    m->digest = digest;
    m->trusted = trusted;
    for (size_t i = 0; i < s->nmem; i++)
        if (!s->mem[i].reported)
            return;
    lead = pick_leader(s);
    s->leader = lead->id;
    s->leader_version = lead->version;
    s->leader_digest = lead->digest;
    int ndiff = 0;
    for (size_t i = 0; i < s->nmem; i++)
        ndiff += s->mem[i].differs = s->mem[i].digest != lead->digest;
    if (ndiff && s->leader == s->self) {
        clog_append("sync", "leading a sync of %d member(s) to version %llu", ndiff,
                    (unsigned long long)lead->version);
        set_phase(s, P_LEADING); /* frozen until the data is out */
    } else if (member_of(s, s->self) && member_of(s, s->self)->differs) {
        clog_append("sync", "state differs from node %u's (version %llu); fetching it", s->leader,
                    (unsigned long long)lead->version);
        set_phase(s, P_FOLLOWING);
        send_index(s);
    } else {
        set_phase(s, P_SYNCED);
    }
}

static int ix_cmp(const void *x, const void *y)
{
    const struct memdb_ix *a = x, *b = y;

    return a->inode < b->inode ? -1 : a->inode > b->inode;
}

struct idset {
    uint64_t *a;
    size_t n, cap;
};

static int idset_add(struct idset *s, uint64_t v)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        uint64_t *a = realloc(s->a, cap * sizeof(*a));
        if (!a)
            return -ENOMEM;
        s->a = a;
        s->cap = cap;
    }
    s->a[s->n++] = v;
    return 0;
}

static int u64_cmp(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

    return a < b ? -1 : a > b;
}

static void idset_uniq(struct idset *s)
{
    size_t o = 0;

    if (!s->n)
        return;
    qsort(s->a, s->n, sizeof(*s->a), u64_cmp);
    for (size_t i = 1; i < s->n; i++)
        if (s->a[i] != s->a[o])
            s->a[++o] = s->a[i];
    s->n = o + 1;
}

/* Leader: what each differing member needs, merged: rows to send and inodes to drop. */
static int diff_all(struct sync *s, const struct memdb_ix *own, size_t nown, struct idset *upd,
                    struct idset *del)
{
    for (size_t k = 0; k < s->nmem; k++) {
        struct member *m = &s->mem[k];
        size_t i = 0, j = 0;
        if (!m->differs || m->id == s->self)
            continue;
        qsort(m->ix, m->nix, sizeof(*m->ix), ix_cmp);
        while (i < nown || j < m->nix) {
            int rc = 0;
            if (j == m->nix || (i < nown && own[i].inode < m->ix[j].inode))
                rc = idset_add(upd, own[i++].inode);
            else if (i == nown || m->ix[j].inode < own[i].inode)
                rc = idset_add(del, m->ix[j++].inode);
            else {
                if (own[i].hash != m->ix[j].hash)
                    rc = idset_add(upd, own[i].inode);
                i++;
                j++;
            }
            if (rc)
                return rc;
        }
    }
    idset_uniq(upd);
    idset_uniq(del);
    return 0;
}

struct packer {
    struct sync *s;
    uint8_t *buf;
    size_t cap;
    struct wire_w w;
    uint8_t *count_at;
    uint32_t count;
    int err;
};

static void pack_start(struct packer *p)
{
    p->w.p = p->buf;
    put_hdr(&p->w, T_DATA, p->s->epoch);
    p->count_at = p->w.p;
    wire_put(&p->w, 0, 4);
    p->count = 0;
}

static void pack_flush(struct packer *p)
{
    struct wire_w c = {p->count_at};

    if (!p->count || p->err)
        return;
    wire_put(&c, p->count, 4);
    if (p->s->env.send(p->s->env.arg, p->buf, (size_t)(p->w.p - p->buf)))
        p->err = -EIO;
    pack_start(p);
}

static int pack_row(void *arg, const struct db_row *r)
{
    struct packer *p = arg;
    size_t nl = strlen(r->name), need = 8 * 5 + 4 * 5 + 2 * 2 + 2 + nl + 4 + r->size;

    if ((size_t)(p->w.p - p->buf) + need > p->cap)
        pack_flush(p);
    if (HDR + 4 + need > p->cap) { /* a row larger than a chunk travels alone */
        uint8_t *b = realloc(p->buf, HDR + 4 + need);
        if (!b)
            return p->err = -ENOMEM;
        p->buf = b;
        p->cap = HDR + 4 + need;
        pack_start(p);
    }
    wire_put(&p->w, r->inode, 8);
    wire_put(&p->w, r->parent, 8);
    wire_put(&p->w, r->version, 8);
    wire_put(&p->w, r->writer, 4);
    wire_put(&p->w, (uint64_t)r->mtime, 8);
    wire_put(&p->w, r->kind, 2);
    wire_put(&p->w, r->objtype, 2);
    wire_put(&p->w, r->mode, 4);
    wire_put(&p->w, r->uid, 4);
    wire_put(&p->w, r->gid, 4);
    wire_put(&p->w, nl, 2);
    wire_put_bytes(&p->w, r->name, nl);
    wire_put(&p->w, r->size, 4);
    wire_put_bytes(&p->w, r->data, r->size);
    p->count++;
    return p->err;
}

/* Leader: sends DATA and END once every differing member's index is in. */
static void send_leader_data(struct sync *s)
{
    struct idset upd = {0}, del = {0};
    struct memdb_ix *own = NULL;
    uint64_t version, digest;
    size_t nown = 0;
    struct packer p = {.s = s, .cap = CHUNK};
    int rc;

    for (size_t i = 0; i < s->nmem; i++)
        if (s->mem[i].differs && s->mem[i].id != s->self && !s->mem[i].indexed)
            return;
    rc = memdb_index(s->env.mem, &own, &nown, &version, &digest);
    if (!rc)
        rc = diff_all(s, own, nown, &upd, &del);
    if (!rc && !(p.buf = malloc(p.cap)))
        rc = -ENOMEM;
    if (!rc) {
        pack_start(&p);
        rc = memdb_export(s->env.mem, upd.a, upd.n, pack_row, &p);
        pack_flush(&p);
        rc = rc ? rc : p.err;
    }
    if (!rc) {
        size_t len = HDR + 8 + 8 + 4 + 8 * del.n;
        uint8_t *b = malloc(len);
        struct wire_w w = {b};
        rc = b ? 0 : -ENOMEM;
        if (b) {
            put_hdr(&w, T_END, s->epoch);
            wire_put(&w, version, 8);
            wire_put(&w, digest, 8);
            wire_put(&w, del.n, 4);
            for (size_t i = 0; i < del.n; i++)
                wire_put(&w, del.a[i], 8);
            rc = s->env.send(s->env.arg, b, len);
            free(b);
        }
    }
    if (rc)
        clog_append("sync", "could not send the sync data (error %d)", rc);
    else
        clog_append("sync", "sent %zu entries and %zu removals", upd.n, del.n);
    free(own);
    free(upd.a);
    free(del.a);
    free(p.buf);
    set_phase(s, P_SYNCED);
}

static void on_index(struct sync *s, uint32_t from, struct wire_r *r)
{
    struct member *m = member_of(s, from);
    int last = (int)wire_get(r, 1);
    uint32_t n = (uint32_t)wire_get(r, 4);

    if (r->bad || !m || !m->differs || m->indexed || s->phase != P_LEADING)
        return;
    if ((size_t)(r->end - r->p) != (size_t)n * 16)
        return;
    if (m->nix + n > m->capix) {
        size_t cap = (m->nix + n) * 2;
        struct memdb_ix *a = realloc(m->ix, cap * sizeof(*a));
        if (!a)
            return;
        m->ix = a;
        m->capix = cap;
    }
    for (uint32_t i = 0; i < n; i++) {
        m->ix[m->nix].inode = wire_get(r, 8);
        m->ix[m->nix++].hash = wire_get(r, 8);
    }
    m->indexed = last;
    if (last)
        send_leader_data(s);
}

static int stage_row(struct staged *st, struct wire_r *r)
{
    struct db_row row = {0};
    size_t nl;
    const uint8_t *name, *data;
    char *n;
    void *d = NULL;

    row.inode = wire_get(r, 8);
    row.parent = wire_get(r, 8);
    row.version = wire_get(r, 8);
    row.writer = (uint32_t)wire_get(r, 4);
    row.mtime = (int64_t)wire_get(r, 8);
    row.kind = (uint16_t)wire_get(r, 2);
    row.objtype = (uint16_t)wire_get(r, 2);
    row.mode = (uint32_t)wire_get(r, 4);
    row.uid = (uint32_t)wire_get(r, 4);
    row.gid = (uint32_t)wire_get(r, 4);
    nl = (size_t)wire_get(r, 2);
    name = wire_get_bytes(r, nl);
    row.size = (uint32_t)wire_get(r, 4);
    data = wire_get_bytes(r, row.size);
    if (r->bad || nl > MSG_MAX_NAME || row.size > MSG_MAX_DATA || memchr(name, 0, nl) ||
        (row.kind != MEMDB_DIR && row.kind != MEMDB_FILE))
        return -EBADMSG;
    if (!(n = strndup((const char *)name, nl)) || (row.size && !(d = malloc(row.size)))) {
        free(n);
        return -ENOMEM;
    }
    if (row.size)
        memcpy(d, data, row.size);
    row.name = n;
    row.data = d;
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 256;
        struct db_row *a = realloc(st->rows, cap * sizeof(*a));
        if (!a) {
            free(n);
            free(d);
            return -ENOMEM;
        }
        st->rows = a;
        st->cap = cap;
    }
    st->rows[st->n++] = row;
    return 0;
}

static void on_data(struct sync *s, uint32_t from, struct wire_r *r)
{
    uint32_t n = (uint32_t)wire_get(r, 4);

    if (r->bad || s->phase != P_FOLLOWING || from != s->leader)
        return;
    for (uint32_t i = 0; i < n; i++) {
        if (stage_row(&s->st, r)) {
            clog_append("sync", "bad or unstorable row from node %u; leaving to resync", from);
            rejoin(s);
            return;
        }
    }
}

static void on_end(struct sync *s, uint32_t from, struct wire_r *r)
{
    uint64_t version = wire_get(r, 8), digest = wire_get(r, 8);
    uint32_t n = (uint32_t)wire_get(r, 4);
    uint64_t *del;
    char err[256] = "";
    int rc;

    if (r->bad || s->phase != P_FOLLOWING || from != s->leader ||
        (size_t)(r->end - r->p) != (size_t)n * 8)
        return;
    if (!(del = malloc((n ? n : 1) * sizeof(*del)))) {
        rejoin(s);
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        del[i] = wire_get(r, 8);
    rc = memdb_sync_apply(s->env.mem, s->st.rows, s->st.n, del, n, version, digest, err,
                          sizeof(err));
    free(del);
    staged_free(&s->st);
    if (rc) {
        clog_append("sync", "sync from node %u failed verification (%s); leaving to resync", from,
                    err);
        rejoin(s);
        return;
    }
    clog_append("sync", "synced with node %u: version %llu, digest %016llx", from,
                (unsigned long long)version, (unsigned long long)digest);
    set_phase(s, P_SYNCED);
}

static void on_verify_req(struct sync *s, uint64_t vid)
{
    uint64_t v[2];

    if (s->phase != P_SYNCED)
        return;
    s->vid = vid;
    for (size_t i = 0; i < s->nmem; i++)
        s->mem[i].reported = 0;
    memdb_rdlock(s->env.mem);
    v[0] = memdb_version(s->env.mem);
    v[1] = memdb_digest(s->env.mem);
    memdb_unlock(s->env.mem);
    send_small(s, T_VERIFY, vid, v, 2);
}

static void on_verify(struct sync *s, uint32_t from, uint64_t vid, struct wire_r *r)
{
    struct member *m = member_of(s, from), *me = member_of(s, s->self);
    uint64_t version = wire_get(r, 8), digest = wire_get(r, 8), best = 0;
    uint32_t best_id = UINT32_MAX;
    size_t bestn = 0;

    if (r->bad || !m || !me || !s->vid || vid != s->vid || s->phase != P_SYNCED)
        return;
    m->reported = 1;
    m->version = version;
    m->digest = digest;
    for (size_t i = 0; i < s->nmem; i++)
        if (!s->mem[i].reported)
            return;
    /* The most common digest wins; a tie goes to the lowest node id's. */
    for (size_t i = 0; i < s->nmem; i++) {
        size_t n = 0;
        for (size_t j = 0; j < s->nmem; j++)
            n += s->mem[j].digest == s->mem[i].digest;
        if (n > bestn || (n == bestn && s->mem[i].id < best_id)) {
            best = s->mem[i].digest;
            bestn = n;
            best_id = s->mem[i].id;
        }
    }
    s->vid = 0;
    if (me->digest != best) {
        clog_append("sync", "digest %016llx disagrees with the cluster's %016llx; resyncing",
                    (unsigned long long)me->digest, (unsigned long long)best);
        rejoin(s);
    }
}

void sync_deliver(struct sync *s, uint32_t nodeid, const void *msg, size_t len)
{
    struct wire_r r = {msg, (const uint8_t *)msg + len, 0};
    uint32_t magic = (uint32_t)wire_get(&r, 4);
    unsigned ver = (unsigned)wire_get(&r, 2), type = (unsigned)wire_get(&r, 2);
    uint64_t epoch = wire_get(&r, 8);

    if (r.bad || magic != SYNC_MAGIC || ver != SYNC_VERSION) {
        clog_append("sync", "dropped a malformed sync message from node %u (%zu bytes)", nodeid,
                    len);
        return;
    }
    pthread_mutex_lock(&s->lock);
    if (type == T_START && s->phase != P_SYNCED)
        on_start(s, epoch, &r);
    else if (type == T_VERIFY_REQ)
        on_verify_req(s, epoch);
    else if (type == T_VERIFY)
        on_verify(s, nodeid, epoch, &r);
    else if (epoch == s->epoch && s->epoch) {
        if (type == T_STATE)
            on_state(s, nodeid, &r);
        else if (type == T_INDEX)
            on_index(s, nodeid, &r);
        else if (type == T_DATA)
            on_data(s, nodeid, &r);
        else if (type == T_END)
            on_end(s, nodeid, &r);
    }
    pthread_mutex_unlock(&s->lock);
}

void sync_tick(struct sync *s, int interval_s)
{
    pthread_mutex_lock(&s->lock);
    if (++s->ticks >= interval_s && s->phase == P_SYNCED && s->nmem > 1 && lowest(s) == s->self) {
        s->ticks = 0;
        send_small(s, T_VERIFY_REQ, (uint64_t)s->self << 32 | ++s->next_vid, NULL, 0);
    }
    pthread_mutex_unlock(&s->lock);
}
