import DIOSystem

/// Every page missing and registered with userfaultfd: a thread of ours fills each fault after
/// a delay, so the read waits in the fault path for as long as we choose.
struct Userfault: BufferPattern {
    static let name = "uffd"
    static let summary = "userfaultfd-registered buffer; a thread resolves each fault after a delay"
    static let traits = PatternTraits()

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        try registered(context, delay: context.userfaultDelay)
    }

    /// The buffer with a resolver thread that fills faults with the poison after `delay`, or
    /// never (nil).
    static func registered(_ context: BufferContext, delay: Duration?) throws -> PreparedBuffer {
        let region = try MappedRegion(anonymousLength: context.pages * pageSize)
        try? region.advise(pageRange: 0..<context.pages, .noHugePage)
        let resolver: UserfaultResolver
        do {
            resolver = try UserfaultResolver(region: region, fill: context.poison, delay: delay)
        } catch let error as Errno {
            throw BufferSetupError(isUnsupported: true, description: "userfaultfd unavailable: \(error.symbol)")
        }
        var buffer = PreparedBuffer(region: region, plan: Array(repeating: PagePlan(resident: false, prior: .fill(context.poison)),
                                                                count: context.pages))
        buffer.release = { resolver.stop() }
        return buffer
    }
}

extension FaultPattern {
    public static let uffd = FaultPattern(Userfault.self)
}
