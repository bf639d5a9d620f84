import Foundation
import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

@Suite struct PatternTests {
    let stamp = DataStamp(fileID: 7, generation: 3, seed: 0xABCDEF)

    func stamped(_ length: Int, at offset: Int, stamp: DataStamp) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: length)
        bytes.withUnsafeMutableBytes { SectorPattern.fill($0, stamp: stamp, fileOffset: offset) }
        return bytes
    }

    func model(_ range: Range<Int>) -> FileModel {
        var model = FileModel()
        model.write(range, stamp: stamp)
        return model
    }

    func verify(_ bytes: [UInt8], at offset: Int, model: FileModel, prior: PriorContent = .fill(0xDB)) -> Verification {
        bytes.withUnsafeBytes { Verifier.verify($0, fileOffset: offset, model: model, prior: { _ in prior }) }
    }

    /// The payload is part of the on-disk format a replay and an old report rely on: fixed values.
    @Test func thePayloadNeverChanges() {
        let words = stamped(512, at: 8192, stamp: stamp).withUnsafeBytes { Array($0.bindMemory(to: UInt64.self)) }
        #expect(words[4] == 0x6EF9_F1D2_FAFE_6D10 && words[5] == 0x03C2_73B5_86A6_D5CA)
    }

    /// A read into a cold-file-mmap buffer writes into the file it maps: once the buffer is gone,
    /// the same file is lent to the next buffer stamped afresh and uncached, and two buffers alive
    /// at once never share one.
    @Test func aColdSourceLentAgainIsStampedAfreshAndUncached() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("diot-cold-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        guard filesystemType(of: directory) != "tmpfs" else { return print("SKIP cold sources: \(directory) is on tmpfs, whose pages cannot be dropped") }
        let files = CaseFiles(case: stamp, writeSources: false)
        let first: OpenFile
        var lease: AnyObject
        (first, lease) = try files.coldSource(pages: 4, directory: directory)
        let other = try files.coldSource(pages: 4, directory: directory)
        #expect(other.file !== first)
        do {
            let read = try MappedRegion(file: first, offset: 0, length: 4 * pageSize)
            read.bytes.initializeMemory(as: UInt8.self, repeating: 0xDB)
        }
        lease = other.lease
        let again = try files.coldSource(pages: 4, directory: directory)
        #expect(again.file === first)
        let mapping = try MappedRegion(file: again.file, offset: 0, length: 4 * pageSize)
        #expect(try mapping.residency() == [false, false, false, false])
        var fileModel = FileModel()
        fileModel.write(0..<4 * pageSize, stamp: files.coldSourceStamp)
        #expect(verify(Array(UnsafeRawBufferPointer(mapping.bytes)), at: 0, model: fileModel).isClean)
        withExtendedLifetime(lease) {}
    }

    @Test func stampedDataVerifiesAndCarriesItsHeader() {
        let bytes = stamped(4096, at: 8192, stamp: stamp)
        #expect(verify(bytes, at: 8192, model: model(0..<16384)).isClean)
        let header = bytes.withUnsafeBytes { SectorPattern.header($0.baseAddress! + 512) }
        #expect(header == SectorHeader(stamp: stamp, offset: 8192 + 512))
    }

    @Test func everySectorDiffersFromItsNeighbours() {
        let bytes = stamped(2048, at: 0, stamp: stamp)
        let sectors = stride(from: 0, to: 2048, by: 512).map { Array(bytes[$0 + 32..<$0 + 512]) }
        #expect(Set(sectors.map { $0.description }).count == 4)
    }

    @Test func flippedByteIsGarbageAtItsOffset() {
        var bytes = stamped(4096, at: 0, stamp: stamp)
        bytes[1000] ^= 0x01
        let result = verify(bytes, at: 0, model: model(0..<4096))
        #expect(result.badRanges == [BadRange(offset: 512, length: 512, diagnosis: .garbage)])
        #expect(result.firstBadOffset == 512)
    }

    @Test func zerosWherePoisonWasIsZerosButUntouchedPagesAreUnfilled() {
        let zeros = [UInt8](repeating: 0, count: 1024)
        #expect(verify(zeros, at: 0, model: model(0..<4096), prior: .fill(0xDB)).badRanges.map(\.diagnosis) == [.zeros])
        #expect(verify(zeros, at: 0, model: model(0..<4096), prior: .zeros).badRanges.map(\.diagnosis) == [.unfilled])
        let poison = [UInt8](repeating: 0xDB, count: 1024)
        #expect(verify(poison, at: 0, model: model(0..<4096), prior: .fill(0xDB)).badRanges
            == [BadRange(offset: 0, length: 1024, diagnosis: .unfilled)])
    }

    @Test func olderGenerationIsStaleOtherOffsetIsMisplaced() {
        let old = DataStamp(fileID: 7, generation: 2, seed: stamp.seed)
        #expect(verify(stamped(512, at: 512, stamp: old), at: 512, model: model(0..<4096)).badRanges.map(\.diagnosis) == [.stale])
        let elsewhere = stamped(512, at: 1024, stamp: stamp)
        #expect(verify(elsewhere, at: 512, model: model(0..<4096)).badRanges.map(\.diagnosis) == [.misplaced])
        let otherFile = stamped(512, at: 512, stamp: DataStamp(fileID: 9, generation: 3, seed: 1))
        #expect(verify(otherFile, at: 512, model: model(0..<4096)).badRanges.map(\.diagnosis) == [.misplaced])
    }

    @Test func priorFileContentsAreUnfilled() {
        let mirror = DataStamp(fileID: 7, generation: 4, seed: stamp.seed)
        let bytes = stamped(512, at: 65536, stamp: mirror)
        let result = verify(bytes, at: 0, model: model(0..<4096), prior: .stamped(mirror, fileOffset: 65536))
        #expect(result.badRanges.map(\.diagnosis) == [.unfilled])
    }

    @Test func holesMustReadAsZeros() {
        var holey = FileModel()
        holey.write(0..<4096, stamp: stamp)
        holey.write(8192..<12288, stamp: stamp)
        var bytes = stamped(12288, at: 0, stamp: stamp)
        for index in 4096..<8192 { bytes[index] = 0 }
        #expect(verify(bytes, at: 0, model: holey).isClean)
        #expect(holey.stamp(at: 5000) == nil && holey.size == 12288)
    }

    @Test func adjacentBadSectorsMergeIntoOneRange() {
        let bytes = [UInt8](repeating: 0xDB, count: 4096)
        let result = verify(bytes, at: 4096, model: model(0..<16384))
        #expect(result.badRanges == [BadRange(offset: 4096, length: 4096, diagnosis: .unfilled)])
    }
}
