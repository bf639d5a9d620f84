// The C side of dio-torture's syscall layer: liburing, plus what Swift cannot import by
// itself (function-like ioctl macros, flexible-array structs, syscalls glibc 2.36 does not wrap).
#ifndef DIO_TORTURE_SHIM_H
#define DIO_TORTURE_SHIM_H

// No _GNU_SOURCE here: the C module must see glibc's headers exactly as SwiftGlibc does, or
// fd_set's members differ between the two modules and debug builds fail. For the same reason a
// glibc header comes before liburing.h (which would define _GNU_SOURCE itself). What only
// _GNU_SOURCE exposes is taken from the kernel's uapi headers or called as a raw syscall.
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/vfs.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/fs.h>
#include <linux/stat.h>
#include <linux/fiemap.h>
#include <linux/loop.h>
#include <linux/dm-ioctl.h>
#include <linux/userfaultfd.h>
#include <linux/aio_abi.h>
#include <liburing.h>

static const int DIOT_O_DIRECT = __O_DIRECT;
static const int DIOT_O_TMPFILE = __O_TMPFILE | O_DIRECTORY;
static const int DIOT_RWF_NOWAIT = RWF_NOWAIT;
static const unsigned DIOT_IOSQE_ASYNC = IOSQE_ASYNC;
static const unsigned DIOT_IOSQE_FIXED_FILE = IOSQE_FIXED_FILE;
static const unsigned long DIOT_LOOP_CTL_GET_FREE = LOOP_CTL_GET_FREE;
static const unsigned long DIOT_DM_DEV_CREATE = DM_DEV_CREATE;
static const unsigned long DIOT_DM_DEV_REMOVE = DM_DEV_REMOVE;
static const unsigned long DIOT_DM_TABLE_LOAD = DM_TABLE_LOAD;
static const unsigned long DIOT_DM_DEV_SUSPEND = DM_DEV_SUSPEND;
static const uint32_t DIOT_DM_DEFERRED_REMOVE = DM_DEFERRED_REMOVE;
static const uint32_t DIOT_DM_SKIP_LOCKFS = DM_SKIP_LOCKFS_FLAG;
static const unsigned DIOT_LO_FLAGS_AUTOCLEAR = LO_FLAGS_AUTOCLEAR;
static const unsigned DIOT_FIEMAP_EXTENT_UNWRITTEN = FIEMAP_EXTENT_UNWRITTEN;
static const unsigned DIOT_FIEMAP_EXTENT_DELALLOC = FIEMAP_EXTENT_DELALLOC;
static const unsigned DIOT_FIEMAP_EXTENT_UNKNOWN = FIEMAP_EXTENT_UNKNOWN;

static inline void diot_sqe_set_rw_flags(struct io_uring_sqe *sqe, int flags) { sqe->rw_flags = flags; }
static inline void diot_sqe_or_flags(struct io_uring_sqe *sqe, unsigned flags) { sqe->flags |= flags; }

static inline ssize_t diot_preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags) {
    // pos_l, pos_h: on 64-bit the whole offset goes in pos_l.
    return syscall(SYS_preadv2, fd, iov, cnt, (unsigned long)off, 0UL, flags);
}

static inline ssize_t diot_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags) {
    return syscall(SYS_pwritev2, fd, iov, cnt, (unsigned long)off, 0UL, flags);
}

// Kernel AIO (io_setup/io_submit/io_getevents), the interface libaio wraps one to one and that
// MariaDB and MySQL submit through by default. Raw syscalls: nothing to link.
static inline int diot_aio_setup(unsigned entries, aio_context_t *context) {
    *context = 0;
    return (int)syscall(SYS_io_setup, entries, context);
}
static inline int diot_aio_destroy(aio_context_t context) { return (int)syscall(SYS_io_destroy, context); }
// Submits one request over `count` iovecs (PREADV/PWRITEV; one iovec is PREAD/PWRITE); 1 when
// submitted, -1 with errno otherwise. The iovecs must live until the request completes.
static inline int diot_aio_submit(aio_context_t context, int fd, int write, const struct iovec *vectors, int count,
                                  int64_t offset, int rw_flags, uint64_t data) {
    struct iocb request;
    memset(&request, 0, sizeof request);
    request.aio_fildes = (uint32_t)fd;
    if (count == 1) {
        request.aio_lio_opcode = write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
        request.aio_buf = (uint64_t)(uintptr_t)vectors[0].iov_base;
        request.aio_nbytes = vectors[0].iov_len;
    } else {
        request.aio_lio_opcode = write ? IOCB_CMD_PWRITEV : IOCB_CMD_PREADV;
        request.aio_buf = (uint64_t)(uintptr_t)vectors;
        request.aio_nbytes = (uint64_t)count;
    }
    request.aio_offset = offset;
    request.aio_rw_flags = rw_flags;
    request.aio_data = data;
    struct iocb *list[1] = { &request };
    return (int)syscall(SYS_io_submit, context, 1L, list);
}
// Waits up to `timeout_ns` for one completion: 1 with *data and *result (bytes or -errno), 0 on
// timeout, -1 with errno.
static inline int diot_aio_wait(aio_context_t context, int64_t timeout_ns, uint64_t *data, int64_t *result) {
    struct io_event event;
    struct timespec timeout = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
    int rc = (int)syscall(SYS_io_getevents, context, 1L, 1L, &event, &timeout);
    if (rc == 1) { *data = event.data; *result = event.res; }
    return rc;
}

