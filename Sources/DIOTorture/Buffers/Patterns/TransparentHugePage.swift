import DIOSystem
import Glibc

/// The buffer straddles a touched 2 MiB transparent huge page and an untouched one: the fault
/// in the middle of the read is a huge-page fault.
struct TransparentHugePage: BufferPattern {
    static let name = "thp"
    static let summary = "straddles a touched 2 MiB transparent huge page and an untouched one"
    static let traits = PatternTraits(setUpCost: .mapping)
    static let huge = 2 << 20

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        guard Kernel.transparentHugePages.map({ $0 != "never" }) ?? false else {
            throw BufferSetupError(isUnsupported: true, description: "transparent huge pages are disabled or absent")
        }
        guard context.length <= huge else { throw BufferSetupError(isUnsupported: true, description: "thp buffers are at most 2 MiB") }
        let pages = context.pages
        let region = try MappedRegion(anonymousLength: 2 * huge, alignment: huge)
        try region.advise(pageRange: 0..<(2 * huge / pageSize), .hugePage)
        let start = huge - (pages / 2) * pageSize
        // The first touch faults in the whole huge page (the kernel zeroes all 2 MiB); only the
        // buffer's own pages need the poison.
        memset(region.base + start, Int32(context.poison), huge - start)
        var buffer = PreparedBuffer(region: region, plan: (0..<pages).map {
            $0 < pages / 2 ? PagePlan(resident: true, prior: .fill(context.poison)) : PagePlan(resident: false, prior: .zeros)
        })
        buffer.start = start
        buffer.hugePageBytesNeeded = huge
        return buffer
    }

    static let reproducerSource: String? = """
    static unsigned char *make_buffer(int pages, long *hole_offset, int *resident) {
        unsigned char *raw = mmap(NULL, 3 * HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED) die("mmap");
        (void)hole_offset;
        mapping = raw;
        mapping_length = 3 * HUGE;
        unsigned char *aligned = (unsigned char *)(((unsigned long)raw + HUGE - 1) & ~(unsigned long)(HUGE - 1));
        madvise(aligned, 2 * HUGE, MADV_HUGEPAGE);
        memset(aligned + HUGE - (long)(pages / 2) * PAGE, POISON, (long)(pages / 2) * PAGE);
        for (int p = 0; p < pages; p++) resident[p] = p < pages / 2;
        return aligned + HUGE - (long)(pages / 2) * PAGE;
    }
    """
}

extension FaultPattern {
    public static let thp = FaultPattern(TransparentHugePage.self)
}
