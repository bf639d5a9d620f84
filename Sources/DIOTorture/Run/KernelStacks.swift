import Foundation

/// The kernel stacks of this process's tasks (io-wq workers included), keyed "TID comm", for a
/// hang report. Empty where /proc/PID/task/TID/stack is not readable.
func kernelStacks() -> [String: String] {
    let taskDirectory = "/proc/self/task"
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
