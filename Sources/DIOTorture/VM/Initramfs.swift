import DIOSystem

/// An initramfs in the "newc" cpio format the kernel unpacks at boot (uncompressed, which every
/// kernel accepts). Built in memory so that nothing is staged on disk.
struct Initramfs {
    private(set) var bytes: [UInt8] = []
    private var nextInode: UInt32 = 1

    mutating func directory(_ path: String) {
        append(path, mode: 0o040755, data: [])
    }

    mutating func file(_ path: String, data: [UInt8], executable: Bool = false) {
        append(path, mode: executable ? 0o100755 : 0o100644, data: data)
    }

    mutating func characterDevice(_ path: String, major: UInt32, minor: UInt32) {
        append(path, mode: 0o020600, data: [], device: (major, minor))
    }

    /// The archive with its trailer; nothing may be added after.
    func finished() -> [UInt8] {
        var copy = self
        copy.append("TRAILER!!!", mode: 0, data: [])
        return copy.bytes
    }

    private mutating func append(_ path: String, mode: UInt32, data: [UInt8], device: (UInt32, UInt32) = (0, 0)) {
        let name = Array(path.utf8) + [0]
        let fields: [UInt32] = [nextInode, mode, 0, 0, mode & 0o040000 != 0 ? 2 : 1, 0, UInt32(data.count),
                                0, 0, device.0, device.1, UInt32(name.count), 0]
        nextInode += 1
        bytes += Array("070701".utf8)
        for field in fields {
            let hex = String(field, radix: 16, uppercase: true)
            bytes += Array((String(repeating: "0", count: 8 - hex.count) + hex).utf8)
        }
        bytes += name
        padToFour()
        bytes += data
        padToFour()
    }

    private mutating func padToFour() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }
}
