import DIOSystem
import Foundation

/// A standalone C reproducer of one case (liburing only: `gcc repro.c -o repro -luring`): it
/// rebuilds the extent layout, the buffer's fault pattern and the read, fires it, judges the
/// first completion as the oracle does, and prints expected against got.
public enum Reproducer {
    /// A case the C file cannot rebuild, and why.
    public struct Refusal: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    static let methods: [IOPath.Method: String] = [
        .uringRead: "URING_READ", .uringReadv: "URING_READV", .uringReadFixed: "URING_READ_FIXED",
        .preadv2: "PREADV2", .pread: "PREAD",
    ]

    /// The C file of the case `caseID` of the report at `path` (its failing record when there
    /// is one; of several, the one on `kernel` and `filesystem`): a read or write case rebuilt,
    /// or a step scenario's saved operation log performed.
    public static func source(forCase caseID: String, ofReportAt path: String, kernel: String?, filesystem: String?) throws -> (source: String, record: CaseRecord) {
        let (_, record) = try findCase(caseID, inReportAt: path, kernel: kernel, filesystem: filesystem)
        return (try source(forCase: record), record)
    }

    /// The C file of `record`: its operation log performed, or the case rebuilt.
    public static func source(forCase record: CaseRecord) throws -> String {
        if record.read == nil && record.write == nil, let log = record.operationLog { return try OperationReproducer.source(forLogAt: log) }
        return try source(for: record)
    }

    /// The report at `path` and its record of `caseID`: the failing one when there is one (that
    /// is what a reproducer or a finding report is for); of several, the one on `kernel` and `filesystem`.
    public static func findCase(_ caseID: String, inReportAt path: String, kernel: String?, filesystem: String?) throws -> (RunReport, CaseRecord) {
        guard let data = FileManager.default.contents(atPath: path) else { throw Refusal("\(path): cannot read") }
        guard let report = try? RunReport.decode(data) else { throw Refusal("\(path): not a dio-torture JSON report") }
        let matching = report.cases.filter {
            $0.id == caseID && (kernel == nil || $0.kernel == kernel) && (filesystem == nil || $0.filesystem.type == filesystem)
        }
        guard let record = matching.first(where: { $0.verdict.isFailure || $0.verdict == .known }) ?? matching.first else {
            throw Refusal("\(path): no case \(caseID)\(kernel.map { " on \($0)" } ?? "")\(filesystem.map { " on \($0)" } ?? "")")
        }
        return (report, record)
    }

    public static func source(for record: CaseRecord) throws -> String {
        if let write = record.write { return try WriteReproducer.source(for: record, write: write) }
        guard let layout = record.layout?.planned, let read = record.read, let pattern = record.pattern, let path = record.path else {
            throw Refusal("case \(record.id) is not a read case: nothing to reproduce")
        }
        guard let method = methods[path.method], path.isDirect, !path.fixedFile, !path.sqpoll else {
            throw Refusal("repro rebuilds direct reads through a descriptor on a plain ring, not \(path)")
        }
        if let alignment = read.alignment { throw Refusal("repro does not rebuild a transfer laid out as \(alignment) yet") }
        let makeBuffer = try bufferSource(pattern)
        let header = preamble(record, layout: layout, what: "a file is made", verdicts: "every read legal and correct, 1 a short read or corruption the oracle forbids",
                              note: read.queueDepth.map { "The case had \($0) reads in flight per iteration; this file fires them one at a time." })
            + """
        #define READ_OFFSET \(read.offset)
        #define READ_LENGTH \(read.length)
        #define FILE_SIZE \(read.fileSize)L
        #define MIRROR_OFFSET \(BufferContext.mirrorOffset(past: read.fileSize + read.length))L
        #define METHOD \(method)
        #define NOWAIT \(path.nowait ? 1 : 0)
        #define ASYNC \(path.async ? 1 : 0)
        enum { URING_READ, URING_READV, URING_READ_FIXED, PREADV2, PREAD };

        """
        return header + helpers + "\n" + makeBuffer + "\n" + body
    }

