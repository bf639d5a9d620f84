import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

/// The write side of the oracle: what a first completion may be, and what the file must hold after it.
@Suite struct WriteOracleTests {
    let writev = IOPath(.uringReadv, .write)

    func judge(_ result: TransferResult, path: IOPath, hole: Int? = nil) -> Judgement {
        Oracle.judgeWrite(result, contract: WriteContract(length: 65536, path: path, inaccessibleOffset: hole))
    }

    @Test func aWriteMustBeWholeOnARegularFile() {
        #expect(judge(.completed(65536), path: writev) == Judgement(outcome: .full, call: .pass))
        #expect(judge(.completed(4096), path: writev).call == .fail)
        #expect(judge(.completed(4096), path: .directSync.writing).outcome == .shortWrite)
        #expect(judge(.completed(65537), path: writev).call == .fail)
        #expect(judge(.timedOut, path: writev).outcome == .hang)
    }

    @Test func onlyAnExplicitNowaitMayEndItEarlyOrWithEAGAIN() {
        let nowait = IOPath(.uringReadv, .write, nowait: true)
        #expect(judge(.completed(4096), path: nowait).call == .pass)
        #expect(judge(.failed(.resourceTemporarilyUnavailable), path: nowait).call == .pass)
        #expect(judge(.failed(.resourceTemporarilyUnavailable), path: writev).call == .fail)
        #expect(judge(.failed(.resourceTemporarilyUnavailable), path: IOPath(.aio, .write)).call == .fail)
        #expect(judge(.failed(.notSupported), path: IOPath(.preadv2, .write)).call == .skip("RWF_NOWAIT direct writes are not supported here (EOPNOTSUPP)"))
    }

    @Test func aProtNonePageStopsItExactlyThereOrWithEFAULT() {
        #expect(judge(.completed(32768), path: writev, hole: 32768).call == .pass)
        #expect(judge(.completed(4096), path: writev, hole: 32768).call == .fail)
        #expect(judge(.failed(.badAddress), path: writev, hole: 32768).call == .pass)
        #expect(judge(.failed(.badAddress), path: writev).call == .fail)
    }

    @Test func readBackDiagnosesGapsStaleDataAndSize() throws {
        var model = FileModel()
        model.write(0..<8192, stamp: DataStamp(fileID: 3, generation: 1, seed: 9))
        var expected = ExpectedFile(model)
        let source = [UInt8](repeating: 0x5A, count: 8192)
        let before = expected.bytes
        expected.write(source, count: 8192, at: 0)
        var found = before
        found.replaceSubrange(0..<4096, with: source[0..<4096])
        found.replaceSubrange(6144..<8192, with: [UInt8](repeating: 0, count: 2048))
        let differences = found.withUnsafeBytes { expected.differences($0) }
        #expect(differences == [BadRange(offset: 4096, length: 2048, diagnosis: .stale), BadRange(offset: 6144, length: 2048, diagnosis: .zeros)])
        #expect(Oracle.judgeReadback("O_DIRECT", foundSize: 8192, expectedSize: 8192, differences: differences).call == .fail)
        #expect(Oracle.judgeReadback("O_DIRECT", foundSize: 4096, expectedSize: 8192, differences: []).call == .fail)
        #expect(Oracle.judgeReadback("O_DIRECT", foundSize: 8192, expectedSize: 8192, differences: []).call == .pass)
        let unwritten = found.withUnsafeBytes { expected.unwritten(4096..<12288, found: $0) }
        #expect(unwritten.map(\.diagnosis) == [.stale, .zeros, .pastEOF])
        expected.aim(source, at: 0)
        let reported = found.withUnsafeBytes { expected.unwritten(0..<8192, found: $0) }
        #expect(reported.map(\.diagnosis) == [.unreported, .stale, .zeros], "the write's own bytes, not reported")
    }

    /// After a legal error the written range may hold either version; nothing outside it may change.
    @Test func aLegalErrorMayHaveWrittenPartOfItsRange() {
        var expected = ExpectedFile(FileModel(size: 8192))
        let source = [UInt8](repeating: 0x5A, count: 8192)
        expected.mayHold(source, over: 0..<4096)
        var found = [UInt8](repeating: 0, count: 8192)
        found.replaceSubrange(0..<2048, with: source[0..<2048])
        #expect(found.withUnsafeBytes { expected.differences($0) }.isEmpty)
        found[5000] = 0x5A
        #expect(found.withUnsafeBytes { expected.differences($0) }.map(\.offset) == [4608])
    }

