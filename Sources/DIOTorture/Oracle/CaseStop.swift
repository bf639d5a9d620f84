import DIOSystem

/// A case that ends before its transfers are judged, and the verdict that ending gets. Cases say
/// why they stop; which verdict that is stays here.
struct CaseStop: Error {
    let verdict: Verdict
    let reason: String

    private init(_ verdict: Verdict, _ reason: String) {
        self.verdict = verdict
        self.reason = reason
    }

    /// What the case needs is not here (a filesystem feature, a kernel interface, a tool, root):
    /// SKIP, which says nothing about the kernel's promises.
    static func unsupported(_ reason: String) -> CaseStop { CaseStop(.skip, reason) }

    /// The case needs a shared mapping of a file that the filesystem does not make: SKIP.
    static func unmappable(_ filesystem: String, _ refused: SharedMappingRefused) -> CaseStop {
        CaseStop(.skip, "\(filesystem): \(refused); the case needs one")
    }

    /// The harness itself failed: BROKEN, which fails the run without blaming the kernel.
    static func harness(_ reason: String) -> CaseStop { CaseStop(.broken, "harness: \(reason)") }

    /// No layout method could lay the file out as planned: INCONCLUSIVE, nothing read would prove anything.
    static func unlaidOut(refused: [String]) -> CaseStop {
        CaseStop(.inconclusive, "no layout method works here: \(refused.joined(separator: "; "))")
    }

}
