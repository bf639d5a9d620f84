import DIOSystem

/// No page faulted in: the read faults in every page it fills.
struct NoneResident: BufferPattern {
    static let name = "none-resident"
    static let summary = "anonymous buffer, no page touched"
    static let traits = PatternTraits()

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        try .anonymous(context) { _ in false }
    }

    static let reproducerSource: String? = anonymousReproducerSource(touch: "0")
}

extension FaultPattern {
    public static let noneResident = FaultPattern(NoneResident.self)
}
