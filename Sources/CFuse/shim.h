// libfuse3's high-level API for the FUSE targets' passthrough server (DIOSystem/FuseServer.swift).
// Its entry points are function-like macros that pick a symbol version; Swift imports no macro,
// so they are wrapped here.
#ifndef DIOT_FUSE_SHIM_H
#define DIOT_FUSE_SHIM_H

#define FUSE_USE_VERSION 314
#include <fcntl.h>
#include <sys/xattr.h>
#include <fuse.h>

// A session over `mountpoint` (/dev/fd/N: a /dev/fuse descriptor the caller mounted) with the
// operations in `ops`, which set their options in their init; NULL on failure.
static inline struct fuse *diot_fuse_new(const struct fuse_operations *ops, const char *mountpoint) {
    char *argv[] = {"dio-torture-fuse", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(1, argv);
    struct fuse *fuse = fuse_new(&args, ops, sizeof(*ops), NULL);
    if (fuse && fuse_mount(fuse, mountpoint) != 0) {
        fuse_destroy(fuse);
        return NULL;
    }
    return fuse;
}

// Serves requests on several threads until the connection ends; 0 on a clean end.
static inline int diot_fuse_loop(struct fuse *fuse) {
    struct fuse_loop_config *config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(config, 16);
    int rc = fuse_loop_mt(fuse, config);
    fuse_loop_cfg_destroy(config);
    return rc;
}

#endif
