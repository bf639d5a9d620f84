import ArgumentParser
import DIOSystem
import DIOTorture
import Foundation
import Glibc

struct DIOTortureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dio-torture",
        abstract: "Catches kernel bugs where direct I/O and the page cache break their promises.",
        subcommands: [Run.self, Sweep.self, Merge.self, VM.self, Report.self, Compare.self, Repro.self, ReportBug.self, Replay.self, Exec.self, List.self, Probe.self, Bench.self, CaseWorker.self, FuseServerCommand.self, FilesystemHelper.self],
        defaultSubcommand: Run.self)
}

ThisProcess.keepFreedMemory()

// A run starts a case worker for every few dozen cases: it skips ArgumentParser, whose reflection
// over every command was a third of a worker's start.
if CommandLine.arguments.dropFirst() == [CaseWorker.configuration.commandName!] { exit(CaseJob.serveStandardInput()) }

do {
    var command = try DIOTortureCommand.parseAsRoot()
    try command.run()
} catch let error as UsageError {
    printError("dio-torture: \(error.description)\n")
    exit(2)
} catch {
    // Parse and validation errors: one line, exit 2 (ArgumentParser would print usage and exit 64).
    if DIOTortureCommand.exitCode(for: error) == .validationFailure {
        printError("dio-torture: \(DIOTortureCommand.message(for: error)) (see 'dio-torture --help')\n")
        exit(2)
    }
    DIOTortureCommand.exit(withError: error)
}
