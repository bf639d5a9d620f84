import DIOSystem
import Foundation

/// A case that ends before anything is judged: SKIP (not supported here) or BROKEN (the
/// harness failed), with the reason.
struct CaseStop: Error {
    var verdict: Verdict
    var reason: String
}

extension CaseRecord {
    /// The record of a step scenario's case: BROKEN until its run says otherwise.
    init(step spec: CaseSpec, area: WorkArea, options: RunOptions, iterations: Int) {
        self.init(id: spec.id, kernel: area.kernel, filesystem: area.filesystem, scenario: spec.scenario, variant: spec.variant,
                  seed: Seeds.forCase(run: options.seed, id: spec.id), iterations: iterations, verdict: .broken,
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

    /// Runs `body` on the record: a `CaseStop` ends the case with its verdict, any other error
    /// makes it BROKEN. Stamps the case's duration from `started`.
    mutating func run(since started: Date, _ body: (inout CaseRecord) throws -> Void) {
        do {
            try body(&self)
        } catch let stop as CaseStop {
            verdict = stop.verdict
            reason = stop.reason
        } catch {
            verdict = .broken
            reason = "harness: \(error)"
        }
        durationSeconds = Date().timeIntervalSince(started)
    }
}
