import ArgumentParser
import DIOSystem
import DIOTorture
import Foundation

struct ReportBug: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report-bug",
        abstract: "Write a Markdown finding report of a failing case, for a kernel maintainer.",
        discussion: """
        The kernel and the config options that matter (from /boot/config-RELEASE or /proc/config.gz \
        when this machine has them), the filesystem as made and mounted, what was done, expected \
        against found, the kernel log, the extents, the kernels where it does and does not reproduce \
        (the same case in REPORT and in every --matrix report, e.g. a `vm` run), the C reproducer \
        inline, and the command that reproduces it.
        """)

    @Argument(help: "A JSON report holding the case.")
    var report: String

    @Argument(help: "The case id, as the report names it.")
    var caseID: String

    @Option(help: "Of several records with that id, the one on this kernel.")
    var kernel: String?

    @Option(help: "Of several records with that id, the one on this filesystem.")
    var fs: String?

    @Option(help: ArgumentHelp("Another JSON report with the same case on other kernels (repeatable).", valueName: "report"))
    var matrix: [String] = []

    @Option(help: ArgumentHelp("For a step scenario's case: this (shrunk) operation log instead of the one it saved.", valueName: "opslog"))
    var log: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the Markdown here instead of stdout.", valueName: "file"))
    var output: String?

    func run() throws {
        var (found, record): (RunReport, CaseRecord)
        do { (found, record) = try Reproducer.findCase(caseID, inReportAt: report, kernel: kernel, filesystem: fs) } catch let error as Reproducer.Refusal {
            throw UsageError(error.description)
        }
        if let log {
            guard record.operationLog != nil else { throw UsageError("--log: \(caseID) is not a step scenario's case with an operation log") }
            record.operationLog = log
        }
        let others = try matrix.flatMap { path -> [CaseRecord] in
            guard let data = FileManager.default.contents(atPath: path), let decoded = try? RunReport.decode(data) else {
                throw UsageError("--matrix \(path): not a dio-torture JSON report")
            }
            return decoded.cases
        }
        let text = FindingReport.markdown(record, runSeed: found.seed, matrix: found.cases + others, config: Kernel.configuration(of: record.kernel),
                                          reproducer: Result { try Reproducer.source(forCase: record) })
        guard let output else { print(text, terminator: ""); return }
        do { try text.write(toFile: output, atomically: true, encoding: .utf8) } catch {
            throw UsageError("cannot write \(output): \(error.localizedDescription)")
        }
        printError("dio-torture: wrote \(output) (\(record.kernel), \(record.filesystem.type), \(record.verdict.rawValue))\n")
    }
}
