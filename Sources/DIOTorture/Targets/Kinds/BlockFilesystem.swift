import DIOSystem

/// A filesystem its own mkfs makes on a block device, mounted with its own type: what most
/// kinds are, each a value of this in its own file.
struct BlockFilesystem: FilesystemMaker {
    let name: String
    let summary: String
    /// The mkfs tool and the arguments that make it quietly, without asking, without discard
    /// (slow, and pointless on a fresh sparse image); the device goes last.
    let mkfs: [String]
    var traits = FilesystemTraits()
    var kernelModules: [String] { [name] + extraModules }
    /// Modules its mount may ask the kernel for by name (the utf8 table of an iocharset), which
    /// a guest cannot load on demand.
    var extraModules: [String] = []

    var needsBlockDevice: Bool { true }
    var takesMkfsOptions: Bool { true }

    var unavailableReason: String? {
        if !Kernel.supportsFilesystem(name) { return "the kernel has no \(name) (not in /proc/filesystems, no module)" }
        if findExecutable(mkfs[0]) == nil { return "\(mkfs[0]) is not installed" }
        return nil
    }

    func make(_ options: ScratchOptions, device: String?) throws -> MadeFilesystem {
        guard let device else { throw TargetError("\(name) is made on a block device; none was given") }
        try runCommand(mkfs + options.mkfsOptions + [device])
        return MadeFilesystem(try DetachedMount(fsType: name, source: device, options: options.mountOptions))
    }
}
