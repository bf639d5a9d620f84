/*
 * dio-torture reproducer for the operation log btrfs-6.12-mmap-dirty-fdatasync-euclean.opslog
 * 6 operations, seed 13106112670420039569.
 *
 * Build: gcc -Wall repro.c -o repro -luring -lpthread
 * Run:   ./repro DIR     (DIR on the filesystem under test; a file is made and removed there)
 * Exit:  0 every operation kept its promise, 1 one did not (printed), 2 set-up error.
 */
#define MAX_FILE_SIZE 258048L
#define BACKGROUND_WRITEBACK 0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

enum { OP_WRITE, OP_READ, OP_FALLOCATE, OP_TRUNCATE, OP_FSYNC, OP_FDATASYNC, OP_SYNC_RANGE, OP_FADVISE, OP_CHECK, OP_PROBE };
enum { VIA_SYNC = 0, VIA_URING = 1, VIA_MMAP = 2, BUFFERED = 4 };
struct op { int kind; long offset, length; int via; int mode; const char *text; };
static const struct op ops[] = {
    {OP_WRITE, 191529, 63378, VIA_URING | BUFFERED, 0, "write 191529 63378 uring-write+buffered"},
    {OP_WRITE, 50250, 23758, VIA_MMAP, 0, "write 50250 23758 mmap"},
    {OP_WRITE, 65930, 18709, VIA_URING | BUFFERED, 0, "write 65930 18709 uring-write+buffered"},
    {OP_READ, 36864, 20480, VIA_URING, 0, "read 36864 20480 uring-read"},
    {OP_WRITE, 65108, 13351, VIA_MMAP, 0, "write 65108 13351 mmap"},
    {OP_FDATASYNC, 0, 0, 0, 0, "fdatasync"},
};
#define PAGE 4096L
#define DIRECT_ALIGN 4096L
#define POISON 0xA5
#define MAP_LENGTH ((MAX_FILE_SIZE + PAGE - 1) / PAGE * PAGE + PAGE)

static int buffered_fd, direct_fd;
static struct io_uring ring;
static unsigned char *mapping, *buffer, *model;
static long model_size;
static volatile int stopping;

static void die(const char *what) { perror(what); exit(2); }

/* What write number `generation` puts at `offset`: never POISON, different for each write. */
static unsigned char data_byte(long offset, int generation) {
    unsigned char value = (unsigned char)((offset >> 9) * 31 + (offset & 511) * 7 + generation * 13 + 0x11);
    return value == POISON ? 0x5A : value;
}

/* A copy through the mapping by the kernel's fault path: a bad page gives EFAULT, not SIGBUS. */
static long mapped_copy(int to_file, long offset, long length) {
    struct iovec local = { buffer, (size_t)length }, remote = { mapping + offset, (size_t)length };
    long count = to_file ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0) : process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    return count < 0 ? -errno : count;
}

