import ArgumentParser
import DIOTorture
import Foundation
import Glibc

struct Repro: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a standalone C reproducer (libc and liburing only) of a case of a report, or of an operation log.",
        discussion: """
        A read case's C file rebuilds its extent layout, buffer fault pattern and read, judges the \
        first completion and prints expected against got; run: ./repro DIR [ITERATIONS]. A step \
        scenario's case (its saved operation log), or an .opslog given directly (a shrunk one from \
        `replay --shrink`), becomes a C file that performs the operations and judges every read \
        against a model of the file; run: ./repro DIR. Build: gcc repro.c -o repro -luring -lpthread; \
        on a scratch filesystem: dio-torture exec --fs btrfs -- ./repro {}
        """)

    @Argument(help: "A JSON report, or an operation log (.opslog).")
    var source: String

    @Argument(help: "The case id, as the report names it (not for an operation log).")
    var caseID: String?

    @Option(help: "Of several records with that id, the one on this kernel.")
    var kernel: String?

    @Option(help: "Of several records with that id, the one on this filesystem.")
    var fs: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the C file here instead of stdout.", valueName: "file"))
    var output: String?

    func run() throws {
        let code: String
        var what = source
        do {
            if let caseID {
                let (text, record) = try Reproducer.source(forCase: caseID, ofReportAt: source, kernel: kernel, filesystem: fs)
                code = text
                what = "\(record.kernel), \(record.filesystem.type), \(record.verdict.rawValue)"
            } else {
                code = try OperationReproducer.source(forLogAt: source)
            }
        } catch let error as Reproducer.Refusal {
            throw UsageError(error.description)
        }
        guard let output else { print(code, terminator: ""); return }
        do { try code.write(toFile: output, atomically: true, encoding: .utf8) } catch {
            throw UsageError("cannot write \(output): \(error.localizedDescription)")
        }
        printError("dio-torture: wrote \(output) (\(what)); build with gcc \(output) -luring -lpthread\n")
    }
}
