import DIOSystem
import Foundation

/// How far a guest's run has got: the guest's dio-torture writes it to its output share
/// (`--progress-file`) as cases finish, and the host reads it to show one line per guest.
public struct GuestProgress: Sendable, Equatable {
    public var done: Int
    public var total: Int
    public var failures: Int

    static let fileName = "progress"

    public init(_ progress: Progress) {
        (done, total, failures) = (progress.done, progress.total, progress.failures)
    }

    init?(text: String) {
        let numbers = text.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard numbers.count == 3 else { return nil }
        (done, total, failures) = (numbers[0], numbers[1], numbers[2])
    }

    /// Replaces the file at `path` (through a rename, so the host never reads half a line); a
    /// progress line that cannot be written is not worth stopping a run for.
    public func write(to path: String) {
        try? "\(done) \(total) \(failures)\n".write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func read(output: String) -> GuestProgress? {
        (try? String(contentsOfFile: output + "/" + fileName, encoding: .utf8)).flatMap(GuestProgress.init(text:))
    }
}

/// A run's progress file in a guest, rewritten as cases finish: at most every `interval` and
/// always at the end, for it is on the guest's 9p share, where every rewrite is a create, a
/// write and a rename on the host. The host's display needs no more.
public final class GuestProgressFile {
    let path: String
    private var written = Date.distantPast
    static let interval: TimeInterval = 0.5

    public init(path: String) { self.path = path }

    public func record(_ progress: Progress) {
        guard progress.done == progress.total || Date().timeIntervalSince(written) >= Self.interval else { return }
        GuestProgress(progress).write(to: path)
        written = Date()
    }
}

/// One guest as the host sees it while the kernels run.
public struct GuestStatus: Sendable {
    public var release: String
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
        return "\(release): \(state), \(Int(elapsed)) s" + (eta.map { ", ETA \(Int($0)) s" } ?? "")
    }
}
