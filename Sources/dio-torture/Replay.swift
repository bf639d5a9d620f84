import ArgumentParser
import DIOSystem
import DIOTorture
import Foundation
import Glibc

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-run a saved operation log (the ops and zero-range-dirty-unwritten scenarios) from an empty file and judge it again.",
        discussion: """
        The same log gives the same operations and data; the outcome is printed as the failing \
        operation (or PASS). --shrink reduces a failing log by delta debugging to a short one \
        that still fails the same way and writes it beside the log (or to -o). \
        Exit status: 0 PASS, 1 FAIL, 2 usage error, 3 the log could not run.
        """)

    @Argument(help: "The operation log (.opslog).")
    var log: String

    @Option(help: "Replay on a scratch filesystem made for it (see `dio-torture list`; default: ext4 when root).")
    var fs: ScratchKind?

    @Option(help: "Replay in a fresh subdirectory of this mounted directory instead.")
    var dir: String?

    @Flag(help: "Shrink a failing log to a short one that still fails the same way.")
    var shrink = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Where the shrunk log goes (default: LOG.min.opslog; - for standard output).", valueName: "file"))
    var output: String?

    @Option(help: "Watchdog: seconds without a completion before an io_uring operation is a HANG.")
    var timeout: Int = 10

    @Flag(name: .customLong("self-test-corruption"), help: ArgumentHelp("Harness self-test: flip a byte of every completed read.", visibility: .hidden))
    var selfTestCorruption = false

    func validate() throws {
        if fs != nil && dir != nil { throw ValidationError("--fs and --dir are exclusive") }
    }

    func run() throws {
        guard let data = FileManager.default.contents(atPath: log) else { throw UsageError("\(log): cannot read") }
        let parsed: OperationLog
        do { parsed = try OperationLog(text: String(decoding: data, as: UTF8.self), file: log) } catch { throw UsageError("\(error)") }
        InterruptCleanup.install()
        let body = { (directory: String) throws -> Int32 in
            let outcome = try OperationReplay.run(parsed, in: directory, timeout: .seconds(timeout), corruptReads: selfTestCorruption)
            print("replay \(log): \(outcome.failure == nil ? "PASS" : "FAIL at " + outcome.signature); "
                  + "\(outcome.executed) of \(parsed.operations.count) operations, \(outcome.readsJudged) reads judged")
            guard let failure = outcome.failure else { return 0 }
            if let note = failure.detail.note { print("  \(note)") }
            if shrink {
                let (shrunk, replays) = try OperationReplay.shrink(parsed, failing: failure, in: directory, timeout: .seconds(timeout),
                                                                   corruptReads: selfTestCorruption)
                let path = output ?? log.replacingOccurrences(of: ".opslog", with: "") + ".min.opslog"
                print("shrunk to \(shrunk.operations.count) of \(parsed.operations.count) operations in \(replays) replays: \(path == "-" ? "" : path)")
                if path == "-" {
                    print(shrunk.text, terminator: "")
                } else {
                    do { try shrunk.text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
                        throw UsageError("cannot write \(path): \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
                    }
                }
            }
            return 1
        }
        let status: Int32
        do {
            let (targets, note) = try TargetSpec.choose(directory: dir, filesystems: fs.map { [$0] }, defaults: [.ext4])
            if let note { printError("dio-torture replay: \(note)\n") }
            status = try targets[0].withFreshDirectory(body)
        } catch let error as RunRequest.Invalid {
            throw UsageError(error.description)
        } catch let error as TargetError {
            printError("dio-torture replay: \(error)\n")
            throw ExitCode(3)
        }
        throw ExitCode(status)
    }
}
