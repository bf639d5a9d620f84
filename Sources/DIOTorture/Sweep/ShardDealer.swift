import DIOSystem
import HeapModule

/// Deals a sweep's units to its N shards so that the shards take about the same time: each
/// unit, in the matrix's one fixed order, goes to the shard with the least weight so far (on a
/// tie, the lowest). Every machine of a sweep deals the whole matrix the same way, in integers,
/// so the shards are disjoint and cover it without talking to each other. Dealing every N-th
/// unit instead follows the matrix's own period: one shard kept the costliest patterns and took
/// half as long again as the average.
struct ShardDealer {
    private struct Load: Comparable {
        var weight: Int
        var shard: Int
        static func < (left: Load, right: Load) -> Bool { (left.weight, left.shard) < (right.weight, right.shard) }
    }

    private var loads: Heap<Load>

    init(count: Int) { loads = Heap((0..<count).map { Load(weight: 0, shard: $0) }) }

    /// The 0-based shard `spec` goes to.
    mutating func deal(_ spec: CaseSpec) -> Int {
        var least = loads.removeMin()
        least.weight += UnitWeight.of(spec)
        loads.insert(least)
        return least.shard
    }
}

/// A unit's expected cost in microseconds, from its pattern's set-up, its queue depth and the
/// pages it transfers: the shape of the per-pattern fits `sweep --estimate` measures. Only the
/// ratios matter (they balance shards); the estimate reports the balance they give.
enum UnitWeight {
    /// A case's layout, process share and record, whatever its pattern.
    static let perCase = 5_000
    /// A step scenario's case (no pattern), which runs its own sequence of operations.
    static let stepCase = 300_000

    static func of(_ spec: CaseSpec) -> Int {
        guard let pattern = spec.pattern else { return stepCase }
        let pages = (spec.read?.length ?? spec.write?.length ?? 0).roundedUp(to: pageSize) / pageSize
        let buffers = spec.read?.queueDepth ?? 1
        return switch pattern.traits.setUpCost {
        case .anonymousPages: perCase + buffers * (1_000 + 150 * pages)
        case .mapping: perCase + buffers * (20_000 + 700 * pages)
        // Buffers in flight together fault one after another, unless submitted async.
        case .delayPerPage: perCase + buffers * 15_000 + (spec.path?.async == true ? 1 : buffers) * 12_000 * pages
        }
    }
}
