import CURing
import Glibc

/// A device-mapper device with one target, made through /dev/mapper/control (no dmsetup, so no
/// udev to wait for, which test-kernel guests do not run). Once it is open it is marked for
/// deferred removal: the kernel removes it by itself when the last opener (this object, then a
/// mount) is gone, also when the process is killed, and what is under it is released in turn.
public final class MappedDevice {
    /// /dev/dm-N.
    public let path: String
    /// "dm-N", as the kernel log and /sys/block name it.
    public let kernelName: String
    public let sectors: Int
    private let name: String
    private let control: OpenFile
    /// Held open so that the deferred removal waits for this object.
    private let device: OpenFile

    /// Why this kernel cannot make a device with `target` ("flakey"), or nil.
    public static func unavailableReason(target: String) -> String? {
        let control: OpenFile
        do { control = try OpenFile("/dev/mapper/control", .readWrite) } catch {
            return "the kernel has no device-mapper (/dev/mapper/control: \(error))"
        }
        switch diot_dm_has_target(control.descriptor, target) {
        case 1: return nil
        case 0: return "device-mapper has no \(target) target (CONFIG_DM_\(target.uppercased()), not built in nor loaded)"
        default: return "device-mapper cannot list its targets: \(Errno(rawValue: errno))"
        }
    }

    /// A device of `sectors` (512 bytes) whose table is `target` with `parameters`.
    public init(name: String, target: String, sectors: Int, parameters: String) throws {
        control = try OpenFile("/dev/mapper/control", .readWrite)
        self.name = name
        self.sectors = sectors
        _ = try Self.command(control, DIOT_DM_DEV_CREATE, name: name)
        do {
            // The disk, and so its /dev node, appears when the first table is made live.
            try Self.load(control, name: name, target: target, sectors: sectors, parameters: parameters)
            let number = try Self.command(control, DIOT_DM_DEV_SUSPEND, name: name)
            let minor = Int(number & 0xff) | Int((number >> 12) & 0xfff00)
            kernelName = "dm-\(minor)"
            path = "/dev/" + kernelName
            device = try OpenFile(path, .readOnly)
            _ = try Self.command(control, DIOT_DM_DEV_REMOVE, name: name, flags: DIOT_DM_DEFERRED_REMOVE)
        } catch {
            _ = try? Self.command(control, DIOT_DM_DEV_REMOVE, name: name)
            throw error
        }
    }

    /// Swaps in a new table without freezing the filesystem on top (a freeze would first write
    /// back its dirty pages, which a test of failing writeback wants to keep dirty).
    public func replaceTable(target: String, parameters: String) throws {
        try Self.load(control, name: name, target: target, sectors: sectors, parameters: parameters)
        // Resuming a device with a new inactive table suspends it, swaps the tables and resumes.
        _ = try Self.command(control, DIOT_DM_DEV_SUSPEND, name: name, flags: DIOT_DM_SKIP_LOCKFS)
    }

    /// Write requests the device has completed, failed ones included (/sys/block/dm-N/stat).
    public func writesCompleted() -> Int? { BlockDeviceStatistics(kernelName: kernelName)?.writes }

    private static func load(_ control: OpenFile, name: String, target: String, sectors: Int, parameters: String) throws {
        var number: UInt64 = 0
        _ = try checked { diot_dm_ioctl(control.descriptor, DIOT_DM_TABLE_LOAD, name, 0, target, UInt64(sectors), parameters, &number) }
    }

    private static func command(_ control: OpenFile, _ request: UInt, name: String, flags: UInt32 = 0) throws -> UInt64 {
        var number: UInt64 = 0
        _ = try checked { diot_dm_ioctl(control.descriptor, request, name, flags, nil, 0, nil, &number) }
        return number
    }
}

/// A block device's I/O counters (Documentation/block/stat.rst).
public struct BlockDeviceStatistics {
    public var reads: Int
    public var writes: Int

    /// `kernelName`: "loop3", "dm-0".
    public init?(kernelName: String) {
        guard let text = try? readTextFile("/sys/block/\(kernelName)/stat") else { return nil }
        let fields = text.split(separator: " ").compactMap { Int($0) }
        guard fields.count >= 5 else { return nil }
        reads = fields[0]
        writes = fields[4]
    }
}
