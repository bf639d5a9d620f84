import Foundation

public struct CommandError: Error, CustomStringConvertible {
    public var command: [String]
    public var status: Int32
    public var output: String
    public var description: String {
        let lastLine = output.split(separator: "\n").last.map(String.init) ?? ""
        return "\(command.joined(separator: " ")) exited \(status)" + (lastLine.isEmpty ? "" : ": \(lastLine)")
    }
}

/// Runs an external tool (mkfs.*) to completion, with its output captured for error messages.
public func runCommand(_ arguments: [String]) throws {
    _ = try runCommandCapturing(arguments)
}

/// Runs an external tool to completion and returns what it printed (stdout, then stderr).
public func runCommandCapturing(_ arguments: [String]) throws -> String {
    let child = try completedChild(arguments)
    return String(decoding: try child.standardOutput() + child.standardError(), as: UTF8.self)
}

/// Runs an external tool to completion and returns its standard output byte for byte (a
/// decompressor's, say).
public func runCommandOutput(_ arguments: [String]) throws -> [UInt8] {
    try completedChild(arguments).standardOutput()
}

/// The tool, spawned and waited for through a pidfd (`ChildProcess`): Foundation's `Process`
/// notices an exit only on its run loop's next 50 ms tick, which a run of a dozen mkfs felt.
/// Throws with what it printed unless it exited 0.
private func completedChild(_ arguments: [String]) throws -> ChildProcess {
    guard let tool = arguments.first, let executable = findExecutable(tool) else {
        throw CommandError(command: arguments, status: 127, output: "\(arguments.first ?? ""): command not found")
    }
    let child = try ChildProcess(executable: executable, arguments: Array(arguments.dropFirst()), input: [])
    var exit: ChildExit?
    while exit == nil { exit = child.wait(for: .seconds(3600)) }
    if exit == .exited(0) { return child }
    let text = String(decoding: ((try? child.standardOutput()) ?? []) + ((try? child.standardError()) ?? []), as: UTF8.self)
    switch exit {
    case .exited(let status): throw CommandError(command: arguments, status: status, output: text)
    case .signalled(let signalNumber): throw CommandError(command: arguments, status: 128 + signalNumber, output: text)
    default: throw CommandError(command: arguments, status: -1, output: text)
    }
}

/// Where `tool` is on PATH (plus the sbin directories a non-login root shell may lack), or nil;
/// a path (with a slash) is its own answer if it is executable.
public func findExecutable(_ tool: String) -> String? {
    if tool.contains("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
    return directories.map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// How a supervised child ended.
public enum ChildExit: Sendable, Equatable {
    case exited(Int32)
    case signalled(Int32)
    case timedOut
    /// Killed because the caller's `abandonIf` said so.
    case abandoned
}

/// Runs a long-lived program (QEMU) with its output into `output`. It is killed after `timeout`,
/// when `abandonIf` (asked twice a second) says so, when this process is interrupted, and,
/// through the parent-death signal `setpriv` sets before exec, even when this process is killed
/// outright. The calling thread must outlive the child:
/// the parent-death signal fires when the thread that spawned it ends.
public func runSupervised(_ arguments: [String], output: OpenFile, timeout: Duration,
                          abandonIf: () -> Bool = { false }) throws -> ChildExit {
    let process = Process()
    if let setpriv = findExecutable("setpriv") {
        process.executableURL = URL(fileURLWithPath: setpriv)
        process.arguments = ["--pdeathsig", "KILL", "--"] + arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
    }
    let sink = FileHandle(fileDescriptor: output.descriptor, closeOnDealloc: false)
    process.standardOutput = sink
    process.standardError = sink
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let pid = process.processIdentifier
    let token = InterruptCleanup.register { kill(pid, SIGKILL) }
    defer { InterruptCleanup.unregister(token) }
    let deadline = ContinuousClock.now + timeout
    var nextAsk = ContinuousClock.now
    while process.isRunning {
        let now = ContinuousClock.now
        var abandon = false
        if now >= nextAsk {
            abandon = abandonIf()
            nextAsk = now + .milliseconds(500)
        }
        if now >= deadline || abandon {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return abandon ? .abandoned : .timedOut
        }
        usleep(20_000)
    }
    return process.terminationReason == .uncaughtSignal ? .signalled(process.terminationStatus) : .exited(process.terminationStatus)
}

/// Runs a program with this process's standard input, output and error; its exit status, or
/// 128 + the signal that killed it, as a shell reports it.
public func runInheritingOutput(_ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    try process.run()
    let pid = process.processIdentifier
    let token = InterruptCleanup.register { kill(pid, SIGKILL) }
    defer { InterruptCleanup.unregister(token) }
    process.waitUntilExit()
    return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
}
