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

    public init(iterations: Int, seed: UInt64, timeout: Duration = .seconds(10), injectCorruption: Bool = false,
                artifactDirectory: String? = nil, dropCaches: Bool = false) {
        self.iterations = iterations
        self.seed = seed
        self.timeout = timeout
        self.injectCorruption = injectCorruption
        self.artifactDirectory = artifactDirectory
        self.dropCaches = dropCaches
    }
}

/// Seeds: deterministic from the run seed and a case's id, so any failure can be replayed.
public enum Seeds {
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// FNV-1a: Swift's Hasher is randomised per process, a replay needs the same value every time.
    public static func stableHash(_ text: String) -> UInt64 {
        text.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
    }

    public static func forCase(run seed: UInt64, id: String) -> UInt64 { mix(seed ^ stableHash(id)) }
    public static func forIteration(case seed: UInt64, _ iteration: Int) -> UInt64 { mix(seed &+ UInt64(iteration)) }
}
