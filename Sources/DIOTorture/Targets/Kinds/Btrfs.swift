extension ScratchKind {
    /// Extents, checksums, compression; the 2022 MariaDB short read and its write-side mirror
    /// live in its direct I/O (`btrfs_dio_iomap_begin`, `btrfs_direct_write`).
    public static let btrfs = ScratchKind(BlockFilesystem(name: "btrfs", summary: "btrfs on a loop device (iomap direct I/O, IOMAP_DIO_PARTIAL)",
                                                          mkfs: ["mkfs.btrfs", "-q", "-f", "-K"]))
}
