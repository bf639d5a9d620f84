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
    /// case that did not already fail into TAINTED. With `concurrent` cases on other targets,
    /// their own splats are left to them (`KernelSplat.isAnotherCases`).
    func caseEnded(_ record: inout CaseRecord, concurrent: Bool = false) {
        let (messages, taint) = PhaseClock.measure(.kernelLog) { (log?.newMessages() ?? [], Kernel.taint) }
        Self.attach(messages: messages, taintBefore: taintBefore, taintAfter: taint, to: &record,
                    ownTasks: concurrent ? ThisProcess.taskIDs : nil)
    }

    /// `ownTasks`, when cases on other targets run at the same time: this process's task ids.
    static func attach(messages: [String], taintBefore before: UInt64?, taintAfter after: UInt64?, to record: inout CaseRecord,
                       ownTasks: Set<Int32>? = nil) {
        let splats = KernelSplat.split(messages)
        let theirs = ownTasks.map { own in splats.filter { $0.isAnotherCases(own: own) } } ?? []
        let findings = splats.filter { splat in !theirs.contains { $0.lines == splat.lines } }.flatMap(\.lines).filter(isFinding)
        if !findings.isEmpty { record.kernelLog = Array(findings.prefix(CaseRecord.maxKernelLogLines)) }
        guard let before, let after, after != before else { return }
        // Another case's splat explains the taint when this case logged none of its own.
        if !theirs.isEmpty, !splats.contains(where: { $0.isSplat && !theirs.map(\.lines).contains($0.lines) }) { return }
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

extension KernelWatch {
    /// Runs one case with the kernel log, the taint flags and (on NFS) the data path watched
    /// around it, and its phases taken when profiling: how every case runs, in this process or
    /// in a case worker.
    func run(_ spec: CaseSpec, in area: WorkArea, options: RunOptions) -> CaseRecord {
        let transport = area.nfsStatistics.flatMap(NFSStatistics.init(path:))
        caseStarts()
        var record = scenario(named: spec.scenario)!.run(spec, in: area, options: options)
        caseEnded(&record, concurrent: area.concurrentTargets)
        if let before = transport, let after = area.nfsStatistics.flatMap(NFSStatistics.init(path:)) {
            record.noteTransport(reads: after.reads - before.reads, writes: after.writes - before.writes)
        }
        record.takePhases(profile: options.profile)
        return record
    }
}

/// A kernel-log message and the lines after it up to the next splat: a BUG, WARNING or Oops
/// report with the task that hit it ("PID: N", "Comm: NAME"), or a run of other lines.
struct KernelSplat {
    var lines: [String]

    static let starts = ["WARNING: CPU:", "BUG:", "kernel BUG at", "Oops", "general protection fault"]

    var isSplat: Bool { lines.first.map { first in Self.starts.contains { first.contains($0) } } ?? false }

    static func split(_ messages: [String]) -> [KernelSplat] {
        var splats: [KernelSplat] = []
        for message in messages {
            if splats.isEmpty || starts.contains(where: { message.contains($0) }) {
                splats.append(KernelSplat(lines: [message]))
            } else {
                splats[splats.count - 1].lines.append(message)
            }
        }
        return splats
    }

    /// The task the splat names: its id and command.
    var task: (id: Int32?, command: String?) {
        func value(after key: String) -> String? {
            for line in lines {
                guard let range = line.range(of: key) else { continue }
                return line[range.upperBound...].split(separator: " ").first.map(String.init)
            }
            return nil
        }
        return (value(after: "PID: ").flatMap { Int32($0) }, value(after: "Comm: "))
    }

    /// Whether the splat is one that another of dio-torture's case processes hit: the task is a
    /// dio-torture process, or an io_uring worker of one, and not of this process. A task of any
    /// other name (a kworker writing back) could be this case's: it stays with it.
    func isAnotherCases(own: Set<Int32>) -> Bool {
        guard isSplat, let id = task.id, let command = task.command, !own.contains(id) else { return false }
        if command == "dio-torture" { return true }
        for prefix in ["iou-wrk-", "iou-sqp-"] where command.hasPrefix(prefix) {
            return Int32(command.dropFirst(prefix.count)).map { !own.contains($0) } ?? false
        }
        return false
    }
}
