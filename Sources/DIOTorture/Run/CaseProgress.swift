import DIOSystem
import Foundation

/// What a read or write case's iterations add up to, and how each judged transfer is counted.
struct CaseProgress {
    var started: Date
    var tally = Tally()
    var residencies: [String: Int] = [:]
    var residencyRetries = 0
    var plannedResidency = ""

    /// Counts one transfer's judgement (`held`: its preconditions were proved); keeps the first
    /// failures in full with `detail`. Returns the outcome.
    mutating func count(_ judgement: Judgement, held: Bool, into record: inout CaseRecord, detail: () -> FailureRecord) -> Outcome {
        tally.iterations += 1
        tally.outcomes[judgement.outcome, default: 0] += 1
        if case .skip(let reason) = judgement.call {
            tally.skipReason = tally.skipReason ?? reason
            return judgement.outcome
        }
        tally.judged += 1
        if held { tally.residencyHeld += 1 }
        guard judgement.call == .fail else { return judgement.outcome }
        tally.failures += 1
        if record.firstFailureSeconds == nil { record.firstFailureSeconds = Date().timeIntervalSince(started) }
        if record.failureDetails.count < CaseRecord.maxFailureDetails { record.failureDetails.append(detail()) }
        return judgement.outcome
    }

    /// Writes the counts and the oracle's verdict into `record`; `layout` is the state the
    /// case's files were found in.
    func finish(_ record: inout CaseRecord, layout: LayoutStatus?, note: String?) {
        record.residency = ResidencyRecord(planned: plannedResidency, found: residencies, heldIterations: tally.residencyHeld,
                                           retries: residencyRetries > 0 ? residencyRetries : nil)
        record.outcomes = Dictionary(uniqueKeysWithValues: tally.outcomes.map { ($0.key.rawValue, $0.value) })
        record.failures = tally.failures
        (record.verdict, record.reason) = Oracle.verdict(layout: layout, tally: tally)
        if record.verdict == .pass, layout == .notApplicable { record.reason = note }
    }
}

extension FailureRecord {
    /// A failure of `judgement` with the completion as the kernel gave it: the count, the errno,
    /// or for a transfer that never completed the kernel stacks of this process's tasks.
    /// The extents of `file`, a file of `area`, after a transfer that completed; nil after a
    /// hang (a FIEMAP that syncs could wait on the stuck I/O) or where FIEMAP fails (tmpfs).
    static func extents(of file: OpenFile, in area: WorkArea, after result: TransferResult) -> [MappedExtent]? {
        if case .timedOut = result { return nil }
        return try? area.extents(of: file)
    }

    init(iteration: Int, read: Int? = nil, seed: UInt64, judgement: Judgement, expectedLength: Int, result: TransferResult) {
        self.init(iteration: iteration, read: read, seed: seed, outcome: judgement.outcome, expectedLength: expectedLength,
                  result: nil, errno: nil, firstBadOffset: nil, badRanges: [], unfilledTail: [], note: judgement.note, kernelStacks: nil)
        switch result {
        case .completed(let count): self.result = count
        case .failed(let error):
            self.result = -Int(error.rawValue)
            errno = error.symbol
        case .timedOut: kernelStacks = taskKernelStacks(of: ThisProcess.id)
        }
    }
}
