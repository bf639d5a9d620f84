import DIOSystem
import Foundation
import Glibc
import Synchronization

/// What running an operation log gave.
public struct OperationOutcome: Sendable {
    /// Operations carried out, up to and including a failing one.
    public var executed = 0
    /// Per operation line name ("write", "read", "check"...), and "unsupported <op>" for those
    /// the filesystem refused as unsupported (the file is left as it was).
    public var counts: [String: Int] = [:]
    /// Reads judged against the model (a `check` makes three).
    public var readsJudged = 0
    /// Passes of the background writeback thread over the whole file.
    public var writebackPasses = 0
    /// What each `probe` found, in order.
    public var probes: [ProbeResult] = []
    public var failure: OperationFailure?

    /// What a replay must reproduce: the failing operation and how it failed, or a pass.
    public var signature: String {
        failure.map { "operation \($0.index) (\($0.operation)): \($0.detail.outcome.rawValue)" } ?? "pass"
    }
}

/// The state a probe found; nil where this kernel or filesystem cannot tell.
public struct ProbeResult: Sendable {
    /// Pages dirty or under writeback.
    public var dirtyPages: Int?
    public var unwrittenBytes: Int?
}

public struct OperationFailure: Sendable {
    /// The failing operation's index in the log.
    public var index: Int
    public var operation: Operation
    public var detail: FailureRecord
}

/// Runs an operation log on one file against a model of it (fsx's idea): every read is judged
/// on its first completion by the oracle, and the run stops at the first failure, since the
/// model no longer says what the file holds after it.
public final class OperationRunner {
    public let path: String
    public let maxFileSize: Int
    private let buffered: OpenFile
    /// The file, or its backing file on a stacked kind: where FIEMAP sees its extents.
    private let mapped: OpenFile
    private let direct: OpenFile?
    private let directAlignment: Int
    private let transfers: Transfers
    /// A shared mapping of the file; nil where the filesystem makes none (the mmap path is then unavailable).
    private let mapping: MappedRegion?
    /// Page-aligned I/O memory: whole-file checks and the largest operation fit in it.
    private let buffer: MappedRegion
    private let fileID: UInt32
    private let timeout: Duration
    private let corruptReads: Bool
    private var model = FileModel()
    private static let poison: UInt8 = 0xA5

    /// Why each path cannot run here, for the ones that cannot (counted, never judged).
    public private(set) var unavailable: [IOPath: String] = [:]

    /// Creates (or truncates) the file at `path`; `maxFileSize` bounds every operation.
    /// `extentsPath` is where FIEMAP sees the file's extents, when not at `path`.
    public init(path: String, maxFileSize: Int, timeout: Duration, corruptReads: Bool = false, extentsPath: String? = nil) throws {
        self.path = path
        self.maxFileSize = maxFileSize
        self.timeout = timeout
        self.corruptReads = corruptReads
        fileID = UInt32(truncatingIfNeeded: StableHash.fnv1a(path.utf8)) | 1
        buffered = try OpenFile(path, .readWrite, options: [.create, .truncate])
        mapped = try extentsPath.flatMap { $0 == path ? nil : try OpenFile($0, .readOnly) } ?? buffered
        switch Result(catching: { try OpenFile(path, .readWrite, options: .direct) }) {
        case .success(let file):
            direct = file
            directAlignment = max((try? file.dioAlignment())?.offset ?? 0, pageSize)
        case .failure(let error):
            direct = nil
            directAlignment = pageSize
            unavailable[.directSync] = "O_DIRECT: \((error as? Errno)?.symbol ?? "\(error)")"
            unavailable[.directRing] = unavailable[.directSync]
        }
        transfers = Transfers(timeout: timeout)
        do {
            try transfers.prepare(.directRing)
        } catch {
            unavailable[.directRing] = unavailable[.directRing] ?? "\(error)"
            unavailable[.cachedRing] = "\(error)"
        }
        do {
            mapping = try MappedRegion(file: buffered, offset: 0, length: maxFileSize.roundedUp(to: pageSize) + pageSize)
        } catch let refused as SharedMappingRefused {
            mapping = nil
            unavailable[.mapping] = "\(refused)"
        }
        buffer = try MappedRegion(anonymousLength: maxFileSize.roundedUp(to: pageSize) + 2 * pageSize)
    }

