import DIOSystem

/// How one kind of scratch filesystem is made and what it is like. Each kind is one file in
/// Targets/Kinds/ and one line in `ScratchKind.all`; the harness only knows this protocol.
public protocol FilesystemMaker: Sendable {
    /// How `--fs`, sweep files and reports name it.
    var name: String { get }
    var summary: String { get }
    var traits: FilesystemTraits { get }
    /// Whether it is made on a block device (a loop device over a private image, or the device
    /// the run was given), which it overwrites; false for kinds that live in memory.
    var needsBlockDevice: Bool { get }
    /// Whether `--mkfs-options` mean anything to it.
    var takesMkfsOptions: Bool { get }
    /// What this machine lacks to make it (the kernel's support, a tool), or nil. Root is checked
    /// by the caller.
    var unavailableReason: String? { get }
    /// Namespaces of its own that it must be made in (by a helper process, `NamespacedFilesystem`).
    var ownNamespaces: OwnNamespaces { get }
    /// The kernel modules it needs where the kernel has them as modules (a Debian kernel's guest
    /// loads them at boot, their modules.dep dependencies first), the filesystem beneath a
    /// stacked kind's included.
    var kernelModules: [String] { get }
    /// Makes it on `device` (given when `needsBlockDevice`) and mounts it detached: everything it
    /// made goes when the result is released.
    func make(_ options: ScratchOptions, device: String?) throws -> MadeFilesystem
}

extension FilesystemMaker {
    public var ownNamespaces: OwnNamespaces { .none }
}

/// What the oracle and the scenarios must know of a filesystem where filesystems differ, each
/// difference measured (docs/filesystems.md, "What differs, measured").
public struct FilesystemTraits: Sendable {
    /// Files have extents, so a layout can be proved (FIEMAP, or FIBMAP where FIEMAP is missing).
    /// tmpfs has none: its pages are its files.
    public let hasExtents: Bool
    /// File pages can leave the page cache, so a cold file or mapping can exist. tmpfs's cannot.
    public let pagesCanBeCold: Bool
    /// Files can have holes. exfat's cannot: a write past EOF allocates everything before it.
    public let hasHoles: Bool
    /// fallocate leaves unwritten extents (FIEMAP_EXTENT_UNWRITTEN) to write over. gfs2's are
    /// allocated written (FIEMAP flags 0x1001 after a 64 KiB fallocate, 6.12); exfat and jfs
    /// cannot fallocate; tmpfs has no extents.
    public let hasUnwrittenExtents: Bool
    /// The FUSE self-test server: it answers reads with ENODATA while its switch is on
    /// (`ReadFaultSwitch`), which file-backed-consumers turns on around each mount.
    public let hasReadFaultSwitch: Bool

    public init(hasExtents: Bool = true, pagesCanBeCold: Bool = true, hasHoles: Bool = true, hasUnwrittenExtents: Bool = true,
                hasReadFaultSwitch: Bool = false) {
        self.hasExtents = hasExtents
        self.pagesCanBeCold = pagesCanBeCold
        self.hasHoles = hasHoles
        self.hasUnwrittenExtents = hasExtents && hasUnwrittenExtents
        self.hasReadFaultSwitch = hasReadFaultSwitch
    }

    /// A filesystem's traits by the name a record gives it: a kind's, or for a directory the
    /// kernel's type name (statfs); an unknown one is taken for a disk filesystem.
    public static func of(_ type: String) -> FilesystemTraits {
        ScratchKind(named: type)?.traits ?? FilesystemTraits()
    }
}

/// A kind of scratch filesystem, as options, sweep files and records name it.
public struct ScratchKind: Sendable, Hashable, CustomStringConvertible {
    public let maker: any FilesystemMaker

    public init(_ maker: any FilesystemMaker) { self.maker = maker }

    /// Every kind dio-torture can make, in the order `list` and `probe` show them.
    public static let all: [ScratchKind] = [.btrfs, .xfs, .ext4, .tmpfs, .f2fs, .gfs2, .exfat, .jfs, .nfs3, .nfs42, .fuse, .fuseDirectIO, .overlay,
                                            .fuseEnodata]

    /// What `run` makes when no `--fs` is given.
    public static let defaults: [ScratchKind] = [.btrfs, .xfs, .ext4, .tmpfs]

    public init?(named name: String) {
        guard let kind = Self.all.first(where: { $0.name == name }) else { return nil }
        self = kind
    }

    public var name: String { maker.name }
    public var description: String { name }
    public var traits: FilesystemTraits { maker.traits }

    /// Why this machine cannot make it, or nil.
    public var unavailableReason: String? {
        if !Kernel.isRoot { return "scratch filesystems need root (loop devices and mounts)" }
        return maker.unavailableReason
    }

    public static func == (left: ScratchKind, right: ScratchKind) -> Bool { left.name == right.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

extension ScratchKind: NamedChoice {
    public static let choiceKind = "filesystem"
    public static var choiceNames: [String] { all.map(\.name) }
    public init?(choiceName: String) { self.init(named: choiceName) }
}

/// A filesystem a kind made: its root, and for a kind stacked on another filesystem the same
/// tree in the filesystem beneath. It holds its mounts, devices and servers; they go with it.
public final class MadeFilesystem {
    public let root: String
    /// The mount `root` is the root of, when the kind made it itself.
    private let mount: DetachedMount?
    /// The directory of the filesystem beneath that `root` shows (FUSE's backing directory,
    /// overlayfs's upper layer, an NFS export): FIEMAP reaches the files' extents there.
    public let backingRoot: String?
    /// What the record says the filesystem stands on, e.g. "ext4 on /dev/loop3".
    public let stackedOn: String?
    /// For an NFS kind, its client: each case's data path is read from its counts.
    public let nfs: NFSClient?
    private let holding: [AnyObject]

    public init(root: String, backingRoot: String? = nil, stackedOn: String? = nil, nfs: NFSClient? = nil, holding: [AnyObject]) {
        self.root = root
        mount = nil
        self.backingRoot = backingRoot
        self.stackedOn = stackedOn
        self.nfs = nfs
        self.holding = holding
    }

    /// A filesystem mounted detached, nothing beneath it to show.
    public init(_ mount: DetachedMount, holding: [AnyObject] = []) {
        root = mount.root
        backingRoot = nil
        stackedOn = nil
        nfs = nil
        self.mount = mount
        self.holding = holding
    }

    /// Attaches the filesystem at `path` of a helper's private mount namespace, for a consumer
    /// that refuses detached mounts (see `NamespacedFilesystem`); `root` still reaches it.
    func attach(at path: String) throws {
        guard let mount else { throw TargetError("only a filesystem its kind mounted itself can be attached") }
        try makeDirectory(path)
        try mount.attach(at: path)
    }
}

extension Kernel {
    /// Whether the kernel has filesystem `type` or can load it: in /proc/filesystems, or a module
    /// of the running kernel that a mount would load.
    static func supportsFilesystem(_ type: String) -> Bool {
        if filesystems.contains(type) { return true }
        let modules = (try? readTextFile("/lib/modules/\(release)/modules.dep")) ?? ""
        return modules.contains("/\(type).ko")
    }
}
