import DIOSystem
import Glibc

/// Identifies one version of one file's contents; stamped into every sector.
public struct DataStamp: Codable, Hashable, Sendable {
    public var fileID: UInt32
    public var generation: UInt32
    public var seed: UInt64

    public init(fileID: UInt32, generation: UInt32, seed: UInt64) {
        self.fileID = fileID
        self.generation = generation
        self.seed = seed
    }

    /// What the file of a case (or of an iteration) of `caseSeed` holds.
    init(caseSeed: UInt64) {
        self.init(fileID: UInt32(truncatingIfNeeded: caseSeed >> 32) | 1, generation: 1, seed: caseSeed)
    }
}

/// The header a sector carries: enough to tell where a misplaced or stale sector came from.
public struct SectorHeader: Equatable, Sendable {
    public var stamp: DataStamp
    public var offset: UInt64
}

/// Self-describing data: every 512-byte sector holds a 32-byte header (magic, file id,
/// generation, byte offset, seed) and 480 bytes of payload derived from it. Work is done in
/// 64-bit words; nothing here allocates.
public enum SectorPattern {
    public static let sectorSize = 512
    static let wordsPerSector = sectorSize / 8
    static let magic: UInt64 = 0x5452_4F54_2D4F_4944 // "DIO-TORT" little-endian

    @inline(__always)
    static func payloadState(_ stamp: DataStamp, _ offset: UInt64) -> UInt64 {
        // splitmix64 of the header fields, so that neighbouring sectors differ in every word.
        let fields = stamp.seed ^ (offset &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(stamp.fileID) << 32 | UInt64(stamp.generation))
        let z = StableHash.mix(fields &- 0x9E37_79B9_7F4A_7C15)  // mix adds the constant back
        return z == 0 ? 0x2545_F491_4F6C_DD1D : z
    }

    /// Writes the sector for `offset` (a multiple of 512) of the file version `stamp`.
    @inline(__always)
    public static func stamp(_ sector: UnsafeMutableRawPointer, stamp: DataStamp, offset: UInt64) {
        let words = sector.assumingMemoryBound(to: UInt64.self)
        words[0] = magic
        words[1] = UInt64(stamp.fileID) | UInt64(stamp.generation) << 32
        words[2] = offset
        words[3] = stamp.seed
        var payload = Xorshift64(state: payloadState(stamp, offset))
        for index in 4..<wordsPerSector { words[index] = payload.next() }
    }

    /// Fills `buffer` with the sectors of `stamp` starting at file offset `fileOffset`.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer, stamp: DataStamp, fileOffset: Int) {
        precondition(buffer.count % sectorSize == 0 && fileOffset % sectorSize == 0)
        for index in stride(from: 0, to: buffer.count, by: sectorSize) {
            self.stamp(buffer.baseAddress! + index, stamp: stamp, offset: UInt64(fileOffset + index))
        }
    }

    /// Whether the first `count` bytes at `sector` are exactly the sector `stamp` has at `offset`.
    /// Compares word by word without materialising the expected sector.
    @inline(__always)
    public static func matches(_ sector: UnsafeRawPointer, count: Int = sectorSize, stamp: DataStamp, offset: UInt64) -> Bool {
        if count == sectorSize {
            let words = sector.assumingMemoryBound(to: UInt64.self)
            guard words[0] == magic, words[1] == UInt64(stamp.fileID) | UInt64(stamp.generation) << 32,
                  words[2] == offset, words[3] == stamp.seed else { return false }
            var payload = Xorshift64(state: payloadState(stamp, offset))
            for index in 4..<wordsPerSector where words[index] != payload.next() { return false }
            return true
        }
        return withUnsafeTemporaryAllocation(byteCount: sectorSize, alignment: 8) { expected in
            self.stamp(expected.baseAddress!, stamp: stamp, offset: offset)
            return memcmp(sector, expected.baseAddress!, count) == 0
        }
    }

    /// The header of a sector, if it carries the magic.
    public static func header(_ sector: UnsafeRawPointer) -> SectorHeader? {
        let words = sector.loadUnaligned(as: (UInt64, UInt64, UInt64, UInt64).self)
        guard words.0 == magic else { return nil }
        return SectorHeader(stamp: DataStamp(fileID: UInt32(truncatingIfNeeded: words.1),
                                             generation: UInt32(truncatingIfNeeded: words.1 >> 32),
                                             seed: words.3),
                            offset: words.2)
    }
}
