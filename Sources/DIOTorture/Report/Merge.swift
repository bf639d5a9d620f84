import DIOSystem
import Foundation

/// Joins the shards of one sweep into one report.
public struct ShardMerge: Sendable {
    public var report: RunReport
    /// Shards of the sweep that were not given: the merged report is incomplete without them.
    public var missingShards: [Int]

    /// Reads the reports at `paths`, each a report or a directory of them (every *.json in it,
    /// in name order), and joins them.
    public init(reading paths: [String]) throws {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw SweepError("\(path): no such file or directory") }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.filter { $0.hasSuffix(".json") }.sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        try self.init(try files.map { (file: $0, report: try RunReport.read($0)) })
    }

    public init(_ shards: [(file: String, report: RunReport)]) throws {
        guard let first = shards.first else { throw SweepError("no reports to merge") }
        guard let sweep = first.report.sweep else { throw SweepError("\(first.file): not a sweep shard (no 'sweep' record)") }
        var seen: [Int: String] = [:]
        for (file, report) in shards {
            guard let record = report.sweep else { throw SweepError("\(file): not a sweep shard (no 'sweep' record)") }
            guard record.digest == sweep.digest, record.shards == sweep.shards else {
                throw SweepError("\(file) is shard \(record.shard)/\(record.shards) of \(record.file) (\(record.digest)), not of \(sweep.file) as split in \(first.file) (\(sweep.shard)/\(sweep.shards), \(sweep.digest))")
            }
            if let other = seen[record.shard] { throw SweepError("\(file) and \(other) are both shard \(record.shard)/\(record.shards)") }
            seen[record.shard] = file
        }
        missingShards = (1...sweep.shards).filter { seen[$0] == nil }
        let reports = shards.map(\.report).sorted { $0.sweep!.shard < $1.sweep!.shard }
        func key(_ record: CaseRecord) -> [String] { [record.kernel, TextReport.filesystemLabel(record.filesystem), record.id] }
        let cases = reports.flatMap(\.cases).sorted { key($0).lexicographicallyPrecedes(key($1)) }
        var guests: [GuestRecord] = []
        for guest in reports.flatMap({ $0.guests ?? [] }) where !guests.contains(where: { $0.release == guest.release }) {
            guests.append(guest)
        }
        report = RunReport(startedAt: reports.map(\.startedAt).min()!, hostKernel: first.report.hostKernel, seed: first.report.seed,
                           iterations: first.report.iterations,
                           complete: missingShards.isEmpty && reports.allSatisfy(\.complete),
                           durationSeconds: reports.map(\.durationSeconds).max()!, cases: cases,
                           guests: reports.contains { $0.guests != nil } ? guests : nil,
                           kernelLogUnavailable: reports.compactMap(\.kernelLogUnavailable).first,
                           sweep: SweepRecord(name: sweep.name, file: sweep.file, digest: sweep.digest, shard: 1, shards: 1,
                                              units: reports.reduce(0) { $0 + $1.sweep!.units }, totalUnits: sweep.totalUnits))
    }
}
