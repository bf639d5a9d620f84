import DIOSystem

/// How each case runs.
public struct RunOptions: Codable, Sendable {
    public var iterations: Int
    public var seed: UInt64
    /// The watchdog: a read with no completion after this long is a HANG.
    public var timeout: Duration
    /// Harness self-test: flip one byte of every completed read before it is verified, to prove
    /// that verification and reporting catch corruption end to end. Every judged read must FAIL.
    public var injectCorruption: Bool
    /// Where step scenarios save their operation logs (absolute); nil: not saved.
    public var artifactDirectory: String?
    /// Make caches cold with the machine-wide /proc/sys/vm/drop_caches as well as per file
    /// (posix_fadvise): only when the user asks, since it empties every cache on the machine.
    public var dropCaches = false
    /// Record where each case's time goes (`Phase`), for `run --profile`.
    public var profile = false

    public init(iterations: Int, seed: UInt64, timeout: Duration = .seconds(10), injectCorruption: Bool = false,
                artifactDirectory: String? = nil, dropCaches: Bool = false, profile: Bool = false) {
        self.iterations = iterations
        self.seed = seed
        self.timeout = timeout
        self.injectCorruption = injectCorruption
        self.artifactDirectory = artifactDirectory
        self.dropCaches = dropCaches
        self.profile = profile
    }
}

/// Seeds: deterministic from the run seed and a case's id, so any failure can be replayed.
public enum Seeds {
    public static func forCase(run seed: UInt64, id: String) -> UInt64 { StableHash.mix(seed ^ StableHash.fnv1a(id.utf8)) }
    public static func forIteration(case seed: UInt64, _ iteration: Int) -> UInt64 { StableHash.mix(seed &+ UInt64(iteration)) }
}
