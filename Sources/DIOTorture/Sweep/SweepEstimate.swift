import DIOSystem
import Foundation

/// How long a sweep takes on this machine, whole and in N shards, projected from a sample of its
/// own units run here and profiled, with as many targets at once as the shards will run
/// (`jobs`): what contention does to a case is in its measured time.
///
/// A case's time is dominated by its fault pattern, its queue depth (buffers set up per
/// iteration) and the pages it transfers (a userfaultfd buffer pays a delay per page: a 516 KiB
/// read takes seconds where a 16 KiB one takes milliseconds), so the sample fits, per class of
/// cost (`CostModel.key`), seconds = a + b x pages. The sample is drawn at random within each
/// class, as many of each as the size allows: drawn from the whole, the rare classes that cost
/// most (a userfaultfd buffer at depth 8) got a handful of units and misjudged a shard by half.
/// Each unit of the sweep is charged its fit and an equal
/// share of the process and record overhead, and each filesystem a shard makes (one per
/// filesystem variant and seed it holds) the sample's mean mkfs and mount. A shard's units are
/// the ones `ShardDealer` deals it; its projection runs their filesystems `jobs` at a time in
/// order, each as soon as one of the runner's threads is free, as the runner does.
public struct SweepEstimate: Sendable {
    public var units: [SweepUnit]
    /// The kind of each of the sweep's filesystems, by index.
    public var kinds: [String]
    public var model: CostModel
    public var sample: Sample

    public struct Sample: Sendable {
        public var units: Int
        public var wallSeconds: Double
        public var setupSecondsPerBatch: Double
        /// Process starts, records and the rest, per unit.
        public var overheadSecondsPerUnit: Double
        /// Targets run at once, in the sample and in the projection.
        public var jobs: Int
    }

    /// Units the sample takes by default: a few case times dominate a shard (a userfaultfd buffer
    /// of many pages takes seconds), so a small sample misjudges them.
    public static let defaultSampleSize = 400

    /// Measures `plan` (the whole sweep) on `sampleSize` of its units with `run`, which runs
    /// batches as `sweep --jobs jobs` would.
    public static func measure(_ plan: ShardPlan, sampleSize: Int = defaultSampleSize, jobs: Int, artifactDirectory: String?,
                               run: ([RunBatch]) -> RunReport) throws -> SweepEstimate {
        guard plan.kernels.isEmpty else {
            throw SweepError("\(plan.sweep.path): its units run in \(plan.kernels.count) kernel(s) under QEMU; --estimate measures units run here")
        }
        let (all, _) = plan.sweep.units(kernelReleases: [])
        let kinds = plan.sweep.filesystems.map(\.kind.name)
        let chosen = sampled(all, size: sampleSize) { CostModel.key($0.spec, filesystem: kinds[$0.filesystem]) }
        let batches = plan.sweep.batches(chosen, artifactDirectory: artifactDirectory).map { batch -> RunBatch in
            var batch = batch
            batch.options.profile = true
            return batch
        }
        let report = run(batches)
        let setup = (report.profile?[Phase.target.rawValue] ?? 0) / Double(max(1, batches.count))
        // Each batch's case costs (the report keeps the batches' order), then the overhead.
        var remaining = report.cases[...]
        let caseCosts = batches.map { batch in
            defer { remaining = remaining.dropFirst(batch.cases.count) }
            return zip(batch.cases, remaining).map { CaseCost(seconds: $1.durationSeconds, weight: UnitWeight.of($0)) }
        }
        let sample = Sample(units: report.cases.count, wallSeconds: report.durationSeconds, setupSecondsPerBatch: setup,
                            overheadSecondsPerUnit: overhead(of: caseCosts, setup: setup, wall: report.durationSeconds, threads: jobs),
                            jobs: jobs)
        return SweepEstimate(units: all, kinds: kinds, model: CostModel(fitting: report.cases), sample: sample)
    }

