import DIOSystem

/// Every page touched, then the second half dropped: pages that were resident and are not any
/// more (zero-filled again on the next fault).
struct MadvDontneedAfterTouch: BufferPattern {
    static let name = "madv-dontneed-after-touch"
    static let summary = "every page touched, then the second half dropped with MADV_DONTNEED"
    static let traits = PatternTraits()

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        var buffer = try PreparedBuffer.anonymous(context) { _ in true }
        let dropped = context.pages / 2..<context.pages
        try buffer.region.advise(pageRange: dropped, .dontNeed)
        for page in dropped { buffer.plan[page] = PagePlan(resident: false, prior: .zeros) }
        return buffer
    }

    static let reproducerSource: String? = anonymousReproducerSource(touch: "1", then: """
        madvise(base + (long)(pages / 2) * PAGE, (size_t)(pages - pages / 2) * PAGE, MADV_DONTNEED);
        for (int p = pages / 2; p < pages; p++) resident[p] = 0;
        """)
}

extension FaultPattern {
    public static let madvDontneedAfterTouch = FaultPattern(MadvDontneedAfterTouch.self)
}
