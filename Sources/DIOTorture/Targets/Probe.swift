import DIOSystem

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
            opcodes = Ring.harnessOpcodes()
        } catch {
            ringError = "\(error)"
        }
        return EnvironmentProbe(
            kernel: Kernel.release, isRoot: Kernel.isRoot, ioUringError: ringError, ioUringOpcodes: opcodes,
            filesystems: Dictionary(uniqueKeysWithValues: ScratchKind.all.map { ($0, $0.unavailableReason) }),
            transparentHugePages: Kernel.transparentHugePages, userfaultfd: UserfaultResolver.unavailableReason)
    }

    public var text: String {
        var lines = ["kernel        \(kernel)", "root          \(isRoot ? "yes" : "no")"]
        if let ioUringError {
            lines.append("io_uring      unavailable: \(ioUringError)")
        } else {
            lines.append("io_uring      yes; opcodes " + ioUringOpcodes.sorted { $0.key < $1.key }
                .map { "\($0.key) \($0.value ? "yes" : "no")" }.joined(separator: ", "))
        }
        for kind in ScratchKind.all {
            let reason = filesystems[kind] ?? nil
            lines.append("\(kind.name.padding(toLength: 14))" + (reason.map { "unavailable: \($0)" } ?? "scratch filesystems available"))
        }
        lines.append("THP           \(transparentHugePages ?? "absent")")
        lines.append("userfaultfd   \(userfaultfd.map { "unavailable: \($0)" } ?? "yes")")
        return lines.joined(separator: "\n")
    }
}
