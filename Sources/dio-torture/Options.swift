import ArgumentParser
import DIOSystem
import DIOTorture
import Foundation
import Glibc

/// Where cases run: each in its own process (the default), or all in this one.
struct IsolationOption: ParsableArguments {
    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case process, none
    }

    @Option(name: .long, help: ArgumentHelp("process: each case in its own process, killed at the case timeout (a crash or hang stays with its case). none: all in this process; faster where starting a process is slow (a TCG guest), but a stuck case stops the run.", valueName: "mode"))
    var isolation: Mode = .process

    @Option(name: .long, help: ArgumentHelp("Targets made and run at once, each with its own case processes; with few targets, each is cut into parts on filesystems of their own (default: two per CPU; 1 with --isolation none or a scratch device).", valueName: "n"))
    var jobs: Int = Runner.defaultJobs

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func mode(caseTimeout seconds: Int) throws -> CaseIsolation {
        switch isolation {
        case .process: .childProcess(executable: try ThisProcess.executablePath(), deadline: .seconds(seconds))
        case .none: .inProcess
        }
    }
}

/// Where step scenarios save their operation logs.
struct ArtifactOption: ParsableArguments {
    @Option(name: .customLong("ops-logs"), help: ArgumentHelp("Save the operation logs of the step scenarios (ops, zero-range-dirty-unwritten) here, for `dio-torture replay`; from test-kernel guests too.", valueName: "dir"))
    var opsLogs = "dio-torture-ops-logs"

    var directory: String { URL(fileURLWithPath: opsLogs).standardizedFileURL.path }
}

/// Where a guest's run tells its host how far it has got (`vm` and `sweep` add it).
struct ProgressFileOption: ParsableArguments {
    @Option(name: .customLong("progress-file"), help: .hidden)
    var progressFile: String?
}

/// The human table on stdout, and the report files a run or a kernel matrix can write.
struct ReportOutputs: ParsableArguments {
    @OptionGroup var files: ReportFiles

    @Flag(name: .customLong("no-color"), help: "No colour, even on a terminal.")
    var noColor = false

    @Flag(name: .customLong("no-known-bugs"), help: "Report failures that known kernel bugs explain as FAIL, not KNOWN (configs/known-kernel-bugs.expunge).")
    var noKnownBugs = false

    @Option(name: .customLong("known-bugs"), help: ArgumentHelp("Known kernel bugs in the expunge format (default: the shipped configs/known-kernel-bugs.expunge).", valueName: "file"))
    var knownBugsFile: String?

    func validate() throws {
        if let knownBugsFile {
            do { _ = try KnownBugs(file: knownBugsFile) } catch { throw ValidationError("--known-bugs: \(error)") }
        }
    }

    /// Prints and writes `report`, failures known bugs explain marked KNOWN first; returns the
    /// report as written, whose exit code is the run's.
    func emit(_ report: RunReport) throws -> RunReport {
        var report = report
        if !noKnownBugs {
            let known: KnownBugs?
            do { known = try knownBugsFile.map(KnownBugs.init(file:)) ?? KnownBugs.shipped() } catch { throw UsageError("\(error)") }
            known?.apply(to: &report)
        }
        let colour = !noColor && ThisProcess.isTerminal(.standardOutput)
        print(TextReport.document(report, colour: colour), terminator: "")
        try files.write(report)
        return report
    }
}

/// A file per format asked for (`--json F`, `--kcidb F`, ...), the formats being `ReportFormat`'s.
struct ReportFiles: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Write the \(ReportFormat.json.title) here.", valueName: "file"))
    var json: String?

    @Option(name: .long, help: ArgumentHelp("Write \(ReportFormat.junit.title) here.", valueName: "file"))
    var junit: String?

    @Option(name: .long, help: ArgumentHelp("Write \(ReportFormat.ktap.title) here.", valueName: "file"))
    var ktap: String?

    @Option(name: .long, help: ArgumentHelp("Write \(ReportFormat.kcidb.title) here.", valueName: "file"))
    var kcidb: String?

    @Option(name: .long, help: ArgumentHelp("Write an \(ReportFormat.html.title) here.", valueName: "file"))
    var html: String?

    var requested: [(ReportFormat, String)] {
        [(ReportFormat.json, json), (.junit, junit), (.ktap, ktap), (.kcidb, kcidb), (.html, html)].compactMap { format, path in path.map { (format, $0) } }
    }

    func write(_ report: RunReport) throws {
        for (format, path) in requested {
            do {
                try format.render(report).write(to: URL(fileURLWithPath: path))
                print("\(format.title): \(path)")
            } catch {
                throw UsageError("cannot write \(path): \(error.localizedDescription)")
            }
        }
    }
}

/// Filesystem kinds parse, validate and list their choices through the library's own names.
extension ScratchKind: ExpressibleByArgument {
    public init?(argument: String) { self.init(named: argument) }
    public static var allValueStrings: [String] { choiceNames }
}

/// "K/N", one shard of a plan or a sweep, as `run --shard` and `sweep --shard` take it.
extension Shard {
    static func parsed(_ text: String) throws -> Shard {
        guard let shard = Shard(text) else { throw ValidationError("expected K/N with 1 <= K <= N") }
        return shard
    }
}
