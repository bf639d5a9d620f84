import DIOSystem

/// `dio-torture replay`: a saved log run again from an empty file, and a failing one shrunk.
public enum OperationReplay {
    /// The file size a log needs room for (its mapping and buffers).
    static func maxFileSize(of log: OperationLog) -> Int {
        max(log.operations.map(\.reach).max() ?? 0, pageSize).roundedUp(to: pageSize)
    }

    public static func run(_ log: OperationLog, in directory: String, timeout: Duration, corruptReads: Bool = false) throws -> OperationOutcome {
        let runner = try OperationRunner(path: directory + "/replay.dat", maxFileSize: maxFileSize(of: log), timeout: timeout,
                                         corruptReads: corruptReads)
        defer { removeFile(runner.path) }
        return runner.run(log)
    }

    /// The shortest subsequence of `log` found (ddmin) that still fails with the same outcome
    /// as `failure`, and the number of replays it took.
    public static func shrink(_ log: OperationLog, failing failure: OperationFailure, in directory: String, timeout: Duration,
                              corruptReads: Bool = false, budget: Int = 500) throws -> (log: OperationLog, replays: Int) {
        let runner = try OperationRunner(path: directory + "/shrink.dat", maxFileSize: maxFileSize(of: log), timeout: timeout,
                                         corruptReads: corruptReads)
        defer { removeFile(runner.path) }
        return LogShrinker.shrink(log, budget: budget) { candidate in
            runner.run(candidate).failure?.detail.outcome == failure.detail.outcome
        }
    }
}
