import Foundation
import Glibc

/// What happens when SIGINT or SIGTERM arrives mid-run. The signal handler only writes to a pipe
/// (async-signal-safe); a thread reading it does the rest, whatever thread the signal lands on.
///
/// By default the first signal runs the clean-up actions (removing scratch directories, killing
/// children) and exits. A caller that can stop in an orderly way (the runner: stop starting
/// cases, report what ran) calls `stopGracefully()`: then the first signal only runs the stop
/// actions and sets `interruptingSignal`, and a second signal exits as before.
public enum InterruptCleanup {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var actions: [Int: () -> Void] = [:]
    nonisolated(unsafe) private static var stopActions: [Int: () -> Void] = [:]
    nonisolated(unsafe) private static var nextToken = 0
    nonisolated(unsafe) private static var pipeWriteEnd: Int32 = -1
    nonisolated(unsafe) private static var graceful = false
    nonisolated(unsafe) private static var received: Int32?

    /// Installs the SIGINT/SIGTERM handlers once.
    public static func install() {
        lock.lock(); defer { lock.unlock() }
        guard pipeWriteEnd < 0 else { return }
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }
        pipeWriteEnd = ends[1]
        let readEnd = ends[0]
        Thread.detachNewThread {
            while true {
                var signalNumber: Int32 = 0
                while read(readEnd, &signalNumber, MemoryLayout<Int32>.size) < 0, errno == EINTR {}
                lock.lock()
                let stopOnly = graceful && received == nil
                if received == nil { received = signalNumber }
                let pending = Array((stopOnly ? stopActions : actions.merging(stopActions) { first, _ in first }).values)
                lock.unlock()
                for action in pending { action() }
                if stopOnly {
                    FileHandle.standardError.write(Data("\ndio-torture: \(name(signalNumber)): stopping after the running case; again to quit now\n".utf8))
                    continue
                }
                FileHandle.standardError.write(Data("dio-torture: interrupted by \(name(signalNumber)); scratch removed\n".utf8))
                _exit(128 + signalNumber)
            }
        }
        // A parent may have started us with these blocked (the mask is inherited): unblock them,
        // before any other thread exists, so that they reach the handler.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signalNumber in [SIGINT, SIGTERM] {
            sigaddset(&unblock, signalNumber)
            signal(signalNumber) { received in
                var value = received
                _ = write(InterruptCleanup.pipeWriteEnd, &value, MemoryLayout<Int32>.size)
            }
        }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    }

    /// From now on the first signal only stops (see the type's comment).
    public static func stopGracefully() {
        lock.lock(); defer { lock.unlock() }
        graceful = true
    }

    /// The first SIGINT/SIGTERM received, if any.
    public static var interruptingSignal: Int32? {
        lock.lock(); defer { lock.unlock() }
        return received
    }

    /// Registers a clean-up action; the returned token removes it once the resource is gone.
    public static func register(_ action: @escaping () -> Void) -> Int {
        add(action, to: &actions)
    }

    /// Registers an action that stops work in progress (kills a child) on the first signal.
    public static func registerStop(_ action: @escaping () -> Void) -> Int {
        add(action, to: &stopActions)
    }

    public static func unregister(_ token: Int) {
        lock.lock(); defer { lock.unlock() }
        actions[token] = nil
        stopActions[token] = nil
    }

    private static func add(_ action: @escaping () -> Void, to list: inout [Int: () -> Void]) -> Int {
        lock.lock(); defer { lock.unlock() }
        nextToken += 1
        list[nextToken] = action
        return nextToken
    }

    private static func name(_ signalNumber: Int32) -> String { signalNumber == SIGINT ? "SIGINT" : "SIGTERM" }
}
