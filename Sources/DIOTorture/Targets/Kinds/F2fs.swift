extension ScratchKind {
    /// Log-structured: overwrites go to new blocks, so a file's extents move with every write.
    public static let f2fs = ScratchKind(BlockFilesystem(name: "f2fs", summary: "f2fs on a loop device (its own direct I/O over iomap)",
                                                         mkfs: ["mkfs.f2fs", "-q", "-f", "-t", "0"]))
}