// The direct I/O alignment statx reports (Linux 6.1+); 0/0 when the filesystem gives none.
static inline int diot_statx_dio(int fd, uint32_t *mem_align, uint32_t *offset_align) {
    struct statx stx;
    memset(&stx, 0, sizeof stx);
    if (syscall(SYS_statx, fd, "", 0x1000 /* AT_EMPTY_PATH */, STATX_DIOALIGN, &stx) != 0) return -1;
    if (!(stx.stx_mask & STATX_DIOALIGN)) { *mem_align = 0; *offset_align = 0; return 0; }
    *mem_align = stx.stx_dio_mem_align;
    *offset_align = stx.stx_dio_offset_align;
    return 0;
}

// The filesystem magic (f_type) of a path, or -1.
static inline long diot_statfs_type(const char *path) {
    struct statfs info;
    return statfs(path, &info) == 0 ? (long)info.f_type : -1;
}

// FIEMAP, with FIEMAP_FLAG_SYNC when `sync`; copies at most `max` extents to `out`, returns the count or -1.
// FIBMAP, for filesystems without FIEMAP (exfat, jfs): the block size it maps in, and the
// physical block of logical block `block` (0 for a hole); -1 on error. Needs CAP_SYS_RAWIO.
static inline int diot_block_size(int fd) {
    int size = 0;
    return ioctl(fd, FIGETBSZ, &size) == 0 ? size : -1;
}
static inline long diot_fibmap(int fd, int block) { return ioctl(fd, FIBMAP, &block) == 0 ? (long)(unsigned)block : -1; }
// Not a FIEMAP flag: marks the extents dio-torture built from FIBMAP.
static const unsigned DIOT_EXTENT_FROM_BLOCK_MAP = 0x80000000u;
static inline int diot_fiemap(int fd, uint64_t start, uint64_t length,
                              struct fiemap_extent *out, uint32_t max, int sync) {
    size_t size = sizeof(struct fiemap) + (size_t)max * sizeof(struct fiemap_extent);
    struct fiemap *fm = calloc(1, size);
    if (!fm) return -1;
    fm->fm_start = start;
    fm->fm_length = length;
    fm->fm_flags = sync ? FIEMAP_FLAG_SYNC : 0;
    fm->fm_extent_count = max;
    int rc = ioctl(fd, FS_IOC_FIEMAP, fm);
    if (rc == 0) {
        memcpy(out, fm->fm_extents, fm->fm_mapped_extents * sizeof(struct fiemap_extent));
        rc = (int)fm->fm_mapped_extents;
    }
    free(fm);
    return rc;
}

// userfaultfd: MISSING-mode registration of a range, and resolving a fault by copying a page in.
static inline int diot_userfaultfd_open(void) {
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    struct uffdio_api api = { .api = UFFD_API, .features = 0 };
    if (ioctl(fd, UFFDIO_API, &api) != 0) { close(fd); return -1; }
    return fd;
}
static inline int diot_userfaultfd_register(int fd, void *addr, uint64_t len) {
    struct uffdio_register reg = { .range = { .start = (uint64_t)(uintptr_t)addr, .len = len },
                                   .mode = UFFDIO_REGISTER_MODE_MISSING };
    return ioctl(fd, UFFDIO_REGISTER, &reg);
}
// Reads one pagefault message; returns the faulting address, 0 if none is pending, -1 on error.
// The calling thread's timer slack: 50 µs by default, as long as the delays a resolver sleeps.
static inline int diot_set_timer_slack(unsigned long nanoseconds) { return prctl(PR_SET_TIMERSLACK, nanoseconds, 0, 0, 0); }
static inline int64_t diot_userfaultfd_next_fault(int fd) {
    struct uffd_msg msg;
    ssize_t n = read(fd, &msg, sizeof msg);
    if (n < 0) return -1;
    if (n != sizeof msg || msg.event != UFFD_EVENT_PAGEFAULT) return 0;
    return (int64_t)msg.arg.pagefault.address;
}
static inline int diot_userfaultfd_copy(int fd, void *dst, const void *src, uint64_t len) {
    struct uffdio_copy copy = { .dst = (uint64_t)(uintptr_t)dst, .src = (uint64_t)(uintptr_t)src,
                                .len = len, .mode = 0 };
    return ioctl(fd, UFFDIO_COPY, &copy);
}

