import CURing
import Glibc

/// A kernel AIO context (io_setup): what libaio's `io_submit` drives, and MariaDB's and MySQL's
/// default asynchronous I/O. Destroyed on deinit, which also waits for what is still in flight.
public final class AIOContext {
    private var context: aio_context_t = 0

    public init(entries: UInt32 = 8) throws {
        _ = try checked { diot_aio_setup(entries, &context) }
    }

    deinit { _ = diot_aio_destroy(context) }

    /// Submits one pread- or pwrite-like request of `buffer` at `offset` (a write only reads it).
    public func submit(_ direction: TransferDirection, file: Int32, buffer: UnsafeMutableRawBufferPointer, offset: Int,
                       flags: ReadWriteFlags = [], userData: UInt64) throws {
        _ = try checked {
            diot_aio_submit(context, file, direction == .write ? 1 : 0, buffer.baseAddress, UInt64(buffer.count),
                            Int64(offset), flags.rawValue, userData)
        }
    }

    /// The next completion, or nil when none arrives within `timeout`: judged once, as posted.
    public func waitCompletion(timeout: Duration) throws -> Completion? {
        let (seconds, attoseconds) = timeout.components
        var data: UInt64 = 0, result: Int64 = 0
        let got = try checked { diot_aio_wait(context, seconds * 1_000_000_000 + attoseconds / 1_000_000_000, &data, &result) }
        return got == 0 ? nil : Completion(userData: data, result: Int32(clamping: result))
    }
}
