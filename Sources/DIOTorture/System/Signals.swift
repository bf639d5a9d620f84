import Foundation
import Glibc

/// Clean-up actions that must run when SIGINT or SIGTERM arrives mid-run. The signal handler only
/// writes to a pipe (async-signal-safe); a thread reading it runs the actions and exits, so
/// whatever thread the signal lands on, the scratch directory is removed.
public enum InterruptCleanup {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var actions: [Int: () -> Void] = [:]
    nonisolated(unsafe) private static var nextToken = 0
    nonisolated(unsafe) private static var pipeWriteEnd: Int32 = -1

    /// Installs the SIGINT/SIGTERM handlers once.
    public static func install() {
        lock.lock(); defer { lock.unlock() }
        guard pipeWriteEnd < 0 else { return }
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }
        pipeWriteEnd = ends[1]
        let readEnd = ends[0]
        Thread.detachNewThread {
            var signalNumber: Int32 = 0
            while read(readEnd, &signalNumber, MemoryLayout<Int32>.size) < 0, errno == EINTR {}
            lock.lock()
            let pending = actions.values
            lock.unlock()
            for action in pending { action() }
            let name = signalNumber == SIGINT ? "SIGINT" : "SIGTERM"
            FileHandle.standardError.write("dio-torture: interrupted by \(name); scratch removed\n".data(using: .utf8)!)
            _exit(128 + signalNumber)
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

    /// Registers an action; the returned token removes it once the resource is gone.
    public static func register(_ action: @escaping () -> Void) -> Int {
        lock.lock(); defer { lock.unlock() }
        nextToken += 1
        actions[nextToken] = action
        return nextToken
    }

    public static func unregister(_ token: Int) {
        lock.lock(); defer { lock.unlock() }
        actions[token] = nil
    }
}
