import DIOSystem
import Glibc

/// Filesystems dio-torture can make for itself.
public enum ScratchKind: String, CaseIterable, Codable, Sendable {
    case btrfs, xfs, ext4, tmpfs

    var mkfsTool: String? {
        switch self {
        case .btrfs: "mkfs.btrfs"
        case .xfs: "mkfs.xfs"
        case .ext4: "mkfs.ext4"
        case .tmpfs: nil
        }
    }

    /// Quiet, forced, and no discard (slow, and pointless on a fresh sparse image).
    var mkfsArguments: [String] {
        switch self {
        case .btrfs: ["-q", "-f", "-K"]
        case .xfs: ["-q", "-f", "-K"]
        case .ext4: ["-q", "-F", "-E", "nodiscard"]
        case .tmpfs: []
        }
    }

    /// Why this machine cannot make this filesystem, or nil.
    public var unavailableReason: String? {
        if !Kernel.isRoot { return "scratch filesystems need root (loop devices and mounts)" }
        if !Kernel.filesystems.contains(rawValue) && self != .tmpfs { return "the kernel has no \(rawValue) (not in /proc/filesystems)" }
        if let tool = mkfsTool, findExecutable(tool) == nil { return "\(tool) is not installed" }
        return nil
    }
}

/// How to make a scratch filesystem. The default size suits every kind: xfs refuses images
/// under 300 MiB, and images are sparse, so size costs little.
public struct ScratchOptions: Sendable, Hashable {
    public var kind: ScratchKind
    public var mkfsOptions: [String]
    public var mountOptions: [String]
    /// The loop image's size (sparse), or the tmpfs size limit.
    public var imageSize: Int

    /// How reports name it: "btrfs -O ^no-holes -ocompress=zstd".
    public var label: String {
        TextReport.filesystemLabel(FilesystemRecord(type: kind.rawValue, origin: "scratch", location: nil,
                                                    mkfsOptions: mkfsOptions, mountOptions: mountOptions))
    }

    public init(kind: ScratchKind, mkfsOptions: [String] = [], mountOptions: [String] = [], imageSize: Int = 512 << 20) {
        self.kind = kind
        self.mkfsOptions = mkfsOptions
        self.mountOptions = mountOptions
        self.imageSize = imageSize
    }
}

/// Where loop images (and test VMs' disks and initramfs) live: a private tmpfs, itself a detached mount. Images are O_TMPFILE files
/// in it, so nothing of them is ever visible, and all of it is freed when the process ends.
public final class ImageStore {
    private let mount: DetachedMount

    public init() throws {
        mount = try DetachedMount(fsType: "tmpfs", source: "dio-torture-images", options: ["size=8g", "mode=0700"])
    }

    func newImage(size: Int) throws -> OpenFile {
        let image = try OpenFile.anonymous(in: mount.root)
        try image.truncate(to: size)
        return image
    }

    /// A named directory in the store (a QEMU 9p share needs a path), gone with the store.
    func newDirectory(_ name: String) throws -> String {
        let path = mount.root + "/" + name
        try makeDirectory(path)
        return path
    }
}

/// A filesystem made for the run: mkfs on a loop device over an image in the `ImageStore`
/// (or a tmpfs), mounted detached. Everything goes away with the object, or with the process.
/// Inside a test VM, a whole (virtio) disk can stand in for the loop device.
public final class ScratchFilesystem {
    public let options: ScratchOptions
    private let mount: DetachedMount
    private let loop: LoopDevice?
    private let device: String?

    /// `device`, when given, is overwritten by mkfs instead of making a loop device.
    public init(_ options: ScratchOptions, images: ImageStore?, device: String? = nil) throws {
        self.options = options
        if let reason = options.kind.unavailableReason { throw TargetError(reason) }
        if options.kind == .tmpfs {
            loop = nil
            self.device = nil
            mount = try DetachedMount(fsType: "tmpfs", source: "dio-torture", options: ["size=\(options.imageSize)"] + options.mountOptions)
            return
        }
        if device != nil {
            loop = nil
        } else {
            guard let images else { throw TargetError("no image store for a \(options.kind.rawValue) image") }
            loop = try LoopDevice(backing: try images.newImage(size: options.imageSize))
        }
        let target = device ?? loop!.path
        self.device = target
        try runCommand([options.kind.mkfsTool!] + options.kind.mkfsArguments + options.mkfsOptions + [target])
        mount = try DetachedMount(fsType: options.kind.rawValue, source: target, options: options.mountOptions)
    }

    /// Makes the filesystem (on `device`, or a loop device over a private image), runs `program`
    /// in a fresh directory on it with `{}` in its arguments standing for that directory (appended
    /// when absent), removes it all, and returns the program's exit status.
    public static func run(_ program: [String], on options: ScratchOptions, device: String?) throws -> Int32 {
        try withDirectory(on: options, device: device) { directory in
            let arguments = program.contains("{}") ? program.map { $0 == "{}" ? directory : $0 } : program + [directory]
            return try runInheritingOutput(arguments)
        }
    }

    /// Makes the filesystem, calls `body` with a fresh directory on it, and removes it all.
    public static func withDirectory<T>(on options: ScratchOptions, device: String?, _ body: (String) throws -> T) throws -> T {
        let images = device == nil && options.kind != .tmpfs ? try ImageStore() : nil
        let filesystem = try ScratchFilesystem(options, images: images, device: device)
        let directory = try ScratchDirectory(in: filesystem.root)
        defer { directory.remove() }
        return try withExtendedLifetime(filesystem) { try body(directory.path) }
    }

    public var root: String { mount.root }

    /// Why `path` cannot serve as a scratch device, or nil: it must be a block device that
    /// nothing holds, since mkfs will overwrite it. The kernel's own exclusive-open test sees every
    /// mount, detached ones too, which no mount table lists.
    public static func unusableDeviceReason(_ path: String) -> String? {
        do {
            guard try blockDeviceNumber(of: path) != nil else { return "\(path) is not a block device" }
            if try blockDeviceIsHeld(path) { return "\(path) is in use (mounted, or held by another device); a scratch device is overwritten" }
        } catch {
            return "\(path): \(error)"
        }
        return nil
    }

    public var record: FilesystemRecord {
        FilesystemRecord(type: options.kind.rawValue, origin: "scratch", location: device,
                         mkfsOptions: options.mkfsOptions, mountOptions: options.mountOptions)
    }
}
