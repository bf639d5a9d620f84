import DIOSystem

/// A shared mapping of another file whose pages are not cached: the read's faults are reads of
/// a second inode, through its filesystem.
struct ColdFileMmap: BufferPattern {
    static let name = "cold-file-mmap"
    static let summary = "shared mapping of another file whose pages were dropped from the cache"
    static let traits = PatternTraits(needsColdFilePages: true, setUpCost: .mapping)

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        let pages = context.pages
        let stamp = context.caseFiles.coldSourceStamp
        let (file, lease) = try context.caseFiles.coldSource(pages: pages, directory: context.directory)
        var buffer = PreparedBuffer(region: try MappedRegion(file: file, offset: 0, length: pages * pageSize),
                                    plan: (0..<pages).map { PagePlan(resident: false, prior: .stamped(stamp, fileOffset: $0 * pageSize)) })
        buffer.owned = [lease]
        return buffer
    }

    static let reproducerSource: String? = """
    static unsigned char *make_buffer(int pages, long *hole_offset, int *resident) {
        (void)hole_offset;
        unsigned char *base = cold_file_pages(pages);
        for (int p = 0; p < pages; p++) resident[p] = 0;
        return base;
    }
    """
}

extension FaultPattern {
    public static let coldFileMmap = FaultPattern(ColdFileMmap.self)
}

/// Writes stamped sectors through a bounce buffer, so the write works with or without O_DIRECT.
func writeStamped(_ file: OpenFile, range: Range<Int>, stamp: DataStamp) throws {
    let bounce = try MappedRegion(anonymousLength: range.count)
    SectorPattern.fill(bounce.bytes, stamp: stamp, fileOffset: range.lowerBound)
    let written = try file.write(UnsafeRawBufferPointer(bounce.bytes), at: range.lowerBound)
    if written != range.count { throw Errno.ioError }
}
