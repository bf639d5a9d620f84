import DIOSystem
import Foundation

/// A read or write case: a pattern and a path, iterations of one transfer each judged on its
/// first completion. `run` makes the record, and a `CaseStop` thrown on the way becomes its verdict.
protocol IteratedCase {
    var spec: CaseSpec { get }
    var area: WorkArea { get }
    var options: RunOptions { get }
    func execute(seed: UInt64, started: Date, into record: inout CaseRecord) throws
}

extension IteratedCase {
    func run() -> CaseRecord {
        let started = Date()
        let caseSeed = Seeds.forCase(run: options.seed, id: spec.id)
        var record = CaseRecord(spec, area: area, options: options, iterations: options.iterations)
        // A case run alone still lays out its iterations' files together.
        LayoutsAhead.expecting([spec], in: area, options: options) {
            record.run(since: started) { try execute(seed: caseSeed, started: started, into: &$0) }
        }
        return record
    }

    /// What submits the case's transfers on `path`; a SKIP when the pattern cannot go with the
    /// path or the filesystem, or the machine lacks the interface.
    func transfers(_ path: IOPath, pattern: FaultPattern, depth: Int = 1, fileCache: FileCachePlan? = nil,
                   writeTarget: WriteTarget? = nil) throws -> Transfers {
        if let reason = Oracle.incompatibility(path, pattern, filesystem: area.filesystem.type, fileCache: fileCache, writeTarget: writeTarget) {
            throw CaseStop.unsupported(reason)
        }
        let transfers = Transfers(timeout: options.timeout, depth: depth)
        do { try transfers.prepare(path) } catch let unavailable as Transfers.Unavailable {
            throw CaseStop.unsupported(unavailable.description)
        }
        return transfers
    }
}
