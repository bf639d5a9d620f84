import DIOSystem
import Glibc

/// A way of setting up a read buffer so that its pages are (not) faulted in when the read is
/// submitted. Each pattern is one type in `Buffers/Patterns/` and one line in `faultPatterns`:
/// it builds its buffer, says what its pages hold before the read, and states the facts the
/// oracle and the planner need, so that nothing outside its file names it.
public protocol BufferPattern {
    /// The name reports, sweep files and `--pattern` use.
    static var name: String { get }
    /// One line for `list`.
    static var summary: String { get }
    static var traits: PatternTraits { get }
    /// Builds the buffer for one read. Throws `BufferSetupError` with `isUnsupported` when the
    /// machine cannot make it (no userfaultfd, no THP).
    static func prepare(_ context: BufferContext) throws -> PreparedBuffer
    /// What the pattern writes to the file under test before any read (a same-file mapping's
    /// range), recorded into the case's model once. Most patterns write nothing.
    static func recordFileWrites(into model: inout FileModel, context: BufferContext)
    /// The C function `make_buffer` of a standalone reproducer (`Reproducer`), or nil when the C
    /// file cannot rebuild the pattern yet.
    static var reproducerSource: String? { get }
}

extension BufferPattern {
    public static func recordFileWrites(into model: inout FileModel, context: BufferContext) {}
    public static var reproducerSource: String? { nil }
}

/// What the oracle and the planner know about a pattern.
public struct PatternTraits: Sendable {
    /// Every page is faulted in before the read, so registering the buffer with io_uring (which
    /// faults in and pins every page) leaves the pattern as planned: read_fixed can use it.
    public var residentBeforeRead = false
    /// The buffer maps file pages that must not be cached: a filesystem whose file pages live in
    /// the page cache (tmpfs) cannot hold it.
    public var needsColdFilePages = false
    /// In the default catalogue of `fault-patterns` (a pattern another scenario owns, or one that
    /// hangs on purpose, is not).
    public var inDefaultCatalogue = true
    /// The buffer maps the very range the transfer targets: as a write's source it carries what
    /// the file holds there before the write, whatever that is (data, a hole, unwritten zeros).
    public var mapsTheTransferredRange = false
    /// The buffer maps a range of the file under test (the transferred one or another).
    public var mapsTheFileUnderTest = false
    /// What setting the buffer up costs, for balancing a sweep's shards (`UnitWeight`).
    public var setUpCost = SetUpCost.anonymousPages

    public init(residentBeforeRead: Bool = false, needsColdFilePages: Bool = false, inDefaultCatalogue: Bool = true,
                mapsTheTransferredRange: Bool = false, mapsTheFileUnderTest: Bool = false, setUpCost: SetUpCost = .anonymousPages) {
        self.residentBeforeRead = residentBeforeRead
        self.needsColdFilePages = needsColdFilePages
        self.inDefaultCatalogue = inDefaultCatalogue
        self.mapsTheTransferredRange = mapsTheTransferredRange
        self.mapsTheFileUnderTest = mapsTheFileUnderTest || mapsTheTransferredRange
        self.setUpCost = setUpCost
    }
}

/// How a pattern's buffer is paid for.
public enum SetUpCost: Sendable {
    /// Anonymous pages touched or left alone: about nothing.
    case anonymousPages
    /// A file made and mapped with its cache dropped, or a huge page allocated: tens of
    /// milliseconds per buffer.
    case mapping
    /// Each page faulted during the transfer is served after a delay (userfaultfd).
    case delayPerPage
}

/// Everything a pattern may need besides its own memory.
public struct BufferContext {
    public var length: Int
    /// Byte the touched pages are filled with, so that unfilled pages are recognisable.
    public var poison: UInt8
    public var userfaultDelay: Duration
    /// Where a pattern may create its own scratch file (cold-file-mmap).
    public var directory: String
    /// The file under test and where its spare range for same-file mappings starts.
    public var file: OpenFile
    public var fileStamp: DataStamp
    public var mirrorOffset: Int
    /// The file offset the read starts at (same-range-mmap maps exactly that range).
    public var readOffset: Int
    /// What the case's iterations share (`CaseFiles`).
    public var caseFiles: CaseFiles

    var pages: Int { (length + pageSize - 1) / pageSize }

    /// How long a userfaultfd buffer's thread waits before it fills a fault, from an iteration's
    /// seed: 50-250 µs, far longer than a fault takes, so the transfer waits in the fault path
    /// each time, and short enough for a 16-page buffer to cost a few milliseconds.
    public static func userfaultDelay(seed: UInt64) -> Duration { .microseconds(Int(50 + seed % 200)) }

    /// Where a same-file mapping's spare range starts: the first MiB boundary at least a MiB past
    /// `end`, so that no transfer of the case reaches it.
    public static func mirrorOffset(past end: Int) -> Int { (end + (1 << 20)) / (1 << 20) * (1 << 20) }
}

