import DIOSystem
import Foundation

extension CaseRecord {
    /// The record of a case before anything is judged: its identity, pattern, path and read,
    /// with `verdict` (BROKEN until its run says otherwise) and nothing counted yet.
    init(_ spec: CaseSpec, area: WorkArea, options: RunOptions, iterations: Int, verdict: Verdict = .broken, reason: String? = nil) {
        self.init(id: spec.id, kernel: area.kernel, filesystem: area.filesystem, scenario: spec.scenario, variant: spec.variant,
                  pattern: spec.pattern, path: spec.path,
                  read: spec.read.map { ReadRecord(offset: $0.offset, length: $0.length, fileSize: $0.layout.fileSize,
                                                   queueDepth: $0.queueDepth > 1 ? $0.queueDepth : nil, alignment: $0.alignment,
                                                   fileCache: $0.fileCache) },
                  write: spec.write.map { WriteRecord(target: $0.target, offset: $0.offset(fileSize: $0.layout.fileSize),
                                                      length: $0.length, fileSize: $0.layout.fileSize, alignment: $0.alignment) },
                  seed: Seeds.forCase(run: options.seed, id: spec.id), iterations: iterations, verdict: verdict, reason: reason,
                  failures: 0, outcomes: [:], failureDetails: [], durationSeconds: 0)
    }

    /// Records the oracle's verdict on `promises`; a PASS keeps the reason already given.
    mutating func judge(promises: [CheckRecord], unmet: String?, started: Date) {
        let (verdict, reason) = Oracle.verdict(promises: promises, unmet: unmet)
        self.verdict = verdict
        if let reason { self.reason = reason }
        if verdict == .fail {
            failures = promises.filter { $0.held == false }.count
            firstFailureSeconds = Date().timeIntervalSince(started)
        }
    }

    /// Runs `body` on the record: a `CaseStop` ends the case with its verdict, and so does a
    /// shared mapping the filesystem refuses; any other error makes it BROKEN. Stamps the case's duration from `started`.
    mutating func run(since started: Date, _ body: (inout CaseRecord) throws -> Void) {
        do {
            try body(&self)
        } catch let stop as CaseStop {
            verdict = stop.verdict
            reason = stop.reason
        } catch let refused as SharedMappingRefused {
            let stop = CaseStop.unmappable(filesystem.type, refused)
            verdict = stop.verdict
            reason = stop.reason
        } catch {
            verdict = .broken
            reason = "harness: \(error)"
        }
        durationSeconds = Date().timeIntervalSince(started)
    }
}
