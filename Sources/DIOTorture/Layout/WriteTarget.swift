import DIOSystem

/// What a direct write lands on. The file is made afresh for every iteration (a write changes
/// its extents), and its state is proved (FIEMAP, mincore) before the write, like a buffer's.
public enum WriteTarget: String, Codable, Sendable, CaseIterable {
    /// Over a file of the case's extents, verified with FIEMAP.
    case overwrite
    /// Over a file whose first and last extents hold data and whose middle is a hole.
    case hole
    /// Over a range fallocated before (unwritten extents, FIEMAP-verified).
    case unwritten
    /// Starting at EOF of a file of the case's extents: the write extends it.
    case pastEOF = "past-eof"
    /// Through an O_APPEND descriptor on a file of the case's extents.
    case append
    /// Over a file whose pages were read through the page cache first: buffered readers must see the write.
    case cached
    /// Over a file a shared mapping has touched, kept mapped: that mapping must see the write.
    case mapped

    public var summary: String {
        switch self {
        case .overwrite: "over a multi-extent file (FIEMAP-verified)"
        case .hole: "over a hole between two extents"
        case .unwritten: "over fallocated, unwritten extents"
        case .pastEOF: "starting at EOF, extending the file"
        case .append: "through an O_APPEND descriptor"
        case .cached: "over pages cached by a buffered read first (coherence)"
        case .mapped: "over pages a shared mapping touched and keeps (coherence)"
        }
    }

    /// The extents the file has before the write, from the case's layout; nil for a file that
    /// is one fallocated range.
    func plan(_ layout: ExtentPlan) -> ExtentPlan? {
        switch self {
        case .hole: ExtentPlan(count: 2, size: layout.size, gap: layout.fileSize - 2 * layout.size, order: layout.order)
        case .unwritten: nil
        default: layout
        }
    }

    /// Where the write starts in a file of `size` bytes.
    func offset(fileSize size: Int) -> Int { self == .pastEOF || self == .append ? size : 0 }
}

/// A write case's file as prepared for one iteration, with what it holds and how its state was proved.
struct PreparedTarget {
    var file: OpenFile
    var model: FileModel
    var check: LayoutCheck
    /// The layout as recorded (an unwritten range: one planned extent, no layout method).
    var layout: LayoutRecord
    /// Files that must stay allocated while this one is used (missed layout attempts).
    var keep: [OpenFile] = []

    /// Makes the file `target` needs from `layout`, fresh, in `area`, or takes the one laid out
    /// ahead under `ahead` (`LayoutsAhead`).
    static func make(_ target: WriteTarget, layout: ExtentPlan, in area: WorkArea, stamp: DataStamp, name: String,
                     ahead: String) throws -> PreparedTarget {
        guard let plan = target.plan(layout) else { return try unwritten(layout.fileSize, in: area, name: name) }
        guard target != .hole || layout.count >= 3 else { throw CaseStop.unsupported("\(target.rawValue) needs a layout of 3 extents or more") }
        let laidOut = try LayoutsAhead.shared.take(ahead, plan: plan, stamp: stamp, in: area) ?? LaidOutFile(plan, in: area, stamp: stamp, name: name)
        return PreparedTarget(file: laidOut.file, model: laidOut.model, check: laidOut.layout, layout: laidOut.record(plan), keep: laidOut.attempts)
    }

    /// A file of `size` bytes fallocated in one call: zeros on unwritten extents.
    private static func unwritten(_ size: Int, in area: WorkArea, name: String) throws -> PreparedTarget {
        guard area.traits.hasUnwrittenExtents else {
            throw CaseStop.unsupported("\(area.filesystem.type) has no unwritten extents to write over")
        }
        let file = try LaidOutFile.directScratch(in: area, name: name)
        do { try file.allocate(.allocate, offset: 0, length: size) } catch Errno.notSupported {
            throw CaseStop.unsupported("\(area.filesystem.type) cannot fallocate (EOPNOTSUPP)")
        }
        let check = PhaseClock.measure(.fiemap) { checkUnwritten(file, size: size, area: area) }
        let record = LayoutRecord(planned: ExtentPlan(count: 1, size: size, order: .forward), plannedExtents: [[0, size]], method: nil,
                                  status: check.status, found: check.found, note: check.note)
        return PreparedTarget(file: file, model: FileModel(size: size), check: check, layout: record)
    }

    /// Whether FIEMAP shows `0..<size` all mapped and all unwritten.
    private static func checkUnwritten(_ file: OpenFile, size: Int, area: WorkArea) -> LayoutCheck {
        let found: [MappedExtent]
        do { found = try area.extents(of: file) } catch {
            return LayoutCheck.unmapped(area, error: error)
        }
        let covered = found.filter(\.isUnwritten).reduce(0) { $0 + min($1.end, size) - max($1.logical, 0) }
        let held = covered >= size && found.allSatisfy(\.isUnwritten)
        return LayoutCheck(status: held ? .verified : .notReached, found: found,
                           note: held ? "\(found.count) unwritten extents over \(size) bytes" : "FIEMAP shows \(covered) of \(size) bytes unwritten")
    }
}
