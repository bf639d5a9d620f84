import DIOSystem
import Foundation

/// How long a sweep takes on this machine, whole and in N shards, projected from a sample of its
/// own units run here, drawn at random (every k-th unit would follow the matrix's own period and
/// keep picking the same layouts or depths) and profiled.
///
/// A case's time is dominated by its fault pattern, its queue depth (buffers set up per
/// iteration) and the pages it transfers (a userfaultfd buffer pays a delay per page: a 516 KiB
/// read takes seconds where a 16 KiB one takes milliseconds), so the sample fits, per pattern
/// and depth, seconds = a + b x pages. Each unit of the sweep
/// is charged its fit and an equal share of the process and record overhead, and each shard's
/// filesystems (one per filesystem variant and seed it holds) the sample's mean mkfs and mount.
/// A shard's projection sums its own units, as `--shard K/N` picks them.
public struct SweepEstimate: Sendable {
    public var units: [SweepUnit]
    public var model: CostModel
    public var sample: Sample

    public struct Sample: Sendable {
        public var units: Int
        public var wallSeconds: Double
        public var setupSecondsPerBatch: Double
        /// Process starts, records and the rest, per unit.
        public var overheadSecondsPerUnit: Double
    }

    /// Units the sample takes by default: a few case times dominate a shard (a userfaultfd buffer
    /// of many pages takes seconds), so a small sample misjudges them.
    public static let defaultSampleSize = 400

    /// Measures `plan` (the whole sweep) on `sampleSize` of its units with `run`, which runs
    /// batches as `sweep` would.
    public static func measure(_ plan: ShardPlan, sampleSize: Int = defaultSampleSize, artifactDirectory: String?,
                               run: ([RunBatch]) -> RunReport) throws -> SweepEstimate {
        guard plan.kernels.isEmpty else {
            throw SweepError("\(plan.sweep.path): its units run in \(plan.kernels.count) kernel(s) under QEMU; --estimate measures units run here")
        }
        let (all, _) = plan.sweep.units(kernelReleases: [])
        let batches = plan.sweep.batches(sampled(all, size: sampleSize), artifactDirectory: artifactDirectory).map { batch -> RunBatch in
            var batch = batch
            batch.options.profile = true
            return batch
        }
        let report = run(batches)
        let caseSeconds = report.cases.reduce(0) { $0 + $1.durationSeconds }
        let setup = report.profile?[Phase.target.rawValue] ?? 0
        let sample = Sample(units: report.cases.count, wallSeconds: report.durationSeconds, setupSecondsPerBatch: setup / Double(max(1, batches.count)),
                            overheadSecondsPerUnit: max(0, report.durationSeconds - caseSeconds - setup) / Double(max(1, report.cases.count)))
        return SweepEstimate(units: all, model: CostModel(fitting: report.cases), sample: sample)
    }

    /// `size` of `units` (all when there are no more), drawn without replacement with a fixed
    /// seed, in matrix order.
    static func sampled(_ units: [SweepUnit], size: Int) -> [SweepUnit] {
        guard units.count > size else { return units }
        var random = Xorshift64(state: 0x5EED_E571_4A7E)
        var chosen = Set<Int>()
        while chosen.count < size { chosen.insert(Int(random.next() % UInt64(units.count))) }
        return chosen.sorted().map { units[$0] }
    }

    /// Each shard's projected wall time when the sweep is cut into `count` shards.
    public func shardSeconds(count: Int) -> [Double] {
        var seconds = [Double](repeating: 0, count: count)
        var batches = [Set<String>](repeating: [], count: count)
        for (index, unit) in units.enumerated() {
            seconds[index % count] += model.seconds(unit.spec) + sample.overheadSecondsPerUnit
            batches[index % count].insert("\(unit.filesystem)/\(unit.seed)")
        }
        return zip(seconds, batches).map { $0 + Double($1.count) * sample.setupSecondsPerBatch }
    }

