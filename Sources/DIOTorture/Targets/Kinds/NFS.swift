import DIOSystem
import Foundation

/// NFS over a loopback of its own: the kernel's NFS server (nfsd, with rpcbind, rpc.mountd and
/// exportfs from nfs-kernel-server) exports a scratch xfs made on the block device, and the
/// kernel's NFS client mounts it over TCP to 127.0.0.1, as v3 or v4.2. A helper with its own
/// mount and network namespaces makes all of it (`NamespacedFilesystem`), so no NFS server or
/// client of the machine sees it, and it all goes with the helper. Layouts are proved by FIEMAP
/// on the exported files. Whether each case's data went over RPC or LOCALIO (6.12+, client and
/// server in one namespace) is read from the mount's per-operation counts (`NFSStatistics`).
struct NFSFilesystem: FilesystemMaker {
    let name: String
    let summary: String
    /// The `vers=` mount option.
    let version: String

    static let export = ScratchKind.xfs
    static let tools = ["rpcbind", "rpc.mountd", "rpc.nfsd", "exportfs"]

    let traits = FilesystemTraits()
    var needsBlockDevice: Bool { true }
    /// They go to the exported xfs; mount options go to the NFS client.
    var takesMkfsOptions: Bool { true }
    var ownNamespaces: OwnNamespaces { .mountAndNetwork }
    var kernelModules: [String] { ["nfsd", version == "3" ? "nfsv3" : "nfsv4"] + Self.export.maker.kernelModules }

    var unavailableReason: String? {
        for module in ["nfsd", "nfs"] where !Kernel.supportsFilesystem(module) {
            return "the kernel has no \(module) (not in /proc/filesystems, no module)"
        }
        if let missing = Self.tools.first(where: { findExecutable($0) == nil }) {
            return "\(missing) is not installed (apt-get install nfs-kernel-server)"
        }
        return Self.export.maker.unavailableReason
    }

    func make(_ options: ScratchOptions, device: String?) throws -> MadeFilesystem {
        let exported = try Self.export.maker.make(ScratchOptions(kind: Self.export, mkfsOptions: options.mkfsOptions), device: device)
        try Self.failMetadataWritesAtOnce(device)
        let mount = try NFSMount(exporting: exported, version: version, mountOptions: options.mountOptions)
        let path = try mount.probeDataPath()
        return MadeFilesystem(root: mount.root, backingRoot: exported.root,
                              stackedOn: "\(Self.export.name) on \(device ?? "?"), server in its own namespace",
                              nfs: NFSClient(statistics: "/proc/\(ThisProcess.id)/mountstats", dataPath: path), holding: [mount])
    }
}

extension NFSFilesystem {
    /// xfs retries a failed metadata write for ever by default (its error configuration), and
    /// an NFS server over it then never answers: the writeback-error scenario's failing disk would
    /// hang the server and every client. The export fails them at once and shuts down instead,
    /// and the server answers with the error, as over ext4.
    static func failMetadataWritesAtOnce(_ device: String?) throws {
        guard let device, let name = try blockDeviceKernelName(of: device) else { return }
        let errors = "/sys/fs/xfs/\(name)/error/metadata"
        for kind in (try? FileManager.default.contentsOfDirectory(atPath: errors)) ?? [] where kind != "fail_at_unmount" {
            try? writeControl(errors + "/" + kind + "/max_retries", "0")
        }
    }
}

/// The server and the client mount, in the helper's namespaces. Released, the client goes
/// first, then the server, then the exported filesystem.
private final class NFSMount {
    private var client: DetachedMount?
    private var server: NFSServer?
    private let exported: MadeFilesystem
    let root: String

    static let exportPoint = NamespacedFilesystem.privateRun + "/dio-torture-nfs-export"

    init(exporting exported: MadeFilesystem, version: String, mountOptions: [String]) throws {
        self.exported = exported
        let path = Self.exportPoint
        try exported.attach(at: path)
        server = try NFSServer(exporting: path)
        let options = ["vers=\(version)", "addr=127.0.0.1", "proto=tcp"] + (version == "3" ? ["nolock", "mountproto=tcp"] : [])
        let client = try DetachedMount(fsType: "nfs", source: "127.0.0.1:" + path, options: options + mountOptions)
        // Attached (in the helper's mount namespace) for its counts to show in mountstats.
        try makeDirectory(NFSStatistics.clientMountPoint)
        try client.attach(at: NFSStatistics.clientMountPoint)
        self.client = client
        root = client.root
    }

    /// Each part taken down in turn, and waited for: the block device must be free for the
    /// next target once the helper has gone.
    deinit {
        try? unmount(NFSStatistics.clientMountPoint, patience: .seconds(5), forcing: true)
        client = nil
        server = nil
        try? unmount(Self.exportPoint)
    }

