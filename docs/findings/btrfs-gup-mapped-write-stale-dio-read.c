/* btrfs: an O_DIRECT read misses data written just before into its range through a shared
 * mapping by process_vm_writev (the kernel's GUP path, as a direct read into a mapped buffer
 * writes), after the folios had been written back once.
 *
 *   1. a 1 MiB file (ftruncate: a hole), mapped MAP_SHARED;
 *   2. process_vm_writev 'A' into the mapping over pages 0..9 (one dirty range);
 *   3. O_DIRECT pread of page 0, then of page 9 (each flushes its range first);
 *   4. process_vm_writev 'B' into the mapping over pages 5..11;
 *   5. O_DIRECT pread of page 5: must return 'B' (the read flushes its range first);
 *   6. fsync, then O_DIRECT pread of page 5 again.
 * Build: gcc -Wall btrfs-gup-mapped-write-stale-dio-read.c -o stale
 * Run:   ./stale DIR   (DIR on the filesystem under test)
 * Exit:  0 both reads return 'B'; 1 a read returned other bytes; 2 set-up error. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096L

static unsigned char *map, *buf;
static int dfd;

static void die(const char *what) { perror(what); exit(2); }

static void mapped_write(int value, long first_page, long pages) {
    memset(buf, value, pages * PAGE);
    struct iovec local = { buf, pages * PAGE }, remote = { map + first_page * PAGE, pages * PAGE };
    if (process_vm_writev(getpid(), &local, 1, &remote, 1, 0) != pages * PAGE) die("process_vm_writev");
}

static unsigned char direct_read(long page) {
    if (pread(dfd, buf, PAGE, page * PAGE) != PAGE) die("pread O_DIRECT");
    return buf[0];
}

static int judge(const char *when) {
    int bad = 0;
    for (long i = 0; i < PAGE; i++) bad += buf[i] != 'B';
    printf("%s: %s (%d of %ld bytes not 'B', first '%c')\n", when, bad ? "STALE" : "ok", bad, PAGE, buf[0]);
    return bad != 0;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s DIR\n", argv[0]); return 2; }
    char path[4096];
    snprintf(path, sizeof path, "%s/stale-%d.dat", argv[1], getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    dfd = open(path, O_RDWR | O_DIRECT);
    if (fd < 0 || dfd < 0) die("open");
    unlink(path);
    if (ftruncate(fd, 1 << 20)) die("ftruncate");
    map = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED || posix_memalign((void **)&buf, PAGE, 16 * PAGE)) die("mmap");
    mapped_write('A', 0, 10);
    direct_read(0);
    direct_read(9);
    mapped_write('B', 5, 7);
    direct_read(5);
    int stale = judge("O_DIRECT read of page 5 after its mapped write");
    if (fsync(fd)) die("fsync");
    direct_read(5);
    stale |= judge("the same read after fsync") << 1;
    return stale ? 1 : 0;
}
