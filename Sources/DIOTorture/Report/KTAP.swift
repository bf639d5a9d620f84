import DIOSystem

/// KTAP version 1, as kernel selftests print it (Documentation/dev-tools/ktap.rst): one subtest
/// per kernel and filesystem, one result line per case inside it.
public enum KTAP {
    public static func document(_ report: RunReport) -> String {
        let groups = CaseGroup.of(report)
        var lines = ["KTAP version 1", "1..\(groups.count)"]
        for (number, group) in groups.enumerated() {
            lines += ["  KTAP version 1", "  1..\(group.cases.count)"]
            for (index, record) in group.cases.enumerated() {
                lines += resultLines(record, number: index + 1).map { "  " + $0 }
            }
            let failed = group.cases.contains { $0.verdict.isFailure }
            let allSkipped = group.cases.allSatisfy { $0.verdict == .skip }
            lines.append("\(failed ? "not ok" : "ok") \(number + 1) \(clean(group.name))" + (allSkipped ? " # SKIP every case skipped" : ""))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func resultLines(_ record: CaseRecord, number: Int) -> [String] {
        let name = clean(record.id)
        switch record.verdict {
        case .pass: return ["ok \(number) \(name)"]
        case .skip: return ["ok \(number) \(name) # SKIP \(clean(record.reason ?? ""))"]
        // Neither a pass nor a failure: its preconditions were not proved.
        case .inconclusive: return ["ok \(number) \(name) # SKIP inconclusive: \(clean(record.reason ?? ""))"]
        // A failure a known kernel bug explains: counted apart, like an expunged test.
        case .known: return ["ok \(number) \(name) # SKIP known kernel bug: \(clean(record.reason ?? ""))"]
        case .fail, .hang, .tainted:
            let diagnostics = record.failureDetails.prefix(3).map { failure in
                "# iteration \(failure.iteration)\(failure.read.map { " read \($0)" } ?? "") seed \(failure.seed): \(failure.outcome.rawValue), res \(failure.result.map(String.init) ?? "none") of \(failure.expectedLength)"
            }
            let reason = record.verdict == .fail ? [] : ["# \(record.verdict.rawValue): \(clean(record.reason ?? ""))"]
            return reason + diagnostics + ["not ok \(number) \(name)"]
        case .broken: return ["not ok \(number) \(name) # ERROR \(clean(record.reason ?? ""))"]
        }
    }

    /// A name or reason on one line, without the '#' that would start a directive.
    static func clean(_ text: String) -> String {
        text.map { $0 == "#" ? "_" : $0.isNewline ? " " : $0 }.reduce(into: "") { $0.append($1) }
    }
}