/* One transfer; its first completion as the kernel gave it: a count or a negated errno. */
static long transfer(int write, int via, long offset, long length) {
    if ((via & 3) == VIA_MMAP) return mapped_copy(write, offset, length);
    int fd = via & BUFFERED ? buffered_fd : direct_fd;
    if ((via & 3) == VIA_SYNC) {
        long count = write ? pwrite(fd, buffer, (size_t)length, offset) : pread(fd, buffer, (size_t)length, offset);
        return count < 0 ? -errno : count;
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    if (write) io_uring_prep_write(sqe, fd, buffer, (unsigned)length, (unsigned long long)offset);
    else io_uring_prep_read(sqe, fd, buffer, (unsigned)length, (unsigned long long)offset);
    if (io_uring_submit(&ring) != 1) die("io_uring_submit");
    struct io_uring_cqe *cqe;
    if (io_uring_wait_cqe(&ring, &cqe)) die("io_uring_wait_cqe");
    long result = cqe->res; /* the first completion, judged as is: never resubmitted */
    io_uring_cqe_seen(&ring, cqe);
    return result;
}

static int broken(const struct op *op, int index, const char *what) {
    printf("operation %d (%s): %s\n", index, op->text, what);
    return 1;
}

/* A direct transfer the filesystem's alignment does not allow is not run, as dio-torture skips it. */
static int misaligned(int via, long offset, long length) {
    return !(via & BUFFERED) && (via & 3) != VIA_MMAP && (offset % DIRECT_ALIGN || length % DIRECT_ALIGN);
}

static int do_write(const struct op *op, int index) {
    long length = op->length;
    if ((op->via & 3) == VIA_MMAP) {
        if (op->offset >= model_size) return 0; /* a mapping cannot extend the file */
        if (length > model_size - op->offset) length = model_size - op->offset;
    }
    if (misaligned(op->via, op->offset, length)) return 0;
    for (long b = 0; b < length; b++) buffer[b] = data_byte(op->offset + b, index + 1);
    long result = transfer(1, op->via, op->offset, length);
    char what[160];
    if (result < 0) { snprintf(what, sizeof what, "write failed: %s", strerror((int)-result)); return broken(op, index, what); }
    if (result != length) { snprintf(what, sizeof what, "short write: %ld of %ld bytes", result, length); return broken(op, index, what); }
    memcpy(model + op->offset, buffer, (size_t)length);
    if (op->offset + length > model_size) model_size = op->offset + length;
    return 0;
}

/* A read judged on its first completion: exactly the bytes to EOF (for a mapping, to the end
 * of the page holding EOF, zeros past EOF), each as the model says. */
static int judge_read(const struct op *op, int index, int via, long offset, long length) {
    long visible = model_size;
    if ((via & 3) == VIA_MMAP) {
        visible = (model_size + PAGE - 1) / PAGE * PAGE;
        if (visible > MAP_LENGTH) visible = MAP_LENGTH;
        if (offset >= visible) return 0;
        if (length > visible - offset) length = visible - offset;
    }
    if (misaligned(via, offset, length)) return 0;
    memset(buffer, POISON, (size_t)length);
    long result = transfer(0, via, offset, length);
    long expected = visible - offset < length ? visible - offset : length;
    if (expected < 0) expected = 0;
    char what[200];
    if (result < 0) {
        snprintf(what, sizeof what, "read failed: %s (expected %ld bytes)", strerror((int)-result), expected);
        return broken(op, index, what);
    }
    if (result != expected) {
        snprintf(what, sizeof what, "res %ld of %ld before EOF (file size %ld): short read", result, expected, model_size);
        return broken(op, index, what);
    }
    for (long b = 0; b < result; b++) {
        unsigned char want = offset + b < model_size ? model[offset + b] : 0;
        if (buffer[b] != want) {
            snprintf(what, sizeof what, "byte at file offset %ld: expected 0x%02x, found 0x%02x%s", offset + b, want, buffer[b],
                     buffer[b] == POISON ? " (unfilled)" : "");
            return broken(op, index, what);
        }
    }
    return 0;
}

static int do_allocate(const struct op *op, int index) {
    if (fallocate(buffered_fd, op->mode, op->offset, op->length)) {
        if (errno == EOPNOTSUPP) return 0; /* the file stays as it was */
        char what[120];
        snprintf(what, sizeof what, "fallocate failed: %s", strerror(errno));
        return broken(op, index, what);
    }
    long end = op->offset + op->length;
    if (op->mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
        memset(model + op->offset, 0, (size_t)((end < model_size ? end : model_size) > op->offset ? (end < model_size ? end : model_size) - op->offset : 0));
    if (!(op->mode & FALLOC_FL_KEEP_SIZE) && end > model_size) model_size = end;
    return 0;
}

static int call(const struct op *op, int index, int result) {
    if (result == 0) return 0;
    char what[120];
    snprintf(what, sizeof what, "failed: %s", strerror(errno));
    return broken(op, index, what);
}

static int run(const struct op *op, int index) {
    switch (op->kind) {
    case OP_WRITE: return do_write(op, index);
    case OP_READ: return judge_read(op, index, op->via, op->offset, op->length);
    case OP_FALLOCATE: return do_allocate(op, index);
    case OP_TRUNCATE:
        if (op->offset < model_size) memset(model + op->offset, 0, (size_t)(model_size - op->offset));
        model_size = op->offset;
        return call(op, index, ftruncate(buffered_fd, op->offset));
    case OP_FSYNC: return call(op, index, fsync(buffered_fd));
    case OP_FDATASYNC: return call(op, index, fdatasync(buffered_fd));
    case OP_SYNC_RANGE: return call(op, index, sync_file_range(buffered_fd, op->offset, op->length, SYNC_FILE_RANGE_WRITE));
    case OP_FADVISE: errno = posix_fadvise(buffered_fd, op->offset, op->length, POSIX_FADV_DONTNEED); return call(op, index, errno);
    case OP_CHECK: {
        long direct_length = (model_size + DIRECT_ALIGN - 1) / DIRECT_ALIGN * DIRECT_ALIGN;
        return judge_read(op, index, VIA_URING, 0, direct_length ? direct_length : DIRECT_ALIGN)
            || judge_read(op, index, VIA_SYNC | BUFFERED, 0, model_size + PAGE)
            || (model_size > 0 && judge_read(op, index, VIA_MMAP, 0, (model_size + PAGE - 1) / PAGE * PAGE));
    }
    default: return 0;
    }
}

static void *writeback(void *unused) {
    (void)unused;
    for (unsigned pass = 0; !stopping; pass++) {
        sync_file_range(buffered_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        usleep(50 + pass % 7 * 50);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s DIR\n", argv[0]); return 2; }
    char path[4096];
    snprintf(path, sizeof path, "%s/repro-%d.dat", argv[1], getpid());
    buffered_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (buffered_fd < 0) die("open");
    direct_fd = open(path, O_RDWR | O_DIRECT);
    if (direct_fd < 0) die("open O_DIRECT");
    if (io_uring_queue_init(8, &ring, 0)) die("io_uring_queue_init");
    mapping = mmap(NULL, MAP_LENGTH, PROT_READ | PROT_WRITE, MAP_SHARED, buffered_fd, 0);
    if (mapping == MAP_FAILED) die("mmap");
    if (posix_memalign((void **)&buffer, PAGE, MAP_LENGTH + PAGE)) die("posix_memalign");
    model = calloc(1, MAP_LENGTH + PAGE);
    if (!model) die("calloc");
    pthread_t thread;
    if (BACKGROUND_WRITEBACK && pthread_create(&thread, NULL, writeback, NULL)) die("pthread_create");
    int count = (int)(sizeof ops / sizeof ops[0]), failed = 0, index;
    for (index = 0; index < count && !failed; index++) failed = run(&ops[index], index);
    stopping = 1;
    if (BACKGROUND_WRITEBACK) pthread_join(thread, NULL);
    if (!failed) printf("all %d operations kept their promises\n", count);
    unlink(path);
    return failed;
}