import DIOSystem
import Synchronization

/// Watches a KVM guest's console for failures QEMU does not exit on. On an emulation failure
/// (a nested hypervisor that cannot emulate an instruction) QEMU prints "KVM internal error" and
/// pauses the guest, which would then sit until the guest timeout; a guest that has not booted
/// by `bootDeadline` is as stuck. Either way the guest is abandoned and run again under TCG, and
/// so is every later guest of this process (`recordFailure`, `kvmFailed`).
final class KVMFailureWatch {
    static let bootDeadline: Duration = .seconds(90)
    static let internalError = "KVM internal error"
    private static let failedOnce = Atomic<Bool>(false)
    static var kvmFailed: Bool { failedOnce.load(ordering: .relaxed) }
    static func recordFailure() { failedOnce.store(true, ordering: .relaxed) }

    private let console: OpenFile
    private let started: ContinuousClock.Instant
    private var scanned = 0
    private var booted = false

    init(console: OpenFile, started: ContinuousClock.Instant = .now) {
        self.console = console
        self.started = started
    }

    /// Why the guest was given up, once `guestFailed` has said so.
    private(set) var failure: String?

    /// Whether the guest has failed; reads only the console written since the last call (and
    /// enough before it for a line cut in two).
    func guestFailed() -> Bool {
        let from = max(0, scanned - 256)
        let bytes = (try? console.contents(from: from)) ?? []
        scanned = from + bytes.count
        let text = String(decoding: bytes, as: UTF8.self)
        booted = booted || text.contains(GuestInit.bootedLine)
        if text.contains(Self.internalError) {
            failure = "QEMU paused the KVM guest on a \"\(Self.internalError)\""
        } else if !booted && ContinuousClock.now - started > Self.bootDeadline {
            failure = "the KVM guest did not boot in \(Self.bootDeadline)"
        }
        return failure != nil
    }
}
