import Glibc

/// A zram device of its own (/sys/class/zram-control/hot_add), removed again (reset, then
/// hot_remove) when the object goes: a scratch block device in memory.
public final class ZramDevice {
    /// Whether this kernel has zram.
    public static var isAvailable: Bool { access(controlDirectory + "/hot_add", F_OK) == 0 }

    /// "/dev/zram1".
    public var path: String { "/dev/zram\(number)" }
    private let number: Int
    private static let controlDirectory = "/sys/class/zram-control"

    public init(size: Int) throws {
        let answer = try readTextFile(Self.controlDirectory + "/hot_add")
        guard let number = Int(answer.prefix { $0.isNumber }) else { throw Errno.noSuchDevice }
        self.number = number
        // Failing here still runs deinit: the device is removed.
        try writeControl("/sys/block/zram\(number)/disksize", "\(size)")
    }

    deinit {
        try? writeControl("/sys/block/zram\(number)/reset", "1")
        try? writeControl(Self.controlDirectory + "/hot_remove", "\(number)")
    }
}
