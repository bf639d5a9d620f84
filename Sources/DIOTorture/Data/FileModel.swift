import DIOSystem

/// What a file holds, byte for byte: stamped data in some ranges, zeros elsewhere (holes,
/// zeroed ranges), nothing past `size`. The oracle's expectation for every read.
public struct FileModel: Sendable {
    public struct Segment: Sendable {
        public var range: Range<Int>
        public var stamp: DataStamp
    }

    public private(set) var size: Int
    /// Sorted, non-overlapping.
    public private(set) var segments: [Segment] = []
    /// Whether a segment starts or ends inside a sector (byte-granular writes, zeroing, truncation):
    /// the verifier then splits its comparisons at segment boundaries, not only at sectors.
    public private(set) var hasUnalignedBoundaries = false

    public init(size: Int = 0) { self.size = size }

    /// Records that `range` now holds `stamp`'s sectors (512-aligned), growing the file if needed.
    public mutating func write(_ range: Range<Int>, stamp: DataStamp) {
        clear(range)
        noteBoundaries(range)
        segments.append(Segment(range: range, stamp: stamp))
        segments.sort { $0.range.lowerBound < $1.range.lowerBound }
        size = max(size, range.upperBound)
    }

    /// Records zeros over `range` (a punched hole, or never-written space).
    public mutating func clear(_ range: Range<Int>) {
        segments = segments.flatMap { segment -> [Segment] in
            guard segment.range.overlaps(range) else { return [segment] }
            var pieces: [Segment] = []
            if segment.range.lowerBound < range.lowerBound {
                pieces.append(Segment(range: segment.range.lowerBound..<range.lowerBound, stamp: segment.stamp))
            }
            if segment.range.upperBound > range.upperBound {
                pieces.append(Segment(range: range.upperBound..<segment.range.upperBound, stamp: segment.stamp))
            }
            return pieces
        }
        for segment in segments { noteBoundaries(segment.range) }
    }

    /// A new size, as truncate sets it: bytes past it are gone (a later extension reads zeros).
    public mutating func resize(to newSize: Int) {
        if newSize < size { clear(newSize..<size) }
        size = newSize
    }

    /// Grows the size (allocation or zeroing past EOF); never shrinks it.
    public mutating func extend(to newSize: Int) { size = max(size, newSize) }

    /// The end of the run of bytes that `stamp(at: offset)` describes: its segment's end, or the
    /// next segment's start.
    public func runEnd(from offset: Int) -> Int {
        let index = segments.firstIndex { $0.range.upperBound > offset }
        guard let index else { return Int.max }
        return segments[index].range.contains(offset) ? segments[index].range.upperBound : segments[index].range.lowerBound
    }

    private mutating func noteBoundaries(_ range: Range<Int>) {
        if range.lowerBound % SectorPattern.sectorSize != 0 || range.upperBound % SectorPattern.sectorSize != 0 {
            hasUnalignedBoundaries = true
        }
    }

    /// The stamp at `offset`, or nil where the file reads as zeros.
    public func stamp(at offset: Int) -> DataStamp? {
        var low = 0, high = segments.count
        while low < high {
            let middle = (low + high) / 2
            if segments[middle].range.upperBound <= offset { low = middle + 1 } else { high = middle }
        }
        guard low < segments.count, segments[low].range.contains(offset) else { return nil }
        return segments[low].stamp
    }
}
