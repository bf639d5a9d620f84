import CURing
import Glibc

/// Runs a libc call that reports failure as -1 + errno, retrying EINTR, and throws `Errno`.
@inline(__always)
func checked<T: FixedWidthInteger>(_ body: () -> T) throws -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = Errno(rawValue: errno)
        if error != .interrupted { throw error }
    }
}

/// liburing and a few ioctls return -errno instead of setting errno.
@inline(__always)
func checkedNegative(_ result: Int32) throws -> Int32 {
    if result < 0 { throw Errno(rawValue: -result) }
    return result
}

/// The system's page size, which every buffer and residency computation works in.
public let pageSize: Int = Int(sysconf(Int32(_SC_PAGESIZE)))

/// An errno value, thrown by the syscall layer. (swift-system's `Errno` would do, but its C
/// module includes <linux/io_uring.h>, whose structs clash with liburing's copy of them.)
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let interrupted = Errno(rawValue: EINTR)
    public static let resourceTemporarilyUnavailable = Errno(rawValue: EAGAIN)
    public static let notSupported = Errno(rawValue: EOPNOTSUPP)
    public static let badAddress = Errno(rawValue: EFAULT)
    public static let invalidArgument = Errno(rawValue: EINVAL)
    public static let ioError = Errno(rawValue: EIO)
    public static let resourceBusy = Errno(rawValue: EBUSY)
    public static let noSuchDevice = Errno(rawValue: ENODEV)

    /// Lets `catch Errno.invalidArgument` match a thrown errno.
    public static func ~= (match: Errno, error: any Error) -> Bool { (error as? Errno) == match }

    /// The C library's text for it, e.g. "Bad address".
    public var description: String { String(cString: strerror(rawValue)) }

    /// `EAGAIN`, `EFAULT`... rather than the prose `description` gives.
    public var symbol: String {
        let names: [Int32: String] = [
            EAGAIN: "EAGAIN", EFAULT: "EFAULT", EINVAL: "EINVAL", EIO: "EIO", ENOSPC: "ENOSPC",
            EOPNOTSUPP: "EOPNOTSUPP", ENODATA: "ENODATA", EPERM: "EPERM", EACCES: "EACCES",
            ENOENT: "ENOENT", EBUSY: "EBUSY", ENOTDIR: "ENOTDIR", ENOSYS: "ENOSYS", EINTR: "EINTR",
            ECANCELED: "ECANCELED", ETIME: "ETIME", ENOMEM: "ENOMEM", EROFS: "EROFS", EBADF: "EBADF",
            ENOTBLK: "ENOTBLK", ENODEV: "ENODEV", EEXIST: "EEXIST", EXDEV: "EXDEV",
        ]
        return names[rawValue] ?? "errno \(rawValue)"
    }
}

/// The per-transfer flags of preadv2(2)/pwritev2(2) and of an io_uring read or write's rw_flags.
public struct ReadWriteFlags: OptionSet, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// RWF_NOWAIT: fail with EAGAIN (or complete partially) rather than block.
    public static let nowait = ReadWriteFlags(rawValue: DIOT_RWF_NOWAIT)
}