    /// The pattern's `make_buffer` in C, or why there is none.
    static func bufferSource(_ pattern: FaultPattern) throws -> String {
        guard let source = pattern.kind.reproducerSource else {
            let can = FaultPattern.allCases.filter { $0.kind.reproducerSource != nil }.map(\.rawValue)
            throw Refusal("repro cannot rebuild the \(pattern.rawValue) pattern yet; it can: \(can.joined(separator: ", "))")
        }
        return source
    }

    /// The comment that opens a case's C file, and the defines of its extent layout.
    static func preamble(_ record: CaseRecord, layout: ExtentPlan, what: String, verdicts: String, note: String? = nil) -> String {
        let first = record.failureDetails.first.map {
            "first failure: iteration \($0.iteration) seed \($0.seed), \($0.outcome.rawValue), res \($0.result.map(String.init) ?? "none") of \($0.expectedLength)"
        } ?? "no failure recorded"
        return """
        /*
         * dio-torture reproducer for \(record.id)
         * Recorded: kernel \(record.kernel), \(record.filesystem.type), \(record.verdict.rawValue) in \(record.failures)/\(record.iterations) iterations;
         * \(first).\(note.map { "\n * \($0)" } ?? "")
         *
         * Build: gcc repro.c -o repro -luring
         * Run:   ./repro DIR [ITERATIONS]     (DIR on the filesystem under test; \(what) and removed there)
         * Exit:  0 \(verdicts), 2 set-up error.
         */
        #define EXTENTS \(layout.count)
        #define EXTENT_SIZE \(layout.size)
        #define GAP \(layout.gap)
        #define REVERSE \(layout.order == .reverse ? 1 : 0)
        #define COLLAPSED_SEPARATORS \(record.layout?.method == .collapsedSeparators ? 1 : 0)
        #define SPACED \(record.layout?.method == .spaced ? 1 : 0)
        #define ITERATIONS \(record.iterations)

        """
    }

    /// The fixed part of every reproducer before the pattern's `make_buffer`.
    static let helpers = #"""
    #define _GNU_SOURCE
    #include <errno.h>
    #include <fcntl.h>
    #include <linux/fiemap.h>
    #include <linux/fs.h>
    #include <liburing.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include <sys/ioctl.h>
    #include <sys/mman.h>
    #include <sys/stat.h>
    #include <sys/uio.h>
    #include <unistd.h>

    #define PAGE 4096
    #define POISON 0xA5
    #define HUGE (2 << 20)

    /* What the file holds at `offset`: a byte of its offset's sector and position, never POISON. */
    static unsigned char file_byte(long offset) {
        unsigned char value = (unsigned char)((offset >> 9) * 31 + (offset & 511) * 7 + 0x11);
        return value == POISON ? 0x5A : value;
    }

    /* What a source file's mapping carries at `offset`: not the file's data, never POISON. */
    static unsigned char source_byte(long offset) {
        unsigned char value = (unsigned char)((offset >> 9) * 13 + (offset & 511) * 3 + 0x29);
        return value == POISON ? 0x5B : value;
    }

    static void die(const char *what) { perror(what); exit(2); }

    /* What the case's file holds at `offset` as laid out: an extent's data, zeros in a gap or past EOF. */
    static unsigned char data_byte(long offset) {
        return offset < FILE_SIZE && offset % (EXTENT_SIZE + GAP) < EXTENT_SIZE ? file_byte(offset) : 0;
    }

    /* Where the reproducer may make files of its own: the DIR it was given. */
    static const char *scratch_dir;

    /* The current buffer's whole mapping, unmapped after each iteration. */
    static void *mapping;
    static size_t mapping_length;

    /* What was written at `start` for file offset `data`: separators hold data the collapse removes. */
    static void write_at(int fd, unsigned char *bounce, size_t length, long data, long start) {
        for (size_t b = 0; b < length; b++) bounce[b] = file_byte(data + (long)b);
        if (pwrite(fd, bounce, length, start) != (ssize_t)length) die("pwrite");
    }

