import Foundation

/// The phases a run's time goes to, for `run --profile`: measured around the code of each, so
/// that a claim about speed is a measured before and after.
public enum Phase: String, CaseIterable, Codable, Sendable {
    case target = "mkfs and mount"
    case layout = "layout write and fsync"
    case fiemap = "FIEMAP"
    case buffers = "buffer and cache set-up, mincore"
    case transfers = "transfers"
    case verification = "verification and read-back"
    case kernelLog = "kernel-log and taint watch"
    /// Everything the others do not hold: starting and feeding case processes, step scenarios'
    /// own work, records and the report.
    case rest = "the rest (processes, step scenarios, records)"
}

/// Sums the time spent in each phase, exclusive of the phases measured inside it. A process
/// runs one case at a time, so one set of totals serves; a case takes its share when it ends.
/// The runner makes targets on several threads at once: each thread nests on its own, in a
/// stack of its own (a thread-specific value, not a table of threads under the lock: a quick
/// suite measures a few hundred thousand times).
enum PhaseClock {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var totals: [Phase: UInt64] = [:]

    /// Nanoseconds spent in nested measurements, per level of nesting now open.
    private final class Nesting { var inner: [UInt64] = [] }

    private static let nestingKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { Unmanaged<Nesting>.fromOpaque($0!).release() }
        return key
    }()

    private static var nesting: Nesting {
        if let value = pthread_getspecific(nestingKey) { return Unmanaged<Nesting>.fromOpaque(value).takeUnretainedValue() }
        let nesting = Nesting()
        pthread_setspecific(nestingKey, Unmanaged.passRetained(nesting).toOpaque())
        return nesting
    }

    static func measure<T>(_ phase: Phase, _ body: () throws -> T) rethrows -> T {
        let nesting = self.nesting
        let start = DispatchTime.now().uptimeNanoseconds
        nesting.inner.append(0)
        defer {
            let elapsed = DispatchTime.now().uptimeNanoseconds - start
            let inner = nesting.inner.removeLast()
            if !nesting.inner.isEmpty { nesting.inner[nesting.inner.count - 1] += elapsed }
            lock.lock()
            totals[phase, default: 0] += elapsed - inner
            lock.unlock()
        }
        return try body()
    }

    /// The totals in seconds since the last `take`, which start again from zero.
    static func take() -> [Phase: Double] {
        lock.lock()
        defer {
            totals = [:]
            lock.unlock()
        }
        return totals.mapValues { Double($0) / 1e9 }
    }
}

extension CaseRecord {
    /// Takes the phases measured since the last case ended, and keeps them when profiling.
    mutating func takePhases(profile: Bool) {
        let phases = PhaseClock.take()
        if profile { phaseSeconds = Dictionary(uniqueKeysWithValues: phases.map { ($0.key.rawValue, $0.value) }) }
    }
}

extension RunReport {
    /// Each phase's seconds over the run (the cases' and the runner's own), and as `rest` what
    /// the cases spent outside every phase and the wall time outside every case; with several
    /// targets at once, cases overlap and the seconds add up to more than the wall time. nil
    /// when the run was not profiled.
    mutating func addProfile(runnerPhases: [Phase: Double]) {
        var seconds = runnerPhases
        var unmeasured = 0.0
        for record in cases {
            let phases = record.phaseSeconds ?? [:]
            for (name, value) in phases {
                if let phase = Phase(rawValue: name) { seconds[phase, default: 0] += value }
            }
            unmeasured += max(0, record.durationSeconds - phases.values.reduce(0, +))
        }
        let caseTime = cases.reduce(0) { $0 + $1.durationSeconds }
        seconds[.rest] = unmeasured + max(0, durationSeconds - caseTime - runnerPhases.values.reduce(0, +))
        profile = Dictionary(uniqueKeysWithValues: seconds.map { ($0.key.rawValue, $0.value) })
    }
}

extension TextReport {
    /// The profile of a run: seconds and share per phase, largest first. With several targets
    /// at once the phases are the cases' time, which overlaps: it adds up to more than the wall.
    public static func profile(_ report: RunReport) -> String {
        guard let profile = report.profile else { return "" }
        let transfers = report.cases.reduce(0) { $0 + $1.outcomes.values.reduce(0, +) }
        let total = max(profile.values.reduce(0, +), 1e-9)
        let rows = profile.sorted { $0.value > $1.value }.map { name, seconds in
            "  \(name.padding(toLength: 48))\(String(format: "%8.2f s %5.1f%%", seconds, 100 * seconds / total))"
        }
        let overlap = total > report.durationSeconds * 1.05 ? String(format: "; %.1f s of case time in all, targets overlapping", total) : ""
        return "Where the \(String(format1: report.durationSeconds)) s went (\(report.cases.count) cases, "
            + "\(Int(Double(transfers) / max(report.durationSeconds, 1e-9))) transfers judged per second\(overlap)):\n" + rows.joined(separator: "\n") + "\n"
    }
}
