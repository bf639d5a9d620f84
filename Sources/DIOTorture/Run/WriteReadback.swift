import DIOSystem
import Glibc

/// A write target's pages put in the page cache before the write, as its kind asks: read through
/// the cache (`cached`), or mapped shared and touched (`mapped`, kept mapped for the read-back).
/// `held` is mincore's proof that every page was cached.
struct CachePriming {
    var mapping: MappedRegion?
    var held = true

    init(_ target: WriteTarget, file: OpenFile, length: Int) throws {
        let span = length.roundedUp(to: pageSize)
        switch target {
        case .cached:
            let cached = try file.reopened(.readOnly)
            try cached.adviseRandomAccess()
            let scratch = try MappedRegion(anonymousLength: span)
            _ = try readFully(cached, into: scratch.bytes)
            held = try MappedRegion(readOnly: file, length: span).residency().allSatisfy { $0 }
        case .mapped:
            let mapping = try MappedRegion(file: file, offset: 0, length: span)
            // Its own pages only: read-ahead would also cache what a source maps further on.
            try mapping.advise(pageRange: 0..<span / pageSize, .random)
            let scratch = try MappedRegion(anonymousLength: span)
            _ = mapping.copyOut(at: 0, into: scratch.bytes)
            held = try mapping.residency().allSatisfy { $0 }
            self.mapping = mapping
        default:
            break
        }
    }
}

/// Reads `file` from offset 0 until EOF or `buffer` is full; the bytes read.
private func readFully(_ file: OpenFile, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    var total = 0
    while total < buffer.count {
        let count = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...]), at: total)
        if count == 0 { break }
        total += count
    }
    return total
}

/// A target after the write: what it must hold, and its read-back every way.
struct WrittenFile {
    var target: PreparedTarget
    var expected: ExpectedFile
    /// Where the write started, and the bytes its source carried.
    var offset: Int
    var source: [UInt8]
    /// The target's own mapping, made before the write (`mapped`).
    var mapping: MappedRegion?

    /// One way of reading the file back, judged.
    struct Readback {
        var way: String
        var judgement: Judgement
        var differences: [BadRange] = []
        var bytes: [UInt8] = []
    }

    /// The whole file read back through O_DIRECT, the page cache, a new shared mapping and the
    /// target's own mapping, each judged against `expected`. `corrupting` flips one byte of the
    /// direct read-back in the written range (the harness's self-test).
    func readBack(corrupting: Bool) -> [Readback] {
        // Each way, what it reads and how much of the file it can show: a mapping made before
        // the write covers the file as long as it was then.
        var ways: [(String, Result<[UInt8], any Error>, Int)] = [
            ("O_DIRECT", Result { try read(target.file, span: expected.size.roundedUp(to: pageSize) + pageSize) }, expected.size),
            ("page cache", Result { try read(try target.file.reopened(.readOnly), span: expected.size + pageSize) }, expected.size),
            ("new mapping", Result { try readMapped(try MappedRegion(file: target.file, offset: 0, length: max(pageSize, try mappedSpan()))) },
             expected.size),
        ]
        if let mapping {
            ways.append(("the mapping made before the write", Result { try readMapped(mapping) }, min(expected.size, mapping.length)))
        }
        if corrupting, case .success(var bytes) = ways[0].1, offset + source.count / 2 < bytes.count {
            bytes[offset + source.count / 2] ^= 0xFF
            ways[0].1 = .success(bytes)
        }
        return ways.map { way, result, shows in
            switch result {
            case .failure(let error):
                return Readback(way: way, judgement: Oracle.judgeReadback(way, error: error))
            case .success(let bytes):
                let differences = bytes.withUnsafeBytes { expected.differences($0) }
                return Readback(way: way, judgement: Oracle.judgeReadback(way, foundSize: bytes.count, expectedSize: shows, differences: differences),
                                differences: differences, bytes: bytes)
            }
        }
    }

    private func read(_ file: OpenFile, span: Int) throws -> [UInt8] {
        let buffer = try MappedRegion(anonymousLength: span.roundedUp(to: pageSize))
        let count = try readFully(file, into: buffer.bytes)
        return Array(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<count]))
    }

    /// The file's bytes up to its EOF as a mapping shows them (a mapping cannot show a size).
    private func readMapped(_ mapping: MappedRegion) throws -> [UInt8] {
        let size = min(try target.file.size(), mapping.length)
        var bytes = [UInt8](repeating: 0, count: size)
        let copied = bytes.withUnsafeMutableBytes { mapping.copyOut(at: 0, into: $0) }
        return Array(bytes[0..<(try copied.get())])
    }

    private func mappedSpan() throws -> Int { try target.file.size().roundedUp(to: pageSize) }

    /// The failure as a report keeps it: the completion, the first failing read-back's bad ranges,
    /// and for a short write what the file holds where the write stopped.
    func failure(_ iteration: Int, seed: UInt64, result: TransferResult, judgement: Judgement, length: Int, readback: [Readback],
                 in area: WorkArea) -> FailureRecord {
        let failing = readback.first { $0.judgement.call == .fail }
        let otherNotes = readback.filter { $0.judgement.call == .fail }.compactMap(\.judgement.note).filter { $0 != judgement.note }
        var record = FailureRecord(iteration: iteration, seed: seed, judgement: judgement, expectedLength: length, result: result)
        record.note = ([judgement.note].compactMap { $0 } + otherNotes).joined(separator: "; ")
        (record.firstBadOffset, record.badRanges) = (failing?.differences.first?.offset, failing?.differences ?? [])
        record.extentsAfter = FailureRecord.extents(of: target.file, in: area, after: result)
        if case .completed(let count) = result, count < length, let cached = readback.first(where: { $0.way == "page cache" }) {
            record.unfilledTail = cached.bytes.withUnsafeBytes {
                expected.unwritten(offset + count..<offset + length, found: $0)
            }
        }
        return record
    }
}
