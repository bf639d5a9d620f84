/* FALLOC_FL_PUNCH_HOLE (with the FALLOC_FL_KEEP_SIZE it requires) must leave the file size as
 * it is. An empty file, optionally preallocated past EOF first, then a hole punched past EOF:
 * the size must stay 0.
 * Build: gcc -Wall gfs2-punch-past-eof-size.c -o punch-size; run: ./punch-size DIR */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static long size_of(int fd) { struct stat s; fstat(fd, &s); return (long)s.st_size; }

int main(int argc, char **argv) {
    char path[4096];
    snprintf(path, sizeof path, "%s/punch.dat", argv[1]);
    int wrong = 0;
    for (int preallocate = 0; preallocate < 2; preallocate++) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (preallocate && fallocate(fd, FALLOC_FL_KEEP_SIZE, 500224, 23270)) perror("fallocate keep-size");
        long before = size_of(fd);
        if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 488026, 30303)) perror("fallocate punch");
        long after = size_of(fd);
        printf("%s: size %ld before the punch, %ld after%s\n", preallocate ? "preallocated past EOF" : "empty", before, after,
               after == before ? "" : " -> the punch changed the size");
        wrong += after != before;
        close(fd);
        unlink(path);
    }
    return wrong ? 1 : 0;
}
