import CURing
import Glibc

/// A loop device bound to a backing file with LOOP_CONFIGURE and LO_FLAGS_AUTOCLEAR, so that
/// the kernel detaches it by itself once the last opener (this object, then the mount) is gone,
/// also when the process is killed.
public final class LoopDevice {
    public let path: String
    /// Held open so that autoclear cannot detach the device while mkfs opens and closes it.
    private let device: OpenFile

    public init(backing: OpenFile) throws {
        let control = try OpenFile(path: "/dev/loop-control", flags: O_RDWR)
        // Another process may claim the free device between GET_FREE and CONFIGURE: retry.
        for _ in 0..<16 {
            let number = try checked { ioctl(control.descriptor, DIOT_LOOP_CTL_GET_FREE) }
            let candidate = try OpenFile(path: "/dev/loop\(number)", flags: O_RDWR)
            if diot_loop_configure(candidate.descriptor, backing.descriptor, DIOT_LO_FLAGS_AUTOCLEAR) == 0 {
                path = candidate.path
                device = candidate
                return
            }
            if errno != EBUSY { throw Errno(rawValue: errno) }
        }
        throw Errno.resourceBusy
    }
}
