import CURing
import Foundation
import Glibc

/// What the harness asks of its own process.
public enum ThisProcess {
    public static var id: Int32 { getpid() }

    public static var parentID: Int32 { getppid() }

    /// Asks the kernel to SIGKILL this process when its parent dies (PR_SET_PDEATHSIG), even if
    /// the parent is killed outright.
    public static func dieWithParent() { _ = diot_set_parent_death_signal(SIGKILL) }

    /// Has malloc keep the memory a process frees for its next allocations. By default glibc
    /// serves blocks of 128 KiB and more with a mapping of their own and gives the top of its
    /// heap back once 128 KiB of it is free, so a case's per-iteration buffers (expected file
    /// contents, bounce buffers, records) came back as fresh pages, faulted in and cleared
    /// every time: a quarter of a quick suite's page faults.
    public static func keepFreedMemory() {
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 128 << 20)
    }

    /// This executable's path (/proc/self/exe), for starting copies of itself.
    public static func executablePath() throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = try checked { readlink("/proc/self/exe", &buffer, buffer.count - 1) }
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The ids of this process's tasks now (its threads, io_uring workers included).
    public static var taskIDs: Set<Int32> {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return Set(tasks.compactMap(Int32.init)).union([id])
    }

    /// The dio-torture executable, for its helper processes (case workers, servers): this one, or
    /// in a test bundle the one built beside it.
    public static func toolPath() throws -> String {
        let this = try executablePath()
        guard !this.hasSuffix("/dio-torture") else { return this }
        let beside = String(this[..<(this.lastIndex(of: "/") ?? this.startIndex)]) + "/dio-torture"
        return access(beside, X_OK) == 0 ? beside : this
    }

    public enum Stream { case standardOutput, standardError }

    /// Whether `stream` is a terminal (for colour and progress lines).
    public static func isTerminal(_ stream: Stream) -> Bool {
        isatty(stream == .standardOutput ? STDOUT_FILENO : STDERR_FILENO) != 0
    }

    /// Sleeps the calling thread for `microseconds`.
    public static func pause(microseconds: Int) { usleep(UInt32(microseconds)) }
}
