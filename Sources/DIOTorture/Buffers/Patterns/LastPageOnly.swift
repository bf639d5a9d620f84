/// Only the last page faulted in: the read faults before its first byte, so a NOWAIT attempt
/// that gives up at the first fault has nothing to return and must be retried, never reported.
struct LastPageOnly: BufferPattern {
    static let name = "last-page-only"
    static let summary = "anonymous buffer, only the last page touched (the first fault is at byte 0)"
    static let traits = PatternTraits()

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        try .anonymous(context) { $0 == context.pages - 1 }
    }

    static let reproducerSource: String? = anonymousReproducerSource(touch: "p == pages - 1")
}
