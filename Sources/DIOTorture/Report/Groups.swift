import DIOSystem

/// Cases grouped by kernel and filesystem (with its options), in run order: the suites of the
/// CI formats.
struct CaseGroup {
    var kernel: String
    var filesystem: String
    var cases: [CaseRecord]

    var name: String { "\(kernel) \(filesystem)" }

    static func of(_ report: RunReport) -> [CaseGroup] {
        var groups: [CaseGroup] = []
        for record in report.cases {
            let filesystem = TextReport.filesystemLabel(record.filesystem)
            if let index = groups.firstIndex(where: { $0.kernel == record.kernel && $0.filesystem == filesystem }) {
                groups[index].cases.append(record)
            } else {
                groups.append(CaseGroup(kernel: record.kernel, filesystem: filesystem, cases: [record]))
            }
        }
        return groups
    }
}

extension CaseRecord {
    /// Reads the case planned: one per iteration, or its queue depth per iteration.
    var reads: Int { iterations * (read?.queueDepth ?? 1) }

    /// One line on why this case failed: its first failing iteration, or the reason.
    var failureSummary: String {
        guard let first = failureDetails.first else { return reason ?? verdict.rawValue }
        var text = "\(failures)/\(reads) transfers failed; first: iteration \(first.iteration)\(first.read.map { " read \($0)" } ?? "") seed \(first.seed) "
            + "\(first.outcome.rawValue), res \(first.result.map(String.init) ?? "none") of \(first.expectedLength)"
        if let diagnosis = (first.badRanges + first.unfilledTail).first {
            text += ", bytes \(diagnosis.offset)..<\(diagnosis.offset + diagnosis.length) \(diagnosis.diagnosis.rawValue)"
        }
        return text
    }
}
