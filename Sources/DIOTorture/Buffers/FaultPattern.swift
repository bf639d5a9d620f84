import DIOSystem

/// How the pages of a read buffer are (not) faulted in when the read is submitted.
public enum FaultPattern: String, CaseIterable, Codable, Sendable {
    case allResident = "all-resident"
    case firstPageOnly = "first-page-only"
    case noneResident = "none-resident"
    case everyOtherPage = "every-other-page"
    case madvDontneedAfterTouch = "madv-dontneed-after-touch"
    case coldFileMmap = "cold-file-mmap"
    case sameFileMmap = "same-file-mmap"
    case sameRangeMmap = "same-range-mmap"
    case protNoneHole = "prot-none-hole"
    case uffd
    case thp
    case uffdNeverResolved = "uffd-never-resolved"

    public var summary: String {
        switch self {
        case .allResident: "anonymous buffer, every page touched (the control)"
        case .firstPageOnly: "anonymous buffer, only the first page touched (the MariaDB buffer)"
        case .noneResident: "anonymous buffer, no page touched"
        case .everyOtherPage: "anonymous buffer, even pages touched, odd pages not"
        case .madvDontneedAfterTouch: "every page touched, then the second half dropped with MADV_DONTNEED"
        case .coldFileMmap: "shared mapping of another file whose pages were dropped from the cache"
        case .sameFileMmap: "shared mapping of another range of the file being read, not cached"
        case .sameRangeMmap: "shared mapping of the very range being read, not cached (deadlock class)"
        case .protNoneHole: "every page touched but one PROT_NONE page in the middle"
        case .uffd: "userfaultfd-registered buffer; a thread resolves each fault after a delay"
        case .thp: "straddles a touched 2 MiB transparent huge page and an untouched one"
        case .uffdNeverResolved: "userfaultfd-registered buffer whose faults nobody resolves: every read HANGs (the watchdog's self-test; not in the defaults)"
        }
    }
}

/// What the buffer holds before the read, per page: the residency the pattern promises, and the
/// content that "unfilled" means.
public struct PagePlan: Sendable, Equatable {
    public var resident: Bool
    public var prior: PriorContent
}

extension Array where Element == Bool {
    /// Residency drawn as one character a page: '#' resident, '.' not.
    public var residencyMap: String { String(map { $0 ? "#" : "." }) }
}
