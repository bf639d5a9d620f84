import DIOSystem

/// The MariaDB case: a multi-extent file read in one io_uring request into a buffer whose pages
/// are only partly faulted in. io_uring's inline NOWAIT attempt faults on the first missing page
/// after the first extent; a kernel that hands that partial result back is the 2022 bug.
public struct NowaitPartialFault: ReadScenario {
    public let name = "nowait-partial-fault"
    public let summary = "multi-extent file, one io_uring read into a partly faulted buffer: must be full (the 2022 btrfs/MariaDB short read)"

    public init() {}

    public func cases(_ selection: Selection) -> [CaseSpec] {
        let patterns = selection.patterns ?? [.firstPageOnly]
        let paths = selection.paths ?? unregisteredPaths + IOPath.ringSetups
        let depths = selection.queueDepths ?? [1]
        if selection.layouts != nil || selection.readSizes != nil {
            return product(layouts: selection.layouts ?? [mariadbLayout], reads: selection.readSizes ?? [.whole],
                           patterns: patterns, paths: paths, depths: depths)
        }
        let layouts = [
            mariadbLayout,
            ExtentPlan(count: 2, size: 4096, order: .reverse),
            largeExtentLayout,
            ExtentPlan(count: 4, size: 4096, gap: 4096, order: .reverse),
        ]
        // The last variant reads past EOF: the read must stop exactly there.
        return product(layouts: layouts, patterns: patterns, paths: paths, depths: depths)
            + product(layouts: [mariadbLayout], reads: [.pastEOF], patterns: patterns, paths: paths, depths: depths)
    }
}
