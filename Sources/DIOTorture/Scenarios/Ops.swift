import DIOSystem

/// fsx's idea on one file: a seeded random sequence of buffered, O_DIRECT, io_uring (direct
/// and buffered) and mapped reads and writes, every fallocate mode, truncate, fsync, fdatasync,
/// sync_file_range and cache drops; every read judged against the model on its first
/// completion. The log is saved; `dio-torture replay` re-runs it and shrinks a failing one.
public struct Ops: Scenario {
    public let name = "ops"
    public let summary = "fsx-style seeded operation sequences (buffered, direct, io_uring, mmap, fallocate, truncate, syncs), every read judged; replayable log"

    /// Operations per iteration: the quick suite's 20 iterations make 10,000 per filesystem.
    public static let operationsPerIteration = 500
    static let maxFileSize = 512 << 10
    static let maxLength = 64 << 10

    public init() {}

    public func cases(_ selection: Selection) -> [CaseSpec] { [CaseSpec(scenario: name, variant: "mixed")] }

    public func run(_ spec: CaseSpec, in area: WorkArea, options: RunOptions) -> CaseRecord {
        OperationCase(spec: spec, area: area, options: options).run(maxFileSize: Self.maxFileSize) { seed in
            OperationGenerator.mixed(seed: seed, count: options.iterations * Self.operationsPerIteration,
                                     maxFileSize: Self.maxFileSize, maxLength: Self.maxLength)
        }
    }
}
