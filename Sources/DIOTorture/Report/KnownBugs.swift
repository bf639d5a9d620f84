import DIOSystem
import Foundation

/// The kernel bugs dio-torture already knows (configs/known-kernel-bugs.expunge, in the expunge
/// format): a case they explain is KNOWN, counted apart, and does not fail the run. A new failure
/// still does.
public struct KnownBugs: Sendable {
    public let list: ExpungeList
    public let file: String

    public static let fileName = "known-kernel-bugs.expunge"

    public init(file: String) throws {
        guard let data = FileManager.default.contents(atPath: file) else { throw ExpungeList.Malformed("\(file): cannot read") }
        list = try ExpungeList(text: String(decoding: data, as: UTF8.self), file: file)
        self.file = file
    }

    /// The file that ships with this binary: configs/ of the source tree it was built in
    /// (.build/TRIPLE/CONFIG/dio-torture), or share/dio-torture/ beside an installed bin/.
    public static func shipped() -> KnownBugs? {
        guard let executable = try? ThisProcess.executablePath() else { return nil }
        let directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        let candidates = [
            directory.appendingPathComponent("../../../configs/\(fileName)"),
            directory.appendingPathComponent("../share/dio-torture/\(fileName)"),
        ]
        return candidates.lazy.compactMap { try? KnownBugs(file: $0.standardizedFileURL.path) }.first
    }

    /// Marks every failing case an entry explains as KNOWN (keeping what it gave); returns how many.
    @discardableResult
    public func apply(to report: inout RunReport) -> Int {
        var marked = 0
        for index in report.cases.indices {
            let record = report.cases[index]
            // Only a verdict the oracle turns into KNOWN, once: a case already KNOWN stays as it is.
            guard Oracle.verdict(record.verdict, explainedByKnownBug: true) != record.verdict, let entry = list.entry(for: record) else { continue }
            report.cases[index].knownBug = KnownBugRecord(verdict: record.verdict, bug: entry.reason, entry: "\(file):\(entry.line)")
            report.cases[index].verdict = .known
            report.cases[index].reason = "\(record.verdict.rawValue) explained by a known kernel bug: \(entry.reason)"
                + (record.reason.map { "; \($0)" } ?? "")
            marked += 1
        }
        return marked
    }
}
