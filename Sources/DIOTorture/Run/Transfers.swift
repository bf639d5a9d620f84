import DIOSystem

/// The one place an I/O path becomes syscalls: fires one transfer per buffer on a descriptor and
/// returns each first completion in buffer order, unjudged and never resubmitted. Completions
/// that do not arrive within `timeout` come back as `.timedOut`. The io_uring ring and the AIO
/// context are made on first use and kept for the transfers that follow.
final class Transfers {
    let timeout: Duration
    private let depth: Int
    private var ring: Ring?
    private var aio: AIOContext?

    /// A path this machine cannot submit on (no io_uring, no AIO): the reason, for a SKIP.
    struct Unavailable: Error, CustomStringConvertible {
        var description: String
    }

    /// Registering a fixed buffer failed (a buffer that cannot be pinned).
    struct Unregisterable: Error {
        var error: Errno
    }

    init(timeout: Duration, depth: Int = 1) {
        self.timeout = timeout
        self.depth = depth
    }

    /// Makes what `path` submits through, so that a missing interface shows before any set-up.
    func prepare(_ path: IOPath) throws {
        if path.usesRing, ring == nil {
            do { ring = try Ring(entries: UInt32(max(8, depth))) } catch let error as Errno {
                throw Unavailable(description: "io_uring unavailable: \(error.symbol)")
            }
        }
        if path.method == .aio, aio == nil {
            do { aio = try AIOContext(entries: UInt32(max(8, depth))) } catch let error as Errno {
                throw Unavailable(description: "kernel AIO unavailable (io_setup: \(error.symbol))")
            }
        }
        if path.method == .mapped { throw Unavailable(description: "\(path) goes through a mapping, not a descriptor") }
        if depth > 1, !path.usesRing, path.method != .aio {
            throw Unavailable(description: "\(depth) transfers in flight need an asynchronous path; \(path) is synchronous")
        }
    }

    func fire(_ path: IOPath, file: OpenFile, buffers: [UnsafeMutableRawBufferPointer], offset: Int) throws -> [TransferResult] {
        try prepare(path)
        let flags: ReadWriteFlags = path.nowait ? .nowait : []
        let writing = path.direction == .write
        switch path.method {
        case .pread:
            let buffer = buffers[0]
            return [writing ? TransferResult { try file.write(UnsafeRawBufferPointer(buffer), at: offset) }
                            : TransferResult { try file.read(into: buffer, at: offset) }]
        case .preadv2:
            return [TransferResult(writing ? file.writeV2(UnsafeRawBufferPointer(buffers[0]), at: offset, flags: flags)
                                           : file.readV2(into: buffers[0], at: offset, flags: flags))]
        case .aio:
            for (index, buffer) in buffers.enumerated() {
                try aio!.submit(path.direction, file: file.descriptor, buffer: buffer, offset: offset, flags: flags, userData: UInt64(index))
            }
            return try collect(count: buffers.count) { try aio!.waitCompletion(timeout: timeout) }
        case .uringRead, .uringReadv, .uringReadFixed:
            return try throughRing(path, file: file, buffers: buffers, offset: offset, flags: flags)
        case .mapped:
            throw Unavailable(description: "\(path) goes through a mapping, not a descriptor")
        }
    }

    private func throughRing(_ path: IOPath, file: OpenFile, buffers: [UnsafeMutableRawBufferPointer], offset: Int,
                             flags: ReadWriteFlags) throws -> [TransferResult] {
        let ring = ring!
        let fixed = path.method == .uringReadFixed
        if fixed {
            do { try ring.registerBuffers(buffers) } catch let error as Errno { throw Unregisterable(error: error) }
        }
        defer { if fixed { ring.unregisterBuffers() } }
        for (index, buffer) in buffers.enumerated() {
            let kind: RingTransfer = switch path.method {
            case .uringRead: .read
            case .uringReadv: .readv
            default: .readFixed(index: index)
            }
            try ring.queue(kind, path.direction, file: file.descriptor, buffer: buffer, offset: offset, flags: flags,
                           async: path.async, userData: UInt64(index))
        }
        try ring.submit()
        return try collect(count: buffers.count) { try ring.waitCompletion(timeout: timeout) }
    }

    /// The first completion of each of `count` transfers, placed by its user data.
    private func collect(count: Int, next: () throws -> Completion?) throws -> [TransferResult] {
        var results = [TransferResult](repeating: .timedOut, count: count)
        for _ in 0..<count {
            guard let completion = try next() else { break }
            results[Int(completion.userData)] = TransferResult(completion)
        }
        return results
    }
}
