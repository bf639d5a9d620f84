import DIOSystem

/// Faults nobody resolves: every read into it hangs by design. The watchdog's self-test, never
/// in the defaults.
struct UserfaultNeverResolved: BufferPattern {
    static let name = "uffd-never-resolved"
    static let summary = "userfaultfd-registered buffer whose faults nobody resolves: every read HANGs (the watchdog's self-test; not in the defaults)"
    static let traits = PatternTraits(inDefaultCatalogue: false, setUpCost: .delayPerPage)

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        try Userfault.registered(context, delay: nil)
    }
}

extension FaultPattern {
    public static let uffdNeverResolved = FaultPattern(UserfaultNeverResolved.self)
}
