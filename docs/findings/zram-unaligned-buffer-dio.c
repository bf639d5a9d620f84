// zram: O_DIRECT reads and writes from a buffer that is not page aligned complete in full with
// the wrong bytes. See zram-unaligned-buffer-dio.md.
//
// Makes a zram device of its own (/sys/class/zram-control), writes 64 KiB whose every 512-byte
// sector names its own offset, reads it back with O_DIRECT into a buffer at a page plus 512 bytes
// and at a page plus 1 byte, then writes from such a buffer and reads back page-aligned. Removes
// the device. Exit status 1 when a transfer returned its full length with other bytes than it
// should have, 0 when every one was exact or refused (EINVAL), 2 when it cannot run.
//
//   gcc -O2 zram-unaligned-buffer-dio.c -o zram-unaligned-buffer-dio && ./zram-unaligned-buffer-dio
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LENGTH 65536

static int device_id = -1;

static int write_sysfs(const char *path, const char *value) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) return -1;
    ssize_t n = write(fd, value, strlen(value));
    close(fd);
    return n == (ssize_t)strlen(value) ? 0 : -1;
}

static void remove_device(void) {
    char path[64], id[16];
    if (device_id < 0) return;
    snprintf(path, sizeof path, "/sys/block/zram%d/reset", device_id);
    write_sysfs(path, "1");
    snprintf(id, sizeof id, "%d", device_id);
    write_sysfs("/sys/class/zram-control/hot_remove", id);
}

static int add_device(void) {
    char buffer[16] = {0}, path[64];
    int fd = open("/sys/class/zram-control/hot_add", O_RDONLY);
    if (fd < 0 || read(fd, buffer, sizeof buffer - 1) <= 0) return -1;
    close(fd);
    device_id = atoi(buffer);
    snprintf(path, sizeof path, "/sys/block/zram%d/disksize", device_id);
    return write_sysfs(path, "64M");
}

// Sector s of the pattern holds its own byte offset in every 8-byte word, xored with `salt`.
static void stamp(unsigned char *bytes, size_t length, uint64_t salt) {
    for (size_t at = 0; at < length; at += 8) {
        uint64_t word = (at & ~(uint64_t)511) ^ salt;
        memcpy(bytes + at, &word, 8);
    }
}

// Prints the first sector of `found` that differs from `expected`, and what it holds instead.
static int compare(const char *what, const unsigned char *found, const unsigned char *expected, uint64_t salt) {
    for (size_t sector = 0; sector < LENGTH; sector += 512) {
        if (memcmp(found + sector, expected + sector, 512) == 0) continue;
        uint64_t word;
        memcpy(&word, found + sector, 8);
        word ^= salt;
        if (word % 512 == 0 && word < LENGTH)
            printf("%s: %d bytes returned; the sector at %zu holds the one of offset %llu\n", what, LENGTH, sector, (unsigned long long)word);
        else
            printf("%s: %d bytes returned; the sector at %zu holds no sector of the pattern\n", what, LENGTH, sector);
        return 1;
    }
    printf("%s: %d bytes returned, exact\n", what, LENGTH);
    return 0;
}

static int transfer(int fd, int writing, int misalignment) {
    unsigned char *buffer = aligned_alloc(4096, LENGTH + 8192), *expected = aligned_alloc(4096, LENGTH);
    char what[64];
    uint64_t salt = writing ? 0x5a5a5a5a00000000ULL : 0;
    stamp(expected, LENGTH, 0);
    if (pwrite(fd, expected, LENGTH, 0) != LENGTH) { perror("aligned pwrite"); exit(2); }
    unsigned char *at = buffer + misalignment;
    ssize_t n;
    if (writing) {
        stamp(at, LENGTH, salt);
        n = pwrite(fd, at, LENGTH, 0);
        snprintf(what, sizeof what, "write from page+%d", misalignment);
    } else {
        memset(buffer, 0xee, LENGTH + 8192);
        n = pread(fd, at, LENGTH, 0);
        snprintf(what, sizeof what, "read into page+%d", misalignment);
    }
    if (n < 0) { printf("%s: %s\n", what, strerror(errno)); return errno == EINVAL ? 0 : 1; }
    if (n != LENGTH) { printf("%s: %zd of %d bytes\n", what, n, LENGTH); return 1; }
    if (!writing) return compare(what, at, expected, 0);
    unsigned char *back = aligned_alloc(4096, LENGTH);
    if (pread(fd, back, LENGTH, 0) != LENGTH) { perror("aligned pread"); exit(2); }
    stamp(expected, LENGTH, salt);
    return compare(what, back, expected, salt);
}

int main(void) {
    char path[64], size[16] = {0};
    atexit(remove_device);
    if (add_device() != 0) { perror("zram hot_add"); return 2; }
    snprintf(path, sizeof path, "/dev/zram%d", device_id);
    int fd = open(path, O_RDWR | O_DIRECT);
    if (fd < 0) { perror(path); return 2; }
    snprintf(path, sizeof path, "/sys/block/zram%d/queue/logical_block_size", device_id);
    int sizes = open(path, O_RDONLY);
    if (sizes >= 0 && read(sizes, size, sizeof size - 1) > 0) printf("zram%d: logical block size %s", device_id, size);
    int wrong = 0;
    for (int writing = 0; writing <= 1; writing++) {
        wrong |= transfer(fd, writing, 512);
        wrong |= transfer(fd, writing, 1);
    }
    close(fd);
    return wrong;
}
