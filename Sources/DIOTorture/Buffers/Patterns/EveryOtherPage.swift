import DIOSystem

/// Resident and missing pages alternate, so a read meets a fault at every other page.
struct EveryOtherPage: BufferPattern {
    static let name = "every-other-page"
    static let summary = "anonymous buffer, even pages touched, odd pages not"
    static let traits = PatternTraits()

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        try .anonymous(context) { $0 % 2 == 0 }
    }

    static let reproducerSource: String? = anonymousReproducerSource(touch: "p % 2 == 0")
}

extension FaultPattern {
    public static let everyOtherPage = FaultPattern(EveryOtherPage.self)
}
