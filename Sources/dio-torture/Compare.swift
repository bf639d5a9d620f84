import ArgumentParser
import DIOTorture
import Foundation
import Glibc

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Gate: list new failures, fixed and unchanged cases of CURRENT against BASELINE.",
        discussion: """
        Cases match on filesystem and case id (on the same kernel when the baseline has it), so a \
        baseline from the running kernel gates its upgrade. The expunge file lists known failures, \
        one per line: KERNEL FILESYSTEM CASE # reason or fixing commit (shell globs).
        Exit status: 1 only for a new failure that is not expunged; 2 for unreadable input.
        """)

    @Argument(help: "The baseline JSON report.")
    var baseline: String

    @Argument(help: "The current JSON report.")
    var current: String

    @Option(help: ArgumentHelp("Known failures not to gate on.", valueName: "file"))
    var expunge: String?

    func run() throws {
        func load(_ path: String) throws -> RunReport {
            guard let data = FileManager.default.contents(atPath: path) else { throw UsageError("\(path): cannot read") }
            do { return try RunReport.decode(data) } catch { throw UsageError("\(path): not a dio-torture JSON report") }
        }
        let expunged = try expunge.map { path -> ExpungeList in
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw UsageError("\(path): cannot read") }
            do { return try ExpungeList(text: text, file: path) } catch { throw UsageError("\(error)") }
        }
        let comparison = Comparison(baseline: try load(baseline), current: try load(current), expunge: expunged)
        print(comparison.text, terminator: "")
        throw ExitCode(comparison.exitCode)
    }
}
