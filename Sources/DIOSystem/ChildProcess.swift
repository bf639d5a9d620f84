import CURing
import Foundation
import Glibc

/// A child process started with posix_spawn, its standard streams on in-memory files (so no
/// pipe can fill up and block it), waited for through a pidfd so a deadline needs no polling
/// loop. It runs in its own process group: a terminal's Ctrl-C reaches only the parent, which
/// decides what to do with it.
public final class ChildProcess {
    public let pid: pid_t
    private let pidDescriptor: Int32
    private let output: OpenFile
    private let errors: OpenFile
    private var status: ChildExit?

    /// Starts `executable` with `arguments`, `input` on its standard input, and `passing` as
    /// its descriptors 3, 4, ...
    public init(executable: String, arguments: [String], input: [UInt8], passing: [OpenFile] = []) throws {
        let stdin = try OpenFile(memoryNamed: "dio-torture-stdin")
        output = try OpenFile(memoryNamed: "dio-torture-stdout")
        errors = try OpenFile(memoryNamed: "dio-torture-stderr")
        try input.withUnsafeBytes { _ = try stdin.write($0, at: 0) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let streams = [(stdin, STDIN_FILENO), (output, STDOUT_FILENO), (errors, STDERR_FILENO)]
        for (file, target) in streams + passing.enumerated().map({ ($1, Int32(3 + $0)) }) {
            posix_spawn_file_actions_adddup2(&actions, file.descriptor, target)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The parent may block or ignore signals (its clean-up thread does): the child starts clean.
        var noSignals = sigset_t(), defaultSignals = sigset_t()
        sigemptyset(&noSignals)
        sigemptyset(&defaultSignals)
        for signalNumber in [SIGINT, SIGTERM, SIGPIPE] { sigaddset(&defaultSignals, signalNumber) }
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        if rc != 0 { throw Errno(rawValue: rc) }
        pid = child
        do {
            pidDescriptor = try checked { diot_pidfd_open(child) }
        } catch {
            Glibc.kill(child, SIGKILL)
            waitpid(child, nil, 0)
            throw error
        }
    }

    deinit {
        if status == nil {
            Glibc.kill(pid, SIGKILL)
            _ = wait(for: .seconds(5))
        }
        close(pidDescriptor)
    }

    /// Waits up to `timeout` for the child to end and reaps it; nil while it still runs.
    public func wait(for timeout: Duration) -> ChildExit? {
        if let status { return status }
        var poller = pollfd(fd: pidDescriptor, events: Int16(POLLIN), revents: 0)
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = deadline - ContinuousClock.now
            let milliseconds = max(0, Int32(clamping: left.wholeMilliseconds))
            let ready = poll(&poller, 1, milliseconds)
            if ready > 0 { break }
            if ready == 0 || (ready < 0 && errno != EINTR) { return nil }
        }
        var raw: Int32 = 0
        guard waitpid(pid, &raw, 0) == pid else { return nil }
        // The wait-status macros are not importable: low 7 bits the signal, else the exit code.
        let signalNumber = raw & 0x7F
        status = signalNumber == 0 ? .exited((raw >> 8) & 0xFF) : .signalled(signalNumber)
        return status
    }

    public func kill(signal: Int32 = SIGKILL) { Glibc.kill(pid, signal) }

    /// What the child wrote to its standard output and error so far (output from `offset` on).
    public func standardOutput(from offset: Int = 0) throws -> [UInt8] { try output.contents(from: offset) }
    public func standardError() throws -> [UInt8] { try errors.contents() }

    /// The kernel stacks of the child's tasks (io-wq workers included), keyed "TID comm".
    public var kernelStacks: [String: String] { taskKernelStacks(of: pid) }
}

extension OpenFile {
    /// An anonymous in-memory file (memfd): it never appears in any filesystem.
    public convenience init(memoryNamed name: String) throws {
        try self.init(adopting: checked { diot_memfd_create(name) }, path: "memfd:\(name)")
    }
}

/// The kernel stacks of a process's tasks, keyed "TID comm"; empty where
/// /proc/PID/task/TID/stack is not readable (it needs root).
public func taskKernelStacks(of pid: pid_t) -> [String: String] {
    let taskDirectory = "/proc/\(pid)/task"
    guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: taskDirectory) else { return [:] }
    var stacks: [String: String] = [:]
    for task in tasks {
        let comm = (try? readTextFile("\(taskDirectory)/\(task)/comm"))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        if let stack = try? readTextFile("\(taskDirectory)/\(task)/stack"), !stack.isEmpty {
            stacks["\(task) \(comm)"] = stack
        }
    }
    return stacks
}

/// A pipe whose write end a parent holds and whose read end it passes to a child: the child
/// reads until end of file, which comes when the parent lets go of it and also when the parent
/// is killed outright (the kernel closes its descriptors).
public final class Lifeline {
    /// The end to pass to the child.
    public let childEnd: OpenFile
    private var parentEnd: OpenFile?

    public init() throws {
        var ends: [Int32] = [0, 0]
        _ = try checked { pipe(&ends) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        childEnd = OpenFile(adopting: ends[0], path: "pipe:lifeline")
        parentEnd = OpenFile(adopting: ends[1], path: "pipe:lifeline")
    }

    /// Tells the child to go.
    public func release() { parentEnd = nil }

    /// The child's side: returns once the parent has let go of `descriptor`'s pipe.
    public static func wait(on descriptor: Int32) {
        var byte: UInt8 = 0
        while true {
            let count = read(descriptor, &byte, 1)
            if count == 0 || (count < 0 && errno != EINTR) { return }
        }
    }
}
