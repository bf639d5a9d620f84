import DIOSystem

/// The MariaDB buffer: only its first page faulted in when the read is submitted.
struct FirstPageOnly: BufferPattern {
    static let name = "first-page-only"
    static let summary = "anonymous buffer, only the first page touched (the MariaDB buffer)"
    static let traits = PatternTraits()

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        try .anonymous(context) { $0 == 0 }
    }

    static let reproducerSource: String? = anonymousReproducerSource(touch: "p == 0")
}

extension FaultPattern {
    public static let firstPageOnly = FaultPattern(FirstPageOnly.self)
}
