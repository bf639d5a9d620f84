extension ScratchKind {
    /// The legacy fs/direct-io.c path (blockdev_direct_IO).
    public static let jfs = ScratchKind(BlockFilesystem(name: "jfs", summary: "jfs on a loop device (legacy fs/direct-io.c: blockdev_direct_IO)",
                                                        mkfs: ["mkfs.jfs", "-q"],
                                                        traits: FilesystemTraits(hasUnwrittenExtents: false), extraModules: ["nls_utf8"]))
}
