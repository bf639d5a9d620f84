import DIOSystem

/// overlayfs with its upper layer (and an empty lower one) on a scratch xfs made on the block
/// device. Files the cases create live in the upper layer; overlayfs hands their direct I/O,
/// FIEMAP and mappings to the upper file, so what is tested is that hand-off. The cases'
/// probes of a file's page cache look at the upper file, which holds it.
struct OverlayFilesystem: FilesystemMaker {
    let name = "overlay"
    let summary = "overlayfs, upper layer on xfs (direct I/O, FIEMAP and mappings pass to the upper file)"
    let traits = FilesystemTraits()
    var needsBlockDevice: Bool { true }
    /// They go to the xfs beneath; mount options go to overlayfs.
    var takesMkfsOptions: Bool { true }

    static let upper = ScratchKind.xfs
    var kernelModules: [String] { ["overlay"] + Self.upper.maker.kernelModules }

    /// Before Linux 6.15 overlayfs takes no layer from a detached mount: the upper filesystem is
    /// attached, in a mount namespace of its own.
    var ownNamespaces: OwnNamespaces { .mount }

    var unavailableReason: String? {
        if !Kernel.supportsFilesystem("overlay") { return "the kernel has no overlay (not in /proc/filesystems, no module)" }
        return Self.upper.maker.unavailableReason
    }

    func make(_ options: ScratchOptions, device: String?) throws -> MadeFilesystem {
        let beneath = try Self.upper.maker.make(ScratchOptions(kind: Self.upper, mkfsOptions: options.mkfsOptions), device: device)
        try beneath.attach(at: NamespacedFilesystem.privateRun + "/dio-torture-overlay-layers")
        for layer in ["lower", "upper", "work"] { try makeDirectory(beneath.root + "/" + layer) }
        let layers = ["lowerdir=\(beneath.root)/lower", "upperdir=\(beneath.root)/upper", "workdir=\(beneath.root)/work"]
        let mount = try DetachedMount(fsType: "overlay", source: "dio-torture", options: layers + options.mountOptions)
        // The upper layer is where the files' extents and page cache are (cachestat on an
        // overlayfs descriptor sees neither).
        return MadeFilesystem(root: mount.root, backingRoot: beneath.root + "/upper", stackedOn: "\(Self.upper.name) on \(device ?? "?")",
                              holding: [mount, beneath])
    }
}

extension ScratchKind {
    public static let overlay = ScratchKind(OverlayFilesystem())
}