    /// What `sweep --estimate` prints; with `shard`, that shard's own projection too.
    public func text(name: String, shards: [Int], shard: Shard?) -> String {
        let filesystems = Set(units.map { "\($0.filesystem)/\($0.seed)" }).count
        var lines = ["\(name): \(units.count) units in \(filesystems) filesystems made (one per filesystem variant and seed).",
                     "Measured on \(sample.units) of them (\(sample.units == units.count ? "all" : "drawn at random")) in \(String(format1: sample.wallSeconds)) s: "
                         + "mkfs and mount \(String(format: "%.2f", sample.setupSecondsPerBatch)) s per filesystem, "
                         + "\(String(format: "%.3f", sample.overheadSecondsPerUnit)) s per unit for processes and records; per case, by pattern:"]
        lines += model.lines
        lines.append("Projected wall time on machines like this one, each shard on its own:")
        for count in shards {
            let each = shardSeconds(count: count)
            let slowest = each.max() ?? 0, mean = each.reduce(0, +) / Double(max(1, each.count))
            lines.append("  \(String(count).padding(toLength: 6)) shard\(count == 1 ? " " : "s") " + (count == 1 ? Self.duration(slowest)
                : "\(Self.duration(slowest)) for the slowest, \(Self.duration(mean)) on average"))
        }
        if let shard {
            lines.append("  shard \(shard): \(Self.duration(shardSeconds(count: shard.count)[shard.index - 1]))")
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

/// Seconds of a case as a straight line in the pages it transfers, fitted per fault pattern and
/// queue depth (a step scenario's cases: per scenario) by least squares over a profiled sample.
public struct CostModel: Sendable {
    struct Line: Sendable {
        var fixed: Double
        var perPage: Double
        var samples: Int
    }

    var fits: [String: Line]
    var overall: Line

    init(fitting records: [CaseRecord]) {
        var points: [String: [(Double, Double)]] = [:]
        for record in records {
            let pages = Double(record.read?.length ?? record.write?.length ?? 0) / Double(pageSize)
            points[Self.key(pattern: record.pattern, scenario: record.scenario, depth: record.read?.queueDepth ?? 1), default: []]
                .append((pages, record.durationSeconds))
        }
        fits = points.mapValues(Self.fit)
        overall = Self.fit(points.values.flatMap { $0 })
    }

    /// Least squares, the slope kept non-negative; one abscissa only: the mean, flat.
    static func fit(_ points: [(x: Double, y: Double)]) -> Line {
        let count = Double(max(1, points.count))
        let meanX = points.reduce(0) { $0 + $1.x } / count, meanY = points.reduce(0) { $0 + $1.y } / count
        let spread = points.reduce(0) { $0 + ($1.x - meanX) * ($1.x - meanX) }
        let slope = spread > 0 ? max(0, points.reduce(0) { $0 + ($1.x - meanX) * ($1.y - meanY) } / spread) : 0
        return Line(fixed: max(0, meanY - slope * meanX), perPage: slope, samples: points.count)
    }

    func seconds(_ spec: CaseSpec) -> Double {
        let pages = Double(spec.read?.length ?? spec.write?.length ?? 0) / Double(pageSize)
        let line = fits[Self.key(pattern: spec.pattern, scenario: spec.scenario, depth: spec.read?.queueDepth ?? 1)] ?? overall
        return line.fixed + line.perPage * pages
    }

    /// A pattern pays its set-up once per buffer, and a queue depth of N sets up N buffers: the
    /// fits are per pattern and depth.
    static func key(pattern: FaultPattern?, scenario: String, depth: Int) -> String {
        (pattern?.rawValue ?? scenario) + (depth > 1 ? " qd\(depth)" : "")
    }

    var lines: [String] {
        fits.sorted { $0.key < $1.key }.map { key, line in
            "  \(key.padding(toLength: 28)) \(String(format: "%.3f s + %.4f s per page", line.fixed, line.perPage))  (\(line.samples) in the sample)"
        } + ["  any other: \(String(format: "%.3f s + %.4f s per page", overall.fixed, overall.perPage))"]
    }
}
