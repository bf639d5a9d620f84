import DIOSystem
import Glibc

/// A file's exact bytes as a write case expects them: what it held before the write, and what it
/// holds once the bytes the kernel reported written are in place. Byte arrays, not a `FileModel`:
/// a write's source carries whatever its pattern put there (poison, zeros, another file's
/// sectors), at any file offset.
struct ExpectedFile {
    private(set) var before: [UInt8]
    private(set) var bytes: [UInt8]
    /// A range that may hold either what it held or what the source carried: a write that failed
    /// part-way (EFAULT at a PROT_NONE page) may have put some of its bytes there first.
    private(set) var either: (range: Range<Int>, source: [UInt8])?
    /// What the write's source carried, and where it was aimed: to tell the write's own bytes
    /// found where the completion did not report them.
    private(set) var aimed: (offset: Int, source: [UInt8])?

    init(_ model: FileModel) {
        var bytes = [UInt8](repeating: 0, count: model.size)
        bytes.withUnsafeMutableBytes { file in
            for segment in model.segments {
                SectorPattern.fill(UnsafeMutableRawBufferPointer(rebasing: file[segment.range]), stamp: segment.stamp,
                                   fileOffset: segment.range.lowerBound)
            }
        }
        before = bytes
        self.bytes = bytes
    }

    var size: Int { bytes.count }

    /// What the file held over `range` before the write, zeros past its EOF.
    func held(_ range: Range<Int>) -> [UInt8] {
        let inside = range.clamped(to: 0..<before.count)
        return Array(before[inside]) + [UInt8](repeating: 0, count: range.count - inside.count)
    }

    /// Records that a write of `source` was aimed at `offset`, whatever it reports.
    mutating func aim(_ source: [UInt8], at offset: Int) { aimed = (offset, source) }

    /// Records `source[0..<count]` written at `offset`, growing the file if it reaches past EOF.
    mutating func write(_ source: [UInt8], count: Int, at offset: Int) {
        if offset + count > bytes.count { bytes += [UInt8](repeating: 0, count: offset + count - bytes.count) }
        bytes.replaceSubrange(offset..<offset + count, with: source[0..<count])
    }

    /// Records that the bytes of `range` may be the source's (`source[0]` is for `range.lowerBound`).
    mutating func mayHold(_ source: [UInt8], over range: Range<Int>) {
        either = (range, Array(source[0..<range.count]))
    }

    /// Every sector of `found` (the file read back from offset 0) that differs from what is
    /// expected, diagnosed: zeros (a gap), stale (what the file held before), misplaced (data of
    /// another offset), garbage. Bytes past the shorter of the two are not compared here.
    func differences(_ found: UnsafeRawBufferPointer) -> [BadRange] {
        var ranges: [BadRange] = []
        let end = min(found.count, bytes.count)
        for start in stride(from: 0, to: end, by: SectorPattern.sectorSize) {
            let count = min(SectorPattern.sectorSize, end - start)
            let differs = bytes.withUnsafeBytes { memcmp($0.baseAddress! + start, found.baseAddress! + start, count) != 0 }
            if differs, !holdsAllowedSource(found, start, count) { Verifier.append(&ranges, BadRange(offset: start, length: count, diagnosis: diagnose(found, start, count))) }
        }
        return ranges
    }

    /// What the file holds where a short write stopped, sector by sector, diagnosed as
    /// `differences` does (`unreported` where the write's own bytes are there anyway).
    func unwritten(_ range: Range<Int>, found: UnsafeRawBufferPointer) -> [BadRange] {
        var ranges: [BadRange] = []
        for start in stride(from: range.lowerBound, to: range.upperBound, by: SectorPattern.sectorSize) {
            let count = min(SectorPattern.sectorSize, range.upperBound - start)
            guard start + count <= found.count else {
                Verifier.append(&ranges, BadRange(offset: start, length: range.upperBound - start, diagnosis: .pastEOF))
                break
            }
            Verifier.append(&ranges, BadRange(offset: start, length: count, diagnosis: diagnose(found, start, count)))
        }
        return ranges
    }

    private func holdsAllowedSource(_ found: UnsafeRawBufferPointer, _ start: Int, _ count: Int) -> Bool {
        guard let either, either.range.contains(start), start + count <= either.range.upperBound else { return false }
        return either.source.withUnsafeBytes { memcmp($0.baseAddress! + start - either.range.lowerBound, found.baseAddress! + start, count) == 0 }
    }

    private func diagnose(_ found: UnsafeRawBufferPointer, _ start: Int, _ count: Int) -> Diagnosis {
        let sector = found.baseAddress! + start
        if Verifier.isFilled(sector, count: count, with: 0) { return .zeros }
        if let aimed, start >= aimed.offset, start + count <= aimed.offset + aimed.source.count,
           aimed.source.withUnsafeBytes({ memcmp($0.baseAddress! + start - aimed.offset, sector, count) == 0 }) { return .unreported }
        if start + count <= before.count, before.withUnsafeBytes({ memcmp($0.baseAddress! + start, sector, count) == 0 }) { return .stale }
        if count >= 32, let header = SectorPattern.header(sector), header.offset != UInt64(start) { return .misplaced }
        return .garbage
    }
}
