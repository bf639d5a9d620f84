extension ScratchKind {
    /// The one filesystem besides btrfs that asks iomap for IOMAP_DIO_PARTIAL (the 2022 fix says
    /// so). One journal of 8 MiB and lock_nolock: a cluster filesystem on one machine.
    public static let gfs2 = ScratchKind(BlockFilesystem(name: "gfs2", summary: "gfs2 with lock_nolock on a loop device (iomap direct I/O, IOMAP_DIO_PARTIAL)",
                                                         mkfs: ["mkfs.gfs2", "-O", "-q", "-K", "-p", "lock_nolock", "-j", "1", "-J", "8"],
                                                         traits: FilesystemTraits(hasUnwrittenExtents: false)))
}
