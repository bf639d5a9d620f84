import CURing
import Glibc

public struct MountError: Error, CustomStringConvertible {
    public var step: String
    public var errno: Errno
    /// What the filesystem logged into its fs_context, e.g. "Block device required".
    public var log: [String]
    public var description: String {
        "\(step): \(errno.symbol) (\(errno))" + (log.isEmpty ? "" : ": " + log.joined(separator: "; "))
    }
}

/// A filesystem mounted with the new mount API and never attached to the tree: it is reached
/// through `/proc/PID/fd/N` and vanishes, with whatever holds its device, when the descriptor
/// closes, including at process death. No mount point is ever left behind.
public final class DetachedMount {
    let descriptor: Int32

    /// The options of `mount -o` that belong to the mount, not the filesystem: the new mount API
    /// takes them as fsmount's MOUNT_ATTR_* flags (fsconfig rejects them), and the defaults they
    /// undo as nothing at all.
    static let mountAttributes: [String: UInt32] = [
        "nosuid": 0x2, "nodev": 0x4, "noexec": 0x8, "noatime": 0x10, "strictatime": 0x20, "nodiratime": 0x80,
        "relatime": 0, "atime": 0, "diratime": 0, "suid": 0, "dev": 0, "exec": 0,
    ]

    /// `options` are "key=value" strings or bare flags, as in `mount -o`.
    public init(fsType: String, source: String?, options: [String]) throws {
        let context = diot_fsopen(fsType)
        guard context >= 0 else { throw MountError(step: "fsopen(\(fsType))", errno: Errno(rawValue: errno), log: []) }
        defer { close(context) }
        if let source { try Self.configure(context, DIOT_FSCONFIG_SET_STRING, "source", source, step: "source \(source)") }
        let attributes = options.reduce(UInt32(0)) { $0 | (Self.mountAttributes[$1] ?? 0) }
        try Self.set(options.filter { Self.mountAttributes[$0] == nil }, in: context)
        try Self.configure(context, DIOT_FSCONFIG_CMD_CREATE, nil, nil, step: "mount \(fsType)")
        let mount = diot_fsmount(context, attributes)
        guard mount >= 0 else { throw MountError(step: "fsmount", errno: Errno(rawValue: errno), log: Self.drainLog(context)) }
        descriptor = mount
    }

    deinit { close(descriptor) }

    /// Sets filesystem options of the mounted filesystem, as `mount -o remount` would (tmpfs
    /// takes a new size, which it refuses below what it holds: EINVAL).
    public func reconfigure(_ options: [String]) throws {
        let context = diot_fspick(descriptor)
        guard context >= 0 else { throw MountError(step: "fspick", errno: Errno(rawValue: errno), log: []) }
        defer { close(context) }
        try Self.set(options, in: context)
        try Self.configure(context, DIOT_FSCONFIG_CMD_RECONFIGURE, nil, nil, step: "reconfigure")
    }

    /// Each filesystem option ("key=value" or a bare flag) set in the fs_context.
    private static func set(_ options: [String], in context: Int32) throws {
        for option in options where !option.isEmpty {
            if let equals = option.firstIndex(of: "=") {
                let key = String(option[..<equals]), value = String(option[option.index(after: equals)...])
                try configure(context, DIOT_FSCONFIG_SET_STRING, key, value, step: "option \(option)")
            } else {
                try configure(context, DIOT_FSCONFIG_SET_FLAG, option, nil, step: "option \(option)")
            }
        }
    }

    private static func configure(_ context: Int32, _ command: Int, _ key: String?, _ value: String?, step: String) throws {
        guard diot_fsconfig(context, UInt32(command), key, value) != 0 else { return }
        let error = Errno(rawValue: errno)
        throw MountError(step: step, errno: error, log: drainLog(context))
    }

    /// A path to the root of the mount that this process and its children can use.
    public var root: String { "/proc/\(getpid())/fd/\(descriptor)" }

    private static func drainLog(_ context: Int32) -> [String] {
        var lines: [String] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(context, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            // "e message": the level, then the message, which some kernels end with a newline.
            var line = String(decoding: buffer[..<count], as: UTF8.self)
            while line.last?.isNewline == true { line.removeLast() }
            lines.append(line.count > 2 ? String(line.dropFirst(2)) : line)
        }
        return lines
    }
}
