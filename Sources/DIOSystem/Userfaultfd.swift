import CURing
import Foundation
import Glibc

/// A userfaultfd over an anonymous region whose missing-page faults a thread resolves, after a
/// delay, by copying in a page filled with `fill`. The faulting task (an io-wq worker, for an
/// io_uring read) sleeps until then. Without a delay nothing resolves them: the faulting task
/// sleeps until the descriptor is closed.
public final class UserfaultResolver: @unchecked Sendable {
    /// Why userfaultfd cannot be used here (strerror of the open), or nil.
    public static var unavailableReason: String? {
        let descriptor = diot_userfaultfd_open()
        if descriptor >= 0 { close(descriptor); return nil }
        return String(cString: strerror(errno))
    }

    private let descriptor: Int32
    private let fill: UInt8
    private let delay: Duration?
    private let stopped = NSCondition()
    private var running: Bool
    /// Written to by `stop`: it wakes the thread from its poll at once.
    private let wake: (read: Int32, write: Int32)
    public private(set) var resolvedFaults = 0

    public init(region: MappedRegion, fill: UInt8, delay: Duration?) throws {
        descriptor = try checked { diot_userfaultfd_open() }
        self.fill = fill
        self.delay = delay
        running = delay != nil
        var ends: [Int32] = [0, 0]
        let descriptor = self.descriptor
        do {
            _ = try checked { diot_userfaultfd_register(descriptor, region.base, UInt64(region.length)) }
            _ = try checked { pipe(&ends) }
        } catch {
            close(descriptor)
            throw error
        }
        wake = (ends[0], ends[1])
        if delay != nil { Thread.detachNewThread { [self] in serve() } }
    }

    private func serve() {
        // A sleep ends up to the timer slack late; the delay is the test's, the slack is not.
        _ = diot_set_timer_slack(1)
        let source = UnsafeMutableRawPointer.allocate(byteCount: pageSize, alignment: pageSize)
        source.initializeMemory(as: UInt8.self, repeating: fill, count: pageSize)
        defer {
            source.deallocate()
            stopped.lock(); running = false; stopped.broadcast(); stopped.unlock()
        }
        while true {
            var pollers = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            guard poll(&pollers, 2, -1) > 0 else { continue }
            if pollers[1].revents != 0 { return }
            guard pollers[0].revents != 0 else { continue }
            let address = diot_userfaultfd_next_fault(descriptor)
            guard address > 0 else { continue }
            let delay = delay!
            Thread.sleep(forTimeInterval: Double(delay.components.attoseconds) / 1e18 + Double(delay.components.seconds))
            let page = UnsafeMutableRawPointer(bitPattern: UInt(address) & ~UInt(pageSize - 1))
            if diot_userfaultfd_copy(descriptor, page, source, UInt64(pageSize)) == 0 { resolvedFaults += 1 }
        }
    }

    /// Stops the resolver thread and closes the userfaultfd, which wakes any task still waiting
    /// on an unresolved fault.
    public func stop() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        stopped.lock()
        while running { stopped.wait() }
        stopped.unlock()
    }

    deinit {
        close(descriptor)
        close(wake.read)
        close(wake.write)
    }
}
