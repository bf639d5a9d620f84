import DIOSystem
import Glibc

/// One cell of a sweep's matrix: a case, on a filesystem variant, with a seed, in a kernel.
public struct SweepUnit: Sendable {
    /// Index into the sweep's kernels; nil when the sweep lists none (the running kernel).
    public var kernel: Int?
    /// Index into the sweep's filesystems.
    public var filesystem: Int
    public var seed: UInt64
    public var spec: CaseSpec
}

/// Shard K of N (1-based): the units `ShardDealer` deals to the K-th, so that the shards take
/// about the same time.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public static let whole = Shard(index: 1, count: 1)

    /// "K/N".
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1, (1...count).contains(index) else { return nil }
        self.init(index: index, count: count)
    }

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    public var description: String { "\(index)/\(count)" }
}

extension SweepFile {
    /// `shard`'s units of the matrix in its one fixed order (kernel, seed, filesystem, case),
    /// excluded units left out, and how many units the whole matrix holds. Only the shard's units
    /// are kept: a lab matrix of hundreds of thousands would otherwise be held whole in memory.
    /// `kernelReleases` names the sweep's kernels for exclude rules.
    public func units(kernelReleases: [String], shard: Shard = .whole) -> (units: [SweepUnit], total: Int) {
        // A read size can coincide with the whole file (8K of a 2x4K file): one case, not two.
        var ids = Set<String>()
        let cases = scenarios.compactMap(scenario(named:)).flatMap { $0.cases(selection) }.filter { ids.insert($0.id).inserted }
        let kernelIndices: [Int?] = kernels.isEmpty ? [nil] : kernels.indices.map { $0 }
        var units: [SweepUnit] = []
        var total = 0
        var dealer = ShardDealer(count: shard.count)
        for kernel in kernelIndices {
            for seed in seeds {
                for (filesystemIndex, filesystem) in filesystems.enumerated() {
                    for var spec in cases {
                        if seeds.count > 1 { spec.seedTag = seed }
                        let unit = SweepUnit(kernel: kernel, filesystem: filesystemIndex, seed: seed, spec: spec)
                        if isExcluded(unit, filesystem: filesystem, release: kernel.map { kernelReleases[$0] } ?? Kernel.release) { continue }
                        if dealer.deal(spec) == shard.index - 1 { units.append(unit) }
                        total += 1
                    }
                }
            }
        }
        return (units, total)
    }

    /// The units of one kernel (or of the running one) as batches the runner takes: one per
    /// filesystem variant and seed, in the matrix's order.
    public func batches(_ units: [SweepUnit], artifactDirectory: String? = nil) -> [RunBatch] {
        var batches: [RunBatch] = []
        var index: [String: Int] = [:]
        for unit in units {
            let key = "\(unit.filesystem)/\(unit.seed)"
            if let position = index[key] {
                batches[position].cases.append(unit.spec)
            } else {
                index[key] = batches.count
                batches.append(RunBatch(target: .scratch(filesystems[unit.filesystem]), cases: [unit.spec],
                                        options: RunOptions(iterations: iterations, seed: unit.seed, timeout: .seconds(readTimeout),
                                                            artifactDirectory: artifactDirectory)))
            }
        }
        return batches
    }

    func isExcluded(_ unit: SweepUnit, filesystem: ScratchOptions, release: String) -> Bool {
        let values: [String: [String]] = [
            "kernel": [release],
            "filesystem": [filesystem.kind.name, filesystem.label],
            "scenario": [unit.spec.scenario],
            "pattern": unit.spec.pattern.map { [$0.rawValue] } ?? [],
            "path": unit.spec.path.map { [$0.description] } ?? [],
            "layout": unit.spec.layout.map { [$0.description] } ?? [],
            "variant": unit.spec.variant.map { [$0] } ?? [],
            "case": [unit.spec.id],
        ]
        return exclude.contains { rule in
            rule.fields.allSatisfy { key, pattern in values[key]!.contains { fnmatch(pattern, $0, 0) == 0 } }
        }
    }
}
