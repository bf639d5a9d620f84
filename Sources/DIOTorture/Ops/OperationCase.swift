import DIOSystem
import Foundation

/// Runs one generated operation log as a case of a step scenario and records it: the counts of
/// what ran, the first failure in full, and where the log was saved for `dio-torture replay`.
struct OperationCase {
    let spec: CaseSpec
    let area: WorkArea
    let options: RunOptions

    /// `preconditions` says why a clean run is INCONCLUSIVE rather than PASS, or nil.
    func run(maxFileSize: Int, log makeLog: (_ seed: UInt64) -> OperationLog,
             preconditions: (OperationOutcome) -> String? = { _ in nil }) -> CaseRecord {
        let started = Date()
        var record = CaseRecord(spec, area: area, options: options, iterations: options.iterations)
        record.run(since: started) {
            execute(makeLog($0.seed), maxFileSize: maxFileSize, started: started, preconditions: preconditions, into: &$0)
        }
        return record
    }

    private func execute(_ log: OperationLog, maxFileSize: Int, started: Date, preconditions: (OperationOutcome) -> String?,
                         into record: inout CaseRecord) {
        record.operationLog = save(log)
        let runner: OperationRunner
        do {
            let path = area.directory + "/\(spec.scenario)-\(record.seed).dat"
            runner = try OperationRunner(path: path, maxFileSize: maxFileSize, timeout: options.timeout, corruptReads: options.injectCorruption,
                                         extentsPath: area.extentsPath(of: path))
        } catch {
            record.reason = "harness: cannot set up the file: \(error)"
            return
        }
        let outcome = runner.run(log)
        removeFile(runner.path)
        record.counters = outcome.counts.merging(["operations": outcome.executed, "reads judged": outcome.readsJudged]) { $1 }
        if log.backgroundWriteback { record.counters?["writeback passes"] = outcome.writebackPasses }
        if !outcome.probes.isEmpty {
            record.counters?["probes"] = outcome.probes.count
            record.counters?["probes: dirty pages"] = outcome.probes.filter { ($0.dirtyPages ?? 0) > 0 }.count
            record.counters?["probes: unwritten extents"] = outcome.probes.filter { ($0.unwrittenBytes ?? 0) > 0 }.count
            record.counters?["probes: dirty over unwritten"] = outcome.probes.filter { ($0.dirtyPages ?? 0) > 0 && ($0.unwrittenBytes ?? 0) > 0 }.count
        }
        let unsupported = outcome.counts.keys.filter { $0.hasPrefix("unsupported") }.sorted()
        let notes = runner.unavailable.sorted { $0.key.description < $1.key.description }.map { "\($0.key): \($0.value)" }
            + unsupported.map { "\($0) x\(outcome.counts[$0]!)" }
        let missing = preconditions(outcome)
        record.verdict = Oracle.verdict(failedOutcome: outcome.failure?.detail.outcome, readsJudged: outcome.readsJudged, unmet: missing)
        if let failure = outcome.failure {
            record.failures = 1
            record.outcomes = [failure.detail.outcome.rawValue: 1]
            record.failureDetails = [failure.detail]
            record.firstFailureSeconds = Date().timeIntervalSince(started)
            record.reason = "operation \(failure.index) of \(log.operations.count): \(failure.detail.note ?? "")"
        } else if record.verdict == .skip {
            record.reason = "no read could be judged" + (notes.isEmpty ? "" : ": " + notes.joined(separator: "; "))
        } else if record.verdict == .inconclusive {
            record.reason = missing
        } else {
            record.outcomes = [Outcome.full.rawValue: outcome.readsJudged]
            record.reason = notes.isEmpty ? nil : "not exercised here: " + notes.joined(separator: "; ")
        }
    }

    /// The name a log saved as `base` (KERNEL-FILESYSTEM-CASE) gets.
    static func logFileName(_ base: String) -> String { fileNameSafe(base) + ".opslog" }

    /// `text` with the characters a file name would trip over made "_".
    static func fileNameSafe(_ text: String) -> String {
        String(text.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" })
    }

    /// Writes the log where the run keeps artifacts; returns its path.
    private func save(_ log: OperationLog) -> String? {
        guard let directory = options.artifactDirectory else { return nil }
        let label = TextReport.filesystemLabel(area.filesystem).replacingOccurrences(of: " ", with: "_")
        let path = directory + "/" + Self.logFileName("\(area.kernel)-\(label)-\(spec.id)")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try log.text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        } catch {
            return nil
        }
    }
}