    @Test func writePathsAreNamedAndParsedByDirection() {
        for path in IOPath.writes {
            #expect(path.direction == .write)
            #expect(IOPath(name: path.description) == path, "\(path)")
        }
        #expect(IOPath.writes.map(\.description).contains("aio-write+nowait"))
        #expect(IOPath(name: "pwritev2-nowait") == IOPath(.preadv2, .write))
        #expect(IOPath(name: "pwrite+async") == nil)
        #expect(IOPath.directSync.writing.description == "pwrite" && IOPath.directSync.writing.reading == .directSync)
    }

    @Test func theDefaultWriteCatalogueCoversEveryTargetAndInterface() {
        let cases = DirectWrite().cases(Selection())
        #expect(Set(cases.compactMap(\.write?.target)) == Set(WriteTarget.allCases))
        #expect(Set(cases.compactMap(\.path?.method)).isSuperset(of: [.pread, .preadv2, .uringRead, .uringReadv, .uringReadFixed, .aio]))
        #expect(cases.allSatisfy { $0.path?.direction == .write })
        #expect(Set(cases.map(\.id)).count == cases.count)
        #expect(cases.contains { $0.id == "direct-write/4x16K-reverse/overwrite/cold-file-first-page/aio-write" })
        let narrowed = DirectWrite().cases(Selection(paths: [IOPath(.uringReadv)]))
        #expect(narrowed.isEmpty, "a read path selects no write case")
    }
}

/// The alignment axis: EINVAL is legal only where statx (or, without it, the block size) says
/// the transfer is misaligned.
@Suite struct AlignmentTests {
    let statx = DIOAlignment(memory: 512, offset: 512)

    @Test func statxDecidesWhatIsMisaligned() {
        #expect(!TransferAlignment(memoryOffset: 512).misaligned(length: 65536, offset: 0, statx: statx, blockSize: 4096))
        #expect(!TransferAlignment(memoryOffset: 512, segments: 8).misaligned(length: 65536, offset: 0, statx: statx, blockSize: 4096))
        #expect(!TransferAlignment(fileOffset: 512).misaligned(length: 64512, offset: 512, statx: statx, blockSize: 4096))
        #expect(TransferAlignment(memoryOffset: 1).misaligned(length: 65536, offset: 0, statx: statx, blockSize: 4096))
        #expect(TransferAlignment(segments: 3).misaligned(length: 65536, offset: 0, statx: statx, blockSize: 4096), "21845-byte iovecs")
        #expect(TransferAlignment(fileOffset: 512).misaligned(length: 64512, offset: 512, statx: nil, blockSize: 4096), "no statx: the block")
        #expect(TransferAlignment(memoryOffset: 512, segments: 8).description == "mem+512+iov8")
    }

    @Test func einvalIsLegalOnlyForAMisalignedTransfer() {
        let path = IOPath(.uringReadv, .write)
        #expect(Oracle.judgeWrite(.failed(.invalidArgument), contract: WriteContract(length: 65536, path: path, misaligned: true)).call == .pass)
        #expect(Oracle.judgeWrite(.failed(.invalidArgument), contract: WriteContract(length: 65536, path: path)).call == .fail)
        let read = ReadContract(offset: 0, length: 65536, fileSize: 65536, path: IOPath(.pread), inaccessibleOffset: nil)
        #expect(Oracle.judge(.failed(.invalidArgument), contract: read) { _ in Verification() }.call == .fail)
    }

    @Test func everyPathAndAlignmentHasACase() {
        let cases = AlignmentAxis().cases(Selection())
        #expect(Set(cases.compactMap { $0.read?.alignment ?? $0.write?.alignment }) == Set(AlignmentAxis.alignments))
        #expect(cases.contains { $0.read?.path.method == .uringReadFixed } && cases.contains { $0.write?.path.method == .uringReadFixed })
        #expect(cases.contains { $0.id == "dio-alignment/4x16K-reverse/first-page-only/aio-read/read63K@512/file+512" })
        #expect(Set(cases.map(\.id)).count == cases.count)
    }
}

@Suite struct RingSetupTests {
    @Test func ringSetupsAreNamedAndParsed() {
        for path in IOPath.ringSetups + IOPath.ringSetups.map(\.writing) { #expect(IOPath(name: path.description) == path, "\(path)") }
        #expect(IOPath(name: "uring-writev+sqpoll") == IOPath(.uringReadv, .write, sqpoll: true))
        #expect(IOPath(name: "pread+sqpoll") == nil && IOPath(name: "aio-read+fixedfile") == nil)
        #expect(DirectWrite().cases(Selection()).contains { $0.path?.fixedFile == true } && NowaitPartialFault().cases(Selection()).contains { $0.path?.sqpoll == true })
    }
}
