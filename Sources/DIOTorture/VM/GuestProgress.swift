import DIOSystem
import Foundation

/// How far a guest's run has got: the guest's dio-torture writes it to its output share
/// (`--progress-file`) as cases start and finish, and the host reads it to show one line per
/// guest and, for a guest that never finishes, to name the case it was in.
public struct GuestProgress: Sendable, Equatable {
    public var done: Int
    public var total: Int
    public var failures: Int
    /// The case running ("TARGET CASE-ID"), or "" between cases.
    public var current: String

    static let fileName = "progress"

    public init(_ progress: Progress) {
        (done, total, failures, current) = (progress.done, progress.total, progress.failures, progress.current)
    }

    /// "DONE TOTAL FAILURES CURRENT", the case's label being the rest of the line.
    init?(text: String) {
        let fields = text.trimmingCharacters(in: .newlines).split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        let numbers = fields.prefix(3).compactMap { Int($0) }
        guard numbers.count == 3 else { return nil }
        (done, total, failures) = (numbers[0], numbers[1], numbers[2])
        current = fields.count > 3 ? String(fields[3]) : ""
    }

    /// Replaces the file at `path` (through a rename, so the host never reads half a line); a
    /// progress line that cannot be written is not worth stopping a run for.
    public func write(to path: String) {
        try? "\(done) \(total) \(failures) \(current)\n".write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func read(output: String) -> GuestProgress? {
        (try? String(contentsOfFile: output + "/" + fileName, encoding: .utf8)).flatMap(GuestProgress.init(text:))
    }
}

/// A run's progress file in a guest: rewritten at most every `interval`, for it is on the
/// guest's 9p share, where every rewrite is a create, a write and a rename on the host. What the
/// throttle holds back is written an interval later, so the case a stuck guest is in still
/// reaches the host; the end is written at once.
public final class GuestProgressFile: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private var written = Date.distantPast
    private var pending: GuestProgress?
    static let interval: TimeInterval = 0.5

    public init(path: String) {
        self.path = path
        Thread.detachNewThread { [weak self] in
            while self?.writePending(unlessWithin: Self.interval) != nil { Thread.sleep(forTimeInterval: Self.interval) }
        }
    }

    public func record(_ progress: Progress) {
        lock.lock()
        pending = GuestProgress(progress)
        lock.unlock()
        writePending(unlessWithin: progress.done == progress.total ? 0 : Self.interval)
    }

    /// Writes the progress held back, unless the file was written less than `seconds` ago.
    private func writePending(unlessWithin seconds: TimeInterval) {
        lock.lock(); defer { lock.unlock() }
        guard let progress = pending, Date().timeIntervalSince(written) >= seconds else { return }
        progress.write(to: path)
        pending = nil
        written = Date()
    }
}

/// One guest as the host sees it while the kernels run.
public struct GuestStatus: Sendable {
    /// Its kernel's release, and its shard when the kernel's run is split.
    public var name: String
    /// Nil while it boots (no case has finished yet).
    public var progress: GuestProgress?
    public var elapsed: TimeInterval
    public var finished: Bool

    /// Seconds left at the pace so far, once a case has finished.
    public var eta: TimeInterval? {
        guard let progress, progress.done > 0, !finished else { return nil }
        return elapsed / Double(progress.done) * Double(progress.total - progress.done)
    }

    public var line: String {
        let state = finished ? "finished" : progress.map { "\($0.done)/\($0.total) cases, \($0.failures) failed" } ?? "booting"
        return "\(name): \(state), \(Int(elapsed)) s" + (eta.map { ", ETA \(Int($0)) s" } ?? "")
    }
}
