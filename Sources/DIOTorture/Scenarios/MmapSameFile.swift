import DIOSystem

/// The buffer is a shared mapping of the file being read (the fstests generic/647 class): the
/// direct read must fault in pages of the very inode it holds locks on. Deadlocks show as HANG;
/// the fix for them (fault in with nofault, retry) is what made the MariaDB short read possible.
public struct MmapSameFile: ReadScenario {
    public let name = "mmap-same-file"
    public let summary = "buffer is a shared mapping of the file being read (another range, or the same range): no hang, no short read"

    public init() {}

    public func cases(_ selection: Selection) -> [CaseSpec] {
        product(layouts: selection.layouts ?? [mariadbLayout, largeExtentLayout], reads: selection.readSizes ?? [.whole],
                patterns: selection.patterns ?? [.sameFileMmap, .sameRangeMmap],
                paths: selection.paths ?? unregisteredPaths, depths: selection.queueDepths ?? [1])
    }
}
