import DIOSystem
import Glibc

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
}

public struct BufferSetupError: Error, CustomStringConvertible {
    public var isUnsupported: Bool
    public var description: String
}

/// A read buffer set up in one fault pattern. Owns its mappings (and the userfaultfd thread)
/// until deinit.
public final class ReadBuffer {
    public let bytes: UnsafeMutableRawBufferPointer
    public let plan: [PagePlan]
    /// The buffer offset of the first PROT_NONE page: a short read may legally stop there.
    public let inaccessibleOffset: Int?
    private let region: MappedRegion
    private let resolver: UserfaultResolver?
    private let scratchFile: OpenFile?
    /// Huge-page backing found just after setup (thp), for the precondition check.
    public let hugePageBytes: Int

    public init(_ pattern: FaultPattern, context: BufferContext) throws {
        let length = context.length
        let pages = (length + pageSize - 1) / pageSize
        let touched = PriorContent.fill(context.poison)
        var resolver: UserfaultResolver?
        var scratchFile: OpenFile?
        var start = 0
        var hugePageBytes = 0
        var inaccessible: Int?
        var plan: [PagePlan]
        let region: MappedRegion

        func anonymous(touching: (Int) -> Bool) throws -> MappedRegion {
            let region = try MappedRegion(anonymousLength: pages * pageSize)
            // Keep khugepaged and THP=always from turning a small pattern into one huge page.
            try? region.advise(pageRange: 0..<pages, .noHugePage)
            for page in 0..<pages where touching(page) {
                memset(region.base + page * pageSize, Int32(context.poison), pageSize)
            }
            return region
        }

        switch pattern {
        case .allResident, .firstPageOnly, .noneResident, .everyOtherPage:
            let touches: (Int) -> Bool = switch pattern {
            case .allResident: { _ in true }
            case .firstPageOnly: { $0 == 0 }
            case .noneResident: { _ in false }
            default: { $0 % 2 == 0 }
            }
            region = try anonymous(touching: touches)
            plan = (0..<pages).map { touches($0) ? PagePlan(resident: true, prior: touched) : PagePlan(resident: false, prior: .zeros) }

        case .madvDontneedAfterTouch:
            region = try anonymous(touching: { _ in true })
            let dropped = pages / 2..<pages
            try region.advise(pageRange: dropped, .dontNeed)
            plan = (0..<pages).map { dropped.contains($0) ? PagePlan(resident: false, prior: .zeros) : PagePlan(resident: true, prior: touched) }

        case .protNoneHole:
            guard pages >= 2 else { throw BufferSetupError(isUnsupported: true, description: "prot-none-hole needs a buffer of 2 pages or more") }
            let hole = pages / 2
            region = try anonymous(touching: { $0 != hole })
            try region.protect(pageRange: hole..<hole + 1, .none)
            inaccessible = hole * pageSize
            plan = (0..<pages).map { $0 == hole ? PagePlan(resident: false, prior: .inaccessible) : PagePlan(resident: true, prior: touched) }

        case .uffd, .uffdNeverResolved:
            region = try MappedRegion(anonymousLength: pages * pageSize)
            try? region.advise(pageRange: 0..<pages, .noHugePage)
            do {
                resolver = try UserfaultResolver(region: region, fill: context.poison,
                                                 delay: pattern == .uffd ? context.userfaultDelay : nil)
            } catch let error as Errno {
                throw BufferSetupError(isUnsupported: true, description: "userfaultfd unavailable: \(error.symbol)")
            }
            plan = Array(repeating: PagePlan(resident: false, prior: touched), count: pages)

        case .thp:
            guard Kernel.transparentHugePages.map({ $0 != "never" }) ?? false else {
                throw BufferSetupError(isUnsupported: true, description: "transparent huge pages are disabled or absent")
            }
            let huge = 2 << 20
            guard length <= huge else { throw BufferSetupError(isUnsupported: true, description: "thp buffers are at most 2 MiB") }
            region = try MappedRegion(anonymousLength: 2 * huge, alignment: huge)
            try region.advise(pageRange: 0..<(2 * huge / pageSize), .hugePage)
            memset(region.base, Int32(context.poison), huge)
            hugePageBytes = region.anonHugePagesBytes()
            start = huge - (pages / 2) * pageSize
            plan = (0..<pages).map { $0 < pages / 2 ? PagePlan(resident: true, prior: touched) : PagePlan(resident: false, prior: .zeros) }

        case .coldFileMmap:
            let coldStamp = DataStamp(fileID: context.fileStamp.fileID &+ 1, generation: 1, seed: context.fileStamp.seed ^ 0xC01D)
            let path = context.directory + "/cold-\(context.fileStamp.fileID).dat"
            let file = try OpenFile.scratch(at: path)
            try Self.writeStamped(file, range: 0..<pages * pageSize, stamp: coldStamp)
            try file.sync()
            try file.dropCache()
            region = try MappedRegion(file: file, offset: 0, length: pages * pageSize)
            scratchFile = file
            plan = (0..<pages).map { PagePlan(resident: false, prior: .stamped(coldStamp, fileOffset: $0 * pageSize)) }

        case .sameFileMmap, .sameRangeMmap:
            let offset = pattern == .sameFileMmap ? context.mirrorOffset : context.readOffset
            let stamp = pattern == .sameFileMmap
                ? DataStamp(fileID: context.fileStamp.fileID, generation: context.fileStamp.generation &+ 1, seed: context.fileStamp.seed)
                : context.fileStamp
            if pattern == .sameFileMmap {
                try Self.writeStamped(context.file, range: offset..<offset + pages * pageSize, stamp: stamp)
            }
            // An earlier read through such a mapping left these pages dirty; DONTNEED drops clean ones only.
            try context.file.sync()
            try context.file.dropCache()
            // A mapping past the file's EOF raises SIGBUS, so a read crossing EOF would have part of
            // its buffer inaccessible and EFAULT would be legal: those pages are anonymous instead.
            let filePages = min(pages, max(0, (try context.file.size() - offset).roundedUp(to: pageSize) / pageSize))
            region = try MappedRegion(anonymousLength: pages * pageSize)
            try region.mapShared(context.file, offset: offset, pages: filePages)
            plan = (0..<pages).map {
                PagePlan(resident: false, prior: $0 < filePages ? .stamped(stamp, fileOffset: offset + $0 * pageSize) : .zeros)
            }
        }

        self.region = region
        self.resolver = resolver
        self.scratchFile = scratchFile
        self.hugePageBytes = hugePageBytes
        self.plan = plan
        inaccessibleOffset = inaccessible
        bytes = UnsafeMutableRawBufferPointer(start: region.base + start, count: length)
    }

