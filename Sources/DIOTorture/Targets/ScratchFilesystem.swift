import DIOSystem
import Glibc

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
        TextReport.filesystemLabel(FilesystemRecord(type: kind.name, origin: "scratch", location: nil,
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

/// A filesystem made for the run by its kind, on a loop device over an image in the
/// `ImageStore` when it needs a block device, mounted detached. Everything goes away with the
/// object, or with the process. Inside a test VM, a whole (virtio) disk can stand in for the
/// loop device.
public final class ScratchFilesystem {
    public let options: ScratchOptions
    private let made: MadeFilesystem
    /// The helper that made it, for a kind made in namespaces of its own.
    private let helper: NamespacedFilesystem?
    private let loop: LoopDevice?
    private let device: String?

    /// `device`, when given, is overwritten instead of making a loop device; `images` is where
    /// the loop device's image goes (a store of its own when nil).
    public init(_ options: ScratchOptions, images: ImageStore? = nil, device: String? = nil) throws {
        self.options = options
        if let reason = options.kind.unavailableReason { throw TargetError(reason) }
        if options.kind.maker.needsBlockDevice && device == nil {
            loop = try LoopDevice(backing: try (images ?? ImageStore()).newImage(size: options.imageSize))
        } else {
            loop = nil
        }
        if let device, options.kind.maker.needsBlockDevice { try Self.awaitRelease(of: device) }
        self.device = options.kind.maker.needsBlockDevice ? device ?? loop!.path : nil
        if options.kind.maker.ownNamespaces == .none {
            helper = nil
            made = try options.kind.maker.make(options, device: self.device)
        } else {
            helper = try NamespacedFilesystem(options, device: self.device)
            made = helper!.made
        }
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
        let filesystem = try ScratchFilesystem(options, device: device)
        let directory = try ScratchDirectory(in: filesystem.root)
        defer { directory.remove() }
        return try withExtendedLifetime(filesystem) { try body(directory.path) }
    }

    /// How long a scratch device that the previous target on it still holds may take to be let
    /// go (what an NFS server's kernel side held goes a moment after the server).
    static let releaseTimeout: Duration = .seconds(30)

    /// Waits until nothing holds `device`, which mkfs is about to overwrite.
    private static func awaitRelease(of device: String) throws {
        let deadline = ContinuousClock.now + releaseTimeout
        while (try? blockDeviceIsHeld(device)) == true {
            guard ContinuousClock.now < deadline else { throw TargetError("\(device) is still held by the previous filesystem made on it") }
            ThisProcess.pause(microseconds: 100_000)
        }
    }

    public var root: String { made.root }

    /// The same tree in the filesystem beneath, for a stacked kind.
    public var backingRoot: String? { made.backingRoot }

    /// An NFS kind's client.
    var nfs: NFSClient? { made.nfs }

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
        FilesystemRecord(type: options.kind.name, origin: "scratch", location: device,
                         mkfsOptions: options.mkfsOptions, mountOptions: options.mountOptions, stackedOn: made.stackedOn,
                         nfsDataPath: made.nfs?.dataPath)
    }
}

extension ScratchFilesystem {
    /// `dio-torture filesystem-helper`: see `NamespacedFilesystem`.
    public static func serveHelper() -> Int32 { NamespacedFilesystem.serveStandardInput() }
}
