/*
 * stor: the backend table by storage type, the volume-name and size rules every
 * backend shares, and qemu-img, which backends spawn without a shell and with only
 * stdio (and a secret on fd 3) open.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../fs/buf.h"
#include "stor.h"

#define QIMG        "qemu-img"
#define QIMG_OUTMAX (4 << 20) /* info JSON with thousands of snapshots still fits */

static const struct {
    const char *type;
    const struct stor_ops *ops;
} backends[] = {
    {"dir", &stor_dir},
    {"rbd", &stor_rbd},
};

const struct stor_ops *stor_ops(const char *type)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strcmp(backends[i].type, type) == 0)
            return backends[i].ops;
    return NULL;
}

static const struct {
    char unit;
    unsigned shift;
} units[] = {
    {'K', 10},
    {'M', 20},
    {'G', 30},
    {'T', 40},
};

/* The shift of unit suffix s ("", "B", "G", "GB", "GiB"), or -1. */
static int unit_shift(const char *s)
{
    unsigned shift = 0;

    if (*s && !(toupper((unsigned char)*s) == 'B' && !s[1])) {
        size_t i;

        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (toupper((unsigned char)*s) == units[i].unit)
                break;
        if (i == sizeof(units) / sizeof(units[0]))
            return -1;
        shift = units[i].shift;
        s++;
        if (*s == 'i' && toupper((unsigned char)s[1]) == 'B')
            s += 2;
        else if (toupper((unsigned char)*s) == 'B')
            s++;
        if (*s)
            return -1;
    }
    return (int)shift;
}

int stor_parse_size(const char *s, uint64_t *out)
{
    uint64_t whole = 0, frac = 0, scale = 1, mult, v;
    const char *p = s;
    int shift;

    if (!s || !isdigit((unsigned char)*p))
        return -EINVAL;
    for (; isdigit((unsigned char)*p); p++)
        if (__builtin_mul_overflow(whole, 10, &whole) ||
            __builtin_add_overflow(whole, (uint64_t)(*p - '0'), &whole))
            return -EINVAL;
    if (*p == '.') {
        if (!isdigit((unsigned char)*++p))
            return -EINVAL;
        /* Digits past 1e-18 cannot change a whole byte: units stop at 2^40. */
        for (; isdigit((unsigned char)*p); p++)
            if (scale < 1000000000000000000ULL) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
    }
    if ((shift = unit_shift(p)) < 0)
        return -EINVAL;
    if (shift == 0 && frac)
        return -EINVAL; /* a fraction of a byte */
    mult = 1ULL << shift;
    if (__builtin_mul_overflow(whole, mult, &v) ||
        __builtin_add_overflow(v, (uint64_t)((unsigned __int128)frac * mult / scale), &v))
        return -EINVAL;
    *out = v;
    return 0;
}

static const char *const vol_prefixes[] = {"vm-", "base-", "subvol-", "basevol-"};
static const char *const vol_exts[] = {".qcow2", ".raw", ".vmdk"};

#define VOL_NAME_MAX 120

