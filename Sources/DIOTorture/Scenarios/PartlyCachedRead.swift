import DIOSystem

/// A buffered read of a file only some of whose pages are cached. io_uring promises a regular
/// file's buffered read is not short: its inline NOWAIT attempt copies what is cached and must
/// then finish the rest, as a blocking read would. preadv2(RWF_NOWAIT) may stop early; pread is
/// the control.
public struct PartlyCachedRead: ReadScenario {
    public let name = "partly-cached-read"
    public let summary = "buffered read of a file with only some pages cached (io_uring, preadv2 NOWAIT, pread): full, except where RWF_NOWAIT allows it short"

    public init() {}

    static let paths: [IOPath] = [
        IOPath(.uringRead, buffered: true), IOPath(.uringReadv, buffered: true), IOPath(.uringReadv, nowait: true, buffered: true),
        IOPath(.uringReadv, async: true, buffered: true), IOPath(.preadv2, buffered: true), IOPath(.pread, buffered: true),
    ]

    public func cases(_ selection: Selection) -> [CaseSpec] {
        let layouts = selection.layouts ?? [largeExtentLayout]
        let patterns = selection.patterns ?? [.allResident]
        let paths = selection.paths?.filter { $0.buffered && $0.direction == .read } ?? Self.paths
        return layouts.flatMap { layout in
            FileCachePlan.allCases.flatMap { cache in
                patterns.flatMap { pattern in
                    paths.map {
                        CaseSpec(scenario: name, read: ReadShape(layout: layout, pattern: pattern, path: $0, offset: 0, length: layout.fileSize,
                                                                 fileCache: cache))
                    }
                }
            }
        }
    }
}
