import DIOSystem
import Foundation
import Glibc

/// Where the cases of a run execute.
public enum CaseIsolation: Sendable {
    /// In the calling process (the library's tests; a crash or a stuck read takes the run with it).
    case inProcess
    /// Each case in a fresh child process of `executable` (`dio-torture case-worker`), killed
    /// after `deadline`: a crash, a hang or a leaked resource stays with its case.
    case childProcess(executable: String, deadline: Duration)
}

/// One case as a child process receives it on its standard input.
public struct CaseJob: Codable, Sendable {
    public var spec: CaseSpec
    public var area: WorkArea
    public var options: RunOptions
    /// The parent's pid: the child ends itself when the parent is gone.
    public var parent: Int32

    /// The child's side: reads the job from standard input, runs it, writes the record to
    /// standard output. Returns the exit status.
    public static func serveStandardInput() -> Int32 {
        let data = FileHandle.standardInput.readDataToEndOfFile()
        guard let job = try? JSONDecoder().decode(CaseJob.self, from: data) else {
            FileHandle.standardError.write(Data("case-worker: no valid case on standard input\n".utf8))
            return 2
        }
        // Die with the parent, even if it is killed outright; if it is already gone, stop now.
        ThisProcess.dieWithParent()
        if ThisProcess.parentID != job.parent { return 2 }
        guard let scenario = scenario(named: job.spec.scenario) else { return 2 }
        let record = scenario.run(job.spec, in: job.area, options: job.options)
        guard let encoded = try? JSONEncoder().encode(record) else { return 2 }
        FileHandle.standardOutput.write(encoded)
        return 0
    }
}

/// The parent's side: runs one case in a child and turns however the child ended into a record.
enum CaseProcess {
    /// How long a killed child may take to go; one still there is stuck in the kernel for good.
    static let reapTimeout: Duration = .seconds(10)

    struct Result {
        var record: CaseRecord
        /// The child could not be killed: its filesystem is held by a task stuck in the kernel.
        var unrecoverable: Bool
    }

    static func run(_ job: CaseJob, executable: String, deadline: Duration, interrupted: () -> Bool) -> Result? {
        let started = Date()
        let child: ChildProcess
        do {
            child = try ChildProcess(executable: executable, arguments: ["case-worker"], input: Array(try JSONEncoder().encode(job)))
        } catch {
            return Result(record: broken(job, "cannot start the case process: \(error)", started: started), unrecoverable: false)
        }
        let token = InterruptCleanup.registerStop { child.kill() }
        defer { InterruptCleanup.unregister(token) }

        if let exit = child.wait(for: deadline) {
            if interrupted() { return nil }
            return Result(record: record(of: child, exit: exit, job: job, started: started), unrecoverable: false)
        }
        // Past its deadline: take the stacks of its stuck tasks before killing it.
        let stacks = child.kernelStacks
        child.kill()
        let reaped = child.wait(for: reapTimeout) != nil
        if interrupted() { return nil }
        // A child that judged a hang itself (the read watchdog) may have written its record
        // before getting stuck on its way out: keep its details.
        var record = (try? JSONDecoder().decode(CaseRecord.self, from: Data(child.standardOutput())))
            ?? skeleton(job, started: started)
        let seconds = Double(deadline.components.seconds)
        record.verdict = .hang
        record.reason = "the case did not finish within \(Int(seconds)) s and was killed"
            + (reaped ? "" : "; its process is stuck in the kernel and its filesystem cannot be released (unrecoverable)")
        if record.failureDetails.isEmpty || record.failureDetails.last?.outcome != .hang {
            record.failureDetails.append(FailureRecord(iteration: -1, seed: record.seed, outcome: .hang, expectedLength: job.spec.read?.length ?? 0,
                                                       result: nil, errno: nil, firstBadOffset: nil, badRanges: [], unfilledTail: [],
                                                       note: "case deadline", kernelStacks: stacks))
        }
        record.durationSeconds = Date().timeIntervalSince(started)
        return Result(record: record, unrecoverable: !reaped)
    }

    private static func record(of child: ChildProcess, exit: ChildExit, job: CaseJob, started: Date) -> CaseRecord {
        let output = (try? child.standardOutput()) ?? []
        if exit == .exited(0), let record = try? JSONDecoder().decode(CaseRecord.self, from: Data(output)) { return record }
        let errors = String(decoding: (try? child.standardError()) ?? [], as: UTF8.self)
        let lastLine = errors.split(separator: "\n").last.map { ": " + $0 } ?? ""
        let how = switch exit {
        case .exited(let status): "exited \(status)"
        case .signalled(let signalNumber): "was killed by signal \(signalNumber) (\(String(cString: strsignal(signalNumber))))"
        case .timedOut: "timed out"
        }
        return broken(job, "the case process \(how)\(lastLine)", started: started)
    }

    private static func skeleton(_ job: CaseJob, started: Date) -> CaseRecord {
        var record = CaseRecord(job.spec, area: job.area, options: job.options, iterations: job.options.iterations)
        record.durationSeconds = Date().timeIntervalSince(started)
        return record
    }

    private static func broken(_ job: CaseJob, _ reason: String, started: Date) -> CaseRecord {
        var record = skeleton(job, started: started)
        record.reason = reason
        return record
    }
}
