import DIOSystem

/// A standalone C reproducer of one write case (libc and liburing; kernel AIO through its raw
/// syscalls): per iteration it prepares the target file as the case did, builds the source buffer
/// in its fault pattern, fires the one write, judges its first completion as the oracle does, reads
/// the file back through the page cache (and the target's own mapping) and prints what is wrong.
enum WriteReproducer {
    static let methods: [IOPath.Method: String] = [
        .pread: "PWRITE", .preadv2: "PWRITEV2", .uringRead: "URING_WRITE", .uringReadv: "URING_WRITEV",
        .uringReadFixed: "URING_WRITE_FIXED", .aio: "AIO_WRITE",
    ]

    static func source(for record: CaseRecord, write: WriteRecord) throws -> String {
        guard let layout = record.layout?.planned, let pattern = record.pattern, let path = record.path else {
            throw Reproducer.Refusal("case \(record.id) has no layout, pattern or path recorded: nothing to reproduce")
        }
        guard let method = methods[path.method], path.isDirect, !path.fixedFile, !path.sqpoll else {
            throw Reproducer.Refusal("repro rebuilds direct writes on a plain ring, not \(path)")
        }
        if let alignment = write.alignment { throw Reproducer.Refusal("repro does not rebuild a transfer laid out as \(alignment) yet") }
        if pattern.traits.mapsTheFileUnderTest {
            throw Reproducer.Refusal("repro does not rebuild a write whose source maps the target file (\(pattern.rawValue)) yet: its expected content is the file's own")
        }
        let makeBuffer = try Reproducer.bufferSource(pattern)
        let target = write.target.rawValue.uppercased().replacingOccurrences(of: "-", with: "_")
        let header = Reproducer.preamble(record, layout: layout, what: "files are made",
                                         verdicts: "every write legal and the file right after it, 1 a write or a file the oracle forbids")
            + """
        #define FILE_SIZE \(write.fileSize)L
        #define LENGTH \(write.length)L
        #define TARGET \(target)
        #define METHOD \(method)
        #define NOWAIT \(path.nowait ? 1 : 0)
        #define ASYNC \(path.async ? 1 : 0)
        #include <linux/aio_abi.h>
        #include <sys/syscall.h>
        enum { PWRITE, PWRITEV2, URING_WRITE, URING_WRITEV, URING_WRITE_FIXED, AIO_WRITE };
        enum { OVERWRITE, HOLE, UNWRITTEN, PAST_EOF, APPEND, CACHED, MAPPED };

        """
        return header + Reproducer.helpers + "\n" + makeBuffer + "\n" + fire + body
    }

    /// Submitting the one write, and taking its first completion as it is.
    static let fire = #"""
    static long aio_write(int fd, unsigned char *buffer, long offset) {
        aio_context_t context = 0;
        if (syscall(SYS_io_setup, 8, &context)) die("io_setup");
        struct iocb request = {0}, *list[1] = { &request };
        request.aio_fildes = (unsigned)fd;
        request.aio_lio_opcode = IOCB_CMD_PWRITE;
        request.aio_buf = (unsigned long)buffer;
        request.aio_nbytes = LENGTH;
        request.aio_offset = offset;
        request.aio_rw_flags = NOWAIT ? RWF_NOWAIT : 0;
        long result;
        if (syscall(SYS_io_submit, context, 1L, list) != 1) result = -errno;
        else {
            struct io_event event;
            if (syscall(SYS_io_getevents, context, 1L, 1L, &event, NULL) != 1) die("io_getevents");
            result = event.res;
        }
        syscall(SYS_io_destroy, context);
        return result;
    }

