import DIOSystem

/// What one read did, judged on its first completion.
public enum Outcome: String, Codable, Sendable, CaseIterable {
    case full
    case shortAtEOF = "short-at-eof"
    case shortBeforeEOF = "short-before-eof"
    case eagain
    case error
    case mismatch
    case hang
    /// A write that moved fewer bytes than asked.
    case shortWrite = "short-write"
}

public enum Verdict: String, Codable, Sendable, CaseIterable {
    case pass = "PASS"
    case fail = "FAIL"
    /// A read (or the whole case) did not finish within the watchdog's window.
    case hang = "HANG"
    /// The kernel's taint flags changed during the case: it hit a BUG, an Oops or a WARNING.
    case tainted = "TAINTED"
    case skip = "SKIP"
    case inconclusive = "INCONCLUSIVE"
    /// The harness could not run the case (or its process died): not a verdict on the kernel.
    case broken = "BROKEN"
    /// A FAIL, HANG or TAINTED that a known kernel bug explains (configs/known-kernel-bugs.expunge):
    /// reported with its evidence and counted apart, but it does not fail a run or a gate.
    case known = "KNOWN"

    /// Worst first: how a cell of many cases shows the one that matters.
    public static let bySeverity: [Verdict] = [.broken, .tainted, .hang, .fail, .known, .inconclusive, .pass, .skip]

    /// The verdicts that fail a run and a gate.
    public var isFailure: Bool { self == .fail || self == .hang || self == .tainted || self == .broken }
}

/// What the caller asked for, and what makes a short or failed read legal for it.
public struct ReadContract: Sendable {
    public var offset: Int
    public var length: Int
    /// The file size the model holds: the read must stop exactly there.
    public var fileSize: Int
    public var path: IOPath
    /// Offset into the read's memory of a PROT_NONE page, if the buffer has one.
    public var inaccessibleOffset: Int?
    /// statx says the read is misaligned for direct I/O: EINVAL is legal for it.
    public var misaligned = false

    public init(offset: Int, length: Int, fileSize: Int, path: IOPath, inaccessibleOffset: Int?, misaligned: Bool = false) {
        self.offset = offset
        self.length = length
        self.fileSize = fileSize
        self.path = path
        self.inaccessibleOffset = inaccessibleOffset
        self.misaligned = misaligned
    }

    public var expectedLength: Int { max(0, min(length, fileSize - offset)) }
}

/// A read's or a write's first completion as the kernel gave it, or nothing within the
/// watchdog's window. Every way of submitting a transfer turns its completion into this, and
/// only this is judged.
public enum TransferResult: Sendable, Equatable {
    case completed(Int)
    case failed(Errno)
    case timedOut

    /// A synchronous call's outcome: its count, or the errno it threw.
    public init(_ call: () throws -> Int) {
        do { self = .completed(try call()) } catch { self = .failed(error as? Errno ?? .ioError) }
    }

    /// A count or an errno (preadv2, a copy through a mapping).
    public init(_ result: Result<Int, Errno>) {
        switch result {
        case .success(let count): self = .completed(count)
        case .failure(let error): self = .failed(error)
        }
    }

    /// The bytes transferred, when it completed with a count.
    public var count: Int? {
        if case .completed(let count) = self { return count }
        return nil
    }

    /// An io_uring completion's `res`: a count, or a negated errno.
    public init(_ completion: Completion) {
        self = completion.result < 0 ? .failed(Errno(rawValue: -completion.result)) : .completed(Int(completion.result))
    }
}

/// A read judged, with the verification of the bytes it claimed to fill.
public struct JudgedRead {
    public var judgement: Judgement
    public var verification = Verification()

    public var pair: (Judgement, Verification) { (judgement, verification) }
}

public struct Judgement: Sendable, Equatable {
    public enum Call: Sendable, Equatable {
        case pass
        case fail
        /// The path cannot be exercised here (e.g. RWF_NOWAIT unsupported); say why.
        case skip(String)
    }
    public var outcome: Outcome
    public var call: Call
    /// Why a short or failed read was legal, or what exactly went wrong.
    public var note: String?
}

/// The one place that decides what is a bug (DESIGN.md, "The oracle").
public enum Oracle {
    /// Judges the first completion of a read into `bytes` against `model`, verifying the bytes
    /// the kernel claims to have filled (`prior` is what each buffer offset held before).
    public static func judgeRead(_ result: TransferResult, contract: ReadContract, bytes: UnsafeRawBufferPointer,
                                 model: FileModel, prior: (Int) -> PriorContent) -> JudgedRead {
        var verification = Verification()
        let judgement = judge(result, contract: contract) { count in
            verification = Verifier.verify(UnsafeRawBufferPointer(rebasing: bytes[0..<count]), fileOffset: contract.offset,
                                           model: model, prior: prior)
            return verification
        }
        return JudgedRead(judgement: judgement, verification: verification)
    }

