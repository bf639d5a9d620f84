import DIOSystem

/// A shared mapping of another, cold file with only its first page resident: the source that
/// makes a direct write fault part-way (the write-side mirror of the MariaDB buffer). MADV_RANDOM,
/// because touching one page of a normal mapping reads ahead and fault-around maps the
/// neighbours, and then nothing would fault during the transfer.
struct ColdFileFirstPage: BufferPattern {
    static let name = "cold-file-first-page"
    static let summary = "shared MADV_RANDOM mapping of a cold file, only its first page read in (faults part-way, holding known data)"
    static let traits = PatternTraits(needsColdFilePages: true, inDefaultCatalogue: false, setUpCost: .mapping)

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        var buffer = try ColdFileMmap.prepare(context)
        try buffer.region.advise(pageRange: 0..<context.pages, .random)
        // A read through the kernel's fault path, which no optimiser removes.
        var byte: UInt8 = 0
        _ = withUnsafeMutableBytes(of: &byte) { buffer.region.copyOut(at: 0, into: $0) }
        buffer.plan[0].resident = true
        return buffer
    }

    static let reproducerSource: String? = """
    static unsigned char *make_buffer(int pages, long *hole_offset, int *resident) {
        (void)hole_offset;
        unsigned char *base = cold_file_pages(pages);
        if (madvise(base, (size_t)pages * PAGE, MADV_RANDOM)) die("madvise MADV_RANDOM");
        for (int p = 0; p < pages; p++) resident[p] = 0;
        resident[0] = *(volatile unsigned char *)base == source_byte(0);
        return base;
    }
    """
}

extension FaultPattern {
    public static let coldFileFirstPage = FaultPattern(ColdFileFirstPage.self)
}
