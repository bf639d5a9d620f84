import DIOSystem

/// How a transfer reaches the kernel, for reads and writes alike: the interface (`method`), its
/// `direction`, an explicit RWF_NOWAIT from the caller (`nowait`), IOSQE_ASYNC (`async`:
/// io_uring skips the inline NOWAIT attempt and goes straight to a worker), and whether the
/// descriptor goes through the page cache (`buffered`) instead of O_DIRECT. Named by direction:
/// "uring-readv+nowait" reads, "uring-writev+nowait" is the same path writing.
public struct IOPath: Hashable, Sendable, CustomStringConvertible {
    public enum Method: String, Codable, Sendable, CaseIterable {
        case uringRead = "uring-read"
        case uringReadv = "uring-readv"
        case uringReadFixed = "uring-read-fixed"
        case preadv2
        case pread
        /// Kernel AIO: io_submit of one IOCB_CMD_PREAD/PWRITE, what libaio submits.
        case aio = "aio-read"
        /// Through a shared mapping of the file, copied by the kernel's fault path
        /// (process_vm_readv/writev on this process), so a bad page is an errno, not a signal.
        case mapped = "mmap"

        /// The name of the same interface writing.
        var writeName: String {
            switch self {
            case .uringRead: "uring-write"
            case .uringReadv: "uring-writev"
            case .uringReadFixed: "uring-write-fixed"
            case .preadv2: "pwritev2"
            case .pread: "pwrite"
            case .aio: "aio-write"
            case .mapped: "mmap"
            }
        }
    }

    public typealias Direction = TransferDirection

    public var method: Method
    public var direction: Direction
    public var nowait: Bool
    public var async: Bool
    public var buffered: Bool
    /// io_uring: the file registered with the ring (IOSQE_FIXED_FILE), not looked up per request.
    public var fixedFile = false
    /// io_uring: a ring set up with IORING_SETUP_SQPOLL, whose kernel thread issues the request.
    public var sqpoll = false

    public init(_ method: Method, _ direction: Direction = .read, nowait: Bool = false, async: Bool = false, buffered: Bool = false,
                fixedFile: Bool = false, sqpoll: Bool = false) {
        self.method = method
        self.direction = direction
        let ring = [Method.uringRead, .uringReadv, .uringReadFixed].contains(method)
        self.fixedFile = ring && fixedFile
        self.sqpoll = ring && sqpoll
        self.nowait = method == .preadv2 ? true : nowait
        self.async = async
        self.buffered = method == .mapped ? false : buffered
    }

    /// One line for `list`: the interface, and what each modifier adds.
    public var summary: String {
        let reading = direction == .read
        let interface = switch method {
        case .uringRead: reading ? "io_uring IORING_OP_READ" : "io_uring IORING_OP_WRITE"
        case .uringReadv: reading ? "io_uring IORING_OP_READV, one iovec" : "io_uring IORING_OP_WRITEV, one iovec"
        case .uringReadFixed: reading ? "io_uring READ_FIXED from a registered buffer" : "io_uring WRITE_FIXED from a registered buffer"
        case .preadv2: reading ? "preadv2(RWF_NOWAIT)" : "pwritev2(RWF_NOWAIT)"
        case .pread: reading ? "pread(2), the synchronous control" : "pwrite(2), the synchronous control"
        case .aio: reading ? "kernel AIO io_submit(IOCB_CMD_PREAD), what libaio submits" : "kernel AIO io_submit(IOCB_CMD_PWRITE), what libaio submits"
        case .mapped: "copied through a shared mapping of the file"
        }
        let modifiers = [(nowait && method != .preadv2, "RWF_NOWAIT"), (async, "IOSQE_ASYNC (straight to an io-wq worker)"),
                         (fixedFile, "a registered file"), (sqpoll, "an SQPOLL ring"), (buffered, "through the page cache")].filter(\.0).map(\.1)
        return ([interface] + modifiers).joined(separator: ", ") + (isDirect ? ", O_DIRECT" : "")
    }

    public var usesRing: Bool { [.uringRead, .uringReadv, .uringReadFixed].contains(method) }

    /// Needs offsets, lengths and memory aligned as statx's direct I/O alignment says.
    public var isDirect: Bool { !buffered && method != .mapped }

    public var description: String { name(direction) }

    /// The same path moving data the other way, or the same way: "pwrite" is `.directSync.writing`.
    public var writing: IOPath { with(.write) }
    public var reading: IOPath { with(.read) }