int stor_vol_vmid(const char *name, unsigned long *vmid)
{
    const char *p = NULL, *rest;
    unsigned long id = 0;
    size_t n, i;

    if (!name || strlen(name) > VOL_NAME_MAX)
        return -EINVAL;
    for (i = 0; i < sizeof(vol_prefixes) / sizeof(vol_prefixes[0]) && !p; i++)
        if (strncmp(name, vol_prefixes[i], strlen(vol_prefixes[i])) == 0)
            p = name + strlen(vol_prefixes[i]);
    if (!p || *p < '1' || *p > '9')
        return -EINVAL;
    for (n = 0; isdigit((unsigned char)p[n]); n++) {
        if (n == 9)
            return -EINVAL;
        id = id * 10 + (unsigned long)(p[n] - '0');
    }
    if (id < 100 || p[n] != '-')
        return -EINVAL;
    rest = p + n + 1;
    n = strspn(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-");
    if (n == 0)
        return -EINVAL;
    if (rest[n]) {
        for (i = 0; i < sizeof(vol_exts) / sizeof(vol_exts[0]); i++)
            if (strcmp(rest + n, vol_exts[i]) == 0)
                break;
        if (i == sizeof(vol_exts) / sizeof(vol_exts[0]))
            return -EINVAL;
    }
    if (vmid)
        *vmid = id;
    return 0;
}

int stor_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* qemu-img reports errors as text; these phrases carry the errno behind them. */
static const struct {
    const char *text;
    int err;
} qimg_errs[] = {
    {"No space left", ENOSPC},
    {"Disk quota", EDQUOT},
    {"Permission denied", EACCES},
    {"Operation not permitted", EPERM},
    {"Read-only file system", EROFS},
    {"No such file", ENOENT},
    {"not found", ENOENT},
    {"File exists", EEXIST},
    {"lock", EBUSY},
    {"Invalid argument", EINVAL},
    {"shrink", EINVAL},
    {"not supported", EOPNOTSUPP},
};

/* Drains both pipes until qemu-img closes them; stdout is kept, stderr's tail too. */
static void drain(int ofd, int efd, struct pv_buf *out, char *ebuf, size_t elen)
{
    struct pollfd p[2] = {{.fd = ofd, .events = POLLIN}, {.fd = efd, .events = POLLIN}};
    size_t en = 0;
    char chunk[4096];

    while (p[0].fd >= 0 || p[1].fd >= 0) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            ssize_t n;

            if (p[i].fd < 0 || !p[i].revents)
                continue;
            n = read(p[i].fd, chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                p[i].fd = -1;
                continue;
            }
            if (i == 0 && out && out->len + (size_t)n <= QIMG_OUTMAX)
                pv_buf_add(out, chunk, (size_t)n);
            if (i == 1) {
                /* Keep the last elen-1 bytes: qemu-img's error is its last line. */
                size_t take = (size_t)n < elen - 1 ? (size_t)n : elen - 1;
                if (en + take > elen - 1) {
                    size_t drop = en + take - (elen - 1);
                    memmove(ebuf, ebuf + drop, en - drop);
                    en -= drop;
                }
                memcpy(ebuf + en, chunk + n - take, take);
                en += take;
            }
        }
    }
    ebuf[en] = 0;
}

/*
 * qemu-img's error: its last "qemu-img: " line that is not a warning, without
 * the tag; else its last line that is not the "Try 'qemu-img --help'" hint.
 */
static const char *qimg_msg(char *ebuf)
{
    char *line = NULL, *last = NULL, *p, *nl;

    for (p = ebuf; *p; p = nl + 1) {
        if ((nl = strchr(p, '\n')))
            *nl = 0;
        while (*p && strchr(" \r", p[strlen(p) - 1]))
            p[strlen(p) - 1] = 0;
        if (strncmp(p, "qemu-img: ", 10) == 0 && strncmp(p + 10, "warning:", 8) != 0)
            line = p + 10;
        else if (*p && strncmp(p, "Try 'qemu-img", 13) != 0)
            last = p;
        if (!nl)
            break;
    }
    return line ? line : last ? last : "failed without a message";
}

static int qimg_errno(const char *msg)
{
    for (size_t i = 0; i < sizeof(qimg_errs) / sizeof(qimg_errs[0]); i++)
        if (strstr(msg, qimg_errs[i].text))
            return qimg_errs[i].err;
    return EIO;
}

/* The child's stdin, stdout and fd 3; -1: /dev/null, a pipe drained into out, none. */
struct spawn_fds {
    int in, out, fd3;
};

/* Runs prog with argv (argv[0] included) and returns 0, or -errno with its stderr's gist. */
static int spawn(const char *prog, const char *what, char *const av[], struct spawn_fds io,
                 struct pv_buf *out, char *err, size_t errlen)
{
    int fd3 = io.fd3;
    char ebuf[1024];
    int op[2] = {-1, -1}, ep[2] = {-1, -1}, rc, status;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, def;
    pid_t pid;

