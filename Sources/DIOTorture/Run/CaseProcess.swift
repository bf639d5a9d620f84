import DIOSystem
import Foundation
import Glibc

/// Where the cases of a run execute.
public enum CaseIsolation: Sendable {
    /// In the calling process (the library's tests; a crash or a stuck read takes the run with it).
    case inProcess
    /// In child processes of `executable` (`dio-torture case-worker`), several cases one after
    /// another per child: a case that crashes its child, or runs past `deadline` and is killed
    /// with it, is recorded as what it did, and the cases after it go on in a fresh child.
    case childProcess(executable: String, deadline: Duration)

    var usesProcesses: Bool { if case .childProcess = self { true } else { false } }
}

/// One case as a child process receives it.
public struct CaseJob: Codable, Sendable {
    public var spec: CaseSpec
    public var area: WorkArea
    public var options: RunOptions
    /// The parent's pid: the child ends itself when the parent is gone.
    public var parent: Int32

    /// The child's side: reads its jobs (a JSON array) from standard input and runs them in
    /// order, each watched for kernel-log lines and taint changes, writing each record as one
    /// line of JSON as soon as it is judged. A case that hung stops the child: what it left
    /// stuck in the kernel must not meet the next case. Returns the exit status.
    public static func serveStandardInput() -> Int32 {
        let data = FileHandle.standardInput.readDataToEndOfFile()
        guard let jobs = try? JSONDecoder().decode([CaseJob].self, from: data), let first = jobs.first else {
            FileHandle.standardError.write(Data("case-worker: no valid cases on standard input\n".utf8))
            return 2
        }
        // Die with the parent, even if it is killed outright; if it is already gone, stop now.
        ThisProcess.dieWithParent()
        if ThisProcess.parentID != first.parent { return 2 }
        let watch = KernelWatch()
        // A child's jobs are one batch's: one area, one set of options.
        return LayoutsAhead.expecting(jobs.map(\.spec), in: first.area, options: first.options) {
            for job in jobs {
                guard scenario(named: job.spec.scenario) != nil else { return 2 }
                let record = watch.run(job.spec, in: job.area, options: job.options)
                guard let encoded = try? JSONEncoder().encode(record) else { return 2 }
                FileHandle.standardOutput.write(encoded + Data("\n".utf8))
                if record.verdict == .hang { break }
            }
            return 0
        }
    }
}

/// The parent's side: runs cases in children and turns however each case ended into a record.
enum CaseProcess {
    /// How long a killed child may take to go; one still there is stuck in the kernel for good.
    static let reapTimeout: Duration = .seconds(10)
    /// Cases per child: enough that starting processes costs little, few enough that a fresh
    /// process comes along often.
    static let casesPerChild = 64
    /// How often the parent looks for finished cases while a child runs.
    static let pollInterval: Duration = .milliseconds(20)

    struct Result {
        var record: CaseRecord
        /// The child could not be killed: its filesystem is held by a task stuck in the kernel.
        var unrecoverable: Bool
    }

    /// Runs `jobs` in order, handing each case's result to `each` as it ends; the parent's
    /// `watch` gives the kernel's lines to a case the parent had to record itself. Stops at an
    /// unrecoverable case or an interruption: the jobs not handed back did not run.
    static func run(_ jobs: [CaseJob], executable: String, deadline: Duration, watch: KernelWatch, interrupted: () -> Bool,
                    each: (Result) -> Void) {
        var next = 0
        while next < jobs.count, !interrupted() {
            let batch = Array(jobs[next..<min(jobs.count, next + casesPerChild)])
            guard let (ended, stop) = runChild(batch, executable: executable, deadline: deadline, watch: watch, interrupted: interrupted,
                                               each: each) else { return }
            next += ended
            if stop { return }
        }
    }

