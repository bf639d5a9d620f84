import DIOSystem

/// tmpfs: its pages are its files, so it has no extents and no cold pages (what depends on
/// either SKIPs or says the precondition does not apply); O_DIRECT since Linux 6.6.
struct Tmpfs: FilesystemMaker {
    let name = "tmpfs"
    let summary = "tmpfs (no extents, no cold pages; O_DIRECT since 6.6)"
    let traits = FilesystemTraits(hasExtents: false, pagesCanBeCold: false)
    var needsBlockDevice: Bool { false }
    var takesMkfsOptions: Bool { false }
    var unavailableReason: String? { nil }
    var kernelModules: [String] { [] }

    func make(_ options: ScratchOptions, device: String?) throws -> MadeFilesystem {
        MadeFilesystem(try DetachedMount(fsType: "tmpfs", source: "dio-torture", options: ["size=\(options.imageSize)"] + options.mountOptions))
    }
}

extension ScratchKind {
    public static let tmpfs = ScratchKind(Tmpfs())
}
