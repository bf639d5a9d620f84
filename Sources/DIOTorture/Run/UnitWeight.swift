import DIOSystem

/// A case's expected cost in microseconds, from its pattern's set-up, its queue depth and the
/// pages it transfers: the shape of the per-pattern fits `sweep --estimate` measures. Only the
/// ratios matter: they balance a sweep's shards (`ShardDealer`) and order a run's batches for its
/// threads (`Runner.takingOrder`); the estimate reports the balance they give.
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
