import ArgumentParser
import DIOTorture
import Foundation
import Glibc

struct Repro: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a standalone C reproducer (liburing only) of one case of a report.",
        discussion: """
        The C file rebuilds the case's extent layout, buffer fault pattern and read, judges the first \
        completion and prints expected against got. Build: gcc repro.c -o repro -luring; \
        run: ./repro DIR [ITERATIONS], or on a scratch filesystem: dio-torture exec --fs btrfs -- ./repro {}
        """)

    @Argument(help: "A JSON report.")
    var report: String

    @Argument(help: "The case id, as the report names it.")
    var caseID: String

    @Option(help: "Of several records with that id, the one on this kernel.")
    var kernel: String?

    @Option(help: "Of several records with that id, the one on this filesystem.")
    var fs: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the C file here instead of stdout.", valueName: "file"))
    var output: String?

    func run() throws {
        guard let data = FileManager.default.contents(atPath: report) else { throw UsageError("\(report): cannot read") }
        guard let decoded = try? RunReport.decode(data) else { throw UsageError("\(report): not a dio-torture JSON report") }
        let matching = decoded.cases.filter {
            $0.id == caseID && (kernel == nil || $0.kernel == kernel) && (fs == nil || $0.filesystem.type == fs)
        }
        // The failing record when there is one: that is what a reproducer is for.
        guard let record = matching.first(where: { $0.verdict.isFailure }) ?? matching.first else {
            throw UsageError("\(report): no case \(caseID)\(kernel.map { " on \($0)" } ?? "")\(fs.map { " on \($0)" } ?? "")")
        }
        let source: String
        do { source = try Reproducer.source(for: record) } catch { throw UsageError("\(error)") }
        guard let output else { print(source, terminator: ""); return }
        do { try source.write(toFile: output, atomically: true, encoding: .utf8) } catch {
            throw UsageError("cannot write \(output): \(error.localizedDescription)")
        }
        printError("dio-torture: wrote \(output) (\(record.kernel), \(record.filesystem.type), \(record.verdict.rawValue)); build with gcc \(output) -luring\n")
    }
}