    /// Runs `log` from an empty file.
    public func run(_ log: OperationLog) -> OperationOutcome {
        var outcome = OperationOutcome()
        do {
            try buffered.truncate(to: 0)
        } catch {
            outcome.failure = OperationFailure(index: -1, operation: .truncate(size: 0),
                                               detail: failureRecord(index: -1, seed: log.seed, outcome: .error, note: "cannot empty the file: \(error)"))
            return outcome
        }
        model = FileModel()
        let writeback = log.backgroundWriteback ? BackgroundWriteback(file: buffered) : nil
        for (index, operation) in log.operations.enumerated() {
            outcome.executed += 1
            outcome.counts[operation.name, default: 0] += 1
            let stamp = DataStamp(fileID: fileID, generation: UInt32(truncatingIfNeeded: index + 1), seed: log.seed)
            if let failure = execute(operation, index: index, stamp: stamp, outcome: &outcome) {
                outcome.failure = failure
                break
            }
        }
        outcome.writebackPasses = writeback?.stop() ?? 0
        return outcome
    }

    /// One operation of the log, applied to the file and the model; nil when it kept every promise.
    private func execute(_ operation: Operation, index: Int, stamp: DataStamp, outcome: inout OperationOutcome) -> OperationFailure? {
        let step = Step(operation: operation, index: index, stamp: stamp)
        switch operation {
        case .write(let offset, let length, let via):
            return write(step, offset: offset, length: length, via: via, outcome: &outcome)
        case .read(let offset, var length, let via):
            if via.method == .mapped, let mapping {
                let visible = min(model.size.roundedUp(to: pageSize), mapping.length)
                guard offset < visible else {
                    outcome.counts["mmap read past EOF not run", default: 0] += 1
                    return nil
                }
                length = min(length, visible - offset)
            }
            if unsupported(via, offset: offset, length: length) != nil {
                outcome.counts["unsupported read \(via.name(.read))", default: 0] += 1
                return nil
            }
            return judgeRead(offset: offset, length: length, via: via, index: index, seed: stamp.seed, outcome: &outcome)
        case .allocate(let kind, let offset, let length):
            return allocate(step, kind: kind, offset: offset, length: length, outcome: &outcome)
        case .truncate(let size):
            if let failure = attempt(step, outcome: &outcome, { try buffered.truncate(to: size) }) { return failure }
            model.resize(to: size)
        case .fsync:
            return attempt(step, outcome: &outcome) { try buffered.sync() }
        case .fdatasync:
            return attempt(step, outcome: &outcome) { try buffered.dataSync() }
        case .startWriteback(let offset, let length):
            return attempt(step, outcome: &outcome) { try buffered.startWriteback(offset: offset, length: length) }
        case .dropCache(let offset, let length):
            return attempt(step, outcome: &outcome) { try buffered.dropCache(offset: offset, length: length) }
        case .probe:
            outcome.probes.append(ProbeResult(
                dirtyPages: dirtyPages(),
                unwrittenBytes: (try? mapped.extents(sync: false))?.filter(\.isUnwritten).reduce(0) { $0 + $1.length }))
        case .check:
            return check(step, outcome: &outcome)
        }
        return nil
    }

    /// The operation being executed, for its failure record.
    private struct Step {
        var operation: Operation
        var index: Int
        var stamp: DataStamp
    }

    private func fail(_ step: Step, _ judgement: Judgement, result: Int? = nil, errno: Errno? = nil) -> OperationFailure {
        var detail = failureRecord(index: step.index, seed: step.stamp.seed, outcome: judgement.outcome,
                                   note: "\(step.operation): \(judgement.note ?? "")")
        detail.result = result ?? errno.map { -Int($0.rawValue) }
        detail.errno = errno?.symbol
        return OperationFailure(index: step.index, operation: step.operation, detail: detail)
    }

    /// Runs a call that returns nothing: its error is judged (a mode the filesystem does not
    /// support is counted, not failed).
    private func attempt(_ step: Step, outcome: inout OperationOutcome, _ body: () throws -> Void) -> OperationFailure? {
        do {
            try body()
            return nil
        } catch let error as Errno {
            let judgement = Oracle.judgeOperationError(step.operation, error)
            if case .skip = judgement.call {
                outcome.counts["unsupported \(step.operation.name)", default: 0] += 1
                return nil
            }
            return fail(step, judgement, errno: error)
        } catch {
            return fail(step, Judgement(outcome: .error, call: .fail, note: "\(error)"))
        }
    }

