/*
 * stor_rbd_import: an image file (vmdk, vhdx, qcow2, raw) into a new rbd volume. librbd
 * creates the image; qemu-img converts into it, reaching Ceph the way ceph_connect does.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stor_rbd_int.h"

/* Adds "key","value" to a =keyvalue-pairs array: rados_conf_set calls in qemu's rbd driver. */
static void kv_add(json_object *kv, const char *key, const char *val)
{
    json_object_array_add(kv, json_object_new_string(key));
    json_object_array_add(kv, json_object_new_string(val));
}

/*
 * qemu-img's json: filename for image name of x, reaching Ceph as ceph_connect does:
 * the conf first (none at all when only monitors are named), then mon_host, keyring,
 * the client timeouts, and the key from secret object "pvkey" when keyed. JSON rather
 * than "rbd:pool/image:opt=val" because monitor addresses are full of ':' and json-c
 * escapes everything; no secret is in it.
 */
static int qimg_target(const struct rx *x, const char *name, int keyed, char **out, char *err,
                       size_t errlen)
{
    json_object *top = json_object_new_object(), *file = json_object_new_object();
    json_object *kv = json_object_new_array();
    const char *conf = x->t.conf[0] ? x->t.conf : x->t.monhost[0] ? "/dev/null" : NULL;
    char secs[16];
    int tmo, rc;

    if ((rc = ceph_timeout_s(&tmo, err, errlen))) {
        json_object_put(top);
        json_object_put(file);
        json_object_put(kv);
        return rc;
    }
    json_object_object_add(top, "driver", json_object_new_string("raw"));
    json_object_object_add(file, "driver", json_object_new_string("rbd"));
    json_object_object_add(file, "pool", json_object_new_string(x->pool));
    json_object_object_add(file, "image", json_object_new_string(name));
    json_object_object_add(file, "user", json_object_new_string(x->t.user));
    if (conf)
        json_object_object_add(file, "conf", json_object_new_string(conf));
    if (keyed)
        json_object_object_add(file, "key-secret", json_object_new_string("pvkey"));
    if (x->t.monhost[0])
        kv_add(kv, "mon_host", x->t.monhost);
    if (x->t.keyring[0])
        kv_add(kv, "keyring", x->t.keyring);
    snprintf(secs, sizeof(secs), "%d", tmo);
    kv_add(kv, "client_mount_timeout", secs);
    kv_add(kv, "rados_mon_op_timeout", secs);
    kv_add(kv, "rados_osd_op_timeout", secs);
    /* no admin socket or log file of a short-lived client left under /var/run or /var/log */
    kv_add(kv, "admin_socket", "");
    kv_add(kv, "log_file", "");
    json_object_object_add(file, "=keyvalue-pairs",
                           json_object_new_string(json_object_to_json_string_ext(
                               kv, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)));
    json_object_put(kv);
    json_object_object_add(top, "file", file);
    rc = asprintf(out, "json:%s",
                  json_object_to_json_string_ext(top, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(top);
    if (rc < 0) {
        *out = NULL;
        return stor_fail(err, errlen, -ENOMEM, "rbd import %s/%s: out of memory", x->pool, name);
    }
    return 0;
}

/*
 * The cephx key in a memfd for qemu-img's fd 3: on its command line it would be
 * readable in /proc by every local user. -1 and no fd when there is no key.
 */
static int key_fd(const struct rx *x, const char *name, int *fd, char *err, size_t errlen)
{
    size_t n = strlen(x->t.key);

    *fd = -1;
    if (!n)
        return 0;
    if ((*fd = memfd_create("pvefs-rbd-key", MFD_CLOEXEC)) < 0 ||
        write(*fd, x->t.key, n) != (ssize_t)n) {
        int rc = -errno;
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return stor_fail(err, errlen, rc ? rc : -EIO,
                         "rbd import %s/%s: cannot hand the cephx key to qemu-img: %s", x->pool,
                         name, strerror(rc ? -rc : EIO));
    }
    return 0;
}

/* Writes image src (in format srcfmt) into the existing, zeroed image name of x. */
static int qimg_write(struct rx *x, const char *name, const struct stor_vol *in, char *err,
                      size_t errlen)
{
    char what[1400], *target = NULL;
    int fd, rc;

    if ((rc = key_fd(x, name, &fd, err, errlen)))
        return rc;
    if (!(rc = qimg_target(x, name, fd >= 0, &target, err, errlen))) {
        char *keyed[] = {"convert",
                         "-n",
                         "--target-is-zero",
                         "-f",
                         (char *)in->format,
                         "-O",
                         "raw",
                         "--object",
                         "secret,id=pvkey,file=/dev/fd/3,format=base64",
                         (char *)in->path,
                         target,
                         NULL};
        char *plain[] = {"convert", "-n",  "--target-is-zero", "-f",   (char *)in->format,
                         "-O",      "raw", (char *)in->path,   target, NULL};
        snprintf(what, sizeof(what), "convert %s (%s) to %s/%s", in->path, in->format, x->pool,
                 name);
        rc = stor_qimg(what, fd >= 0 ? keyed : plain, fd, NULL, err, errlen);
    }
    free(target);
    if (fd >= 0)
        close(fd);
    return rc;
}

int rbd_import(const struct stor_cfg *c, const char *name, const char *src, const char *fmt,
               struct stor_vol *out, char *err, size_t errlen)
{
    rbd_image_options_t o;
    struct stor_vol v, in;
    struct rx x;
    int rc;

    /* The source is checked before the image exists, so a refused one leaves nothing. */
    if ((rc = rbd_locate(c, name, fmt, &v, err, errlen)) ||
        (rc = stor_probe_import(src, &in, err, errlen)) || (rc = rx_open(c, &x, err, errlen)))
        return rc;
    /*
     * librbd makes the image, with the features and object size every volume here
     * has, and its -EEXIST is the reservation; qemu-img then only fills it (-n).
     */
    rbd_image_options_create(&o);
    rbd_image_options_set_uint64(o, RBD_IMAGE_OPTION_FEATURES, RBD_FEATURES);
    rbd_image_options_set_uint64(o, RBD_IMAGE_OPTION_ORDER, RBD_ORDER);
    rc = rbd_create4(x.io, name, in.size, o);
    rbd_image_options_destroy(o);
    if (rc == -EEXIST)
        stor_fail(err, errlen, rc, "volume %s: image %s/%s already exists", name, x.pool, name);
    else if (rc)
        rbd_fail(&x, rc, "create", name, err, errlen);
    else if ((rc = qimg_write(&x, name, &in, err, errlen)) ||
             (rc = vol_info(&x, name, out ? out : &v, err, errlen)))
        rbd_remove(x.io, name); /* err keeps why the import failed */
    rx_close(&x);
    return rc;
}
