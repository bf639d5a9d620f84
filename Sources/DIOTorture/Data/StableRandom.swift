import DIOSystem

/// The few deterministic functions replay depends on: the same input gives the same value on
/// every build and platform, which Swift's randomised `Hasher` and the standard library's random
/// algorithms do not promise.
public enum StableHash {
    /// FNV-1a over bytes.
    public static func fnv1a<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        bytes.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
    }

    /// FNV-1a over 64-bit words, then the tail bytes: eight times fewer steps for file contents
    /// (a file-backed image's every file is hashed cold and warm, in guests under emulation too).
    public static func fnv1a(words bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { fnv1a(words: $0) } }

    public static func fnv1a(words raw: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        var index = 0
        while index + 8 <= raw.count {
            hash = (hash ^ raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* 0x100_0000_01B3
            index += 8
        }
        while index < raw.count {
            hash = (hash ^ UInt64(raw[index])) &* 0x100_0000_01B3
            index += 1
        }
        return hash
    }

    /// splitmix64's finaliser: spreads every input bit over the whole word.
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Marsaglia's xorshift64: the sector payloads' generator, and the cheap source of offsets and
/// choices elsewhere. The state must not be 0.
public struct Xorshift64 {
    public var state: UInt64

    @inline(__always)
    public init(state: UInt64) { self.state = state }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
