extension ScratchKind {
    public static let ext4 = ScratchKind(BlockFilesystem(name: "ext4", summary: "ext4 on a loop device (iomap direct I/O)",
                                                         mkfs: ["mkfs.ext4", "-q", "-F", "-E", "nodiscard"]))
}
