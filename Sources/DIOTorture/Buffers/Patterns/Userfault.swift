import DIOSystem

/// Every page missing and registered with userfaultfd: a thread of ours fills each fault after
/// a delay, so the read waits in the fault path for as long as we choose.
struct Userfault: BufferPattern {
    static let name = "uffd"
    static let summary = "userfaultfd-registered buffer; a thread resolves each fault after a delay"
    static let traits = PatternTraits(setUpCost: .delayPerPage)

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        try registered(context, delay: context.userfaultDelay)
    }

    /// The buffer with a resolver thread that fills faults with the poison after `delay`, or
    /// never (nil).
    static func registered(_ context: BufferContext, delay: Duration?) throws -> PreparedBuffer {
        let region = try MappedRegion(anonymousLength: context.pages * pageSize)
        try? region.advise(pageRange: 0..<context.pages, .noHugePage)
        let resolver: UserfaultResolver
        do {
            resolver = try UserfaultResolver(region: region, fill: context.poison, delay: delay)
        } catch let error as Errno {
            throw BufferSetupError(isUnsupported: true, description: "userfaultfd unavailable: \(error.symbol)")
        }
        var buffer = PreparedBuffer(region: region, plan: Array(repeating: PagePlan(resident: false, prior: .fill(context.poison)),
                                                                count: context.pages))
        buffer.release = { resolver.stop() }
        return buffer
    }

    /// Every page missing; a thread of the reproducer fills each fault with POISON after 500 µs.
    static let reproducerSource: String? = """
    #include <linux/userfaultfd.h>
    #include <poll.h>
    #include <pthread.h>
    #include <sys/syscall.h>

    static int uffd = -1;
    static unsigned char *uffd_page;

    static void *resolve_faults(void *unused) {
        (void)unused;
        for (;;) {
            struct pollfd ready = { uffd, POLLIN, 0 };
            struct uffd_msg message;
            if (poll(&ready, 1, -1) <= 0 || read(uffd, &message, sizeof message) != sizeof message) continue;
            if (message.event != UFFD_EVENT_PAGEFAULT) continue;
            usleep(500);
            struct uffdio_copy copy = { .dst = message.arg.pagefault.address & ~(__u64)(PAGE - 1),
                                        .src = (__u64)(unsigned long)uffd_page, .len = PAGE, .mode = 0 };
            ioctl(uffd, UFFDIO_COPY, &copy);
        }
        return NULL;
    }

    static unsigned char *make_buffer(int pages, long *hole_offset, int *resident) {
        (void)hole_offset;
        unsigned char *base = anonymous_pages(pages);
        if (uffd < 0) {
            struct uffdio_api api = { .api = UFFD_API, .features = 0 };
            uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
            if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) die("userfaultfd");
            uffd_page = malloc(PAGE);
            memset(uffd_page, POISON, PAGE);
            pthread_t thread;
            if (pthread_create(&thread, NULL, resolve_faults, NULL)) die("pthread_create");
        }
        struct uffdio_register registration = { .range = { (__u64)(unsigned long)base, (__u64)pages * PAGE },
                                                .mode = UFFDIO_REGISTER_MODE_MISSING };
        if (ioctl(uffd, UFFDIO_REGISTER, &registration)) die("UFFDIO_REGISTER");
        for (int p = 0; p < pages; p++) resident[p] = 0;
        return base;
    }
    """
}

extension FaultPattern {
    public static let uffd = FaultPattern(Userfault.self)
}