    if (pipe2(op, O_CLOEXEC) || pipe2(ep, O_CLOEXEC)) {
        rc = -errno;
        if (op[0] >= 0) {
            close(op[0]);
            close(op[1]);
        }
        return stor_fail(err, errlen, rc, "%s %s: pipe: %s", prog, what, strerror(-rc));
    }
    posix_spawn_file_actions_init(&fa);
    if (io.in >= 0)
        posix_spawn_file_actions_adddup2(&fa, io.in, 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, io.out >= 0 ? io.out : op[1], 1);
    posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
    if (fd3 >= 0)
        posix_spawn_file_actions_adddup2(&fa, fd3, 3);
    /* The daemon's FUSE, corosync and Ceph fds must not leak into qemu-img. */
    posix_spawn_file_actions_addclosefrom_np(&fa, fd3 >= 0 ? 4 : 3);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGCHLD);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawnp(&pid, prog, &fa, &at, av, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(op[1]);
    close(ep[1]);
    if (rc) {
        close(op[0]);
        close(ep[0]);
        return stor_fail(err, errlen, -rc, "%s %s: cannot run %s: %s", prog, what, prog,
                         strerror(rc));
    }
    drain(op[0], ep[0], out, ebuf, sizeof(ebuf));
    close(op[0]);
    close(ep[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return stor_fail(err, errlen, -errno, "%s %s: waitpid: %s", prog, what,
                             strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status))
        return stor_fail(err, errlen, -EIO, "%s %s: killed by signal %d", prog, what,
                         WTERMSIG(status));
    const char *msg = qimg_msg(ebuf);
    return stor_fail(err, errlen, -qimg_errno(msg), "%s %s: %s", prog, what, msg);
}

int stor_qimg(const char *what, char *const argv[], int fd3, struct pv_buf *out, char *err,
              size_t errlen)
{
    char *av[24];
    size_t n = 0;

    av[n++] = QIMG;
    for (; argv[n - 1] && n < sizeof(av) / sizeof(av[0]) - 1; n++)
        av[n] = argv[n - 1];
    av[n] = NULL;
    return spawn(QIMG, what, av, (struct spawn_fds){-1, -1, fd3}, out, err, errlen);
}

int stor_run(const char *prog, const char *what, char *const argv[], char *err, size_t errlen)
{
    return spawn(prog, what, argv, (struct spawn_fds){-1, -1, -1}, NULL, err, errlen);
}

int stor_run_io(const char *prog, const char *what, char *const argv[], int in, int out, char *err,
                size_t errlen)
{
    return spawn(prog, what, argv, (struct spawn_fds){in, out, -1}, NULL, err, errlen);
}

/*
 * What an import reads. Anything else (a dmg, a luks container) is refused rather
 * than guessed at; vpc is Hyper-V's and Azure's older .vhd.
 */
static const char *const import_fmts[] = {"vmdk", "vhdx", "qcow2", "raw", "vpc"};

/*
 * Is every vmdk extent the descriptor itself or a file beside it? A descriptor is
 * text anyone can write, and an extent naming /dev/sda or ../../etc/shadow would
 * import that file instead of the image the caller meant.
 */
static int extents_beside(json_object *jo, const char *src, const char **bad)
{
    json_object *fs, *d, *arr, *f;
    size_t dl = (size_t)(strrchr(src, '/') - src) + 1;

    if (!json_object_object_get_ex(jo, "format-specific", &fs) ||
        !json_object_object_get_ex(fs, "data", &d) ||
        !json_object_object_get_ex(d, "extents", &arr))
        return 1;
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        const char *name = "";
        if (json_object_object_get_ex(json_object_array_get_idx(arr, i), "filename", &f))
            name = json_object_get_string(f);
        if (strcmp(name, src) != 0 &&
            (strncmp(name, src, dl) != 0 || strchr(name + dl, '/') || !name[dl])) {
            *bad = name;
            return 0;
        }
    }
    return 1;
}

