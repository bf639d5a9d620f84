/* A 20 KiB O_DIRECT io_uring read of a 16 KiB file of 4 extents (4 KiB each, written in reverse
 * with an fsync after each) into a buffer whose first page alone is resident. The read must
 * return 16384 (EOF); anything less before EOF is the 2022 MariaDB-class short read.
 * Build: gcc -Wall gfs2-uring-short-read.c -o short-read -luring; run: ./short-read DIR [ITERATIONS] [READ] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s DIR [ITERATIONS] [READ]\n", argv[0]); return 2; }
    int iterations = argc > 2 ? atoi(argv[2]) : 20;
    long length = argc > 3 ? atol(argv[3]) : 20480, size = 16384, page = 4096;
    char path[4096];
    snprintf(path, sizeof path, "%s/short.dat", argv[1]);
    struct io_uring ring;
    if (io_uring_queue_init(4, &ring, 0)) { perror("io_uring_queue_init"); return 2; }
    int shorts = 0;
    for (int i = 0; i < iterations; i++) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
        if (fd < 0) { perror("open"); return 2; }
        void *block;
        if (posix_memalign(&block, page, page)) return 2;
        for (long off = size - page; off >= 0; off -= page) {
            memset(block, 'a' + off / page, page);
            if (pwrite(fd, block, page, off) != page || fsync(fd)) { perror("write"); return 2; }
        }
        free(block);
        long span = (length + page - 1) / page * page;
        char *buffer = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        buffer[0] = 1; /* the first page resident, the others never touched */
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        struct iovec vector = { buffer, (size_t)length };
        io_uring_prep_readv(sqe, fd, &vector, 1, 0);
        io_uring_submit(&ring);
        struct io_uring_cqe *cqe;
        io_uring_wait_cqe(&ring, &cqe);
        int res = cqe->res; /* judged as it came: never resubmitted */
        io_uring_cqe_seen(&ring, cqe);
        long expected = length < size ? length : size;
        if (res != expected) {
            shorts++;
            if (shorts <= 3) printf("iteration %d: res %d, expected %ld\n", i, res, expected);
        }
        munmap(buffer, span);
        close(fd);
        unlink(path);
    }
    printf("%d of %d reads short before EOF\n", shorts, iterations);
    return shorts ? 1 : 0;
}