    private func write(_ step: Step, offset: Int, length: Int, via: IOPath, outcome: inout OperationOutcome) -> OperationFailure? {
        var length = length
        // A mapping cannot extend the file: a mapped write stops at EOF, wherever the log's
        // generator believed EOF to be (a refused fallocate leaves the file shorter).
        if via.method == .mapped {
            guard offset < model.size else {
                outcome.counts["mmap write past EOF not run", default: 0] += 1
                return nil
            }
            length = min(length, model.size - offset)
        }
        if unsupported(via, offset: offset, length: length) != nil {
            outcome.counts["unsupported write \(via.name(.write))", default: 0] += 1
            return nil
        }
        let bytes = stampedBytes(offset..<offset + length, stamp: step.stamp)
        switch write(bytes, at: offset, via: via) {
        case .completed(let written):
            let judgement = Oracle.judgeWrite(.completed(written), contract: WriteContract(length: length, path: via))
            if judgement.call == .fail { return fail(step, judgement, result: written) }
            model.write(offset..<offset + length, stamp: step.stamp)
        case .failed(let error):
            return fail(step, Oracle.judgeOperationError(step.operation, error), errno: error)
        case .timedOut:
            return fail(step, Judgement(outcome: .hang, call: .fail, note: "no completion within the watchdog's window"))
        }
        return nil
    }

    private func allocate(_ step: Step, kind: AllocateKind, offset: Int, length: Int, outcome: inout OperationOutcome) -> OperationFailure? {
        var supported = true
        if let failure = attempt(step, outcome: &outcome, {
            do { try buffered.allocate(kind.mode, offset: offset, length: length) } catch Errno.notSupported {
                supported = false
                throw Errno.notSupported
            }
        }) { return failure }
        guard supported else { return nil }
        switch kind {
        case .plain: model.extend(to: offset + length)
        case .keepSize: break
        case .punch, .zeroKeepSize: model.clear(offset..<offset + length)
        case .zero:
            model.clear(offset..<offset + length)
            model.extend(to: offset + length)
        }
        return nil
    }

    /// The whole file read every way there is: direct through io_uring, buffered, and mapped.
    private func check(_ step: Step, outcome: inout OperationOutcome) -> OperationFailure? {
        let size = model.size
        let seed = step.stamp.seed
        if direct != nil, unavailable[.directRing] == nil,
           let failure = judgeRead(offset: 0, length: max(size.roundedUp(to: directAlignment), directAlignment), via: .directRing,
                                   index: step.index, seed: seed, outcome: &outcome) { return failure }
        if let failure = judgeRead(offset: 0, length: size + pageSize, via: .cachedSync, index: step.index, seed: seed, outcome: &outcome) {
            return failure
        }
        if size > 0, mapping != nil, let failure = judgeRead(offset: 0, length: size.roundedUp(to: pageSize), via: .mapping, index: step.index,
                                             seed: seed, outcome: &outcome) { return failure }
        return nil
    }

    /// Pages of the file dirty or under writeback, and of its backing file on a stacked kind
    /// (a write-through FUSE client holds none; its server's filesystem does); nil where
    /// cachestat cannot tell.
    private func dirtyPages() -> Int? {
        let files = mapped === buffered ? [buffered] : [buffered, mapped]
        let states = files.compactMap { try? $0.cacheState() }
        return states.isEmpty ? nil : states.reduce(0) { $0 + $1.dirty + $1.writeback }
    }

    /// Why `via` cannot carry this range here, or nil.
    private func unsupported(_ via: IOPath, offset: Int, length: Int) -> String? {
        if let reason = unavailable[via.reading] { return reason }
        if via.isDirect, offset % directAlignment != 0 || length % directAlignment != 0 {
            return "direct I/O needs \(directAlignment)-byte alignment"
        }
        return nil
    }

