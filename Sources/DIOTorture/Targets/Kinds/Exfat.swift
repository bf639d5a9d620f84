extension ScratchKind {
    /// The legacy fs/direct-io.c path (blockdev_direct_IO). 4 KiB clusters, so that 4 KiB extents
    /// are clusters of their own (mkfs.exfat picks 32 KiB on a 512 MiB device).
    public static let exfat = ScratchKind(BlockFilesystem(name: "exfat", summary: "exfat on a loop device (legacy fs/direct-io.c: blockdev_direct_IO)",
                                                          mkfs: ["mkfs.exfat", "-c", "4K"], traits: FilesystemTraits(hasHoles: false, hasUnwrittenExtents: false),
                                                          extraModules: ["nls_utf8"]))
}
