import DIOSystem
import Glibc

/// FUSE: dio-torture's own passthrough server (`dio-torture fuse-server`, on libfuse3) over a
/// scratch ext4 made on the block device. What is tested is the kernel's FUSE client: its direct
/// I/O (`fuse_direct_IO`, user pages pinned as they fault in), its page cache, and what its
/// consumers read through it. Layouts are proved by FIEMAP on the backing files, which the
/// server writes as the client asked, one fsync at a time.
struct FuseFilesystem: FilesystemMaker {
    let name: String
    let summary: String
    let mode: FuseServer.Mode

    /// The filesystem the server's files live on.
    static let backing = ScratchKind.ext4

    var traits: FilesystemTraits { FilesystemTraits(hasReadFaultSwitch: mode == .readFaultSwitch) }
    var needsBlockDevice: Bool { true }
    /// They go to the backing ext4; mount options go to the FUSE mount.
    var takesMkfsOptions: Bool { true }
    var kernelModules: [String] { ["fuse"] + Self.backing.maker.kernelModules }

    var unavailableReason: String? {
        if !Kernel.supportsFilesystem("fuse") { return "the kernel has no fuse (not in /proc/filesystems, no module)" }
        if access("/dev/fuse", R_OK | W_OK) != 0 { return "/dev/fuse is missing" }
        return Self.backing.maker.unavailableReason
    }

    func make(_ options: ScratchOptions, device: String?) throws -> MadeFilesystem {
        let backing = try Self.backing.maker.make(ScratchOptions(kind: Self.backing, mkfsOptions: options.mkfsOptions), device: device)
        let connection = try FuseConnection(over: backing, mode: mode, mountOptions: options.mountOptions)
        return MadeFilesystem(root: connection.root, backingRoot: backing.root,
                              stackedOn: "\(Self.backing.name) on \(device ?? "?")", holding: [connection])
    }
}

/// A FUSE mount and the server process that answers it. Released, the mount goes first, which
/// ends the connection and so the server, and then the backing filesystem.
final class FuseConnection {
    private var mount: DetachedMount?
    private let server: ChildProcess
    private let backing: MadeFilesystem
    let root: String

    /// How long a server may take to end once its mount is gone, before it is killed.
    static let exitTimeout: Duration = .seconds(5)

    init(over backing: MadeFilesystem, mode: FuseServer.Mode, mountOptions: [String]) throws {
        self.backing = backing
        (mount, server) = try Self.start(serving: backing, mode: mode, mountOptions: mountOptions)
        root = mount!.root
        // Only the server holds the device now: if it died, the connection is over and this
        // fails with ENOTCONN instead of waiting for an answer.
        do { _ = try availableBytes(at: root) } catch {
            let said = String(decoding: (try? server.standardError()) ?? [], as: UTF8.self).split(separator: "\n").last.map { ": \($0)" } ?? ""
            throw TargetError("the FUSE server did not answer (\(error))" + said)
        }
    }

    /// Mounts a FUSE connection and starts its server on the device; the device is the
    /// server's alone once this returns.
    private static func start(serving backing: MadeFilesystem, mode: FuseServer.Mode,
                              mountOptions: [String]) throws -> (DetachedMount, ChildProcess) {
        let device = try OpenFile("/dev/fuse", .readWrite)
        let mount = try DetachedMount(fsType: "fuse", source: "dio-torture",
                                      options: ["fd=\(device.descriptor)", "rootmode=40000", "user_id=0", "group_id=0"] + mountOptions)
        let directory = try OpenFile(backing.root, .readOnly, options: .directory)
        let server = try ChildProcess(executable: try ThisProcess.toolPath(), arguments: ["fuse-server", mode.rawValue], input: [],
                                      passing: [device, directory])
        return (mount, server)
    }

    deinit {
        mount = nil
        _ = server.wait(for: Self.exitTimeout)
    }
}

extension ScratchKind {
    public static let fuse = ScratchKind(FuseFilesystem(name: "fuse", summary: "FUSE passthrough (dio-torture's server, libfuse3) over ext4; the kernel caches its pages", mode: .cached))
    public static let fuseDirectIO = ScratchKind(FuseFilesystem(name: "fuse-direct-io", summary: "the same with FOPEN_DIRECT_IO on every open: nothing cached, every read and write to the server",
                                                                mode: .directIO))
    /// Not a target to test a kernel with: it proves that file-backed-consumers catches a
    /// backing filesystem whose reads of uncached pages fail (the Lustre -ENODATA class).
    public static let fuseEnodata = ScratchKind(FuseFilesystem(name: "fuse-enodata", summary: "self-test: FUSE whose server answers reads with ENODATA while file-backed-consumers mounts (it must FAIL cold, PASS warm)",
                                                               mode: .readFaultSwitch))
}
