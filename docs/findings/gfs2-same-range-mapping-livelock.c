/* An O_DIRECT pread of a file's first 16 KiB (written and synced) into a MAP_SHARED mapping of
 * that very range of the same file (the fstests generic/647 family). It must return 16384 with
 * the file's bytes. A child does the read; the parent reports a HANG if it has not returned
 * within 10 s, and kills it.
 * Build: gcc -Wall gfs2-same-range-mapping-livelock.c -o same-range; run: ./same-range DIR */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s DIR\n", argv[0]); return 2; }
    char path[4096];
    snprintf(path, sizeof path, "%s/same-range.dat", argv[1]);
    const long size = 16384;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
    void *data;
    if (fd < 0 || posix_memalign(&data, 4096, size)) { perror("open"); return 2; }
    memset(data, 0x5a, size);
    if (pwrite(fd, data, size, 0) != size || fsync(fd)) { perror("pwrite"); return 2; }
    pid_t child = fork();
    if (child == 0) {
        unsigned char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) { perror("mmap"); _exit(2); }
        long n = pread(fd, map, size, 0);
        printf("pread returned %ld%s\n", n, n == size && map[0] == 0x5a && map[size - 1] == 0x5a ? " (full, bytes right)" : "");
        fflush(stdout);
        _exit(n == size ? 0 : 1);
    }
    for (int tenth = 0; tenth < 100; tenth++) {
        int status;
        if (waitpid(child, &status, WNOHANG) == child) { unlink(path); return WEXITSTATUS(status); }
        struct timespec pause = { 0, 100000000 };
        nanosleep(&pause, NULL);
    }
    printf("HANG: pread has not returned after 10 s\n");
    for (int sample = 0; sample < 3; sample++) {
        char name[64], text[4096] = "";
        snprintf(name, sizeof name, "/proc/%d/stat", child);
        FILE *f = fopen(name, "r");
        if (f) { size_t n = fread(text, 1, sizeof text - 1, f); text[n] = 0; fclose(f); }
        char *state = strchr(text, ')');
        long utime = 0, stime = 0;
        if (state) sscanf(state + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime);
        snprintf(name, sizeof name, "/proc/%d/stack", child);
        f = fopen(name, "r");
        char stack[4096] = "";
        if (f) { size_t n = fread(stack, 1, sizeof stack - 1, f); stack[n] = 0; fclose(f); }
        printf("sample %d: state %c, system time %ld ticks; stack:\n%s", sample, state ? state[2] : '?', stime, stack);
        sleep(1);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    unlink(path);
    return 1;
}
