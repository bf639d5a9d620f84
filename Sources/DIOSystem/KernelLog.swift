import Glibc

/// The kernel log from the moment it is opened: /dev/kmsg, positioned at its end, read without
/// blocking. Each read(2) returns one record, "PRIORITY,SEQUENCE,MICROSECONDS,FLAGS;MESSAGE".
public final class KernelLog {
    private let descriptor: Int32
    /// Records overwritten in the ring buffer before they were read.
    public private(set) var lostRecords = false

    public init() throws {
        descriptor = try checked { open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC) }
        lseek(descriptor, 0, SEEK_END)
    }

    deinit { close(descriptor) }

    /// The messages logged since the last call.
    public func newMessages() -> [String] {
        var messages: [String] = []
        var record = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = record.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                switch errno {
                case EINTR: continue
                // The reader fell behind the ring buffer; the next read goes on from the oldest kept.
                case EPIPE: lostRecords = true; continue
                default: return messages
                }
            }
            if count == 0 { return messages }
            let text = String(decoding: record[..<count], as: UTF8.self)
            guard let separator = text.firstIndex(of: ";") else { continue }
            // Continuation lines (" KEY=value") follow the message after a newline: keep the message.
            let message = text[text.index(after: separator)...].split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
            messages.append(String(message))
        }
    }
}

extension Kernel {
    /// /proc/sys/kernel/tainted: one bit per taint flag (Documentation/admin-guide/tainted-kernels.rst).
    public static var taint: UInt64? {
        (try? readTextFile("/proc/sys/kernel/tainted")).flatMap { UInt64($0.prefix { $0.isNumber }) }
    }

    /// The taint letters of `flags`, as an Oops line prints them ("G W" style, without the spaces).
    public static func taintLetters(_ flags: UInt64) -> String {
        let letters = Array("PFSRMBUDAWCIOELKXTN")
        return String(letters.indices.filter { flags & (1 << UInt64($0)) != 0 }.map { letters[$0] })
    }
}