    /* As dio-torture wrote the case's file (LayoutMethod): either each extent with an fsync after
     * it, its range punched first to drop ext4's preallocation; or every extent followed by a
     * one-block separator that FALLOC_FL_COLLAPSE_RANGE then removes, so neighbours are apart on disk. */
    static void write_layout(int fd) {
        struct stat status;
        if (fstat(fd, &status)) die("fstat");
        size_t separator = COLLAPSED_SEPARATORS ? (size_t)status.st_blksize : 0;
        unsigned char *bounce;
        if (posix_memalign((void **)&bounce, PAGE, EXTENT_SIZE + separator + status.st_blksize)) die("posix_memalign");
        /* SPACED: a block of another file after each extent, so the next cannot be allocated beside it. */
        int spacer = -1;
        if (SPACED) {
            char spacer_path[4096];
            snprintf(spacer_path, sizeof spacer_path, "%s/layout-%d.spacer", scratch_dir, getpid());
            spacer = open(spacer_path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
            if (spacer < 0) die("open spacer");
            unlink(spacer_path);
        }
        for (int i = 0; i < EXTENTS; i++) {
            int extent = REVERSE && !COLLAPSED_SEPARATORS && !SPACED ? EXTENTS - 1 - i : i;
            long start = (long)extent * (EXTENT_SIZE + GAP);
            if (COLLAPSED_SEPARATORS) {
                write_at(fd, bounce, EXTENT_SIZE + (extent < EXTENTS - 1 ? separator : 0), start, start + extent * (long)separator);
                continue;
            }
            if (SPACED) {
                write_at(fd, bounce, EXTENT_SIZE, start, start);
                if (fsync(fd) || pwrite(spacer, bounce, status.st_blksize, (off_t)i * status.st_blksize) != status.st_blksize || fsync(spacer))
                    die("spaced layout");
                continue;
            }
            fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, start, EXTENT_SIZE);
            write_at(fd, bounce, EXTENT_SIZE, start, start);
            if (fsync(fd)) die("fsync");
        }
        if (fsync(fd)) die("fsync");
        for (int extent = EXTENTS - 2; COLLAPSED_SEPARATORS && extent >= 0; extent--) {
            long end = (long)extent * (EXTENT_SIZE + GAP) + EXTENT_SIZE;
            if (fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, end + extent * (long)separator, (off_t)separator)) die("fallocate collapse");
        }
        if (fsync(fd)) die("fsync");
        if (spacer >= 0) close(spacer);
        free(bounce);
    }

    /* The file's extents: FIEMAP, or runs of consecutive blocks by FIBMAP where there is no FIEMAP. */
    static int count_extents(int fd) {
        struct { struct fiemap map; struct fiemap_extent extents[64]; } request = {0};
        request.map.fm_length = FIEMAP_MAX_OFFSET;
        request.map.fm_flags = FIEMAP_FLAG_SYNC;
        request.map.fm_extent_count = 64;
        if (ioctl(fd, FS_IOC_FIEMAP, &request.map) == 0) return (int)request.map.fm_mapped_extents;
        struct stat status;
        int block_size, runs = 0;
        long previous = -2;
        if (errno != EOPNOTSUPP || fsync(fd) || fstat(fd, &status) || ioctl(fd, FIGETBSZ, &block_size)) return -1;
        for (int block = 0; (long)block * block_size < status.st_size; block++) {
            int physical = block;
            if (ioctl(fd, FIBMAP, &physical)) return -1;
            if (physical != 0 && physical != previous + 1) runs++;
            previous = physical ? physical : -2;
        }
        return runs;
    }

    /* Anonymous memory of `pages` pages, nothing touched, kept from huge pages. */
    static inline unsigned char *anonymous_pages(int pages) {
        unsigned char *base = mmap(NULL, (size_t)pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED) die("mmap");
        mapping = base;
        mapping_length = (size_t)pages * PAGE;
        madvise(base, mapping_length, MADV_NOHUGEPAGE);
        return base;
    }

    /* A shared mapping of `pages` pages of a new, unlinked file of source_byte()s, none cached. */
    static inline unsigned char *cold_file_pages(int pages) {
        char path[4200];
        size_t length = (size_t)pages * PAGE;
        snprintf(path, sizeof path, "%s/cold-%d.dat", scratch_dir, getpid());
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) die("open the source file");
        unlink(path);
        unsigned char *bytes = malloc(length);
        for (size_t b = 0; b < length; b++) bytes[b] = source_byte((long)b);
        if (pwrite(fd, bytes, length, 0) != (ssize_t)length) die("pwrite the source file");
        free(bytes);
        if (fsync(fd)) die("fsync the source file");
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        unsigned char *base = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (base == MAP_FAILED) die("mmap the source file");
        close(fd);
        mapping = base;
        mapping_length = length;
        return base;
    }

    /* The file under test, open O_DIRECT, and its size now: a same-file mapping writes past EOF. */
    static int file_fd = -1;
    static long file_size = FILE_SIZE;

    /* A shared mapping of the file under test from `offset` (a multiple of PAGE), none of it
     * cached; with `write_first`, that range is written (O_DIRECT) first. Pages past EOF would
     * raise SIGBUS, so they are anonymous, as dio-torture maps them. */
    static inline unsigned char *file_range_pages(long offset, int pages, int write_first) {
        size_t length = (size_t)pages * PAGE;
        if (write_first) {
            unsigned char *bounce;
            if (posix_memalign((void **)&bounce, PAGE, length)) die("posix_memalign");
            write_at(file_fd, bounce, length, offset, offset);
            free(bounce);
            if (offset + (long)length > file_size) file_size = offset + (long)length;
        }
        if (fsync(file_fd)) die("fsync");
        posix_fadvise(file_fd, 0, 0, POSIX_FADV_DONTNEED);
        long file_pages = (file_size - offset + PAGE - 1) / PAGE;
        if (file_pages > pages) file_pages = pages;
        if (file_pages < 0) file_pages = 0;
        unsigned char *base = anonymous_pages(pages);
        if (file_pages && mmap(base, (size_t)file_pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, file_fd, offset) == MAP_FAILED)
            die("mmap the file under test");
        return base;
    }

    /* Fills page `p` with POISON when `touch`; returns whether the page is now resident. */
    static inline int touch_page(unsigned char *base, int p, int touch) {
        if (touch) memset(base + (long)p * PAGE, POISON, PAGE);
        return touch;
    }
    """#

    /// The fixed part after the pattern's `make_buffer`, which sets up the buffer and returns it,
    /// and where a page made inaccessible on purpose makes a short read legal (-1: nowhere).
    static let body = #"""
    static int fire(struct io_uring *ring, int fd, unsigned char *buffer) {
        if (METHOD == PREAD) { int r = (int)pread(fd, buffer, READ_LENGTH, READ_OFFSET); return r < 0 ? -errno : r; }
        struct iovec vector = { buffer, READ_LENGTH };
        if (METHOD == PREADV2) { int r = (int)preadv2(fd, &vector, 1, READ_OFFSET, RWF_NOWAIT); return r < 0 ? -errno : r; }
        if (METHOD == URING_READ_FIXED && io_uring_register_buffers(ring, &vector, 1)) die("io_uring_register_buffers");
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
        if (METHOD == URING_READ) io_uring_prep_read(sqe, fd, buffer, READ_LENGTH, READ_OFFSET);
        else if (METHOD == URING_READV) io_uring_prep_readv(sqe, fd, &vector, 1, READ_OFFSET);
        else io_uring_prep_read_fixed(sqe, fd, buffer, READ_LENGTH, READ_OFFSET, 0);
        if (NOWAIT) sqe->rw_flags = RWF_NOWAIT;
        if (ASYNC) sqe->flags |= IOSQE_ASYNC;
        if (io_uring_submit(ring) != 1) die("io_uring_submit");
        struct io_uring_cqe *cqe;
        if (io_uring_wait_cqe(ring, &cqe)) die("io_uring_wait_cqe");
        int result = cqe->res; /* the first completion, judged as is: never resubmitted */
        io_uring_cqe_seen(ring, cqe);
        if (METHOD == URING_READ_FIXED) io_uring_unregister_buffers(ring);
        return result;
    }

    int main(int argc, char **argv) {
        if (argc < 2) { fprintf(stderr, "usage: %s DIR [ITERATIONS]\n", argv[0]); return 2; }
        int iterations = argc > 2 ? atoi(argv[2]) : ITERATIONS;
        scratch_dir = argv[1];
        char path[4096];
        snprintf(path, sizeof path, "%s/repro-%d.dat", argv[1], getpid());
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
        if (fd < 0) die("open O_DIRECT");
        write_layout(fd);
        file_fd = fd;
        int found = count_extents(fd);
        printf("layout: %d extents of %d bytes planned, FIEMAP found %d%s\n", EXTENTS, EXTENT_SIZE, found,
               found >= EXTENTS ? "" : " (NOT the planned layout: the result proves nothing)");
        struct io_uring ring;
        if (METHOD <= URING_READ_FIXED && io_uring_queue_init(4, &ring, 0)) die("io_uring_queue_init");
        int pages = (READ_LENGTH + PAGE - 1) / PAGE, bad = 0;
        for (int i = 0; i < iterations; i++) {
            int resident[pages];
            long hole = -1;
            unsigned char *buffer = make_buffer(pages, &hole, resident);
            long expected = file_size - READ_OFFSET < READ_LENGTH ? file_size - READ_OFFSET : READ_LENGTH;
            unsigned char residency[pages];
            char map[pages + 1];
            mincore((void *)((unsigned long)buffer & ~(unsigned long)(PAGE - 1)), (size_t)pages * PAGE, residency);
            for (int p = 0; p < pages; p++) map[p] = residency[p] & 1 ? '#' : '.';
            map[pages] = 0;
            int result = fire(&ring, fd, buffer);
            long mismatch = -1;
            for (long b = 0; result > 0 && b < result; b++)
                if (buffer[b] != data_byte(READ_OFFSET + b)) { mismatch = b; break; }
            const char *verdict = "ok: full and correct";
            if (mismatch >= 0) verdict = "CORRUPTION: the bytes returned are not the file's";
            else if (result == -EAGAIN && NOWAIT) verdict = "ok: EAGAIN, legal under an explicit RWF_NOWAIT";
            else if (result == -EFAULT && hole >= 0) verdict = "ok: EFAULT at the PROT_NONE page";
            else if (result < 0) verdict = "ERROR: the read failed";
            else if (result < expected && NOWAIT) verdict = "ok: partial read, legal under an explicit RWF_NOWAIT";
            else if (result < expected && result == hole) verdict = "ok: short read stopping at the PROT_NONE page";
            else if (result < expected) verdict = "SHORT READ before EOF: the rest of the buffer is unfilled";
            int illegal = strncmp(verdict, "ok", 2) != 0;
            bad += illegal;
            printf("iteration %d: residency %s, expected %ld, got %d%s%s -> %s\n", i, map, expected, result,
                   result < 0 ? " " : "", result < 0 ? strerror(-result) : "", verdict);
            if (illegal && mismatch >= 0) printf("  first bad byte at file offset %ld: expected 0x%02x, got 0x%02x\n",
                                                  READ_OFFSET + mismatch, data_byte(READ_OFFSET + mismatch), buffer[mismatch]);
            if (illegal && mismatch < 0 && result >= 0) {
                long tail = result;
                int prior = resident[tail / PAGE] ? POISON : 0;
                long end = tail;
                while (end < expected && (hole < 0 || end < hole) && buffer[end] == prior) end++;
                printf("  bytes %ld..%ld still hold the buffer's prior content (0x%02x): unfilled\n", tail, end, prior);
            }
            munmap(mapping, mapping_length);
        }
        printf("%d of %d iterations illegal\n", bad, iterations);
        close(fd);
        unlink(path);
        return bad ? 1 : 0;
    }
    """#
}