    deinit { resolver?.stop() }

    public var plannedResidency: [Bool] { plan.map(\.resident) }

    /// Residency of the buffer's own pages now (mincore): the precondition proved before submission.
    public func foundResidency() throws -> [Bool] {
        let all = try region.residency()
        let first = (bytes.baseAddress! - region.base) / pageSize
        return Array(all[first..<first + plan.count])
    }

    /// What the buffer held at `offset` before the read.
    public func prior(at offset: Int) -> PriorContent {
        let page = offset / pageSize
        guard page < plan.count else { return .zeros }
        if case .stamped(let stamp, let pageOffset) = plan[page].prior {
            return .stamped(stamp, fileOffset: pageOffset + offset % pageSize)
        }
        return plan[page].prior
    }

    /// Writes stamped sectors through a bounce buffer, so the write works with or without O_DIRECT.
    static func writeStamped(_ file: OpenFile, range: Range<Int>, stamp: DataStamp) throws {
        let bounce = try MappedRegion(anonymousLength: range.count)
        SectorPattern.fill(bounce.bytes, stamp: stamp, fileOffset: range.lowerBound)
        let written = try file.write(UnsafeRawBufferPointer(bounce.bytes), at: range.lowerBound)
        if written != range.count { throw Errno.ioError }
    }
}
