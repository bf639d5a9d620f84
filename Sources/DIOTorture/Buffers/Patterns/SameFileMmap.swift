import DIOSystem

/// A shared mapping of another range of the very file being read, not cached: the read faults
/// on the inode whose direct I/O it is doing.
struct SameFileMmap: BufferPattern {
    static let name = "same-file-mmap"
    static let summary = "shared mapping of another range of the file being read, not cached"
    static let traits = PatternTraits(needsColdFilePages: true, mapsTheFileUnderTest: true, setUpCost: .mapping)

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        try writeStamped(context.file, range: mirror(context), stamp: mirrorStamp(context))
        return try mapFileRange(context, offset: context.mirrorOffset, stamp: mirrorStamp(context))
    }

    static func recordFileWrites(into model: inout FileModel, context: BufferContext) {
        model.write(mirror(context), stamp: mirrorStamp(context))
    }

    /// The spare range past the data that the buffer maps.
    static func mirror(_ context: BufferContext) -> Range<Int> {
        context.mirrorOffset..<context.mirrorOffset + context.pages * pageSize
    }

    static func mirrorStamp(_ context: BufferContext) -> DataStamp {
        DataStamp(fileID: context.fileStamp.fileID, generation: context.fileStamp.generation &+ 1, seed: context.fileStamp.seed)
    }

    static let reproducerSource: String? = """
    static unsigned char *make_buffer(int pages, long *hole_offset, int *resident) {
        (void)hole_offset;
        for (int p = 0; p < pages; p++) resident[p] = 0;
        return file_range_pages(MIRROR_OFFSET, pages, 1);
    }
    """
}

extension FaultPattern {
    public static let sameFileMmap = FaultPattern(SameFileMmap.self)
}

/// A buffer mapping the file under test from `offset`, its pages dropped from the cache first.
/// A mapping past the file's EOF raises SIGBUS, so a read crossing EOF would have part of its
/// buffer inaccessible and EFAULT would be legal: the buffer's pages past EOF are anonymous.
func mapFileRange(_ context: BufferContext, offset: Int, stamp: DataStamp) throws -> PreparedBuffer {
    let pages = context.pages
    // An earlier read through such a mapping left these pages dirty; DONTNEED drops clean ones only.
    try context.file.sync()
    try context.file.dropCache()
    let filePages = min(pages, max(0, (try context.file.size() - offset + pageSize - 1) / pageSize))
    let region = try MappedRegion(anonymousLength: pages * pageSize)
    try region.mapShared(context.file, offset: offset, pages: filePages)
    return PreparedBuffer(region: region, plan: (0..<pages).map {
        PagePlan(resident: false, prior: $0 < filePages ? .stamped(stamp, fileOffset: offset + $0 * pageSize) : .zeros)
    })
}
