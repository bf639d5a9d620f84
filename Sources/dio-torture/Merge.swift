import ArgumentParser
import DIOTorture
import Foundation
import Glibc

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join the JSON reports of a sweep's shards into one report.",
        discussion: """
        Each argument is a report or a directory of them (every *.json inside). They must be \
        shards of the same sweep file; a missing shard leaves the merged report incomplete. \
        Exit status as for `run` over the merged cases; 2 for unreadable or mismatched reports.
        """)

    @Argument(help: "Shard reports, or directories holding them.")
    var paths: [String]

    @OptionGroup var outputs: ReportOutputs

    func run() throws {
        let merged: ShardMerge
        do { merged = try ShardMerge(reading: paths) } catch let error as SweepError { throw UsageError(error.description) }
        if !merged.missingShards.isEmpty {
            printError("dio-torture merge: shard(s) \(merged.missingShards.map(String.init).joined(separator: ", ")) of \(merged.report.sweep!.file) missing; the merged report is incomplete\n")
        }
        let report = try outputs.emit(merged.report)
        throw ExitCode(report.complete ? report.exitCode : max(1, report.exitCode))
    }
}