    /// How this mount's data reaches the server: one O_DIRECT write and read of a probe file;
    /// LOCALIO when neither went out as an NFS operation.
    func probeDataPath() throws -> NFSDataPath {
        let path = root + "/.dio-torture-nfs-probe"
        let statistics = "/proc/\(ThisProcess.id)/mountstats"
        guard let before = NFSStatistics(path: statistics) else { throw TargetError("no NFS statistics in \(statistics)") }
        do {
            let file = try OpenFile(path, .readWrite, options: [.create, .truncate, .direct])
            defer { removeFile(path) }
            let page = try MappedRegion(anonymousLength: pageSize)
            _ = try file.write(UnsafeRawBufferPointer(page.bytes), at: 0)
            try file.sync()
            _ = try file.read(into: page.bytes, at: 0)
        }
        guard let after = NFSStatistics(path: statistics) else { throw TargetError("no NFS statistics in \(statistics)") }
        return after.reads + after.writes > before.reads + before.writes ? .rpc : .localIO
    }
}

/// An NFS target's client: where its per-operation counts are, and how its data reaches the server.
public struct NFSClient: Codable, Sendable {
    public var statistics: String
    public var dataPath: NFSDataPath
}

/// How an NFS client's reads and writes reach a server on the same machine.
public enum NFSDataPath: String, Codable, Sendable {
    /// As READ and WRITE operations over the network.
    case rpc
    /// Straight to the server's files (LOCALIO, Linux 6.12+ with CONFIG_NFS_LOCALIO).
    case localIO = "localio"
}

/// nfsd and its daemons, started for one export and stopped with it.
private final class NFSServer {
    private var daemons: [ChildProcess] = []

    /// A v4 server starts in a grace period in which opens wait; the shortest nfsd allows.
    static let graceSeconds = 10

    init(exporting path: String) throws {
        // The server's state and sockets, private to the helper's mount namespace.
        for directory in ["/var/lib/nfs", "/proc/fs/nfsd"] {
            let type = directory == "/proc/fs/nfsd" ? "nfsd" : "tmpfs"
            try DetachedMount(fsType: type, source: type, options: []).attach(at: directory)
        }
        try makeDirectory("/var/lib/nfs/v4recovery")
        for file in ["etab", "rmtab"] { _ = try OpenFile("/var/lib/nfs/" + file, .writeOnly, options: .create, permissions: 0o644) }
        daemons.append(try Self.daemon(["rpcbind", "-f"]))
        try runCommand(["exportfs", "-o", "rw,sync,no_root_squash,insecure,no_subtree_check,fsid=1", "127.0.0.1:" + path])
        daemons.append(try Self.daemon(["rpc.mountd", "-F", "--no-udp"]))
        try runCommand(["rpc.nfsd", "--no-udp", "-G", "\(Self.graceSeconds)", "-L", "\(Self.graceSeconds)", "4"])
    }

    deinit {
        try? runCommand(["rpc.nfsd", "0"])
        try? runCommand(["exportfs", "-ua"])
        try? runCommand(["exportfs", "-f"])
        daemons.removeAll()
        try? unmount("/proc/fs/nfsd")
    }

    private static func daemon(_ command: [String]) throws -> ChildProcess {
        guard let executable = findExecutable(command[0]) else { throw TargetError("\(command[0]) is not installed") }
        return try ChildProcess(executable: executable, arguments: Array(command.dropFirst()), input: [])
    }
}

/// The NFS client's READ (and READ_PLUS) and WRITE operations sent so far, from the client
/// mount's per-operation statistics in the helper's /proc/PID/mountstats: the cases' data went
/// over RPC where they grew, and over LOCALIO where they did not.
struct NFSStatistics: Equatable {
    var reads = 0
    var writes = 0

    static let clientMountPoint = NamespacedFilesystem.privateRun + "/dio-torture-nfs-client"

    init(reads: Int, writes: Int) {
        (self.reads, self.writes) = (reads, writes)
    }

    init?(path: String) {
        guard let text = try? readTextFile(path),
              let section = text.components(separatedBy: "device ").first(where: { $0.contains(" mounted on \(Self.clientMountPoint) ") })
        else { return nil }
        for line in section.split(separator: "\n") {
            let words = line.split(whereSeparator: \.isWhitespace)
            guard words.count > 1, let operations = Int(words[1]) else { continue }
            switch words[0] {
            case "READ:", "READ_PLUS:": reads += operations
            case "WRITE:": writes += operations
            default: break
            }
        }
    }
}

extension CaseRecord {
    /// An NFS case's data path: "rpc" when READ or WRITE operations went to the server, "localio"
    /// when none did on a mount whose probe found LOCALIO (`NFSMount.probeDataPath`); nothing when
    /// no data reached the server.
    mutating func noteTransport(reads: Int, writes: Int) {
        guard verdict != .skip else { return }
        if reads + writes > 0 {
            transport = NFSDataPath.rpc.rawValue
        } else if filesystem.nfsDataPath == .localIO {
            transport = NFSDataPath.localIO.rawValue
        }
        counters = (counters ?? [:]).merging(["NFS READ operations": reads, "NFS WRITE operations": writes]) { $1 }
    }
}

extension ScratchKind {
    public static let nfs3 = ScratchKind(NFSFilesystem(name: "nfs3", summary: "NFSv3 over TCP loopback, a kernel server exporting xfs (own namespaces)", version: "3"))
    public static let nfs42 = ScratchKind(NFSFilesystem(name: "nfs4.2", summary: "NFSv4.2 over TCP loopback, a kernel server exporting xfs (own namespaces)", version: "4.2"))
}
