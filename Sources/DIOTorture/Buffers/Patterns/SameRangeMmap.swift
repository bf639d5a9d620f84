import DIOSystem

/// A shared mapping of the very range being read, not cached: the deadlock class (fstests
/// generic/647), owned by the mmap-same-file scenario.
struct SameRangeMmap: BufferPattern {
    static let name = "same-range-mmap"
    static let summary = "shared mapping of the very range being read, not cached (deadlock class)"
    static let traits = PatternTraits(needsColdFilePages: true, inDefaultCatalogue: false, mapsTheTransferredRange: true, setUpCost: .mapping)

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        try mapFileRange(context, offset: context.readOffset, stamp: context.fileStamp)
    }

    static let reproducerSource: String? = """
    static unsigned char *make_buffer(int pages, long *hole_offset, int *resident) {
        (void)hole_offset;
        for (int p = 0; p < pages; p++) resident[p] = 0;
        return file_range_pages(READ_OFFSET, pages, 0);
    }
    """
}

extension FaultPattern {
    public static let sameRangeMmap = FaultPattern(SameRangeMmap.self)
}