    /// `size` of `units` (all when there are no more), in matrix order: drawn without replacement
    /// with a fixed seed, a class at a time in turn (`key`), until `size` or the classes run out.
    static func sampled(_ units: [SweepUnit], size: Int, key: (SweepUnit) -> String) -> [SweepUnit] {
        guard units.count > size else { return units }
        var classes = Dictionary(grouping: units.indices, by: { key(units[$0]) }).sorted { $0.key < $1.key }.map(\.value)
        var random = Xorshift64(state: 0x5EED_E571_4A7E)
        var chosen: [Int] = []
        while chosen.count < size {
            for index in classes.indices where chosen.count < size && !classes[index].isEmpty {
                classes[index].swapAt(Int(random.next() % UInt64(classes[index].count)), classes[index].count - 1)
                chosen.append(classes[index].removeLast())
            }
        }
        return chosen.sorted().map { units[$0] }
    }

    /// Each shard's projected wall time when the sweep is cut into `count` shards.
    public func shardSeconds(count: Int) -> [Double] {
        var dealer = ShardDealer(count: count)
        // Per shard, its filesystems' units' seconds, in the order the shard first meets them.
        var positions = [[String: Int]](repeating: [:], count: count)
        var batches = [[[CaseCost]]](repeating: [], count: count)
        for unit in units {
            let shard = dealer.deal(unit.spec), key = "\(unit.filesystem)/\(unit.seed)"
            let position = positions[shard][key] ?? {
                positions[shard][key] = batches[shard].count
                batches[shard].append([])
                return batches[shard].count - 1
            }()
            batches[shard][position].append(CaseCost(seconds: model.seconds(unit.spec, filesystem: kinds[unit.filesystem]),
                                                     weight: UnitWeight.of(unit.spec)))
        }
        return batches.map { Self.wallSeconds(of: $0, perUnit: sample.overheadSecondsPerUnit, setup: sample.setupSecondsPerBatch, threads: sample.jobs) }
    }

    /// The sweep's projected case seconds summed per class of cost, costliest first: which axes to
    /// cut when a sweep is too long.
    var classSeconds: [(key: String, seconds: Double, units: Int)] {
        var seconds: [String: Double] = [:], counts: [String: Int] = [:]
        for unit in units {
            let key = CostModel.key(unit.spec, filesystem: kinds[unit.filesystem])
            seconds[key, default: 0] += model.seconds(unit.spec, filesystem: kinds[unit.filesystem])
            counts[key, default: 0] += 1
        }
        return seconds.map { (key: $0.key, seconds: $0.value, units: counts[$0.key]!) }.sorted { $0.seconds > $1.seconds }
    }

    /// A unit's seconds, projected or measured, and the weight the runner orders batches by.
    struct CaseCost {
        var seconds: Double
        var weight: Int
    }

    /// The runner's wall time over batches of units of these costs, each unit charged `perUnit`
    /// more: cut into parts as the runner cuts few batches for its threads, each part made anew
    /// (`setup`), taken in the runner's order (`Runner.takingOrder`) by the first of `threads`
    /// to be free.
    static func wallSeconds(of batches: [[CaseCost]], perUnit: Double, setup: Double, threads: Int) -> Double {
        let partsEach = Runner.partsPerBatch(batches: batches.count, threads: threads)
        let parts = batches.flatMap { units in RunBatch.ranges(cutting: units.count, into: partsEach).map { units[$0] } }
        let order = Runner.takingOrder(weights: parts.map { $0.reduce(0) { $0 + $1.weight } }, threads: threads)
        return wallSeconds(of: order.map { index in
            setup + parts[index].reduce(0) { $0 + $1.seconds } + perUnit * Double(parts[index].count)
        }, threads: threads)
    }

    /// The time per unit outside cases and mkfs (processes, records, the runner): what makes the
    /// runner's schedule of the sample's batches (`wallSeconds`) last as long as the sample did.
    /// With several threads, dividing the threads' idle time by the units would count the last
    /// batch's tail, when one thread has nothing left to take, as overhead.
    static func overhead(of batches: [[CaseCost]], setup: Double, wall: Double, threads: Int) -> Double {
        func scheduled(_ perUnit: Double) -> Double { wallSeconds(of: batches, perUnit: perUnit, setup: setup, threads: threads) }
        var (low, high) = (0.0, wall / Double(max(1, batches.reduce(0) { $0 + $1.count })))
        guard scheduled(low) < wall else { return 0 }
        for _ in 0..<40 {
            let middle = (low + high) / 2
            if scheduled(middle) < wall { low = middle } else { high = middle }
        }
        return low
    }

