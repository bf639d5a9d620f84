import DIOSystem

/// Delta debugging (Zeller's ddmin) over an operation log: the shortest subsequence found that
/// still fails the same way. Each trial replays a candidate from an empty file.
public enum LogShrinker {
    /// `stillFails` replays a candidate and says whether it reproduces the failure; `budget`
    /// caps the number of replays.
    public static func shrink(_ log: OperationLog, budget: Int = 500, stillFails: (OperationLog) -> Bool) -> (log: OperationLog, replays: Int) {
        var operations = log.operations
        var granularity = 2
        var replays = 0
        func fails(_ candidate: [Operation]) -> Bool {
            replays += 1
            var trial = log
            trial.operations = candidate
            return stillFails(trial)
        }
        while operations.count >= 2 && replays < budget {
            let chunk = (operations.count + granularity - 1) / granularity
            let chunks = stride(from: 0, to: operations.count, by: chunk).map { $0..<min($0 + chunk, operations.count) }
            var reduced = false
            // A chunk alone, then everything but a chunk.
            for range in chunks where replays < budget && fails(Array(operations[range])) {
                operations = Array(operations[range])
                granularity = 2
                reduced = true
                break
            }
            if !reduced {
                for range in chunks where replays < budget {
                    let complement = Array(operations[..<range.lowerBound] + operations[range.upperBound...])
                    if fails(complement) {
                        operations = complement
                        granularity = max(granularity - 1, 2)
                        reduced = true
                        break
                    }
                }
            }
            if !reduced {
                if granularity >= operations.count { break }
                granularity = min(granularity * 2, operations.count)
            }
        }
        var result = log
        result.operations = operations
        return (result, replays)
    }
}
