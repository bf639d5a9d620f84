import DIOSystem
import Foundation

/// Case files laid out before they are needed, many at once, by the synced method with one
/// sync per extent for all of them (`LaidOutFile.batch`): a file laid out alone costs a sync
/// per extent, which is most of a small case's time. The files are a read case's, and a write
/// case's targets, one per iteration. Each still is a file of its own with its own stamp, taken
/// only once FIEMAP shows the plan again; one that missed the plan is laid out alone by every
/// method in turn.
///
/// The process that runs a sequence of cases says which are coming (`expecting`); the first
/// file wanted lays out the next ones with the same plan in its directory.
final class LayoutsAhead: @unchecked Sendable {
    static let shared = LayoutsAhead()

    /// Cases laid out together at most, and the room their files may take: a lab sweep's large
    /// layouts would fill the scratch filesystem.
    static let batchCount = 64
    static let batchBytes = 16 << 20

    fileprivate struct Upcoming {
        /// The case's id, and for a write case's target its iteration (`key`).
        var key: String
        var plan: ExtentPlan
        var stamp: DataStamp
        var name: String
    }

    /// What names the file of `caseID` (of its `iteration`, for a write case's target).
    static func key(_ caseID: String, iteration: Int? = nil) -> String { iteration.map { "\(caseID)#\($0)" } ?? caseID }

    /// One directory's expected files, in the order they are wanted, and those laid out.
    fileprivate struct Queue {
        var coming: [Upcoming] = []
        var ready: [String: LaidOutFile] = [:]
        /// Files a batch has tried to lay out, whether or not it met the plan.
        var tried: Set<String> = []
    }

    private let lock = NSLock()
    private var queues: [String: Queue] = [:]

    /// Runs `body` with the files of `specs` expected in this order in `area`, and lets go of
    /// every one laid out for them when it returns: they must not keep the filesystem busy once
    /// it is done. Within a sequence already expected there, it only runs `body`.
    static func expecting<T>(_ specs: [CaseSpec], in area: WorkArea, options: RunOptions, _ body: () throws -> T) rethrows -> T {
        let coming = specs.flatMap { files(of: $0, in: area, options: options) }
        let owner = shared.lock.withLock {
            guard shared.queues[area.directory] == nil else { return false }
            shared.queues[area.directory] = Queue(coming: coming)
            return true
        }
        guard owner else { return try body() }
        defer { _ = shared.lock.withLock { shared.queues.removeValue(forKey: area.directory) } }
        return try body()
    }

    /// The files a case lays out, unless its path and pattern SKIP it first (`IteratedCase.transfers`).
    private static func files(of spec: CaseSpec, in area: WorkArea, options: RunOptions) -> [Upcoming] {
        let seed = Seeds.forCase(run: options.seed, id: spec.id)
        if let read = spec.read {
            // A file the buffer maps is laid out alone, as it was before files were laid out
            // ahead: btrfs on Debian's 6.12 then left a same-range mapping's pages resident
            // after fsync and DONTNEED in some iterations (INCONCLUSIVE), alone it did not.
            guard !read.pattern.traits.mapsTheFileUnderTest,
                  Oracle.incompatibility(read.path, read.pattern, filesystem: area.filesystem.type, fileCache: read.fileCache) == nil else { return [] }
            let stamp = DataStamp(caseSeed: seed)
            return [Upcoming(key: key(spec.id), plan: read.layout, stamp: stamp, name: ReadCase.fileName(stamp))]
        }
        guard let write = spec.write, let plan = write.target.plan(write.layout),
              Oracle.incompatibility(write.path, write.pattern, filesystem: area.filesystem.type, writeTarget: write.target) == nil else { return [] }
        return (0..<options.iterations).map { iteration in
            let stamp = DataStamp(caseSeed: Seeds.forIteration(case: seed, iteration))
            return Upcoming(key: key(spec.id, iteration: iteration), plan: plan, stamp: stamp, name: WriteCase.targetName(stamp))
        }
    }

    /// The file laid out ahead under `key` in `area` with `stamp`, its extents checked again
    /// now; nil when it was not expected or missed the plan. Files laid out for cases that came
    /// before it and never took theirs are let go.
    func take(_ key: String, plan: ExtentPlan, stamp: DataStamp, in area: WorkArea) -> LaidOutFile? {
        lock.withLock { () -> LaidOutFile? in
            // Out of the table while it changes, or every change would copy the whole queue.
            guard var queue = queues.removeValue(forKey: area.directory) else { return nil }
            defer { queues[area.directory] = queue }
            guard let index = queue.coming.firstIndex(where: { $0.key == key }),
                  queue.coming[index].plan == plan, queue.coming[index].stamp == stamp else { return nil }
            let mine = queue.coming[index]
            for passed in queue.coming[..<index] { queue.ready[passed.key] = nil }
            queue.coming.removeFirst(index + 1)
            if !queue.tried.contains(key) { queue.layOut([mine] + queue.next(like: mine), in: area) }
            guard var laidOut = queue.ready.removeValue(forKey: key) else { return nil }
            laidOut.layout = PhaseClock.measure(.fiemap) { LaidOutFile.check(laidOut.file, plan: plan, area: area) }
            return laidOut.layout.status == .notReached ? nil : laidOut
        }
    }
}

extension LayoutsAhead.Queue {
    /// The expected files after `first` with its plan not yet tried, as many as a batch takes.
    func next(like first: LayoutsAhead.Upcoming) -> [LayoutsAhead.Upcoming] {
        let room = max(1, min(LayoutsAhead.batchCount, LayoutsAhead.batchBytes / max(1, first.plan.fileSize)))
        return Array(coming.filter { $0.plan == first.plan && !tried.contains($0.key) }.prefix(room - 1))
    }

    /// Lays out `cases`' files together; a batch the filesystem refuses (no holes, no O_DIRECT,
    /// an alignment the plan cannot serve) leaves each case to find that out alone.
    mutating func layOut(_ cases: [LayoutsAhead.Upcoming], in area: WorkArea) {
        tried.formUnion(cases.map(\.key))
        let files = (try? LaidOutFile.batch(cases[0].plan, in: area, stamps: cases.map(\.stamp),
                                            names: cases.map(\.name))) ?? []
        for (coming, file) in zip(cases, files) { ready[coming.key] = file }
    }
}
