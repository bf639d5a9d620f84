import DIOSystem

/// A buffer set up in a fault pattern with the residency mincore found once it was made.
struct ProvedBuffer {
    var buffer: PatternBuffer
    var found: [Bool]
    /// The planned residency (and for thp its huge page) held.
    var held: Bool

    static let attempts = 3

    /// `count` buffers of `pattern`, their residency proved; buffers that missed their plan
    /// (a page was read back in meanwhile) are all set up again, up to `attempts` times. Returns
    /// the last set and how many times it was set up again.
    static func make(_ pattern: FaultPattern, context: BufferContext, count: Int) throws -> (buffers: [ProvedBuffer], retries: Int) {
        try PhaseClock.measure(.buffers) { try makeProved(pattern, context: context, count: count) }
    }

    private static func makeProved(_ pattern: FaultPattern, context: BufferContext, count: Int) throws -> (buffers: [ProvedBuffer], retries: Int) {
        var proved: [ProvedBuffer] = []
        for attempt in 0..<attempts {
            proved = []
            proved = try makeOnce(pattern, context: context, count: count)
            if proved.allSatisfy(\.held) { return (proved, attempt) }
        }
        return (proved, attempts - 1)
    }

    private static func makeOnce(_ pattern: FaultPattern, context: BufferContext, count: Int) throws -> [ProvedBuffer] {
        let buffers: [PatternBuffer]
        do {
            buffers = try (0..<count).map { _ in try PatternBuffer(pattern, context: context) }
        } catch let error as BufferSetupError where error.isUnsupported {
            throw CaseStop.unsupported(error.description)
        }
        return try buffers.map { buffer in
            let found = try buffer.foundResidency()
            return ProvedBuffer(buffer: buffer, found: found, held: buffer.holdsPlan(found: found))
        }
    }
}
