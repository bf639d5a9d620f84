import DIOSystem

/// Which of the file's pages are in the page cache when a buffered read is submitted: a read
/// that finds some cached and some not (io_uring's inline attempt copies what is cached, then
/// must finish the rest) is where a buffered read comes back short.
public enum FileCachePlan: String, Codable, Sendable, CaseIterable {
    case everyOtherPage = "cache-every-other-page"
    case firstPage = "cache-first-page"
    case lastPage = "cache-last-page"

    func cached(page: Int, of pages: Int) -> Bool {
        switch self {
        case .everyOtherPage: page % 2 == 0
        case .firstPage: page == 0
        case .lastPage: page == pages - 1
        }
    }

    /// Empties the cache of the file's first `length` bytes and reads the planned pages back in,
    /// each alone (no read-ahead); returns whether mincore shows exactly the plan. Read-ahead a
    /// NOWAIT read started may still be filling pages when the cache is emptied, so a plan
    /// missed is set up again, a few times.
    func prime(_ file: OpenFile, length: Int) throws -> Bool {
        let pages = (length + pageSize - 1) / pageSize
        let planned = (0..<pages).map { cached(page: $0, of: pages) }
        let reader = try file.reopened(.readOnly)
        try reader.adviseRandomAccess()
        let page = try MappedRegion(anonymousLength: pageSize)
        for attempt in 0..<Self.attempts {
            if attempt > 0 { ThisProcess.pause(microseconds: 1000 << attempt) }
            try file.sync()
            try file.dropCache()
            for index in 0..<pages where planned[index] { _ = try reader.read(into: page.bytes, at: index * pageSize) }
            if try MappedRegion(readOnly: file, length: pages * pageSize).residency() == planned { return true }
        }
        return false
    }

    static let attempts = 5
}
