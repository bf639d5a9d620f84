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