/* Refuses what qemu-img info says the image would read besides src itself. */
static int reads_only_itself(json_object *jo, const char *src, char *err, size_t errlen)
{
    json_object *f, *fs, *d;
    const char *bad = NULL;

    if (json_object_object_get_ex(jo, "backing-filename", &f))
        return stor_fail(err, errlen, -EINVAL,
                         "import source %s has a backing file (%s): an import reads only the file "
                         "it is given; flatten it with qemu-img convert first",
                         src, json_object_get_string(f));
    if (json_object_object_get_ex(jo, "format-specific", &fs) &&
        json_object_object_get_ex(fs, "data", &d) && json_object_object_get_ex(d, "data-file", &f))
        return stor_fail(err, errlen, -EINVAL,
                         "import source %s keeps its data in another file (%s): an import reads "
                         "only the file it is given",
                         src, json_object_get_string(f));
    if (!extents_beside(jo, src, &bad))
        return stor_fail(err, errlen, -EINVAL,
                         "import source %s: its extent %s is not beside it: an import reads only "
                         "the image's own files",
                         src, bad);
    return 0;
}

int stor_probe_import(const char *src, struct stor_vol *out, char *err, size_t errlen)
{
    char *argv[] = {"info", "--output=json", (char *)src, NULL};
    struct pv_buf buf = {0};
    json_object *jo = NULL, *f;
    const char *fmt = "";
    char what[1100];
    struct stat st;
    size_t i;
    int rc;

    if (src[0] != '/')
        return stor_fail(err, errlen, -EINVAL, "import source '%.1000s' is not an absolute path",
                         src);
    if (strlen(src) >= sizeof(out->path))
        return stor_fail(err, errlen, -ENAMETOOLONG, "import source %.64s...: path too long", src);
    if (stat(src, &st))
        return stor_fail(err, errlen, -errno, "import source %s: %s", src, strerror(errno));
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return stor_fail(err, errlen, -EINVAL,
                         "import source %s is not a file or block device: nothing to import", src);
    /* Probing is safe here: the format found is refused or named with -f from now on. */
    snprintf(what, sizeof(what), "info %s", src);
    if ((rc = stor_qimg(what, argv, -1, &buf, err, errlen))) {
        pv_buf_free(&buf);
        return rc;
    }
    jo = buf.p ? json_tokener_parse(buf.p) : NULL;
    pv_buf_free(&buf);
    if (!jo)
        return stor_fail(err, errlen, -EIO, "qemu-img info %s: output is not JSON", src);
    if (json_object_object_get_ex(jo, "format", &f))
        fmt = json_object_get_string(f);
    for (i = 0; i < sizeof(import_fmts) / sizeof(import_fmts[0]); i++)
        if (strcmp(fmt, import_fmts[i]) == 0)
            break;
    if (i == sizeof(import_fmts) / sizeof(import_fmts[0]))
        rc = stor_fail(err, errlen, -EINVAL,
                       "import source %s is a '%s' image; only vmdk, vhdx, qcow2, raw and vpc are "
                       "imported",
                       src, fmt);
    /* Any file probes as raw; a disk image is whole sectors, a stray text file is not. */
    else if (!strcmp(fmt, "raw") && S_ISREG(st.st_mode) && (st.st_size == 0 || st.st_size % 512))
        rc = stor_fail(err, errlen, -EINVAL,
                       "import source %s is not a disk image: it has no known format, and as raw "
                       "its size (%lld bytes) is not a positive multiple of 512",
                       src, (long long)st.st_size);
    else if (!json_object_object_get_ex(jo, "virtual-size", &f))
        rc = stor_fail(err, errlen, -EIO, "qemu-img info %s: no virtual-size", src);
    else if (!(rc = reads_only_itself(jo, src, err, errlen))) {
        memset(out, 0, sizeof(*out));
        snprintf(out->format, sizeof(out->format), "%s", fmt);
        snprintf(out->path, sizeof(out->path), "%s", src);
        out->size = (uint64_t)json_object_get_int64(f);
    }
    json_object_put(jo);
    return rc;
}