    private func with(_ direction: Direction) -> IOPath {
        var path = self
        path.direction = direction
        return path
    }

    public func name(_ direction: Direction) -> String {
        let method = direction == .read ? method.rawValue : method.writeName
        if self.method == .preadv2 { return method + "-nowait" + (buffered ? "+buffered" : "") }
        return method + (nowait ? "+nowait" : "") + (async ? "+async" : "") + (fixedFile ? "+fixedfile" : "") + (sqpoll ? "+sqpoll" : "")
            + (buffered ? "+buffered" : "")
    }

    /// Parses the names `name(direction)` prints: "uring-readv+nowait", "preadv2-nowait", "pwrite+buffered";
    /// without `direction`, a read's name or a write's (mmap is a read then).
    public init?(name: String, direction: Direction? = nil) {
        var parts = name.split(separator: "+").map(String.init)
        guard let first = parts.first else { return nil }
        parts.removeFirst()
        let candidates = direction.map { [$0] } ?? [.read, .write]
        let named = candidates.lazy.compactMap { direction in
            Method.allCases.first { (direction == .read ? $0.rawValue : $0.writeName) + ($0 == .preadv2 ? "-nowait" : "") == first }
                .map { ($0, direction) }
        }.first
        guard let (method, direction) = named else { return nil }
        let modifiers = Set(parts)
        let allowed: Set<String> = switch method {
        case .pread, .preadv2: ["buffered"]
        case .aio: ["nowait", "buffered"]
        case .mapped: []
        default: ["nowait", "async", "buffered", "fixedfile", "sqpoll"]
        }
        guard modifiers.isSubset(of: allowed), modifiers.count == parts.count else { return nil }
        self.init(method, direction, nowait: modifiers.contains("nowait"), async: modifiers.contains("async"),
                  buffered: modifiers.contains("buffered"), fixedFile: modifiers.contains("fixedfile"), sqpoll: modifiers.contains("sqpoll"))
    }

    /// The read catalogue's paths: the three io_uring reads with and without RWF_NOWAIT and
    /// IOSQE_ASYNC, preadv2(RWF_NOWAIT), and plain pread as the control; all direct.
    public static let all: [IOPath] = [Method.uringRead, .uringReadv, .uringReadFixed].flatMap { method in
        [IOPath(method), IOPath(method, nowait: true), IOPath(method, async: true), IOPath(method, nowait: true, async: true)]
    } + [IOPath(.preadv2), IOPath(.pread)]

    /// The write catalogue's paths: io_uring write, writev and write_fixed with and without
    /// RWF_NOWAIT and IOSQE_ASYNC, kernel AIO with and without RWF_NOWAIT, pwritev2(RWF_NOWAIT),
    /// and plain pwrite as the control; all direct.
    public static let writes: [IOPath] = [Method.uringRead, .uringReadv, .uringReadFixed].flatMap { method in
        [IOPath(method, .write), IOPath(method, .write, nowait: true), IOPath(method, .write, async: true)]
    } + [IOPath(.aio, .write), IOPath(.aio, .write, nowait: true), IOPath(.preadv2, .write),
         IOPath(.pread, .write)]

    /// io_uring set up the other ways applications set it up: a registered file, an SQPOLL ring.
    public static let ringSetups: [IOPath] = [IOPath(.uringReadv, fixedFile: true), IOPath(.uringReadv, sqpoll: true)]

    /// Every path a user can name: the read catalogue's, the ring set-ups, reading and writing,
    /// and the write catalogue's.
    public static var named: [IOPath] { all + ringSetups + writes + ringSetups.map(\.writing) }

    /// The paths of the step scenarios' reads and writes, in the order their generators draw
    /// from (a replayed log depends on it): through the page cache, direct, io_uring direct and
    /// through the cache, and a shared mapping.
    public static let operationPaths: [IOPath] = [.cachedSync, .directSync, .directRing, .cachedRing, .mapping]

    // The step scenarios' paths by name.
    public static let cachedSync = IOPath(.pread, buffered: true)
    public static let directSync = IOPath(.pread)
    public static let directRing = IOPath(.uringRead)
    public static let cachedRing = IOPath(.uringRead, buffered: true)
    public static let mapping = IOPath(.mapped)
}

extension IOPath: Codable {
    public init(from decoder: Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let path = IOPath(name: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown I/O path \(name)"))
        }
        self = path
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