    /// Judges the first completion. `verify` checks the bytes the kernel claims to have filled.
    public static func judge(_ result: TransferResult, contract: ReadContract,
                             verify: (_ count: Int) -> Verification) -> Judgement {
        guard let count = result.count else {
            return judgeUncounted(result, path: contract.path, inaccessibleOffset: contract.inaccessibleOffset, misaligned: contract.misaligned)
        }
        let expected = contract.expectedLength
        if count > expected {
            return Judgement(outcome: .error, call: .fail, note: "returned \(count) bytes, more than the \(expected) the file holds there")
        }
        let verification = verify(count)
        if let first = verification.badRanges.first {
            return Judgement(outcome: .mismatch, call: .fail,
                             note: "\(first.diagnosis.rawValue) data at offset \(first.offset) (\(count) of \(contract.length) bytes returned)")
        }
        if count == expected {
            return expected == contract.length
                ? Judgement(outcome: .full, call: .pass)
                : Judgement(outcome: .shortAtEOF, call: .pass, note: "stopped at EOF")
        }
        return judgeShort(count, outcome: .shortBeforeEOF, path: contract.path, inaccessibleOffset: contract.inaccessibleOffset,
                          failure: "res \(count) of \(expected) before EOF")
    }

    /// A transfer that moved fewer bytes than it had to, reads and writes alike: legal only when
    /// it stops exactly at the buffer's PROT_NONE page, or under an explicit RWF_NOWAIT.
    static func judgeShort(_ count: Int, outcome: Outcome, path: IOPath, inaccessibleOffset: Int?, failure: String) -> Judgement {
        if let hole = inaccessibleOffset, count == hole {
            return Judgement(outcome: outcome, call: .pass, note: "legal: stopped exactly at the PROT_NONE page")
        }
        if path.nowait {
            return Judgement(outcome: outcome, call: .pass, note: "legal: partial \(path.direction == .read ? "read" : "write") under an explicit RWF_NOWAIT")
        }
        return Judgement(outcome: outcome, call: .fail, note: failure + (inaccessibleOffset.map { ", PROT_NONE page at \($0)" } ?? ""))
    }

    /// A transfer that completed with no count: an errno, or no completion within the window.
    static func judgeUncounted(_ result: TransferResult, path: IOPath, inaccessibleOffset: Int?, misaligned: Bool) -> Judgement {
        if case .failed(let error) = result {
            return judgeError(error, path: path, inaccessibleOffset: inaccessibleOffset, misaligned: misaligned)
        }
        return Judgement(outcome: .hang, call: .fail, note: "no completion within the watchdog's window")
    }

    /// A transfer that failed: EAGAIN only under an explicit RWF_NOWAIT, EFAULT only with a
    /// PROT_NONE page in the buffer, EINVAL only where statx says it is misaligned, EOPNOTSUPP
    /// for RWF_NOWAIT a SKIP; anything else a FAIL.
    static func judgeError(_ error: Errno, path: IOPath, inaccessibleOffset: Int?, misaligned: Bool) -> Judgement {
        switch error {
        case .resourceTemporarilyUnavailable:
            return path.nowait
                ? Judgement(outcome: .eagain, call: .pass, note: "legal: EAGAIN under an explicit RWF_NOWAIT")
                : Judgement(outcome: .eagain, call: .fail, note: "EAGAIN reached the application without RWF_NOWAIT")
        case .notSupported where path.nowait:
            return Judgement(outcome: .error, call: .skip("RWF_NOWAIT direct \(path.direction == .read ? "reads" : "writes") are not supported here (EOPNOTSUPP)"))
        case .invalidArgument where misaligned:
            return Judgement(outcome: .error, call: .pass, note: "legal: EINVAL for a transfer statx says is misaligned")
        case .badAddress where inaccessibleOffset != nil:
            return Judgement(outcome: .error, call: .pass, note: "legal: EFAULT for the PROT_NONE page")
        default:
            return Judgement(outcome: .error, call: .fail, note: "\(error.symbol): \(error)")
        }
    }

    /// An operation other than a read that returned an error: a failure, except a mode the
    /// filesystem says it does not support (fallocate's EOPNOTSUPP), which leaves the file as it was.
    public static func judgeOperationError(_ operation: Operation, _ error: Errno) -> Judgement {
        if case .allocate = operation, error == .notSupported {
            return Judgement(outcome: .error, call: .skip("\(operation.name): EOPNOTSUPP here"))
        }
        return Judgement(outcome: .error, call: .fail, note: "\(operation) failed: \(error.symbol) (\(error))")
    }

    /// A step scenario's verdict from the promises it checked: a broken promise is a FAIL whatever
    /// else happened; a clean run whose preconditions were not proved (`unmet`) is INCONCLUSIVE.
    public static func verdict(promises: [CheckRecord], unmet: String?) -> (verdict: Verdict, reason: String?) {
        let broken = promises.filter { $0.held == false }
        if !broken.isEmpty { return (.fail, broken.map { "\($0.name): \($0.observed)" }.joined(separator: " | ")) }
        if let unmet { return (.inconclusive, unmet) }
        return (.pass, nil)
    }

