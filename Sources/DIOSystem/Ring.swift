import CURing
import Glibc

/// Which way a transfer moves data: into memory from the file, or out of memory into it.
public enum TransferDirection: Sendable, Hashable { case read, write }

/// The io_uring transfer opcodes the harness submits, named for reads; writing, each is its
/// write twin (IORING_OP_WRITE, WRITEV, WRITE_FIXED).
public enum RingTransfer: Sendable {
    case read
    case readv
    /// IORING_OP_READ_FIXED on the buffer registered at `index`.
    case readFixed(index: Int)
}

/// Ring setup for throughput: completions are posted when this task asks for them, with no
/// interrupting wake-ups (what fio's io_uring engine does). The catalogue keeps the default setup,
/// as the applications it stands for use it.
public let throughputRingFlags = UInt32(IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN)

/// One completion, exactly as the kernel posted it: `result` is bytes or -errno.
public struct Completion: Sendable, Equatable {
    public var userData: UInt64
    public var result: Int32
}

/// An io_uring instance (liburing). The io_uring struct lives at a fixed address because
/// liburing keeps pointers into it.
public final class Ring {
    private let ring: UnsafeMutablePointer<io_uring>
    /// iovecs of readv submissions must stay valid until the kernel has consumed them.
    private var vectors: [UInt64: UnsafeMutablePointer<iovec>] = [:]
    /// Transfers queued and not yet reaped.
    public private(set) var inFlight = 0

    /// `pollingIdle`, when given, makes a ring whose submissions a kernel thread polls for
    /// (IORING_SETUP_SQPOLL): the transfer is issued from that thread rather than from the
    /// submitter. The thread polls that long after its last submission, then sleeps until a
    /// submission wakes it (IORING_SQ_NEED_WAKEUP); the kernel's default is a second of polling.
    public init(entries: UInt32 = 64, flags: UInt32 = 0, pollingIdle: Duration? = nil) throws {
        ring = .allocate(capacity: 1)
        ring.initialize(to: io_uring())
        var parameters = io_uring_params()
        parameters.flags = flags
        if let pollingIdle {
            parameters.flags |= UInt32(IORING_SETUP_SQPOLL)
            parameters.sq_thread_idle = UInt32(clamping: max(1, pollingIdle.wholeMilliseconds))
        }
        let rc = io_uring_queue_init_params(entries, ring, &parameters)
        if rc < 0 {
            ring.deallocate()
            throw Errno(rawValue: -rc)
        }
    }

    deinit {
        io_uring_queue_exit(ring)
        ring.deallocate()
        for vector in vectors.values { vector.deallocate() }
    }

    public func registerBuffers(_ buffers: [UnsafeMutableRawBufferPointer]) throws {
        let vectors = buffers.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
        _ = try checkedNegative(vectors.withUnsafeBufferPointer {
            io_uring_register_buffers(ring, $0.baseAddress, UInt32($0.count))
        })
    }

    /// Registers `descriptors` with the ring, so that a read names one by its index
    /// (`fixedFile`) and the kernel skips looking the descriptor up for every read.
    public func registerFiles(_ descriptors: [Int32]) throws {
        _ = try checkedNegative(descriptors.withUnsafeBufferPointer {
            io_uring_register_files(ring, $0.baseAddress, UInt32($0.count))
        })
    }

    public func unregisterBuffers() {
        _ = io_uring_unregister_buffers(ring)
    }

    public func unregisterFiles() {
        _ = io_uring_unregister_files(ring)
    }

