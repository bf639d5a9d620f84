import DIOSystem
import Foundation
import Glibc

/// Known failures, as kdevops keeps them: one line each,
/// `KERNEL-PATTERN FILESYSTEM-PATTERN CASE-PATTERN # reason or fixing commit`, shell-style globs.
/// A line without a reason is an error: an expunge nobody can explain is never removed.
public struct ExpungeList: Sendable {
    /// A line of an expunge file that cannot be read: the file, the line and why.
    public struct Malformed: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    public struct Entry: Sendable {
        public var kernel: String
        public var filesystem: String
        public var caseID: String
        public var reason: String
        public var line: Int
    }

    public var entries: [Entry]

    public init(text: String, file: String) throws {
        entries = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: "#", maxSplits: 1)
            let fields = parts[0].split(whereSeparator: \.isWhitespace).map(String.init)
            let reason = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
            guard fields.count == 3 else {
                throw Malformed("\(file):\(index + 1): expected KERNEL FILESYSTEM CASE # REASON, got \(fields.count) field(s)")
            }
            guard !reason.isEmpty else { throw Malformed("\(file):\(index + 1): an expunged failure needs a reason after '#'") }
            entries.append(Entry(kernel: fields[0], filesystem: fields[1], caseID: fields[2], reason: reason, line: index + 1))
        }
    }

    public func entry(for record: CaseRecord) -> Entry? {
        entries.first { entry in
            fnmatch(entry.kernel, record.kernel, 0) == 0 && fnmatch(entry.filesystem, record.filesystem.type, 0) == 0
                && fnmatch(entry.caseID, record.id, 0) == 0
        }
    }
}

/// A current report judged against a baseline: what newly fails, what got fixed, what did not change.
public struct Comparison: Sendable {
    public var newFailures: [CaseRecord] = []
    public var expunged: [(CaseRecord, ExpungeList.Entry)] = []
    public var fixed: [CaseRecord] = []
    public var stillFailing: [CaseRecord] = []
    public var unchanged = 0

    /// Cases match on filesystem and id, on the same kernel when the baseline has it, else on
    /// any kernel: a baseline from one kernel gates another.
    public init(baseline: RunReport, current: RunReport, expunge: ExpungeList?) {
        func key(_ record: CaseRecord) -> String { TextReport.filesystemLabel(record.filesystem) + "|" + record.id }
        var sameKernel: [String: CaseRecord] = [:], anyKernel: [String: CaseRecord] = [:]
        for record in baseline.cases {
            sameKernel[record.kernel + "|" + key(record)] = record
            if anyKernel[key(record)] == nil || anyKernel[key(record)]!.isFailure == false { anyKernel[key(record)] = record }
        }
        for record in current.cases {
            let before = sameKernel[record.kernel + "|" + key(record)] ?? anyKernel[key(record)]
            switch (before?.isFailure ?? false, record.isFailure) {
            case (false, true):
                if let entry = expunge?.entry(for: record) { expunged.append((record, entry)) } else { newFailures.append(record) }
            case (true, true): stillFailing.append(record)
            case (true, false): fixed.append(record)
            case (false, false): unchanged += 1
            }
        }
    }

    /// 1 only for a new failure that is not expunged.
    public var exitCode: Int32 { newFailures.isEmpty ? 0 : 1 }

    public var text: String {
        func line(_ record: CaseRecord) -> String { "  \(record.kernel) \(TextReport.filesystemLabel(record.filesystem)) \(record.id)" }
        var output = "NEW FAILURES: \(newFailures.count)\n"
        output += newFailures.map { line($0) + ": " + $0.failureSummary + "\n" }.joined()
        output += "EXPUNGED (known failures): \(expunged.count)\n"
        output += expunged.map { line($0.0) + "  # \($0.1.reason) (expunge line \($0.1.line))\n" }.joined()
        output += "FIXED: \(fixed.count)\n" + fixed.map { line($0) + "\n" }.joined()
        output += "STILL FAILING: \(stillFailing.count)\n" + stillFailing.map { line($0) + "\n" }.joined()
        return output + "UNCHANGED: \(unchanged)\n"
    }
}

extension CaseRecord {
    var isFailure: Bool { verdict.isFailure }
}
