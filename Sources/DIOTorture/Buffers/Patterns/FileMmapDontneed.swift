import DIOSystem

/// A shared mapping of another file, every page read in, then all but the first unmapped with
/// MADV_DONTNEED: the pages stay in the page cache (mincore shows them all) and hold known data,
/// but touching them faults again, a minor fault the transfer must take or fall back from.
/// pagemap proves which pages are mapped.
struct FileMmapDontneed: BufferPattern {
    static let name = "file-mmap-dontneed"
    static let summary = "shared mapping of another file, all read in, then all but the first page unmapped with MADV_DONTNEED (cached, not mapped)"
    static let traits = PatternTraits(inDefaultCatalogue: false, setUpCost: .mapping)

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        var buffer = try ColdFileMmap.prepare(context)
        let scratch = try MappedRegion(anonymousLength: context.pages * pageSize)
        _ = buffer.region.copyOut(at: 0, into: scratch.bytes)
        if context.pages > 1 { try buffer.region.advise(pageRange: 1..<context.pages, .dontNeed) }
        for page in buffer.plan.indices { buffer.plan[page].resident = true }
        buffer.mappedPlan = (0..<context.pages).map { $0 == 0 }
        return buffer
    }

    static let reproducerSource: String? = """
    static unsigned char *make_buffer(int pages, long *hole_offset, int *resident) {
        (void)hole_offset;
        unsigned char *base = cold_file_pages(pages);
        for (int p = 0; p < pages; p++) resident[p] = *(volatile unsigned char *)(base + (long)p * PAGE) == source_byte((long)p * PAGE);
        if (pages > 1 && madvise(base + PAGE, (size_t)(pages - 1) * PAGE, MADV_DONTNEED)) die("madvise MADV_DONTNEED");
        return base;
    }
    """
}

extension FaultPattern {
    public static let fileMmapDontneed = FaultPattern(FileMmapDontneed.self)
}
