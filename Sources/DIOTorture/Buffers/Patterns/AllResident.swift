import DIOSystem

/// Every page touched: the control, and the only pattern io_uring's registered buffers keep.
struct AllResident: BufferPattern {
    static let name = "all-resident"
    static let summary = "anonymous buffer, every page touched (the control)"
    static let traits = PatternTraits(residentBeforeRead: true)

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        try .anonymous(context) { _ in true }
    }

    static let reproducerSource: String? = anonymousReproducerSource(touch: "1")
}

extension FaultPattern {
    public static let allResident = FaultPattern(AllResident.self)
}