    /// The bytes `stamp` puts at `range`, in the I/O buffer (sector-exact at any byte offset).
    private func stampedBytes(_ range: Range<Int>, stamp: DataStamp) -> UnsafeRawBufferPointer {
        let start = range.lowerBound - range.lowerBound % SectorPattern.sectorSize
        let end = range.upperBound.roundedUp(to: SectorPattern.sectorSize)
        // Sector-aligned in memory as well, so that a direct write can use it as it is.
        SectorPattern.fill(UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<end - start]), stamp: stamp, fileOffset: start)
        let skip = range.lowerBound - start
        if skip == 0 { return UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<range.count]) }
        memmove(buffer.base, buffer.base + skip, range.count)
        return UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<range.count])
    }

    private func write(_ bytes: UnsafeRawBufferPointer, at offset: Int, via: IOPath) -> TransferResult {
        if via.method == .mapped { return TransferResult(mapping!.copyIn(at: offset, from: bytes)) }
        return transfer(via, UnsafeMutableRawBufferPointer(mutating: bytes), at: offset)
    }

    private func read(into target: UnsafeMutableRawBufferPointer, at offset: Int, via: IOPath) -> TransferResult {
        if via.method == .mapped { return TransferResult(mapping!.copyOut(at: offset, into: target)) }
        return transfer(via, target, at: offset)
    }

    /// One transfer on the descriptor `via` uses (O_DIRECT, or through the page cache): its first completion.
    private func transfer(_ via: IOPath, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int) -> TransferResult {
        do {
            return try transfers.fire(via, file: via.buffered ? buffered : direct!, buffers: [buffer], offset: offset)[0]
        } catch {
            return .failed(error as? Errno ?? .ioError)
        }
    }

    /// One read, judged by the oracle against the model on its first completion. A mapping
    /// reads up to the end of the page holding EOF, and those bytes past EOF must be zeros.
    private func judgeRead(offset: Int, length: Int, via: IOPath, index: Int, seed: UInt64,
                           outcome: inout OperationOutcome) -> OperationFailure? {
        let target = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<length])
        memset(target.baseAddress!, Int32(Self.poison), length)
        let result = read(into: target, at: offset, via: via)
        if corruptReads, case .completed(let count) = result, count > 0 { target[count / 2] ^= 0xFF }
        let visibleSize = via.method == .mapped ? min(model.size.roundedUp(to: pageSize), mapping?.length ?? 0) : model.size
        let contract = ReadContract(offset: offset, length: length, fileSize: visibleSize,
                                    path: via, inaccessibleOffset: nil)
        let (judgement, verification) = Oracle.judgeRead(result, contract: contract, bytes: UnsafeRawBufferPointer(target),
                                                         model: model, prior: { _ in .fill(Self.poison) }).pair
        outcome.readsJudged += 1
        guard judgement.call == .fail else { return nil }
        var detail = failureRecord(index: index, seed: seed, outcome: judgement.outcome,
                                   note: "\(Operation.read(offset: offset, length: length, via: via)): \(judgement.note ?? "")")
        detail.expectedLength = contract.expectedLength
        detail.badRanges = verification.badRanges
        detail.firstBadOffset = verification.firstBadOffset
        switch result {
        case .completed(let count):
            detail.result = count
            if count < contract.expectedLength {
                detail.unfilledTail = Verifier.diagnoseTail(UnsafeRawBufferPointer(target), bufferOffset: count, fileOffset: offset,
                                                            model: model, prior: { _ in .fill(Self.poison) })
            }
        case .failed(let error):
            detail.result = -Int(error.rawValue)
            detail.errno = error.symbol
        case .timedOut:
            detail.kernelStacks = taskKernelStacks(of: ThisProcess.id)
        }
        return OperationFailure(index: index, operation: .read(offset: offset, length: length, via: via), detail: detail)
    }

    private func failureRecord(index: Int, seed: UInt64, outcome: Outcome, note: String) -> FailureRecord {
        FailureRecord(iteration: index, seed: seed, outcome: outcome, expectedLength: 0, result: nil, errno: nil,
                      firstBadOffset: nil, badRanges: [], unfilledTail: [], note: note, kernelStacks: nil)
    }
}

/// A thread that starts writeback of a whole file in a loop (sync_file_range WRITE), racing
/// whatever the main thread does to the file's folios and extents.
final class BackgroundWriteback: @unchecked Sendable {
    private let stopping = Atomic<Bool>(false)
    private let passes = Atomic<Int>(0)
    private let finished = DispatchSemaphore(value: 0)

    init(file: OpenFile) {
        let thread = Thread { [self] in
            while !stopping.load(ordering: .relaxed) {
                try? file.startWriteback()
                passes.add(1, ordering: .relaxed)
                // A breath between passes, so that steps meet dirty folios as well as folios
                // under writeback.
                ThisProcess.pause(microseconds: 50 + passes.load(ordering: .relaxed) % 7 * 50)
            }
            finished.signal()
        }
        thread.start()
    }

    /// Stops the thread, waits for it, and returns how many passes it made.
    func stop() -> Int {
        stopping.store(true, ordering: .relaxed)
        finished.wait()
        return passes.load(ordering: .relaxed)
    }
}
