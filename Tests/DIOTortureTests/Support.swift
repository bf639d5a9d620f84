import Foundation
import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

/// Suites that attach loop devices or run the CLI nest in here, so that they run one at a time:
/// the leftover checks count the machine's loop devices.
@Suite(.serialized) enum OnTheRealKernel {}

/// Why integration tests cannot run here, or nil: they need root for loop devices and mounts.
let rootRequirement: String? = Kernel.isRoot ? nil : "needs root (loop devices and mounts); run the tests as root"

func missingTools(_ kinds: [ScratchKind]) -> String? {
    let reasons = kinds.compactMap { kind in kind.unavailableReason.map { "\(kind.name): \($0)" } }
    return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
}

/// The dio-torture binary built beside the test bundle.
let toolPath: String = {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return directory.appendingPathComponent("dio-torture").path
}()

struct ToolRun {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the CLI; `interruptAfter` sends `signal` once that much time has passed.
func runTool(_ arguments: [String], interruptAfter: Duration? = nil, signal: Int32 = SIGINT) throws -> ToolRun {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: toolPath)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    if let interruptAfter {
        Thread.sleep(forTimeInterval: Double(interruptAfter.components.seconds) + Double(interruptAfter.components.attoseconds) / 1e18)
        kill(process.processIdentifier, signal)
    }
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ToolRun(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                   stderr: String(decoding: stderr, as: UTF8.self))
}

/// Loop devices bound to a backing file right now, and mounts of loop devices or of ours.
func attachedLoopDevices() -> Set<String> {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/block")) ?? []
    return Set(names.filter { $0.hasPrefix("loop") && FileManager.default.fileExists(atPath: "/sys/block/\($0)/loop/backing_file") })
}

/// device-mapper devices dio-torture made (their names start with "dio-torture-").
func ourMappedDevices() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/block")) ?? []
    return names.filter { $0.hasPrefix("dm-") }.compactMap { try? readTextFile("/sys/block/\($0)/dm/name") }
        .filter { $0.hasPrefix("dio-torture-") }
}

func ourMounts() -> [String] {
    let table = (try? readTextFile("/proc/self/mountinfo")) ?? ""
    return table.split(separator: "\n").map(String.init).filter { $0.contains("dio-torture") || $0.contains("/dev/loop") }
}

/// Waits for the kernel to finish tearing down what a dead process held (autoclear is deferred).
func settles(_ condition: () -> Bool, within seconds: Double = 10) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return condition()
}

/// Case processes (`dio-torture case-worker`) alive now.
func caseProcesses() -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        let command = (try? readTextFile("/proc/\(pid)/cmdline")) ?? ""
        return command.contains("dio-torture") && command.contains("case-worker")
    }
}