    /// Queues one transfer; nothing reaches the kernel until `submit`. With `fixedFile`, `file` is
    /// an index into the files registered with `registerFiles`. `segments` are the transfer's
    /// memory: one iovec each for readv, exactly one for the others. A write only reads them.
    public func queue(_ kind: RingTransfer, _ direction: TransferDirection, file: Int32, fixedFile: Bool = false,
                      segments: [UnsafeMutableRawBufferPointer], offset: Int, flags: ReadWriteFlags = [], async: Bool = false,
                      userData: UInt64) throws {
        guard let sqe = io_uring_get_sqe(ring) else { throw Errno.resourceTemporarilyUnavailable }
        let reading = direction == .read
        let buffer = segments[0]
        switch kind {
        case .read:
            if reading { io_uring_prep_read(sqe, file, buffer.baseAddress, UInt32(buffer.count), UInt64(offset)) }
            else { io_uring_prep_write(sqe, file, buffer.baseAddress, UInt32(buffer.count), UInt64(offset)) }
        case .readv:
            let vector = UnsafeMutablePointer<iovec>.allocate(capacity: segments.count)
            vector.initialize(from: segments.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }, count: segments.count)
            vectors[userData]?.deallocate()
            vectors[userData] = vector
            if reading { io_uring_prep_readv(sqe, file, vector, UInt32(segments.count), UInt64(offset)) }
            else { io_uring_prep_writev(sqe, file, vector, UInt32(segments.count), UInt64(offset)) }
        case .readFixed(let index):
            if reading { io_uring_prep_read_fixed(sqe, file, buffer.baseAddress, UInt32(buffer.count), UInt64(offset), Int32(index)) }
            else { io_uring_prep_write_fixed(sqe, file, buffer.baseAddress, UInt32(buffer.count), UInt64(offset), Int32(index)) }
        }
        diot_sqe_set_rw_flags(sqe, flags.rawValue)
        if async { diot_sqe_or_flags(sqe, DIOT_IOSQE_ASYNC) }
        if fixedFile { diot_sqe_or_flags(sqe, DIOT_IOSQE_FIXED_FILE) }
        io_uring_sqe_set_data64(sqe, userData)
        inFlight += 1
    }

    @discardableResult
    public func submit() throws -> Int {
        Int(try checkedNegative(io_uring_submit(ring)))
    }

    /// The next completion, or nil when none arrives within `timeout` (the watchdog's window).
    /// The completion is consumed: it is judged once, never resubmitted.
    public func waitCompletion(timeout: Duration) throws -> Completion? {
        let (seconds, attoseconds) = timeout.components
        var span = __kernel_timespec(tv_sec: seconds, tv_nsec: attoseconds / 1_000_000_000)
        var cqe: UnsafeMutablePointer<io_uring_cqe>?
        let rc = io_uring_wait_cqe_timeout(ring, &cqe, &span)
        if rc == -ETIME { return nil }
        _ = try checkedNegative(rc)
        return cqe.map(consume)
    }

    /// Submits what is queued and waits for at least one completion, in one syscall; nil when
    /// none arrives within `timeout`. Take it and the rest with `nextCompletion`.
    public func submitAndWait(timeout: Duration) throws -> Bool {
        let (seconds, attoseconds) = timeout.components
        var span = __kernel_timespec(tv_sec: seconds, tv_nsec: attoseconds / 1_000_000_000)
        var cqe: UnsafeMutablePointer<io_uring_cqe>?
        let rc = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &span, nil)
        if rc == -ETIME { return false }
        _ = try checkedNegative(rc)
        return cqe != nil
    }

    /// Submits what is queued and posts the completions that have arrived, without sleeping
    /// (with DEFER_TASKRUN, completions reach the queue only when the task enters the kernel).
    public func submitAndPost() throws { _ = try checkedNegative(io_uring_submit_and_get_events(ring)) }

    /// Completions posted and not yet taken.
    public var postedCompletions: Int { Int(io_uring_cq_ready(ring)) }

    /// A completion that has already arrived, without a syscall; nil when none has.
    public func nextCompletion() -> Completion? {
        var cqe: UnsafeMutablePointer<io_uring_cqe>?
        guard io_uring_peek_cqe(ring, &cqe) == 0, let cqe else { return nil }
        return consume(cqe)
    }

    private func consume(_ cqe: UnsafeMutablePointer<io_uring_cqe>) -> Completion {
        let completion = Completion(userData: cqe.pointee.user_data, result: cqe.pointee.res)
        io_uring_cqe_seen(ring, cqe)
        inFlight -= 1
        if !vectors.isEmpty, let vector = vectors.removeValue(forKey: completion.userData) { vector.deallocate() }
        return completion
    }

    /// The opcodes this kernel's io_uring supports, by IORING_OP_ number (io_uring_get_probe).
    public static func supportedOpcodes() -> Set<Int32>? {
        guard let probe = io_uring_get_probe() else { return nil }
        defer { io_uring_free_probe(probe) }
        var opcodes = Set<Int32>()
        for opcode in 0..<Int32(probe.pointee.last_op) + 1 where io_uring_opcode_supported(probe, opcode) != 0 {
            opcodes.insert(opcode)
        }
        return opcodes
    }

    /// Whether this kernel's io_uring has each opcode the harness submits, by name.
    public static func harnessOpcodes() -> [String: Bool] {
        let supported = supportedOpcodes() ?? []
        let named: [(String, io_uring_op)] = [("READV", IORING_OP_READV), ("READ_FIXED", IORING_OP_READ_FIXED),
                                              ("READ", IORING_OP_READ), ("FALLOCATE", IORING_OP_FALLOCATE),
                                              ("WRITEV", IORING_OP_WRITEV), ("WRITE_FIXED", IORING_OP_WRITE_FIXED),
                                              ("WRITE", IORING_OP_WRITE)]
        return Dictionary(uniqueKeysWithValues: named.map { ($0.0, supported.contains(Int32($0.1.rawValue))) })
    }
}