    static long fire(struct io_uring *ring, int fd, unsigned char *buffer, long offset) {
        struct iovec vector = { buffer, LENGTH };
        if (METHOD == PWRITE) { long r = pwrite(fd, buffer, LENGTH, offset); return r < 0 ? -errno : r; }
        if (METHOD == PWRITEV2) { long r = pwritev2(fd, &vector, 1, offset, RWF_NOWAIT); return r < 0 ? -errno : r; }
        if (METHOD == AIO_WRITE) return aio_write(fd, buffer, offset);
        if (METHOD == URING_WRITE_FIXED && io_uring_register_buffers(ring, &vector, 1)) die("io_uring_register_buffers");
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
        if (METHOD == URING_WRITE) io_uring_prep_write(sqe, fd, buffer, LENGTH, offset);
        else if (METHOD == URING_WRITEV) io_uring_prep_writev(sqe, fd, &vector, 1, offset);
        else io_uring_prep_write_fixed(sqe, fd, buffer, LENGTH, offset, 0);
        if (NOWAIT) sqe->rw_flags = RWF_NOWAIT;
        if (ASYNC) sqe->flags |= IOSQE_ASYNC;
        if (io_uring_submit(ring) != 1) die("io_uring_submit");
        struct io_uring_cqe *cqe;
        if (io_uring_wait_cqe(ring, &cqe)) die("io_uring_wait_cqe");
        long result = cqe->res; /* the first completion, judged as is: never resubmitted */
        io_uring_cqe_seen(ring, cqe);
        if (METHOD == URING_WRITE_FIXED) io_uring_unregister_buffers(ring);
        return result;
    }

    """#

    /// Preparing the target, judging the write and the file after it.
    static let body = #"""
    /* What the file held at `offset` before the write: a planned extent's data, or zeros. */
    static unsigned char before_byte(long offset) {
        return TARGET == UNWRITTEN ? 0 : data_byte(offset);
    }

