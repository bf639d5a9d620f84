import DIOSystem
import Glibc

/// Where a sector that does not verify came from.
public enum Diagnosis: String, Codable, Sendable, CaseIterable {
    /// All zeros where data was expected.
    case zeros
    /// The buffer still holds what it held before the read (poison, a never-touched page, or the
    /// mapped file's own contents): the kernel never wrote it.
    case unfilled
    /// An older generation of this very offset.
    case stale
    /// Data of another offset or another file.
    case misplaced
    /// None of the above.
    case garbage
    /// Past the end of the file: a write's bytes that the file's size leaves out.
    case pastEOF = "past-eof"
    /// The write's own bytes, where its completion did not report them written.
    case unreported
}

/// What a buffer held before the read, so that "never written" can be told from "written wrong".
public enum PriorContent: Sendable, Equatable {
    case fill(UInt8)
    case zeros
    case stamped(DataStamp, fileOffset: Int)
    /// A PROT_NONE page: nothing to read, nothing to compare.
    case inaccessible
}

/// A run of consecutive bad bytes with one diagnosis; offsets are file offsets.
public struct BadRange: Codable, Equatable, Sendable {
    public var offset: Int
    public var length: Int
    public var diagnosis: Diagnosis
}

public struct Verification: Sendable, Equatable {
    public var badRanges: [BadRange] = []
    public var isClean: Bool { badRanges.isEmpty }
    public var firstBadOffset: Int? { badRanges.first?.offset }
}

public enum Verifier {
    /// Checks `bytes` (what the read placed in the buffer, starting at buffer offset 0 and file
    /// offset `fileOffset`) against `model`, and diagnoses every sector that differs.
    public static func verify(_ bytes: UnsafeRawBufferPointer, fileOffset: Int, model: FileModel,
                              prior: (Int) -> PriorContent) -> Verification {
        var result = Verification()
        var position = 0
        while position < bytes.count {
            let absolute = fileOffset + position
            let sectorStart = absolute - absolute % SectorPattern.sectorSize
            var count = min(sectorStart + SectorPattern.sectorSize - absolute, bytes.count - position)
            if model.hasUnalignedBoundaries { count = min(count, model.runEnd(from: absolute) - absolute) }
            let here = bytes.baseAddress! + position
            if !sectorMatches(here, count: count, at: absolute, model: model) {
                let diagnosis = diagnose(here, count: count, at: absolute, model: model, prior: prior(position))
                append(&result.badRanges, BadRange(offset: absolute, length: count, diagnosis: diagnosis))
            }
            position += count
        }
        return result
    }

    /// Diagnoses what a read left in the part of the buffer it did not claim to fill (after a
    /// short read), skipping inaccessible pages. Nothing here is judged; it explains a failure.
    public static func diagnoseTail(_ bytes: UnsafeRawBufferPointer, bufferOffset: Int, fileOffset: Int,
                                    model: FileModel, prior: (Int) -> PriorContent) -> [BadRange] {
        var ranges: [BadRange] = []
        var position = bufferOffset
        while position < bytes.count {
            var count = min(SectorPattern.sectorSize - (fileOffset + position) % SectorPattern.sectorSize,
                            bytes.count - position)
            if model.hasUnalignedBoundaries { count = min(count, model.runEnd(from: fileOffset + position) - fileOffset - position) }
            let before = prior(position)
            if before != .inaccessible {
                let absolute = fileOffset + position
                let diagnosis = sectorMatches(bytes.baseAddress! + position, count: count, at: absolute, model: model)
                    ? nil : diagnose(bytes.baseAddress! + position, count: count, at: absolute, model: model, prior: before)
                if let diagnosis { append(&ranges, BadRange(offset: absolute, length: count, diagnosis: diagnosis)) }
            }
            position += count
        }
        return ranges
    }

    @inline(__always)
    static func sectorMatches(_ bytes: UnsafeRawPointer, count: Int, at offset: Int, model: FileModel) -> Bool {
        if let stamp = model.stamp(at: offset) {
            if offset % SectorPattern.sectorSize == 0 {
                return SectorPattern.matches(bytes, count: count, stamp: stamp, offset: UInt64(offset))
            }
            return withUnsafeTemporaryAllocation(byteCount: SectorPattern.sectorSize, alignment: 8) { sector in
                let start = offset - offset % SectorPattern.sectorSize
                SectorPattern.stamp(sector.baseAddress!, stamp: stamp, offset: UInt64(start))
                return memcmp(bytes, sector.baseAddress! + (offset - start), count) == 0
            }
        }
        return isFilled(bytes, count: count, with: 0)
    }

    static func diagnose(_ bytes: UnsafeRawPointer, count: Int, at offset: Int, model: FileModel,
                         prior: PriorContent) -> Diagnosis {
        switch prior {
        case .fill(let value) where isFilled(bytes, count: count, with: value): return .unfilled
        case .zeros where isFilled(bytes, count: count, with: 0): return .unfilled
        case .stamped(let stamp, let priorOffset)
            where offset % SectorPattern.sectorSize == 0
            && SectorPattern.matches(bytes, count: count, stamp: stamp, offset: UInt64(priorOffset)):
            return .unfilled
        default: break
        }
        if isFilled(bytes, count: count, with: 0) { return .zeros }
        guard offset % SectorPattern.sectorSize == 0, count >= 32, let header = SectorPattern.header(bytes) else {
            return .garbage
        }
        guard header.offset == UInt64(offset),
              model.segments.contains(where: { $0.stamp.fileID == header.stamp.fileID }) else { return .misplaced }
        // The right header with a wrong payload is corruption; another version of this offset
        // (or data where the model has zeros) is stale.
        return header.stamp == model.stamp(at: offset) ? .garbage : .stale
    }

    @inline(__always)
    static func isFilled(_ bytes: UnsafeRawPointer, count: Int, with value: UInt8) -> Bool {
        let pattern = UInt64(value) &* 0x0101_0101_0101_0101
        var index = 0
        while index + 8 <= count {
            if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) != pattern { return false }
            index += 8
        }
        while index < count {
            if bytes.load(fromByteOffset: index, as: UInt8.self) != value { return false }
            index += 1
        }
        return true
    }

    static func append(_ ranges: inout [BadRange], _ range: BadRange) {
        if let last = ranges.last, last.diagnosis == range.diagnosis, last.offset + last.length == range.offset {
            ranges[ranges.count - 1].length += range.length
        } else {
            ranges.append(range)
        }
    }
}