/// Files a case's buffers use in every iteration, made once: their contents are the case's, and
/// each iteration puts them back in the state its pattern needs (and proves it). They close with
/// the case. A write's sources are only read from, so one file of each size serves them all; a
/// read into a mapping of such a file changes it, so a read's buffer has a file of its own while
/// it lives, written and synced afresh before it is lent again (an overwrite and fdatasync cost
/// half of a new file's create, fsync and unlink).
public final class CaseFiles {
    /// What the mapped-file patterns' other file holds: the case's, not an iteration's.
    let coldSourceStamp: DataStamp
    private let keepsSources: Bool
    /// Files no buffer holds, by their size in pages.
    private var idleSources: [Int: [OpenFile]] = [:]

    /// `writeSources`: the buffers are only read from (a write case's sources).
    public init(case stamp: DataStamp, writeSources: Bool) {
        coldSourceStamp = DataStamp(fileID: stamp.fileID &+ 1, generation: 1, seed: stamp.seed ^ 0xC01D)
        keepsSources = writeSources
    }

    /// A file of `pages` stamped pages for the mapped-file patterns, its pages dropped from the
    /// page cache, and what lends it: the buffer keeps the lease, and the file is idle again
    /// once the buffer is gone.
    func coldSource(pages: Int, directory: String) throws -> (file: OpenFile, lease: AnyObject) {
        let file: OpenFile
        if let idle = idleSources[pages]?.popLast() {
            file = idle
            if !keepsSources {
                try writeStamped(file, range: 0..<pages * pageSize, stamp: coldSourceStamp)
                try file.dataSync()
            }
        } else {
            file = try OpenFile.scratch(at: directory + "/cold-\(coldSourceStamp.fileID)-\(pages).dat")
            try writeStamped(file, range: 0..<pages * pageSize, stamp: coldSourceStamp)
            try file.sync()
        }
        try file.dropCache()
        if keepsSources { idleSources[pages, default: []].append(file) }
        return (file, ColdSourceLease(file: file, pages: pages, returningTo: keepsSources ? nil : self))
    }

    fileprivate func returned(_ file: OpenFile, pages: Int) { idleSources[pages, default: []].append(file) }
}

/// A read buffer's hold on a cold source: the file is idle again when the buffer lets go.
private final class ColdSourceLease {
    let file: OpenFile
    let pages: Int
    let owner: CaseFiles?

    init(file: OpenFile, pages: Int, returningTo owner: CaseFiles?) {
        (self.file, self.pages, self.owner) = (file, pages, owner)
    }

    deinit { owner?.returned(file, pages: pages) }
}

public struct BufferSetupError: Error, CustomStringConvertible {
    public var isUnsupported: Bool
    public var description: String
}

/// A pattern's buffer as `prepare` built it.
public struct PreparedBuffer {
    public var region: MappedRegion
    /// Where the buffer starts in the region (thp straddles two huge pages).
    public var start = 0
    public var plan: [PagePlan]
    /// The buffer offset of a page made inaccessible on purpose: a short read may stop there.
    public var inaccessibleOffset: Int?
    /// Anonymous huge-page bytes the region must have for the precondition to hold (thp).
    public var hugePageBytesNeeded = 0
    /// Which pages the page tables must map, where that differs from residency (a file mapping
    /// whose pages stay cached while unmapped); nil: not checked.
    public var mappedPlan: [Bool]?
    /// What must live as long as the buffer (a scratch file), and what ends with it (a
    /// userfaultfd thread).
    public var owned: [AnyObject] = []
    public var release: (() -> Void)?

    public init(region: MappedRegion, plan: [PagePlan]) {
        self.region = region
        self.plan = plan
    }

    /// Anonymous memory of `pages` pages with `touching` pages filled with `poison` (resident,
    /// poison before the read) and the rest never touched (not resident, zeros). Kept from
    /// khugepaged and THP=always, which would turn a small pattern into one huge page.
    static func anonymous(_ context: BufferContext, touching: (Int) -> Bool) throws -> PreparedBuffer {
        let pages = context.pages
        let region = try MappedRegion(anonymousLength: pages * pageSize)
        try? region.advise(pageRange: 0..<pages, .noHugePage)
        for page in 0..<pages where touching(page) { memset(region.base + page * pageSize, Int32(context.poison), pageSize) }
        return PreparedBuffer(region: region, plan: (0..<pages).map {
            touching($0) ? PagePlan(resident: true, prior: .fill(context.poison)) : PagePlan(resident: false, prior: .zeros)
        })
    }
}

/// The C of reproducers' `make_buffer` for anonymous patterns: `touch` is a C expression of the
/// page number `p` saying whether the page is touched; `then` runs after the touches.
func anonymousReproducerSource(touch: String, then: String = "") -> String {
    """
    static unsigned char *make_buffer(int pages, long *hole_offset, int *resident) {
        unsigned char *base = anonymous_pages(pages);
        (void)hole_offset;
        for (int p = 0; p < pages; p++) resident[p] = touch_page(base, p, \(touch));
    \(then.isEmpty ? "" : then.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n")    return base;
    }
    """
}
