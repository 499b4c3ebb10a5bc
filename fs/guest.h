/*
 * guest: what the guest files (files_guest.c, files_guest_disk.c, files_migrate.c,
 * files_clone.c) share.
 */
#ifndef PV_GUEST_H
#define PV_GUEST_H

#include "../drivers/drv.h"
#include "fs.h"

const char *guest_kind(const struct pv_obj *o);
void guest_of(const struct pv_obj *o, struct drv_guest *g);
/* 1 when the guest belongs to another node. */
int is_remote(const struct pv_obj *o);
/* A remote guest's state and, if lines, its published "k: v" figures. 0 or -ENOENT. */
int remote_guest(const struct pv_obj *o, char *state, size_t slen, struct pv_buf *lines);

/* resize <disk> <[+]size> (files_guest_disk.c) and migrate <node> [<target storage>]
 * (files_migrate.c; tsid NULL: the same storage ids). */
int guest_resize(const struct pv_obj *o, const char *disk, const char *size, struct pv_err *e);
int guest_migrate(const struct pv_obj *o, const char *target, const char *tsid, struct pv_err *e);

#endif