    static int prepare_target(const char *path) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
        if (fd < 0) die("open O_DIRECT");
        if (TARGET == UNWRITTEN) { if (fallocate(fd, 0, 0, FILE_SIZE)) die("fallocate"); }
        else write_layout(fd);
        return fd;
    }

    /* Puts the target's pages in the page cache as the case did; returns the mapping `mapped` keeps. */
    static unsigned char *prime(const char *path) {
        unsigned char *bytes = malloc(FILE_SIZE), *kept = NULL;
        if (TARGET == CACHED) {
            int cached = open(path, O_RDONLY);
            if (cached < 0 || pread(cached, bytes, FILE_SIZE, 0) != FILE_SIZE) die("read through the page cache");
            close(cached);
        } else if (TARGET == MAPPED) {
            int mapped = open(path, O_RDWR);
            kept = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mapped, 0);
            if (mapped < 0 || kept == MAP_FAILED) die("mmap the target");
            close(mapped);
            memcpy(bytes, kept, FILE_SIZE);
        }
        free(bytes);
        return kept;
    }

    static const char *judge_write(long result, long hole) {
        if (result == LENGTH) return "ok: the whole write";
        if (result == -EAGAIN && NOWAIT) return "ok: EAGAIN, legal under an explicit RWF_NOWAIT";
        if (result == -EFAULT && hole >= 0) return "ok: EFAULT at the PROT_NONE page";
        if (result < 0) return "ERROR: the write failed";
        if (result > LENGTH) return "ERROR: more bytes than asked";
        if (NOWAIT) return "ok: partial write, legal under an explicit RWF_NOWAIT";
        if (result == hole) return "ok: short write stopping at the PROT_NONE page";
        return "SHORT WRITE on a regular file";
    }

    /* Compares the file as `found` shows it with what the write reported; a legal error may have
     * put part of the source in the range it covered (iomap reports the error, not the progress). */
    static long first_wrong_byte(const unsigned char *found, long size, long offset, long result, const unsigned char *source,
                                 long legal_reach) {
        for (long b = 0; b < size; b++) {
            int written = result > 0 && b >= offset && b < offset + result;
            unsigned char want = written ? source[b - offset] : before_byte(b);
            int may_be_source = b >= offset && b < offset + legal_reach;
            if (found[b] != want && !(may_be_source && found[b] == source[b - offset])) return b;
        }
        return -1;
    }

    /* What the file holds where a short write stopped, sector by sector. */
    static void describe_rest(const unsigned char *found, long size, long offset, long result, const unsigned char *source) {
        long start = offset + result, end = offset + LENGTH, counts[5] = {0};
        static const char *names[5] = {"still the old data", "zeros", "the source's data", "something else", "past EOF"};
        for (long sector = start; sector < end; sector += 512) {
            int old = 1, zeros = 1, data = 1;
            for (long b = sector; b < sector + 512 && b < size; b++) {
                old &= found[b] == before_byte(b);
                zeros &= found[b] == 0;
                data &= found[b] == source[b - offset];
            }
            counts[sector >= size ? 4 : zeros ? 1 : old ? 0 : data ? 2 : 3] += 512;
        }
        printf("  bytes %ld..%ld, asked for and not reported written:", start, end);
        for (int k = 0; k < 5; k++) if (counts[k]) printf(" %ld %s;", counts[k], names[k]);
        printf("\n");
    }

    int main(int argc, char **argv) {
        if (argc < 2) { fprintf(stderr, "usage: %s DIR [ITERATIONS]\n", argv[0]); return 2; }
        int iterations = argc > 2 ? atoi(argv[2]) : ITERATIONS, pages = (int)((LENGTH + PAGE - 1) / PAGE), bad = 0;
        scratch_dir = argv[1];
        char path[4096];
        snprintf(path, sizeof path, "%s/repro-%d.dat", argv[1], getpid());
        struct io_uring ring;
        if (METHOD >= URING_WRITE && METHOD <= URING_WRITE_FIXED && io_uring_queue_init(4, &ring, 0)) die("io_uring_queue_init");
        long offset = TARGET == PAST_EOF || TARGET == APPEND ? FILE_SIZE : 0;
        unsigned char *source = malloc(LENGTH), *found = malloc(2 * (FILE_SIZE + LENGTH));
        for (int i = 0; i < iterations; i++) {
            int fd = prepare_target(path), resident[pages];
            if (i == 0) printf("target: %d extents of %d bytes planned%s, FIEMAP found %d\n", EXTENTS, EXTENT_SIZE,
                               TARGET == UNWRITTEN ? " (one fallocated range)" : "", count_extents(fd));
            long hole = -1;
            unsigned char *buffer = make_buffer(pages, &hole, resident);
            unsigned char *kept = prime(path);
            unsigned char residency[pages];
            char map[pages + 1];
            mincore((void *)((unsigned long)buffer & ~(unsigned long)(PAGE - 1)), (size_t)pages * PAGE, residency);
            for (int p = 0; p < pages; p++) map[p] = residency[p] & 1 ? '#' : '.';
            map[pages] = 0;
            int writer = TARGET == APPEND ? open(path, O_WRONLY | O_DIRECT | O_APPEND) : fd;
            if (writer < 0) die("open O_APPEND");
            long result = fire(&ring, writer, buffer, offset);
            for (long b = 0; b < LENGTH; b++) source[b] = hole >= 0 && b / PAGE == hole / PAGE ? 0 : buffer[b];
            const char *verdict = judge_write(result, hole);
            long legal_reach = result < 0 && strncmp(verdict, "ok", 2) == 0 ? (hole >= 0 ? hole : LENGTH) : 0;
            long expected_size = result > 0 && offset + result > FILE_SIZE ? offset + result : FILE_SIZE;
            int reader = open(path, O_RDONLY);
            long size = reader < 0 ? -1 : pread(reader, found, 2 * (FILE_SIZE + LENGTH), 0);
            if (size < 0) die("read back through the page cache");
            close(reader);
            long wrong = first_wrong_byte(found, size < expected_size ? size : expected_size, offset, result, source, legal_reach);
            long wrong_mapped = kept ? first_wrong_byte(kept, FILE_SIZE, offset, result, source, legal_reach) : -1;
            int illegal = strncmp(verdict, "ok", 2) != 0 || size != expected_size || wrong >= 0 || wrong_mapped >= 0;
            bad += illegal;
            printf("iteration %d: source residency %s, asked %ld at %ld, got %ld%s%s -> %s\n", i, map, LENGTH, offset, result,
                   result < 0 ? " " : "", result < 0 ? strerror((int)-result) : "", verdict);
            if (size != expected_size) printf("  FILE SIZE %ld, expected %ld\n", size, expected_size);
            if (wrong >= 0) printf("  WRONG DATA read back at offset %ld: 0x%02x\n", wrong, found[wrong]);
            if (wrong_mapped >= 0) printf("  WRONG DATA in the mapping made before the write, at offset %ld\n", wrong_mapped);
            if (result >= 0 && result < LENGTH) describe_rest(found, size, offset, result, source);
            if (kept) munmap(kept, FILE_SIZE);
            munmap(mapping, mapping_length);
            if (writer != fd) close(writer);
            close(fd);
            unlink(path);
        }
        printf("%d of %d iterations illegal\n", bad, iterations);
        return bad ? 1 : 0;
    }
    """#
}