    /// The runner's wall time over batches of these seconds: each taken in order by the first of
    /// `threads` to be free.
    static func wallSeconds(of batches: [Double], threads: Int) -> Double {
        var free = [Double](repeating: 0, count: max(1, threads))
        for seconds in batches {
            let first = free.indices.min { free[$0] < free[$1] }!
            free[first] += seconds
        }
        return free.max()!
    }

    /// What `sweep --estimate` prints; with `shard`, that shard's own projection too.
    public func text(name: String, shards: [Int], shard: Shard?) -> String {
        let filesystems = Set(units.map { "\($0.filesystem)/\($0.seed)" }).count
        var lines = ["\(name): \(units.count) units in \(filesystems) filesystems made (one per filesystem variant and seed).",
                     "Measured on \(sample.units) of them (\(sample.units == units.count ? "all" : "drawn at random in each class")) in \(String(format1: sample.wallSeconds)) s: "
                         + "mkfs and mount \(String(format: "%.2f", sample.setupSecondsPerBatch)) s per filesystem, "
                         + "\(String(format: "%.3f", sample.overheadSecondsPerUnit)) s per unit for processes and records; per case, by class:"]
        lines += model.lines
        lines.append("Where the case time goes (the classes costing most, of \(Self.duration(classSeconds.reduce(0) { $0 + $1.seconds })) in all):")
        lines += classSeconds.prefix(8).map { share in
            "  \(share.key.padding(toLength: 34)) \(Self.duration(share.seconds).padding(toLength: 14)) \(share.units) units"
        }
        lines.append("Projected wall time on machines like this one, each shard on its own with --jobs \(sample.jobs):")
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

/// Seconds of a case as a straight line in the pages it transfers, fitted per class of cost
/// (`key`) by least squares over a profiled sample.
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
            let key = Self.key(pattern: record.pattern, scenario: record.scenario, depth: record.read?.queueDepth ?? 1, path: record.path,
                               filesystem: record.filesystem.type)
            points[key, default: []].append((pages, record.durationSeconds))
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

    func seconds(_ spec: CaseSpec, filesystem: String) -> Double {
        let pages = Double(spec.read?.length ?? spec.write?.length ?? 0) / Double(pageSize)
        let line = fits[Self.key(spec, filesystem: filesystem)] ?? overall
        return line.fixed + line.perPage * pages
    }

    static func key(_ spec: CaseSpec, filesystem: String) -> String {
        key(pattern: spec.pattern, scenario: spec.scenario, depth: spec.read?.queueDepth ?? 1, path: spec.path, filesystem: filesystem)
    }

    /// A pattern pays its set-up once per buffer, and a queue depth of N sets up N buffers: the
    /// fits are per pattern and depth. Reads in flight together fault their buffers one after
    /// another in the submitting task unless submitted async (each in an io-wq worker, the faults
    /// overlapping): a userfaultfd buffer's delays at depth 8 cost six times as much inline, so a
    /// depth's fit is per submission too. How many delayed faults a read takes is the
    /// filesystem's (btrfs took a seventh of ext4's time over the same 128 userfaultfd pages):
    /// those fits are per filesystem kind as well.
    static func key(pattern: FaultPattern?, scenario: String, depth: Int, path: IOPath?, filesystem: String) -> String {
        guard let pattern else { return scenario }
        return pattern.rawValue + (depth > 1 ? " qd\(depth)" + (path?.async == true ? " async" : "") : "")
            + (pattern.traits.setUpCost == .delayPerPage ? " on \(filesystem)" : "")
    }

    var lines: [String] {
        fits.sorted { $0.key < $1.key }.map { key, line in
            "  \(key.padding(toLength: 34)) \(String(format: "%.3f s + %.4f s per page", line.fixed, line.perPage))  (\(line.samples) in the sample)"
        } + ["  any other: \(String(format: "%.3f s + %.4f s per page", overall.fixed, overall.perPage))"]
    }
}
