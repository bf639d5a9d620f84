import DIOSystem
import Foundation

/// NFS over a loopback of its own: the kernel's NFS server (nfsd, with rpcbind, rpc.mountd and
/// exportfs from nfs-kernel-server) exports a scratch xfs made on the block device, and the
/// kernel's NFS client mounts it over TCP to 127.0.0.1, as v3 or v4.2. A helper with its own
/// mount and network namespaces makes all of it (`NamespacedFilesystem`), so no NFS server or
/// client of the machine sees it, and it all goes with the helper. Layouts are proved by FIEMAP
/// on the exported files. Whether each case's data went over RPC or LOCALIO (6.12+, client and
/// server in one namespace) is read from the client's RPC counts (`NFSStatistics`).
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
        let mount = try NFSMount(exporting: exported, version: version, mountOptions: options.mountOptions)
        return MadeFilesystem(root: mount.root, backingRoot: exported.root, stackedOn: "\(Self.export.name) on \(device ?? "?"), NFS server in its own namespace",
                              nfsStatistics: "/proc/\(ThisProcess.id)/net/rpc/nfs", holding: [mount])
    }
}

/// The server and the client mount, in the helper's namespaces. Released, the client goes
/// first, then the server, then the exported filesystem.
private final class NFSMount {
    private var client: DetachedMount?
    private var server: NFSServer?
    private let exported: MadeFilesystem
    let root: String

    init(exporting exported: MadeFilesystem, version: String, mountOptions: [String]) throws {
        self.exported = exported
        let path = NamespacedFilesystem.privateRun + "/dio-torture-nfs-export"
        try exported.attach(at: path)
        server = try NFSServer(exporting: path)
        let options = ["vers=\(version)", "addr=127.0.0.1", "proto=tcp"] + (version == "3" ? ["nolock", "mountproto=tcp"] : [])
        let client = try DetachedMount(fsType: "nfs", source: "127.0.0.1:" + path, options: options + mountOptions)
        self.client = client
        root = client.root
    }

    deinit {
        client = nil
        server = nil
    }
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
        daemons.removeAll()
    }

    private static func daemon(_ command: [String]) throws -> ChildProcess {
        guard let executable = findExecutable(command[0]) else { throw TargetError("\(command[0]) is not installed") }
        return try ChildProcess(executable: executable, arguments: Array(command.dropFirst()), input: [])
    }
}

/// The NFS client's READ and WRITE RPCs so far, from /proc/PID/net/rpc/nfs of the helper's network
/// namespace: the cases' data went over RPC where they grew, and over LOCALIO where they did not.
struct NFSStatistics: Equatable {
    var reads = 0
    var writes = 0

    init?(path: String) {
        guard let text = try? readTextFile(path) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ").compactMap { Int($0) }
            // proc3: a count, then NULL GETATTR SETATTR LOOKUP ACCESS READLINK READ WRITE...;
            // proc4: a count, then NULL READ WRITE...
            if line.hasPrefix("proc3 "), fields.count > 8 { (reads, writes) = (reads + fields[7], writes + fields[8]) }
            if line.hasPrefix("proc4 "), fields.count > 3 { (reads, writes) = (reads + fields[2], writes + fields[3]) }
        }
    }
}

extension ScratchKind {
    public static let nfs3 = ScratchKind(NFSFilesystem(name: "nfs3", summary: "NFSv3 over TCP loopback, a kernel server exporting xfs (own namespaces)", version: "3"))
    public static let nfs42 = ScratchKind(NFSFilesystem(name: "nfs4.2", summary: "NFSv4.2 over TCP loopback, a kernel server exporting xfs (own namespaces)", version: "4.2"))
}
