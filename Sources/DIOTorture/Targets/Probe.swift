import CURing
import Glibc

/// What this machine can test, for `dio-torture probe` and for choosing defaults.
public struct EnvironmentProbe: Sendable {
    public var kernel: String
    public var isRoot: Bool
    /// nil when io_uring cannot be set up at all; otherwise the reason-free opcode check.
    public var ioUringError: String?
    public var ioUringOpcodes: [String: Bool]
    public var filesystems: [ScratchKind: String?]
    public var transparentHugePages: String?
    public var userfaultfd: String?

    public static func current() -> EnvironmentProbe {
        var ringError: String?
        var opcodes: [String: Bool] = [:]
        do {
            _ = try Ring(entries: 2)
            let supported = Ring.supportedOpcodes() ?? []
            let named: [(String, io_uring_op)] = [("READV", IORING_OP_READV), ("READ_FIXED", IORING_OP_READ_FIXED),
                                                  ("READ", IORING_OP_READ), ("FALLOCATE", IORING_OP_FALLOCATE)]
            for (name, opcode) in named { opcodes[name] = supported.contains(Int32(opcode.rawValue)) }
        } catch {
            ringError = "\(error)"
        }
        var uffd: String?
        let descriptor = diot_userfaultfd_open()
        if descriptor >= 0 { close(descriptor) } else { uffd = String(cString: strerror(errno)) }
        return EnvironmentProbe(
            kernel: Kernel.release, isRoot: Kernel.isRoot, ioUringError: ringError, ioUringOpcodes: opcodes,
            filesystems: Dictionary(uniqueKeysWithValues: ScratchKind.allCases.map { ($0, $0.unavailableReason) }),
            transparentHugePages: Kernel.transparentHugePages, userfaultfd: uffd)
    }

    public var text: String {
        var lines = ["kernel        \(kernel)", "root          \(isRoot ? "yes" : "no")"]
        if let ioUringError {
            lines.append("io_uring      unavailable: \(ioUringError)")
        } else {
            lines.append("io_uring      yes; opcodes " + ioUringOpcodes.sorted { $0.key < $1.key }
                .map { "\($0.key) \($0.value ? "yes" : "no")" }.joined(separator: ", "))
        }
        for kind in ScratchKind.allCases {
            let reason = filesystems[kind] ?? nil
            lines.append("\(kind.rawValue.padding(toLength: 14))" + (reason.map { "unavailable: \($0)" } ?? "scratch filesystems available"))
        }
        lines.append("THP           \(transparentHugePages ?? "absent")")
        lines.append("userfaultfd   \(userfaultfd.map { "unavailable: \($0)" } ?? "yes")")
        return lines.joined(separator: "\n")
    }
}
