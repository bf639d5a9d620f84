import DIOSystem
import Foundation

/// How long a sweep takes on this machine, whole and in N shards, projected from a sample of its
/// own units run here: every k-th unit (a shard itself, so the mix is the sweep's), profiled.
/// Per unit it charges its scenario's mean case time in the sample and an equal share of what
/// the cases do not hold (processes, records); per batch (a filesystem variant and seed, each
/// made afresh) the sample's mean mkfs and mount.
public struct SweepEstimate: Sendable {
    public var units: Int
    /// Batches of the whole sweep: filesystems made, one per filesystem variant and seed.
    public var batches: Int
    public var unitsPerScenario: [String: Int]
    public var sample: Sample

    public struct Sample: Sendable {
        /// Every how many units one was taken.
        public var every: Int
        public var units: Int
        public var wallSeconds: Double
        public var secondsPerScenario: [String: Double]
        public var setupSecondsPerBatch: Double
        /// Process starts, records and the rest, per unit.
        public var overheadSecondsPerUnit: Double
    }

    /// Units the sample aims at: enough for every common scenario to show, few enough to take
    /// well under a minute.
    public static let sampleSize = 200

    /// Measures `plan` (the whole sweep) with `run`, which runs batches as `sweep` would.
    public static func measure(_ plan: ShardPlan, artifactDirectory: String?, run: ([RunBatch]) -> RunReport) throws -> SweepEstimate {
        guard plan.kernels.isEmpty else {
            throw SweepError("\(plan.sweep.path): its units run in \(plan.kernels.count) kernel(s) under QEMU; --estimate measures units run here")
        }
        let every = max(1, plan.total / sampleSize)
        let (units, _) = plan.sweep.units(kernelReleases: [], shard: Shard(index: 1, count: every))
        let batches = plan.sweep.batches(units, artifactDirectory: artifactDirectory).map { batch -> RunBatch in
            var batch = batch
            batch.options.profile = true
            return batch
        }
        let report = run(batches)
        return SweepEstimate(units: plan.total, batches: Set(plan.units.map { "\($0.filesystem)/\($0.seed)" }).count,
                             unitsPerScenario: plan.units.reduce(into: [:]) { $0[$1.spec.scenario, default: 0] += 1 },
                             sample: Self.sample(report, every: every, batches: batches.count))
    }

    private static func sample(_ report: RunReport, every: Int, batches: Int) -> Sample {
        var seconds: [String: [Double]] = [:]
        for record in report.cases { seconds[record.scenario, default: []].append(record.durationSeconds) }
        let caseSeconds = report.cases.reduce(0) { $0 + $1.durationSeconds }
        let setup = report.profile?[Phase.target.rawValue] ?? 0
        let overhead = max(0, report.durationSeconds - caseSeconds - setup) / Double(max(1, report.cases.count))
        return Sample(every: every, units: report.cases.count, wallSeconds: report.durationSeconds,
                      secondsPerScenario: seconds.mapValues { $0.reduce(0, +) / Double($0.count) },
                      setupSecondsPerBatch: setup / Double(max(1, batches)), overheadSecondsPerUnit: overhead)
    }

    /// The projected wall time of one of `shards` shards, each on a machine like this one.
    public func wallSeconds(shards: Int) -> Double {
        let mean = sample.secondsPerScenario.values.reduce(0, +) / Double(max(1, sample.secondsPerScenario.count))
        let caseSeconds = unitsPerScenario.reduce(0.0) { $0 + Double($1.value) * (sample.secondsPerScenario[$1.key] ?? mean) }
        let unitsInShard = Double(units) / Double(shards)
        let batchesInShard = min(Double(batches), unitsInShard.rounded(.up))
        return caseSeconds / Double(shards) + unitsInShard * sample.overheadSecondsPerUnit + batchesInShard * sample.setupSecondsPerBatch
    }

    /// What `sweep --estimate` prints.
    public func text(name: String, shards: [Int]) -> String {
        var lines = ["\(name): \(units) units in \(batches) filesystems made (one per filesystem variant and seed).",
                     "Measured on \(sample.units) of them (\(sample.every == 1 ? "all" : "every \(sample.every)th unit")) in \(String(format1: sample.wallSeconds)) s: "
                         + "mkfs and mount \(String(format: "%.2f", sample.setupSecondsPerBatch)) s per filesystem, "
                         + "\(String(format: "%.3f", sample.overheadSecondsPerUnit)) s per unit for processes and records, and per case:"]
        for (scenario, seconds) in sample.secondsPerScenario.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(scenario.padding(toLength: 28)) \(String(format: "%8.3f", seconds)) s  x \(unitsPerScenario[scenario] ?? 0) units")
        }
        let missing = unitsPerScenario.keys.filter { sample.secondsPerScenario[$0] == nil }.sorted()
        if !missing.isEmpty { lines.append("  (not in the sample, charged the mean: \(missing.joined(separator: ", ")))") }
        lines.append("Projected wall time on machines like this one:")
        for count in shards {
            lines.append("  \(String(count).padding(toLength: 4)) shard\(count == 1 ? " " : "s") \(Self.duration(wallSeconds(shards: count)))\(count == 1 ? "" : " each")")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total) s" }
        if total < 3600 { return "\(total / 60) min \(total % 60) s" }
        return "\(total / 3600) h \(total % 3600 / 60) min"
    }
}
