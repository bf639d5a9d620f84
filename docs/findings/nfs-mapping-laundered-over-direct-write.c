/* Data written with O_DIRECT over a range that a shared mapping dirtied just before must be
 * what the file holds after. The operations dio-torture's ops scenario shrank to on NFS:
 *   1. an O_DIRECT write of 48 KiB at 331776 ('A')
 *   2. a write of 45376 bytes at 260921 through a shared mapping ('B'; the pages stay dirty)
 *   3. an O_DIRECT write of 56 KiB at 233472 ('C'), over part of what the mapping wrote
 *   4. a buffered read of 46251 bytes at 264613: 264613..290816 must be 'C', then 'B' to 306297
 * Build: gcc -Wall nfs-mapping-laundered-over-direct-write.c -o laundered; run: ./laundered DIR */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void direct_write(int fd, char value, long offset, long length) {
    void *buffer;
    if (posix_memalign(&buffer, 4096, length)) exit(2);
    memset(buffer, value, length);
    if (pwrite(fd, buffer, length, offset) != length) { perror("O_DIRECT pwrite"); exit(2); }
    free(buffer);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s DIR\n", argv[0]); return 2; }
    char path[4096];
    snprintf(path, sizeof path, "%s/mmap-then-direct.dat", argv[1]);
    int buffered = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    int direct = open(path, O_RDWR | O_DIRECT);
    if (buffered < 0 || direct < 0) { perror("open"); return 2; }
    direct_write(direct, 'A', 331776, 49152);
    long size = 331776 + 49152;
    char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, buffered, 0);
    if (map == MAP_FAILED) { perror("mmap"); return 2; }
    memset(map + 260921, 'B', 45376);
    direct_write(direct, 'C', 233472, 57344);
    static char got[46251];
    if (pread(buffered, got, sizeof got, 264613) != sizeof got) { perror("pread"); return 2; }
    long wrong = 0, first = -1;
    for (long i = 0; i < (long)sizeof got; i++) {
        long offset = 264613 + i;
        char want = offset < 290816 ? 'C' : offset < 306297 ? 'B' : 0;
        if (got[i] != want) { wrong++; if (first < 0) first = offset; }
    }
    if (wrong) printf("FAIL: %ld bytes wrong from offset %ld (found '%c' where the O_DIRECT write put 'C')\n", wrong, first, got[first - 264613]);
    else printf("PASS: the buffered read shows the O_DIRECT write over the mapped range\n");
    munmap(map, size);
    close(direct); close(buffered); unlink(path);
    return wrong ? 1 : 0;
}