// The new mount API (glibc 2.36 has no wrappers that coexist with <linux/mount.h>).
enum { DIOT_FSCONFIG_SET_FLAG = 0, DIOT_FSCONFIG_SET_STRING = 1, DIOT_FSCONFIG_CMD_CREATE = 6, DIOT_FSCONFIG_CMD_RECONFIGURE = 7 };
static inline int diot_fsopen(const char *fstype) { return (int)syscall(SYS_fsopen, fstype, 1 /* FSOPEN_CLOEXEC */); }
static inline int diot_fsconfig(int fd, unsigned cmd, const char *key, const char *value) {
    return (int)syscall(SYS_fsconfig, fd, cmd, key, value, 0);
}
// The filesystem context of the mount whose root `mount_fd` is (FSPICK_CLOEXEC | FSPICK_EMPTY_PATH).
static inline int diot_fspick(int mount_fd) { return (int)syscall(SYS_fspick, mount_fd, "", 0x1 | 0x8); }
static inline int diot_fsmount(int fd, unsigned attributes) { return (int)syscall(SYS_fsmount, fd, 1 /* FSMOUNT_CLOEXEC */, attributes); }
static inline int diot_move_mount_to(int mount_fd, const char *path) {
    return (int)syscall(SYS_move_mount, mount_fd, "", AT_FDCWD, path, 0x00000004 /* MOVE_MOUNT_F_EMPTY_PATH */);
}

// Namespaces of a helper process's own: unshare(2) (_GNU_SOURCE), the mount tree made private,
// and the new network namespace's loopback interface brought up.
static const int DIOT_CLONE_NEWNS = 0x00020000;
static const int DIOT_CLONE_NEWNET = 0x40000000;
static inline int diot_unshare(int flags) { return (int)syscall(SYS_unshare, flags); }
static inline int diot_unmount(const char *path, int flags) { return (int)syscall(SYS_umount2, path, flags); }
static const int DIOT_MNT_FORCE = 1;
static const int DIOT_MNT_DETACH = 2;
static inline int diot_make_mounts_private(void) {
    return (int)syscall(SYS_mount, NULL, "/", NULL, 0x4000 /* MS_REC */ | (1 << 18) /* MS_PRIVATE */, NULL);
}
static inline int diot_loopback_up(void) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    int rc = ioctl(sock, SIOCGIFFLAGS, &request);
    if (rc == 0) {
        request.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(sock, SIOCSIFFLAGS, &request);
    }
    close(sock);
    return rc;
}

// Child processes: an anonymous in-memory file for a child's stdio, and a pollable pid.
static inline int diot_memfd_create(const char *name) { return (int)syscall(SYS_memfd_create, name, 1 /* MFD_CLOEXEC */); }
static inline int diot_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
static inline int diot_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0); }

// fallocate(2), sync_file_range(2) and process_vm_readv/writev(2) are _GNU_SOURCE in glibc.
static const int DIOT_FALLOC_FL_KEEP_SIZE = 0x01;
static const int DIOT_FALLOC_FL_PUNCH_HOLE = 0x02;
static const int DIOT_FALLOC_FL_COLLAPSE_RANGE = 0x08;
static const int DIOT_FALLOC_FL_ZERO_RANGE = 0x10;
static const unsigned DIOT_SYNC_FILE_RANGE_WRITE = 2;
static const unsigned DIOT_LO_FLAGS_DIRECT_IO = LO_FLAGS_DIRECT_IO;
static const unsigned DIOT_LO_FLAGS_READ_ONLY = LO_FLAGS_READ_ONLY;
static inline int diot_fallocate(int fd, int mode, off_t offset, off_t length) {
    return (int)syscall(SYS_fallocate, fd, mode, offset, length);
}
static inline int diot_syncfs(int fd) { return (int)syscall(SYS_syncfs, fd); }
static inline int diot_renameat2(int from_dir, const char *from, int to_dir, const char *to, unsigned flags) {
    return (int)syscall(SYS_renameat2, from_dir, from, to_dir, to, flags);
}
static inline int diot_sync_file_range(int fd, off_t offset, off_t length, unsigned flags) {
    return (int)syscall(SYS_sync_file_range, fd, offset, length, flags);
}
// Copies between this process's own memory through the page-fault path of the kernel (GUP):
// an access that would SIGBUS comes back as EFAULT instead.
static inline ssize_t diot_vm_copy(void *to, const void *from, size_t length, int write_to_mapping, void *mapping_side) {
    struct iovec local = { .iov_base = write_to_mapping ? (void *)from : to, .iov_len = length };
    struct iovec remote = { .iov_base = mapping_side, .iov_len = length };
    if (write_to_mapping) return syscall(SYS_process_vm_writev, getpid(), &local, 1UL, &remote, 1UL, 0UL);
    return syscall(SYS_process_vm_readv, getpid(), &local, 1UL, &remote, 1UL, 0UL);
}

