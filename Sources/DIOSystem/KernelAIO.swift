import CURing
import Glibc

/// A kernel AIO context (io_setup): what libaio's `io_submit` drives, and MariaDB's and MySQL's
/// default asynchronous I/O. Destroyed on deinit, which also waits for what is still in flight
/// (io_destroy waits out an RCU grace period too: tens of milliseconds even when idle).
public final class AIOContext {
    private var context: aio_context_t = 0
    /// iovecs of submitted requests, by user data: the kernel reads them at submission, but a
    /// request is only done with its memory once completed.
    private var vectors: [UInt64: UnsafeMutablePointer<iovec>] = [:]

    /// The most requests it takes in flight.
    public let entries: UInt32

    public init(entries: UInt32 = 8) throws {
        self.entries = entries
        _ = try checked { diot_aio_setup(entries, &context) }
    }

    /// No submitted request is waiting for its completion to be taken.
    public var isIdle: Bool { vectors.isEmpty }

    deinit {
        _ = diot_aio_destroy(context)
        for vector in vectors.values { vector.deallocate() }
    }

    /// Submits one pread- or pwrite-like request over `segments` at `offset` (a write only
    /// reads them); the iovecs are kept until the completion is taken.
    public func submit(_ direction: TransferDirection, file: Int32, segments: [UnsafeMutableRawBufferPointer], offset: Int,
                       flags: ReadWriteFlags = [], userData: UInt64) throws {
        let vector = UnsafeMutablePointer<iovec>.allocate(capacity: segments.count)
        vector.initialize(from: segments.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }, count: segments.count)
        vectors[userData]?.deallocate()
        vectors[userData] = vector
        do {
            _ = try checked {
                diot_aio_submit(context, file, direction == .write ? 1 : 0, vector, Int32(segments.count), Int64(offset), flags.rawValue, userData)
            }
        } catch {
            // Refused: the request will never complete.
            vectors.removeValue(forKey: userData)?.deallocate()
            throw error
        }
    }

    /// The next completion, or nil when none arrives within `timeout`: judged once, as posted.
    public func waitCompletion(timeout: Duration) throws -> Completion? {
        let (seconds, attoseconds) = timeout.components
        var data: UInt64 = 0, result: Int64 = 0
        let got = try checked { diot_aio_wait(context, seconds * 1_000_000_000 + attoseconds / 1_000_000_000, &data, &result) }
        guard got > 0 else { return nil }
        vectors.removeValue(forKey: data)?.deallocate()
        return Completion(userData: data, result: Int32(clamping: result))
    }
}
