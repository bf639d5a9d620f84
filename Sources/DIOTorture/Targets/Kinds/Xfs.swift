extension ScratchKind {
    /// mkfs.xfs refuses images under 300 MiB; the scratch images are 512 MiB.
    public static let xfs = ScratchKind(BlockFilesystem(name: "xfs", summary: "xfs on a loop device (iomap direct I/O)",
                                                        mkfs: ["mkfs.xfs", "-q", "-f", "-K"]))
}
