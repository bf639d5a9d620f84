/* A 64 KiB O_DIRECT io_uring writev over a 64 KiB file (4 extents of 16 KiB, written in reverse
 * with an fsync after each) from a buffer whose first page alone is resident (anonymous memory,
 * the rest never touched: it reads as zeros). The write must return 65536; less is a short
 * write before the end, reported to an application that trusts it.
 * Build: gcc -Wall gfs2-uring-short-write.c -o short-write -luring; run: ./short-write DIR [N] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s DIR [ITERATIONS]\n", argv[0]); return 2; }
    int iterations = argc > 2 ? atoi(argv[2]) : 20;
    const long size = 65536, extent = 16384, page = 4096;
    char path[4096];
    snprintf(path, sizeof path, "%s/short-write.dat", argv[1]);
    struct io_uring ring;
    if (io_uring_queue_init(4, &ring, 0)) { perror("io_uring_queue_init"); return 2; }
    int shorts = 0;
    for (int i = 0; i < iterations; i++) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
        void *block;
        if (fd < 0 || posix_memalign(&block, page, extent)) { perror("open"); return 2; }
        memset(block, 'x', extent);
        for (long off = size - extent; off >= 0; off -= extent)
            if (pwrite(fd, block, extent, off) != extent || fsync(fd)) { perror("layout"); return 2; }
        free(block);
        char *source = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        source[0] = 'y'; /* the first page resident */
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        struct iovec vector = { source, (size_t)size };
        io_uring_prep_writev(sqe, fd, &vector, 1, 0);
        io_uring_submit(&ring);
        struct io_uring_cqe *cqe;
        io_uring_wait_cqe(&ring, &cqe);
        int res = cqe->res; /* judged as it came: never resubmitted */
        io_uring_cqe_seen(&ring, cqe);
        if (res != size) { shorts++; if (shorts <= 3) printf("iteration %d: res %d, expected %ld\n", i, res, size); }
        munmap(source, size);
        close(fd);
        unlink(path);
    }
    printf("%d of %d writes short\n", shorts, iterations);
    return shorts ? 1 : 0;
}
