import DIOSystem

/// A case's file written with a plan's extents: each layout method in turn, each on a fresh
/// O_DIRECT file, until FIEMAP shows the plan. The attempts that missed stay allocated (in
/// `attempts`) so that each next one lands elsewhere.
struct LaidOutFile {
    var file: OpenFile
    var model: FileModel
    var layout: LayoutCheck
    var method: LayoutMethod
    var attempts: [OpenFile]
    var refused: [String]
    /// statx's direct I/O alignment for the file, when the filesystem reports one.
    var alignment: DIOAlignment?

    init(_ plan: ExtentPlan, in area: WorkArea, stamp: DataStamp, name: String) throws {
        try Self.checkHoles(plan, in: area)
        var attempts: [OpenFile] = []
        var reached: (file: OpenFile, model: FileModel, layout: LayoutCheck, method: LayoutMethod)?
        var refused: [String] = []
        for method in LayoutWriter.methods {
            let file = try Self.directScratch(in: area, name: "\(name)-\(attempts.count)")
            if attempts.isEmpty { alignment = try Self.checkAlignment(file, plan: plan) }
            attempts.append(file)
            do {
                let model = try PhaseClock.measure(.layout) { try LayoutWriter.write(plan, to: file, stamp: stamp, method: method) }
                reached = (file, model, PhaseClock.measure(.fiemap) { Self.check(file, plan: plan, area: area) }, method)
            } catch let error as LayoutWriter.Unsupported {
                refused.append("\(method.rawValue): \(error)")
                continue
            }
            if reached!.layout.status != .notReached { break }
        }
        guard let reached else {
            throw CaseStop.unlaidOut(refused: refused)
        }
        (file, model, layout, method) = reached
        self.attempts = attempts
        self.refused = refused
    }

    /// The files of `stamps.count` iterations laid out together by the synced method (one syncfs
    /// per extent for all of them, `LayoutWriter.writeSynced`), each checked: nil for a file that
    /// missed the plan, which its iteration lays out alone by every method in turn.
    static func batch(_ plan: ExtentPlan, in area: WorkArea, stamps: [DataStamp], names: [String]) throws -> [LaidOutFile?] {
        try checkHoles(plan, in: area)
        let files = try names.map { try directScratch(in: area, name: "\($0)-batch") }
        guard let first = files.first else { return [] }
        let alignment = try checkAlignment(first, plan: plan)
        let models = try PhaseClock.measure(.layout) { try LayoutWriter.writeSynced(plan, to: files, stamps: stamps) }
        return zip(files, models).map { file, model in
            let layout = PhaseClock.measure(.fiemap) { check(file, plan: plan, area: area) }
            guard layout.status != .notReached else { return nil }
            return LaidOutFile(file: file, model: model, layout: layout, method: .synced, attempts: [file], refused: [], alignment: alignment)
        }
    }

    private init(file: OpenFile, model: FileModel, layout: LayoutCheck, method: LayoutMethod, attempts: [OpenFile], refused: [String],
                 alignment: DIOAlignment?) {
        (self.file, self.model, self.layout, self.method, self.attempts, self.refused, self.alignment)
            = (file, model, layout, method, attempts, refused, alignment)
    }

    /// The layout as a case records it: planned, found, and how many attempts it took.
    func record(_ plan: ExtentPlan) -> LayoutRecord {
        let tried = attempts.count > 1
            ? " (attempt \(attempts.count), \(method.rawValue)" + (refused.isEmpty ? ")" : "; \(refused.joined(separator: "; ")))") : ""
        return LayoutRecord(planned: plan, plannedExtents: plan.extents.map { [$0.lowerBound, $0.count] }, method: method,
                            status: layout.status, found: layout.found, note: layout.note.map { $0 + tried })
    }

    /// A new O_DIRECT scratch file in the case's directory; a filesystem without O_DIRECT SKIPs.
    static func directScratch(in area: WorkArea, name: String) throws -> OpenFile {
        do {
            // A stacked kind's file keeps its name while open: its extents are found by name beneath.
            return try OpenFile.scratch(at: area.directory + "/\(name).dat", options: .direct, keepingName: area.backingDirectory != nil)
        } catch Errno.invalidArgument {
            throw CaseStop.unsupported("\(area.filesystem.type) does not support O_DIRECT (open: EINVAL)")
        }
    }

    /// SKIPs a plan with holes on a filesystem that has none.
    static func checkHoles(_ plan: ExtentPlan, in area: WorkArea) throws {
        if plan.gap > 0, !area.traits.hasHoles {
            throw CaseStop.unsupported("\(area.filesystem.type) files have no holes (a write past EOF allocates what lies before it); the plan has \(plan.gap)-byte gaps")
        }
    }

    /// SKIPs a plan the filesystem's direct I/O alignment (statx) cannot serve.
    static func checkAlignment(_ file: OpenFile, plan: ExtentPlan) throws -> DIOAlignment? {
        guard let alignment = try file.dioAlignment() else { return nil }
        if alignment.offset > plan.size || alignment.memory > pageSize {
            throw CaseStop.unsupported("direct I/O needs \(alignment.offset)-byte offsets and \(alignment.memory)-byte buffers; the plan uses \(plan.size)-byte extents")
        }
        return alignment
    }

    /// The file's extents against the plan, or why they cannot be checked.
    static func check(_ file: OpenFile, plan: ExtentPlan, area: WorkArea) -> LayoutCheck {
        do {
            return LayoutCheck.compare(plan, found: try area.extents(of: file))
        } catch {
            return LayoutCheck.unmapped(area, error: error)
        }
    }
}
