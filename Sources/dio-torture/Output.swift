import ArgumentParser
import DIOSystem
import DIOTorture
import Foundation
import Glibc

/// Runs batches with a progress line on a terminal (and in `progressFile`, for a guest's host);
/// the first SIGINT/SIGTERM stops after the running case, and the report says it is incomplete.
func runCases(_ batches: [RunBatch], scratchDevice: String?, isolation: CaseIsolation, jobs: Int, progressFile: String? = nil) -> RunReport {
    InterruptCleanup.install()
    InterruptCleanup.stopGracefully()
    let showProgress = ThisProcess.isTerminal(.standardError)
    let started = Date()
    let guestProgress = progressFile.map(GuestProgressFile.init(path:))
    let report = Runner.run(batches, scratchDevice: scratchDevice, isolation: isolation, jobs: jobs) { progress in
        guestProgress?.record(progress)
        guard showProgress else { return }
        let elapsed = Date().timeIntervalSince(started)
        let eta = progress.done > 0 ? " ETA \(Int(elapsed / Double(progress.done) * Double(progress.total - progress.done)))s" : ""
        let line = "\r\u{1B}[K[\(progress.done)/\(progress.total)] \(progress.failures) failed\(eta)  \(progress.current)"
        printError(String(line.prefix(160)))
        if progress.done == progress.total { printError("\r\u{1B}[K") }
    }
    return report
}

/// Runs the guests showing each one's progress: on a terminal one line per guest, redrawn in
/// place; otherwise each boot and end as it happens and a line per guest once a minute, for a log.
func runGuests(_ options: VMOptions, prefix: String) throws -> [GuestRun] {
    let terminal = ThisProcess.isTerminal(.standardError)
    var drawn = 0
    var lastLogged = Date()
    return try VMRunner.run(options, events: { if !terminal { printError("\(prefix): \($0)\n") } }) { statuses in
        if terminal {
            let up = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
            printError(up + statuses.map { "\r\u{1B}[K\(prefix): \($0.line)\n" }.joined())
            drawn = statuses.count
        } else if Date().timeIntervalSince(lastLogged) >= 60 {
            lastLogged = Date()
            printError(statuses.map { "\(prefix): \($0.line)\n" }.joined())
        }
    }
}

/// Prints and writes the report; exits 128 + the signal when interrupted, else the report's status.
func finish(_ report: RunReport, outputs: ReportOutputs) throws -> Never {
    let report = try outputs.emit(report)
    if let signalNumber = InterruptCleanup.interruptingSignal {
        printError("dio-torture: interrupted; the report holds the \(report.cases.count) cases that finished (complete: false)\n")
        throw ExitCode(128 + signalNumber)
    }
    throw ExitCode(report.exitCode)
}

/// Writes to standard error, unbuffered, so progress and messages interleave correctly.
func printError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}

/// A usage or configuration error: one line, exit 2.
struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