    /// The verdict of a case during which the kernel's taint flags changed: TAINTED (it hit a BUG,
    /// an Oops or a WARNING), unless the case already failed on its own; a BROKEN harness yields
    /// to the kernel's own evidence.
    public static func verdict(_ verdict: Verdict, afterTaintChange changed: Bool) -> Verdict {
        changed && (!verdict.isFailure || verdict == .broken) ? .tainted : verdict
    }

    /// A case whose process ran past the case deadline and was killed: a HANG, whatever it had
    /// judged so far; `reaped` false means its process is stuck in the kernel for good.
    public static func verdictPastDeadline(seconds: Int64, reaped: Bool) -> (verdict: Verdict, reason: String) {
        (.hang, "the case did not finish within \(seconds) s and was killed"
            + (reaped ? "" : "; its process is stuck in the kernel and its filesystem cannot be released (unrecoverable)"))
    }

    /// A consumer that mounted in neither cache state: the kernel or the backing filesystem
    /// does not support it here, which says nothing about the cache.
    public static func verdictNeverMounted(_ consumer: String, firstError: String) -> (verdict: Verdict, reason: String) {
        (.skip, "\(consumer) cannot mount here, cold or warm: \(firstError)")
    }

    /// The verdict of a case a known kernel bug explains: KNOWN for a FAIL, HANG or TAINTED (the
    /// kernel's failure, already found), unchanged for anything else (a BROKEN harness is not it).
    public static func verdict(_ verdict: Verdict, explainedByKnownBug explained: Bool) -> Verdict {
        explained && [.fail, .hang, .tainted].contains(verdict) ? .known : verdict
    }

    /// A step scenario's verdict from its operations: the first failing operation (a HANG when
    /// it never completed), else SKIP when no read could be judged, INCONCLUSIVE when its
    /// preconditions were not met, PASS otherwise.
    public static func verdict(failedOutcome: Outcome?, readsJudged: Int, unmet: String?) -> Verdict {
        if let failedOutcome { return failedOutcome == .hang ? .hang : .fail }
        if readsJudged == 0 { return .skip }
        return unmet == nil ? .pass : .inconclusive
    }

    /// A path, pattern, planned file cache and filesystem (by the name its record gives it) that
    /// cannot be combined: the reason to SKIP before anything runs.
    public static func incompatibility(_ path: IOPath, _ pattern: FaultPattern, filesystem: String?, fileCache: FileCachePlan? = nil,
                                       writeTarget: WriteTarget? = nil) -> String? {
        if let writeTarget, [.cached, .mapped].contains(writeTarget), pattern.traits.mapsTheTransferredRange {
            return "\(pattern.rawValue) maps the very range a \(writeTarget.rawValue) target puts in the page cache first, so it cannot stay cold"
        }
        let coldless = filesystem.map { FilesystemTraits.of($0).pagesCanBeCold ? nil : $0 } ?? nil
        if fileCache != nil, let coldless {
            return "\(coldless) file pages live in the page cache, so none can be left uncached"
        }
        if path.method == .uringReadFixed && !pattern.traits.residentBeforeRead {
            return "registering a buffer faults in and pins every page, so \(pattern.rawValue) cannot hold for read_fixed"
        }
        if let coldless, pattern.traits.needsColdFilePages {
            return "\(coldless) file pages live in the page cache, so a mapping of them cannot be cold"
        }
        return nil
    }

    /// The case's verdict from its iterations. A failure is a failure whatever the preconditions;
    /// a PASS needs every precondition proved in every judged iteration.
    public static func verdict(layout: LayoutStatus?, tally: Tally) -> (Verdict, String?) {
        if let hangs = tally.outcomes[.hang] { return (.hang, "a transfer had no completion within the watchdog's window (\(hangs) of \(tally.iterations))") }
        if tally.failures > 0 { return (.fail, "\(tally.failures)/\(tally.iterations) transfers failed") }
        if tally.judged == 0 {
            return (.skip, tally.skipReason ?? "nothing ran")
        }
        if layout == .notReached { return (.inconclusive, "planned extent layout not reached") }
        if layout == .unverifiable { return (.inconclusive, "extent layout unverifiable: no FIEMAP here") }
        if tally.residencyHeld < tally.judged {
            return (.inconclusive, "buffer residency as planned for \(tally.residencyHeld)/\(tally.judged) reads")
        }
        return (.pass, tally.skipReason.map { "\(tally.judged)/\(tally.iterations) judged; rest skipped: \($0)" })
    }
}

/// Counts over a case's iterations, for the verdict.
public struct Tally: Sendable {
    public var iterations = 0
    public var judged = 0
    public var failures = 0
    public var residencyHeld = 0
    public var skipReason: String?
    public var outcomes: [Outcome: Int] = [:]

    public init() {}
}
