import CURing
import Glibc

/// A loop device bound to a backing file with LOOP_CONFIGURE and LO_FLAGS_AUTOCLEAR, so that
/// the kernel detaches it by itself once the last opener (this object, then the mount) is gone,
/// also when the process is killed.
public final class LoopDevice {
    public let path: String
    /// "loop3", as the kernel log and /sys/block name it.
    public var kernelName: String { String(path.split(separator: "/").last!) }
    /// Held open so that autoclear cannot detach the device while mkfs opens and closes it.
    private let device: OpenFile

    /// `directIO`: the loop driver reads and writes the backing file with direct I/O
    /// (LO_FLAGS_DIRECT_IO, `losetup --direct-io=on`) instead of through its page cache.
    public init(backing: OpenFile, readOnly: Bool = false, directIO: Bool = false) throws {
        let control = try OpenFile("/dev/loop-control", .readWrite)
        // Another process may claim the free device between GET_FREE and CONFIGURE: retry.
        for _ in 0..<16 {
            let number = try checked { ioctl(control.descriptor, DIOT_LOOP_CTL_GET_FREE) }
            let candidate = try OpenFile("/dev/loop\(number)", readOnly ? .readOnly : .readWrite)
            let flags = DIOT_LO_FLAGS_AUTOCLEAR | (readOnly ? DIOT_LO_FLAGS_READ_ONLY : 0) | (directIO ? DIOT_LO_FLAGS_DIRECT_IO : 0)
            if diot_loop_configure(candidate.descriptor, backing.descriptor, flags) == 0 {
                path = candidate.path
                device = candidate
                return
            }
            if errno != EBUSY { throw Errno(rawValue: errno) }
        }
        throw Errno.resourceBusy
    }
}