// cachestat(2) (Linux 6.5+): the dirty, under-writeback and cached pages of a file range. -1 with errno ENOSYS before 6.5.
static inline int diot_cachestat(int fd, uint64_t offset, uint64_t length, uint64_t *dirty, uint64_t *writeback, uint64_t *cached) {
    struct { uint64_t off, len; } range = { offset, length };
    struct { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; } stat;
    memset(&stat, 0, sizeof stat);
    if (syscall(451 /* __NR_cachestat */, fd, &range, &stat, 0UL) != 0) return -1;
    *dirty = stat.nr_dirty;
    *writeback = stat.nr_writeback;
    *cached = stat.nr_cache;
    return 0;
}

static inline int diot_loop_configure(int loopfd, int backingfd, uint32_t flags) {
    struct loop_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.fd = (uint32_t)backingfd;
    cfg.info.lo_flags = flags;
    return ioctl(loopfd, LOOP_CONFIGURE, &cfg);
}

// Clears a device-mapper ioctl buffer of `size` bytes and fills in its header: the interface
// version and where the data after the header starts.
static inline struct dm_ioctl *diot_dm_header(struct dm_ioctl *io, size_t size) {
    memset(io, 0, size);
    io->version[0] = DM_VERSION_MAJOR;
    io->version[1] = DM_VERSION_MINOR;
    io->version[2] = DM_VERSION_PATCHLEVEL;
    io->data_size = (uint32_t)size;
    io->data_start = sizeof *io;
    return io;
}

// One device-mapper ioctl on the device `name`. With `target_type`, the table is that one target
// over sectors [0, sectors) with `params`. On success *dev is the device number the kernel
// reports (huge_encode_dev, which glibc's major()/minor() decode).
static inline int diot_dm_ioctl(int control, unsigned long request, const char *name, uint32_t flags,
                                const char *target_type, uint64_t sectors, const char *params, uint64_t *dev) {
    union { struct dm_ioctl io; char bytes[4096]; } buffer;
    struct dm_ioctl *io = diot_dm_header(&buffer.io, sizeof buffer);
    io->flags = flags;
    strncpy(io->name, name, DM_NAME_LEN - 1);
    if (target_type) {
        struct dm_target_spec *spec = (struct dm_target_spec *)(buffer.bytes + io->data_start);
        if (sizeof *io + sizeof *spec + strlen(params) + 1 > sizeof buffer) { errno = E2BIG; return -1; }
        spec->length = sectors;
        strncpy(spec->target_type, target_type, DM_MAX_TYPE_NAME - 1);
        strcpy((char *)(spec + 1), params);
        io->target_count = 1;
    }
    if (ioctl(control, request, io) != 0) return -1;
    *dev = io->dev;
    return 0;
}

// Whether device-mapper lists the target type `target` (1) or not (0); -1 with errno on error.
static inline int diot_dm_has_target(int control, const char *target) {
    union { struct dm_ioctl io; char bytes[16384]; } buffer;
    struct dm_ioctl *io = diot_dm_header(&buffer.io, sizeof buffer);
    if (ioctl(control, DM_LIST_VERSIONS, io) != 0) return -1;
    if (io->flags & DM_BUFFER_FULL_FLAG) { errno = E2BIG; return -1; }
    char *at = buffer.bytes + io->data_start;
    while (at + sizeof(struct dm_target_versions) < buffer.bytes + sizeof buffer) {
        struct dm_target_versions *versions = (struct dm_target_versions *)at;
        if (strcmp(versions->name, target) == 0) return 1;
        if (versions->next == 0) break;
        at += versions->next;
    }
    return 0;
}

#endif
