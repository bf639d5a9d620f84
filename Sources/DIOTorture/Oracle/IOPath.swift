import DIOSystem

/// How a read reaches the kernel. `nowait` is an explicit RWF_NOWAIT from the caller; `async`
/// is IOSQE_ASYNC (io_uring skips the inline NOWAIT attempt and goes straight to a worker).
public struct IOPath: Hashable, Sendable, CustomStringConvertible {
    public enum Method: String, Codable, Sendable, CaseIterable {
        case uringRead = "uring-read"
        case uringReadv = "uring-readv"
        case uringReadFixed = "uring-read-fixed"
        case preadv2
        case pread
    }

    public var method: Method
    public var nowait: Bool
    public var async: Bool

    public init(_ method: Method, nowait: Bool = false, async: Bool = false) {
        self.method = method
        self.nowait = method == .preadv2 ? true : nowait
        self.async = async
    }

    public var usesRing: Bool { method != .preadv2 && method != .pread }

    public var description: String {
        if method == .preadv2 { return "preadv2-nowait" }
        return method.rawValue + (nowait ? "+nowait" : "") + (async ? "+async" : "")
    }

    /// Parses the names `description` prints: "uring-readv+nowait", "preadv2-nowait", "pread".
    public init?(name: String) {
        if name == "preadv2-nowait" { self.init(.preadv2); return }
        var parts = name.split(separator: "+").map(String.init)
        guard let first = parts.first, let method = Method(rawValue: first), method != .preadv2 else { return nil }
        parts.removeFirst()
        let modifiers = Set(parts)
        guard modifiers.isSubset(of: ["nowait", "async"]), modifiers.count == parts.count,
              method.usesModifiers || modifiers.isEmpty else { return nil }
        self.init(method, nowait: modifiers.contains("nowait"), async: modifiers.contains("async"))
    }

    /// Every variant: the three io_uring reads with and without RWF_NOWAIT and IOSQE_ASYNC,
    /// preadv2(RWF_NOWAIT), and plain pread as the control.
    public static let all: [IOPath] = [Method.uringRead, .uringReadv, .uringReadFixed].flatMap { method in
        [IOPath(method), IOPath(method, nowait: true), IOPath(method, async: true), IOPath(method, nowait: true, async: true)]
    } + [IOPath(.preadv2), IOPath(.pread)]
}

extension IOPath.Method {
    var usesModifiers: Bool { self != .pread && self != .preadv2 }
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
