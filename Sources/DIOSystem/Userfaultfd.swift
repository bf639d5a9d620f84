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
    private var stopRequested = false
    private var running: Bool
    public private(set) var resolvedFaults = 0

    public init(region: MappedRegion, fill: UInt8, delay: Duration?) throws {
        descriptor = try checked { diot_userfaultfd_open() }
        self.fill = fill
        self.delay = delay
        running = delay != nil
        do {
            _ = try checked { diot_userfaultfd_register(descriptor, region.base, UInt64(region.length)) }
        } catch {
            close(descriptor)
            throw error
        }
        if delay != nil { Thread.detachNewThread { [self] in serve() } }
    }

    private func serve() {
        let source = UnsafeMutableRawPointer.allocate(byteCount: pageSize, alignment: pageSize)
        source.initializeMemory(as: UInt8.self, repeating: fill, count: pageSize)
        defer {
            source.deallocate()
            stopped.lock(); running = false; stopped.broadcast(); stopped.unlock()
        }
        while true {
            stopped.lock(); let stop = stopRequested; stopped.unlock()
            if stop { return }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 5) > 0 else { continue }
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
        stopped.lock()
        stopRequested = true
        while running { stopped.wait() }
        stopped.unlock()
    }

    deinit { close(descriptor) }
}
