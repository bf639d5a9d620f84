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
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw UsageError("\(path): no such file or directory") }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.filter { $0.hasSuffix(".json") }.sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        let shards = try files.map { file -> (file: String, report: RunReport) in
            guard let data = FileManager.default.contents(atPath: file), let report = try? RunReport.decode(data) else {
                throw UsageError("\(file): not a dio-torture JSON report")
            }
            return (file, report)
        }
        let merged: ShardMerge
        do { merged = try ShardMerge(shards) } catch let error as SweepError { throw UsageError(error.description) }
        if !merged.missingShards.isEmpty {
            printError("dio-torture merge: shard(s) \(merged.missingShards.map(String.init).joined(separator: ", ")) of \(merged.report.sweep!.file) missing; the merged report is incomplete\n")
        }
        try outputs.emit(merged.report)
        throw ExitCode(merged.report.complete ? merged.report.exitCode : max(1, merged.report.exitCode))
    }
}
