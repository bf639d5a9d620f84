import DIOSystem

/// Watches the kernel around each case: new kernel-log lines that report a kernel bug, and any
/// change of the taint flags, attached to the case that was running.
final class KernelWatch {
    private let log: KernelLog?
    private var taintBefore: UInt64?
    /// Why the log cannot be read (not root, no /dev/kmsg), reported once per run.
    let logUnavailableReason: String?

    /// Lines that say the kernel itself went wrong: BUG/WARNING/Oops splats, hung tasks,
    /// lockdep, and errors filesystems and the block layer log.
    static let findingMarkers = [
        "BUG:", "WARNING:", "Oops", "kernel BUG", "general protection fault", "INFO: task", "blocked for more than",
        "possible circular locking", "possible recursive locking", "inconsistent lock state", "lockdep",
        "EXT4-fs error", "EXT4-fs warning", "XFS (", "BTRFS error", "BTRFS critical", "BTRFS warning",
        "EROFS:", "I/O error", "Buffer I/O error", "page allocation failure", "Corruption", "UBSAN:", "KASAN:",
    ]

    /// XFS logs mounts and unmounts with the same prefix as its errors: those are not findings.
    static let routineMarkers = ["Mounting V", "Ending clean mount", "Unmounting Filesystem", "Quotacheck"]

    init() {
        do {
            log = try KernelLog()
            logUnavailableReason = nil
        } catch {
            log = nil
            logUnavailableReason = "/dev/kmsg: \((error as? Errno)?.symbol ?? "\(error)")"
        }
    }

    /// Forgets what was logged before the case starts.
    func caseStarts() {
        PhaseClock.measure(.kernelLog) {
            _ = log?.newMessages()
            taintBefore = Kernel.taint
        }
    }

    /// Attaches what the kernel logged and any taint change to `record`; a taint change turns a
    /// case that did not already fail into TAINTED.
    func caseEnded(_ record: inout CaseRecord) {
        let (messages, taint) = PhaseClock.measure(.kernelLog) { (log?.newMessages() ?? [], Kernel.taint) }
        Self.attach(messages: messages, taintBefore: taintBefore, taintAfter: taint, to: &record)
    }

    static func attach(messages: [String], taintBefore before: UInt64?, taintAfter after: UInt64?, to record: inout CaseRecord) {
        let findings = messages.filter(isFinding)
        if !findings.isEmpty { record.kernelLog = Array(findings.prefix(CaseRecord.maxKernelLogLines)) }
        guard let before, let after, after != before else { return }
        record.taint = TaintRecord(before: before, after: after)
        let verdict = Oracle.verdict(record.verdict, afterTaintChange: true)
        if verdict != record.verdict {
            let added = Kernel.taintLetters(after & ~before)
            record.reason = "kernel taint changed during the case: \(added.isEmpty ? String(after) : "+" + added)"
                + (findings.first.map { "; \($0)" } ?? "")
            record.verdict = verdict
        }
    }

    static func isFinding(_ line: String) -> Bool {
        findingMarkers.contains { line.contains($0) } && !routineMarkers.contains { line.contains($0) }
    }
}
