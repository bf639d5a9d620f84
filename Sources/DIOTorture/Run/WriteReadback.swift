import DIOSystem
import Glibc

/// A write target's pages put in the page cache before the write, as its kind asks: read through
/// the cache (`cached`), or mapped shared and touched (`mapped`, kept mapped for the read-back).
/// `held` is mincore's proof that every page was cached.
struct CachePriming {
    var mapping: MappedRegion?
    var held = true

    init(_ target: WriteTarget, file: OpenFile, length: Int, memory: ReadbackMemory) throws {
        let span = length.roundedUp(to: pageSize)
        switch target {
        case .cached:
            let cached = try file.reopened(.readOnly)
            try cached.adviseRandomAccess()
            _ = try cached.readFully(into: try memory.bytes(span))
            held = try MappedRegion(readOnly: file, length: span).residency().allSatisfy { $0 }
        case .mapped:
            let mapping = try MappedRegion(file: file, offset: 0, length: span)
            // Its own pages only: read-ahead would also cache what a source maps further on.
            try mapping.advise(pageRange: 0..<span / pageSize, .random)
            _ = mapping.copyOut(at: 0, into: try memory.bytes(span))
            held = try mapping.residency().allSatisfy { $0 }
            self.mapping = mapping
        default:
            break
        }
    }
}

/// The memory a write case reads its files back into, kept from one read to the next: a fresh
/// mapping per read faults in every page again (the kernel clears each one), which in a TCG
/// guest costs more than the read. It is poisoned before each use, so that a read which leaves
/// part of it unfilled shows there even where the file holds zeros, as a fresh mapping would not.
final class ReadbackMemory {
    private var region: MappedRegion?
    /// Not zero, which a hole reads as.
    static let poison: UInt8 = 0xA5

    /// `length` bytes of it (grown when too small), each set to `poison`.
    func bytes(_ length: Int) throws -> UnsafeMutableRawBufferPointer {
        let region = try self.region.flatMap { $0.length >= length ? $0 : nil } ?? MappedRegion(anonymousLength: max(length, 1).roundedUp(to: pageSize))
        self.region = region
        let bytes = UnsafeMutableRawBufferPointer(rebasing: region.bytes[0..<length])
        bytes.initializeMemory(as: UInt8.self, repeating: Self.poison)
        return bytes
    }
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
    var memory: ReadbackMemory

    /// One way of reading the file back, judged.
    struct Readback {
        var way: String
        var judgement: Judgement
        var differences: [BadRange] = []
        /// What the page cache showed, which a short write's report diagnoses; empty for the other ways.
        var bytes: [UInt8] = []

        static let pageCache = "page cache"
    }

    /// The whole file read back through O_DIRECT, the page cache, a new shared mapping and the
    /// target's own mapping, each judged against `expected` in `memory` before the next reads.
    /// `corrupting` flips one byte of the direct read-back in the written range (the harness's
    /// self-test).
    func readBack(corrupting: Bool) -> [Readback] {
        var readbacks = [
            judged("O_DIRECT", shows: expected.size, corrupting: corrupting) {
                try read(target.file, span: expected.size.roundedUp(to: pageSize) + pageSize)
            },
            judged(Readback.pageCache, shows: expected.size, keepingBytes: true) { try read(try target.file.reopened(.readOnly), span: expected.size + pageSize) },
            judged("new mapping", shows: expected.size) { try readMapped(try MappedRegion(file: target.file, offset: 0, length: max(pageSize, try mappedSpan()))) },
        ]
        // A mapping made before the write covers the file as long as it was then.
        if let mapping {
            readbacks.append(judged("the mapping made before the write", shows: min(expected.size, mapping.length)) { try readMapped(mapping) })
        }
        return readbacks
    }

    /// One way, read by `read` and judged as it lies in memory; `shows` is how much of the file it can show.
    private func judged(_ way: String, shows: Int, corrupting: Bool = false, keepingBytes: Bool = false,
                        _ read: () throws -> UnsafeMutableRawBufferPointer) -> Readback {
        let found: UnsafeMutableRawBufferPointer
        do { found = try read() } catch { return Readback(way: way, judgement: Oracle.judgeReadback(way, error: error)) }
        if corrupting, offset + source.count / 2 < found.count { found[offset + source.count / 2] ^= 0xFF }
        let differences = expected.differences(UnsafeRawBufferPointer(found))
        return Readback(way: way, judgement: Oracle.judgeReadback(way, foundSize: found.count, expectedSize: shows, differences: differences),
                        differences: differences, bytes: keepingBytes ? Array(found) : [])
    }

    /// The bytes `file` reads from offset 0, until EOF or `span` bytes.
    private func read(_ file: OpenFile, span: Int) throws -> UnsafeMutableRawBufferPointer {
        let buffer = try memory.bytes(span.roundedUp(to: pageSize))
        return UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(try file.readFully(into: buffer))])
    }

    /// The file's bytes up to its EOF as a mapping shows them (a mapping cannot show a size).
    private func readMapped(_ mapping: MappedRegion) throws -> UnsafeMutableRawBufferPointer {
        let buffer = try memory.bytes(min(try target.file.size(), mapping.length))
        return UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(try mapping.copyOut(at: 0, into: buffer).get())])
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
        if case .completed(let count) = result, count < length, let cached = readback.first(where: { $0.way == Readback.pageCache }) {
            record.unfilledTail = cached.bytes.withUnsafeBytes {
                expected.unwritten(offset + count..<offset + length, found: $0)
            }
        }
        return record
    }
}
