import DIOSystem
import Foundation

/// The one place an I/O path becomes syscalls: fires one transfer per buffer on a descriptor and
/// returns each first completion in buffer order, unjudged and never resubmitted. Completions
/// that do not arrive within `timeout` come back as `.timedOut`. The io_uring ring and the AIO
/// context are made on first use and kept for the transfers that follow; an idle AIO context is
/// handed on to the next case (`IdleAIOContexts`).
final class Transfers {
    let timeout: Duration
    private let depth: Int
    private var ring: Ring?
    private var aio: AIOContext?
    /// How long an SQPOLL ring's thread polls after a submission. A case submits once per
    /// iteration, a millisecond or more apart: with the kernel's second the thread spun through
    /// the whole case on a CPU the other cases needed. It sleeps between iterations instead, and
    /// each submission wakes it; the transfer is still issued from that thread.
    static let submissionPollingIdle: Duration = .milliseconds(1)

    /// A path this machine cannot submit on (no io_uring, no AIO): the reason, for a SKIP.
    struct Unavailable: Error, CustomStringConvertible {
        var description: String
    }

    /// Registering a fixed buffer failed (a buffer that cannot be pinned).
    struct Unregisterable: Error {
        var error: Errno
    }

    init(timeout: Duration, depth: Int = 1) {
        self.timeout = timeout
        self.depth = depth
    }

    deinit {
        if let aio { IdleAIOContexts.giveBack(aio) }
    }

    /// Makes what `path` submits through, so that a missing interface shows before any set-up.
    func prepare(_ path: IOPath) throws {
        if path.usesRing, ring == nil {
            do { ring = try Ring(entries: UInt32(max(8, depth)), pollingIdle: path.sqpoll ? Self.submissionPollingIdle : nil) } catch let error as Errno {
                throw Unavailable(description: "io_uring\(path.sqpoll ? " with SQPOLL" : "") unavailable: \(error.symbol)")
            }
        }
        if path.method == .aio, aio == nil {
            do { aio = try IdleAIOContexts.take(entries: UInt32(max(8, depth))) } catch let error as Errno {
                throw Unavailable(description: "kernel AIO unavailable (io_setup: \(error.symbol))")
            }
        }
        if path.method == .mapped { throw Unavailable(description: "\(path) goes through a mapping, not a descriptor") }
        if depth > 1, !path.usesRing, path.method != .aio {
            throw Unavailable(description: "\(depth) transfers in flight need an asynchronous path; \(path) is synchronous")
        }
    }

    /// Fires one transfer per buffer at `offset`, each buffer as `segments` iovecs of about equal
    /// size (a path that takes one buffer only SKIPs more).
    func fire(_ path: IOPath, file: OpenFile, buffers: [UnsafeMutableRawBufferPointer], segments: Int = 1,
              offset: Int) throws -> [TransferResult] {
        try PhaseClock.measure(.transfers) { try fireNow(path, file: file, buffers: buffers, segments: segments, offset: offset) }
    }

    private func fireNow(_ path: IOPath, file: OpenFile, buffers: [UnsafeMutableRawBufferPointer], segments: Int,
                         offset: Int) throws -> [TransferResult] {
        try prepare(path)
        if segments > 1, [.uringRead, .uringReadFixed, .mapped].contains(path.method) {
            throw Unavailable(description: "\(path) takes one buffer, not \(segments) iovecs")
        }
        let flags: ReadWriteFlags = path.nowait ? .nowait : []
        let split = buffers.map { Self.split($0, into: segments) }
        switch path.method {
        case .pread where segments == 1:
            let buffer = buffers[0]
            return [path.direction == .write ? TransferResult { try file.write(UnsafeRawBufferPointer(buffer), at: offset) }
                                             : TransferResult { try file.read(into: buffer, at: offset) }]
        case .pread, .preadv2:
            return [TransferResult(file.transfer(path.direction, split[0], at: offset, flags: flags))]
        case .aio:
            return try throughAIO(path, file: file, split: split, offset: offset, flags: flags)
        case .uringRead, .uringReadv, .uringReadFixed:
            return try throughRing(path, file: file, split: split, offset: offset, flags: flags)
        case .mapped:
            throw Unavailable(description: "\(path) goes through a mapping, not a descriptor")
        }
    }