    /// Runs one child over `batch`: returns how many of its cases ended (were handed to `each`)
    /// and whether the run must stop; nil when interrupted.
    private static func runChild(_ batch: [CaseJob], executable: String, deadline: Duration, watch: KernelWatch,
                                 interrupted: () -> Bool, each: (Result) -> Void) -> (ended: Int, stop: Bool)? {
        var started = Date()
        let child: ChildProcess
        do {
            child = try ChildProcess(executable: executable, arguments: ["case-worker"], input: Array(try JSONEncoder().encode(batch)))
        } catch {
            each(Result(record: broken(batch[0], "cannot start the case process: \(error)", started: started), unrecoverable: false))
            return (1, false)
        }
        let token = InterruptCleanup.registerStop { child.kill() }
        defer { InterruptCleanup.unregister(token) }
        var reader = RecordReader()
        watch.caseStarts()
        while true {
            let exit = child.wait(for: pollInterval)
            for record in reader.newRecords(of: child) {
                each(Result(record: record, unrecoverable: false))
                started = Date()
                watch.caseStarts()
            }
            if interrupted() { return nil }
            let current = reader.count
            if let exit {
                // A clean exit before the end (after a HANG) leaves the rest to a fresh child.
                if current == batch.count || (exit == .exited(0) && current > 0) { return (current, false) }
                var record = crashed(batch[current], exit: exit, child: child, started: started)
                watch.caseEnded(&record)
                each(Result(record: record, unrecoverable: false))
                return (current + 1, false)
            }
            if Date().timeIntervalSince(started) > Double(deadline.components.seconds) + Double(deadline.components.attoseconds) / 1e18 {
                var result = killPastDeadline(batch[current], child: child, deadline: deadline, started: started)
                watch.caseEnded(&result.record)
                if interrupted() { return nil }
                each(result)
                return (current + 1, result.unrecoverable)
            }
        }
    }

    /// The records a child has written so far, one JSON line each, read as they arrive.
    private struct RecordReader {
        private var consumed = 0
        private var pending: [UInt8] = []
        private(set) var count = 0

        mutating func newRecords(of child: ChildProcess) -> [CaseRecord] {
            let fresh = (try? child.standardOutput(from: consumed)) ?? []
            consumed += fresh.count
            pending += fresh
            var records: [CaseRecord] = []
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                if let record = try? JSONDecoder().decode(CaseRecord.self, from: Data(pending[..<newline])) { records.append(record) }
                pending.removeSubrange(...newline)
            }
            count += records.count
            return records
        }
    }

    /// A case whose child ran past its deadline: its stuck tasks' stacks taken, then killed.
    private static func killPastDeadline(_ job: CaseJob, child: ChildProcess, deadline: Duration, started: Date) -> Result {
        let stacks = child.kernelStacks
        child.kill()
        let reaped = child.wait(for: reapTimeout) != nil
        var record = skeleton(job, started: started)
        (record.verdict, record.reason) = Oracle.verdictPastDeadline(seconds: deadline.components.seconds, reaped: reaped)
        record.failureDetails.append(FailureRecord(iteration: -1, seed: record.seed, outcome: .hang,
                                                   expectedLength: job.spec.read?.length ?? job.spec.write?.length ?? 0,
                                                   result: nil, errno: nil, firstBadOffset: nil, badRanges: [], unfilledTail: [],
                                                   note: "case deadline", kernelStacks: stacks))
        return Result(record: record, unrecoverable: !reaped)
    }

    /// The case a child was running when it died.
    private static func crashed(_ job: CaseJob, exit: ChildExit, child: ChildProcess, started: Date) -> CaseRecord {
        let errors = String(decoding: (try? child.standardError()) ?? [], as: UTF8.self)
        let lastLine = errors.split(separator: "\n").last.map { ": " + $0 } ?? ""
        let how = switch exit {
        case .exited(let status): "exited \(status)"
        case .signalled(let signalNumber): "was killed by signal \(signalNumber) (\(String(cString: strsignal(signalNumber))))"
        case .timedOut: "timed out"
        case .abandoned: "was abandoned"
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
