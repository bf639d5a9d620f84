import DIOSystem

/// How a transfer reaches the kernel, for reads and writes alike: the interface (`method`), an
/// explicit RWF_NOWAIT from the caller (`nowait`), IOSQE_ASYNC (`async`: io_uring skips the
/// inline NOWAIT attempt and goes straight to a worker), and whether the descriptor goes through
/// the page cache (`buffered`) instead of O_DIRECT. Named after its read ("uring-readv+nowait");
/// the same path writing has its write name ("uring-writev+nowait").
public struct IOPath: Hashable, Sendable, CustomStringConvertible {
    public enum Method: String, Codable, Sendable, CaseIterable {
        case uringRead = "uring-read"
        case uringReadv = "uring-readv"
        case uringReadFixed = "uring-read-fixed"
        case preadv2
        case pread
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
            case .mapped: "mmap"
            }
        }
    }

    public enum Direction: Sendable { case read, write }

    public var method: Method
    public var nowait: Bool
    public var async: Bool
    public var buffered: Bool

    public init(_ method: Method, nowait: Bool = false, async: Bool = false, buffered: Bool = false) {
        self.method = method
        self.nowait = method == .preadv2 ? true : nowait
        self.async = async
        self.buffered = method == .mapped ? false : buffered
    }

    public var usesRing: Bool { [.uringRead, .uringReadv, .uringReadFixed].contains(method) }

    /// Needs offsets, lengths and memory aligned as statx's direct I/O alignment says.
    public var isDirect: Bool { !buffered && method != .mapped }

    public var description: String { name(.read) }

    public func name(_ direction: Direction) -> String {
        let method = direction == .read ? method.rawValue : method.writeName
        if self.method == .preadv2 { return method + "-nowait" + (buffered ? "+buffered" : "") }
        return method + (nowait ? "+nowait" : "") + (async ? "+async" : "") + (buffered ? "+buffered" : "")
    }

    /// Parses the names `name(direction)` prints: "uring-readv+nowait", "preadv2-nowait", "pwrite+buffered".
    public init?(name: String, direction: Direction = .read) {
        var parts = name.split(separator: "+").map(String.init)
        guard let first = parts.first else { return nil }
        parts.removeFirst()
        let named = Method.allCases.first { (direction == .read ? $0.rawValue : $0.writeName) + ($0 == .preadv2 ? "-nowait" : "") == first }
        guard let method = named else { return nil }
        let modifiers = Set(parts)
        let allowed: Set<String> = switch method {
        case .pread, .preadv2: ["buffered"]
        case .mapped: []
        default: ["nowait", "async", "buffered"]
        }
        guard modifiers.isSubset(of: allowed), modifiers.count == parts.count else { return nil }
        self.init(method, nowait: modifiers.contains("nowait"), async: modifiers.contains("async"), buffered: modifiers.contains("buffered"))
    }

    /// The read catalogue's paths: the three io_uring reads with and without RWF_NOWAIT and
    /// IOSQE_ASYNC, preadv2(RWF_NOWAIT), and plain pread as the control; all direct.
    public static let all: [IOPath] = [Method.uringRead, .uringReadv, .uringReadFixed].flatMap { method in
        [IOPath(method), IOPath(method, nowait: true), IOPath(method, async: true), IOPath(method, nowait: true, async: true)]
    } + [IOPath(.preadv2), IOPath(.pread)]

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