    /// `buffer` as `count` consecutive pieces, the last taking what does not divide.
    static func split(_ buffer: UnsafeMutableRawBufferPointer, into count: Int) -> [UnsafeMutableRawBufferPointer] {
        let piece = buffer.count / count
        return (0..<count).map { index in
            let end = index == count - 1 ? buffer.count : (index + 1) * piece
            return UnsafeMutableRawBufferPointer(rebasing: buffer[index * piece..<end])
        }
    }

    private func throughRing(_ path: IOPath, file: OpenFile, split: [[UnsafeMutableRawBufferPointer]], offset: Int,
                             flags: ReadWriteFlags) throws -> [TransferResult] {
        let ring = ring!
        let fixed = path.method == .uringReadFixed
        if fixed {
            // Whole pages: a transfer may use its registered buffer from an offset other than its start.
            do { try ring.registerBuffers(split.map { Self.wholePages(around: $0[0]) }) } catch let error as Errno {
                throw Unregisterable(error: error)
            }
        }
        defer { if fixed { ring.unregisterBuffers() } }
        if path.fixedFile { try ring.registerFiles([file.descriptor]) }
        defer { if path.fixedFile { ring.unregisterFiles() } }
        for (index, segments) in split.enumerated() {
            let kind: RingTransfer = switch path.method {
            case .uringRead: .read
            case .uringReadv: .readv
            default: .readFixed(index: index)
            }
            try ring.queue(kind, path.direction, file: path.fixedFile ? 0 : file.descriptor, fixedFile: path.fixedFile, segments: segments,
                           offset: offset, flags: flags, async: path.async, userData: UInt64(index))
        }
        try ring.submit()
        return try collect(count: split.count) { try ring.waitCompletion(timeout: timeout) }
    }

    /// An iocb that io_submit refuses (EOPNOTSUPP for RWF_NOWAIT where the file has no
    /// FMODE_NOWAIT) never completes: the refusal is that transfer's result.
    private func throughAIO(_ path: IOPath, file: OpenFile, split: [[UnsafeMutableRawBufferPointer]], offset: Int,
                            flags: ReadWriteFlags) throws -> [TransferResult] {
        var refused: [Int: Errno] = [:]
        for (index, segments) in split.enumerated() {
            do {
                try aio!.submit(path.direction, file: file.descriptor, segments: segments, offset: offset, flags: flags, userData: UInt64(index))
            } catch let error as Errno {
                refused[index] = error
            }
        }
        var results = try collect(count: split.count, expecting: split.count - refused.count) { try aio!.waitCompletion(timeout: timeout) }
        for (index, error) in refused { results[index] = .failed(error) }
        return results
    }

    /// The pages that hold `buffer`, from the start of its first to the end of its last.
    private static func wholePages(around buffer: UnsafeMutableRawBufferPointer) -> UnsafeMutableRawBufferPointer {
        let address = Int(bitPattern: buffer.baseAddress!)
        let start = address - address % pageSize
        return UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(bitPattern: start),
                                             count: (address + buffer.count).roundedUp(to: pageSize) - start)
    }

    /// The first completion of each of `count` transfers, placed by its user data; `expecting`
    /// of them were submitted.
    private func collect(count: Int, expecting: Int? = nil, next: () throws -> Completion?) throws -> [TransferResult] {
        var results = [TransferResult](repeating: .timedOut, count: count)
        for _ in 0..<(expecting ?? count) {
            guard let completion = try next() else { break }
            results[Int(completion.userData)] = TransferResult(completion)
        }
        return results
    }
}


/// AIO contexts no case is using, kept for the next: destroying one waits out an RCU grace period
/// (about 35 ms here, a tenth of an AIO case's time), and a context that has nothing in flight
/// carries nothing from one case into the next. One that still has a request out (a case that
/// timed out) is not kept: a late completion must not reach another case.
enum IdleAIOContexts {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var idle: [AIOContext] = []

    static func take(entries: UInt32) throws -> AIOContext {
        let kept = locked { () -> AIOContext? in
            guard let index = idle.firstIndex(where: { $0.entries == entries }) else { return nil }
            return idle.remove(at: index)
        }
        return try kept ?? AIOContext(entries: entries)
    }

    static func giveBack(_ context: AIOContext) {
        guard context.isIdle else { return }
        locked { idle.append(context) }
    }

    private static func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }
}
