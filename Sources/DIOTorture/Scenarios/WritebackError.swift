import DIOSystem
import Foundation
import Glibc

/// Real writeback errors, two ways. On a kernel without device-mapper: the filesystem
/// under test is made afresh on a loop device whose sparse backing file lives on a tmpfs too
/// small for it, so writeback fails once the tmpfs is full. Where the kernel has dm-flakey (the
/// test kernels): the loop device sits under a device-mapper device whose table is switched to
/// flakey `error_writes` at the moment of the failure, so every write from then on fails with
/// EIO. Data is written through the page cache and through a shared mapping, writeback is
/// forced, and the promises around the failure are checked (README, "writeback-error"):
///
/// 1. fsync reports the error to each descriptor open when it happened;
/// 2. data whose fsync succeeded before the failure still reads back exactly;
/// 3. no read returns data that was never persisted while fsync said all was well, and what a
///    read returns of the failed range is the new data or what the disk holds, never other bytes;
/// 4. a page mapped before the failure holds what was written or the on-disk contents;
/// 5. a new write fault on such a page does not succeed into a page that is no longer uptodate:
///    after it, the rest of the page is still the written or the on-disk data.
public struct WritebackError: Scenario {
    public let name = "writeback-error"
    public let summary = "writeback fails (loop over a full tmpfs; dm-flakey error_writes): fsync reports it to every descriptor, no silent loss, mapped pages stay sane"
    public var kernelModules: [String] { ["loop", "dm_flakey"] }

    /// The filesystem's image: large enough for every mkfs (xfs needs 300 MiB), on a tmpfs as
    /// large, which has room for whatever mkfs writes (gfs2 writes across the whole device) until
    /// the failure shrinks it (`FailingDisk.startFailing`).
    static let imageSize = 512 << 20
    static let syncedBytes = 4 << 20
    /// The tmpfs room left when the failure starts: the page cache must hold far more.
    static let tmpfsLeftFree = 8 << 20
    static let mappedBytes = 64 << 10
    static let fillChunk = 1 << 20

    public init() {}

    public func cases(_ selection: Selection) -> [CaseSpec] {
        CaseSpec.variants(of: WritebackInjection.self, scenario: name)
    }

    public func run(_ spec: CaseSpec, in area: WorkArea, options: RunOptions) -> CaseRecord {
        let started = Date()
        var record = CaseRecord(spec, area: area, options: options, iterations: 1)
        record.run(since: started) { record in
            guard let kind = ScratchKind(named: area.filesystem.type), kind.maker.needsBlockDevice else {
                let disks = ScratchKind.all.filter(\.maker.needsBlockDevice).map(\.name).joined(separator: ", ")
                throw CaseStop.unsupported("writeback errors are injected under a filesystem made on a block device (\(disks)); this is \(area.filesystem.type)")
            }
            if let reason = kind.unavailableReason { throw CaseStop.unsupported(reason) }
            let injection = try spec.variant(as: WritebackInjection.self)
            if let reason = injection.unavailableReason { throw CaseStop.unsupported(reason) }
            let options = ScratchOptions(kind: kind, mkfsOptions: area.filesystem.mkfsOptions, mountOptions: area.filesystem.mountOptions)
            try WritebackFailure(options: options, injection: injection, seed: record.seed).run(into: &record, started: started)
        }
        return record
    }
}

/// How the writes under the filesystem come to fail.
enum WritebackInjection: String, CaseIterable {
    /// The loop device's backing file is on a tmpfs too small for it: writeback fails with
    /// ENOSPC once the tmpfs is full. Works on any kernel.
    case fullTmpfs = "loop-on-full-tmpfs"
    /// device-mapper between the filesystem and the loop device, linear until the failure, then
    /// flakey with `error_writes`: every write (and flush) fails with EIO, reads still work.
    case dmFlakey = "dm-flakey"

    var unavailableReason: String? {
        switch self {
        case .fullTmpfs: nil
        case .dmFlakey: MappedDevice.unavailableReason(target: "flakey")
        }
    }

    /// How much the writer puts in the page cache after the failure: far more than the tmpfs
    /// has left, or enough for writeback to fail many times over.
    var fillLimit: Int {
        switch self {
        case .fullTmpfs: 64 << 20
        case .dmFlakey: 32 << 20
        }
    }
}

/// The block device the filesystem is made on, and what proves that its writes failed. The
/// stack, innermost last: a private tmpfs, a sparse image in it, a loop device, and for
/// dm-flakey a device-mapper device; each goes with the object, or with the process.
private final class FailingDisk {
    let injection: WritebackInjection
    let tmpfs: DetachedMount
    let image: OpenFile
    let loop: LoopDevice
    let mapper: MappedDevice?
    /// Write requests completed by the device-mapper device, and by the loop device under it,
    /// once the failing table was live (the swap waits for writes in flight under the old one).
    private var writesAtFailure: (mapper: Int, loop: Int)?

    init(_ injection: WritebackInjection) throws {
        self.injection = injection
        tmpfs = try DetachedMount(fsType: "tmpfs", source: "dio-torture-writeback-error", options: ["size=\(WritebackError.imageSize)"])
        image = try OpenFile.anonymous(in: tmpfs.root)
        try image.truncate(to: WritebackError.imageSize)
        loop = try LoopDevice(backing: image)
        mapper = injection == .dmFlakey
            ? try MappedDevice(name: "dio-torture-\(ThisProcess.id)-\(loop.kernelName)", target: "linear",
                               sectors: WritebackError.imageSize / 512, parameters: "\(loop.path) 0")
            : nil
    }

    /// The device to make the filesystem on.
    var path: String { mapper?.path ?? loop.path }
    /// As the kernel log names it.
    var kernelName: String { mapper?.kernelName ?? loop.kernelName }

    /// From now on every write fails (dm-flakey); or the tmpfs is shrunk to a few MiB more than
    /// it holds, and the fill that follows makes writeback fail. Shrunk, not filled: filling it
    /// allocated and cleared half a GiB of pages per case. A loop write landing between the
    /// count and the shrink makes tmpfs refuse the size (EINVAL): it is counted again.
    func startFailing() throws {
        guard let mapper else {
            for attempt in 1...Self.shrinkAttempts {
                let size = try usedBytes(at: tmpfs.root) + WritebackError.tmpfsLeftFree
                guard size < WritebackError.imageSize else { return }
                do {
                    try tmpfs.reconfigure(["size=\(size)"])
                    return
                } catch let error as MountError where error.errno == .invalidArgument && attempt < Self.shrinkAttempts {
                    continue
                }
            }
            return
        }
        try mapper.replaceTable(target: "flakey", parameters: "\(loop.path) 0 0 1 1 error_writes")
        writesAtFailure = (mapper.writesCompleted() ?? 0, BlockDeviceStatistics(kernelName: loop.kernelName)?.writes ?? 0)
    }

    static let shrinkAttempts = 3

    /// Writes dm-flakey failed, and writes that reached the loop device all the same (0 when the
    /// injection is sound); nil for the full tmpfs, whose errors only the kernel log shows.
    var failedWrites: (failed: Int, leaked: Int)? {
        guard let mapper, let writesAtFailure else { return nil }
        let loopWrites = BlockDeviceStatistics(kernelName: loop.kernelName)?.writes ?? 0
        return ((mapper.writesCompleted() ?? 0) - writesAtFailure.mapper, loopWrites - writesAtFailure.loop)
    }
}

private struct WritebackFailure {
    let options: ScratchOptions
    let injection: WritebackInjection
    let seed: UInt64

    private var synced: DataStamp { DataStamp(fileID: 7, generation: 1, seed: seed) }
    private var unsynced: DataStamp { DataStamp(fileID: 7, generation: 2, seed: seed) }
    private var refault: DataStamp { DataStamp(fileID: 7, generation: 3, seed: seed) }

    /// The filesystem on the disk that will fail, with the data file open twice.
    /// Released, the files close first, then the filesystem goes, then the disk under it: an
    /// NFS file closed after its server is gone waits for it for ever.
    private final class Setup {
        var file: OpenFile!
        var witness: OpenFile!
        var filesystem: ScratchFilesystem!
        let disk: FailingDisk

        init(disk: FailingDisk, filesystem: ScratchFilesystem, file: OpenFile, witness: OpenFile) {
            (self.disk, self.filesystem, self.file, self.witness) = (disk, filesystem, file, witness)
        }

        deinit {
            file = nil
            witness = nil
            filesystem = nil
        }
    }

    /// What the failure did: how far the page cache was filled, and what each fsync said.
    private struct Failure {
        var written: Int
        var writeError: Errno?
        var firstSync: Result<Void, any Error>
        var witnessSync: Result<Void, any Error>
        var secondSync: Result<Void, any Error>
        var logged: [String]
        var failedWrites: (failed: Int, leaked: Int)?

        var injected: Bool { if let failedWrites { failedWrites.failed > 0 } else { logged.count > 0 || firstSync.isFailure } }
    }

    func run(into record: inout CaseRecord, started: Date) throws {
        let log = try? KernelLog()
        let setup = try makeSetup()
        let chunk = try MappedRegion(anonymousLength: WritebackError.fillChunk)
        // Before the failure: data that fsync says is safe, and a mapping of its first pages.
        for offset in stride(from: 0, to: WritebackError.syncedBytes, by: WritebackError.fillChunk) {
            SectorPattern.fill(chunk.bytes, stamp: synced, fileOffset: offset)
            _ = try setup.file.write(UnsafeRawBufferPointer(chunk.bytes), at: offset)
        }
        try setup.file.sync()
        let mapping = try MappedRegion(file: setup.file, offset: 0, length: WritebackError.mappedBytes)
        let newMapped = try MappedRegion(anonymousLength: WritebackError.mappedBytes)
        SectorPattern.fill(newMapped.bytes, stamp: unsynced, fileOffset: 0)
        let mappedWrite = mapping.copyIn(at: 0, from: UnsafeRawBufferPointer(newMapped.bytes))

        let failure = try failAndFill(setup, chunk: chunk, log: log)
        // Reads after the failure, from the disk where the cache lets go of the pages.
        try? setup.file.dropCache()
        let probe = try MappedRegion(anonymousLength: WritebackError.fillChunk)
        let promises = [fsyncPromise(failure)] + readBackPromises(setup.witness, failure: failure, probe: probe)
            + (try mappingPromises(mapping, mappedWrite: mappedWrite, probe: probe))
        withExtendedLifetime(setup) {}
        recordResults(promises, failure: failure, disk: setup.disk, into: &record, started: started)
    }

    private func makeSetup() throws -> Setup {
        let disk: FailingDisk
        do { disk = try FailingDisk(injection) } catch {
            throw CaseStop.harness("setting up the \(injection.rawValue) device: \(error)")
        }
        let filesystem: ScratchFilesystem
        do { filesystem = try ScratchFilesystem(options, device: disk.path) } catch {
            throw CaseStop.harness("making \(options.kind.name) on \(disk.path): \(error)")
        }
        let path = filesystem.root + "/data"
        let file = try OpenFile(path, .readWrite, options: .create)
        return Setup(disk: disk, filesystem: filesystem, file: file, witness: try OpenFile(path, .readOnly))
    }

    /// The failure; then the page cache filled with what writeback cannot store, and fsync asked
    /// through the writer, a second descriptor, and the writer again.
    private func failAndFill(_ setup: Setup, chunk: MappedRegion, log: KernelLog?) throws -> Failure {
        do { try setup.disk.startFailing() } catch {
            throw CaseStop.harness("switching \(setup.disk.path) to failing writes: \(error)")
        }
        var written = WritebackError.syncedBytes
        var writeError: Errno?
        while written < injection.fillLimit {
            SectorPattern.fill(chunk.bytes, stamp: unsynced, fileOffset: written)
            do {
                _ = try setup.file.write(UnsafeRawBufferPointer(chunk.bytes), at: written)
            } catch let error as Errno {
                writeError = error
                break
            }
            written += WritebackError.fillChunk
        }
        let firstSync = Result { try setup.file.sync() }
        let witnessSync = Result { try setup.witness.sync() }
        let secondSync = Result { try setup.file.sync() }
        let kernelName = setup.disk.kernelName
        let logged = (log?.newMessages() ?? []).filter { $0.contains(kernelName) && ($0.contains("error") || $0.contains("Error")) }
        return Failure(written: written, writeError: writeError, firstSync: firstSync, witnessSync: witnessSync,
                       secondSync: secondSync, logged: logged, failedWrites: setup.disk.failedWrites)
    }

    private static func describe(_ result: Result<Void, any Error>) -> String {
        switch result {
        case .success: "0"
        case .failure(let error): (error as? Errno)?.symbol ?? "\(error)"
        }
    }

    private func fsyncPromise(_ failure: Failure) -> CheckRecord {
        CheckRecord(
            name: "1. fsync reports the error to each descriptor open at the time",
            held: failure.injected ? failure.firstSync.isFailure && failure.witnessSync.isFailure : nil,
            observed: "writer fsync \(Self.describe(failure.firstSync)), second descriptor fsync \(Self.describe(failure.witnessSync)), writer again \(Self.describe(failure.secondSync))")
    }

    /// Promises 2 and 3: the synced data, then the range whose writeback failed, read back.
    private func readBackPromises(_ witness: OpenFile, failure: Failure, probe: MappedRegion) -> [CheckRecord] {
        var model = FileModel()
        model.write(0..<WritebackError.syncedBytes, stamp: synced)
        let syncedCheck = readBack(witness, range: 0..<WritebackError.syncedBytes, into: probe, model: model, alternatives: [unsynced],
                                   skipping: 0..<WritebackError.mappedBytes)
        var failedCheck = ReadBack()
        var offset = WritebackError.syncedBytes
        while offset < failure.written, failedCheck.problem == nil, failedCheck.stoppedBy == nil {
            let length = min(WritebackError.fillChunk, failure.written - offset)
            let piece = readBack(witness, range: offset..<offset + length, into: probe, model: FileModel(size: failure.written),
                                 alternatives: [unsynced], skipping: nil)
            failedCheck.bytes += piece.bytes
            failedCheck.alternativeSectors += piece.alternativeSectors
            failedCheck.problem = piece.problem
            failedCheck.stoppedBy = piece.stoppedBy
            offset += length
        }
        let new = failedCheck.alternativeSectors * SectorPattern.sectorSize
        // With no error reported, everything written must be there.
        let silentLoss: String? = failure.firstSync.isSuccess && new < failedCheck.bytes
            ? "fsync returned 0 but only \(new) of \(failedCheck.bytes) bytes read back as written" : nil
        return [
            CheckRecord(name: "2. data synced before the failure reads back exactly (or fails loudly)", held: syncedCheck.problem == nil,
                        observed: syncedCheck.problem ?? "\(syncedCheck.bytes) bytes as written" + (syncedCheck.stoppedBy.map { ", then \($0)" } ?? "")),
            CheckRecord(
                name: "3. no silent loss: the failed range reads as written or as on disk, never other bytes",
                held: failedCheck.problem == nil && silentLoss == nil,
                observed: failedCheck.problem ?? silentLoss
                    ?? "\(failedCheck.bytes) bytes readable: \(new) as written, the rest as on disk (zeros)" + (failedCheck.stoppedBy.map { "; then \($0)" } ?? "")),
        ]
    }

    /// Promises 4 and 5: the page mapped before the failure, then a new write fault on it.
    private func mappingPromises(_ mapping: MappedRegion, mappedWrite: Result<Int, Errno>, probe: MappedRegion) throws -> [CheckRecord] {
        let mappedProblem = checkMapping(mapping, into: probe, written: unsynced, onDisk: synced)
        let mappedWriteResult = switch mappedWrite {
        case .success(let count): "\(count) bytes"
        case .failure(let error): error.symbol
        }
        let marker = try MappedRegion(anonymousLength: pageSize)
        SectorPattern.fill(marker.bytes, stamp: refault, fileOffset: 0)
        var refaults: [String] = []
        var refaultProblem: String?
        for page in stride(from: 0, to: WritebackError.mappedBytes, by: pageSize) {
            switch mapping.copyIn(at: page, from: UnsafeRawBufferPointer(rebasing: marker.bytes[0..<8])) {
            case .failure(let error): refaults.append(error.symbol)
            case .success:
                refaults.append("ok")
                let rest = checkMapping(mapping, into: probe, written: unsynced, onDisk: synced, range: page + SectorPattern.sectorSize..<page + pageSize)
                refaultProblem = refaultProblem ?? rest.map { "after a write fault at \(page): \($0)" }
            }
        }
        let refaultSummary = Dictionary(grouping: refaults, by: { $0 }).map { "\($0.value.count) \($0.key)" }.sorted().joined(separator: ", ")
        return [
            CheckRecord(name: "4. a page mapped before the failure holds what was written or the on-disk data",
                        held: mappedProblem == nil,
                        observed: "mapped write \(mappedWriteResult); " + (mappedProblem ?? "every mapped sector as written or as on disk")),
            CheckRecord(name: "5. a new write fault does not succeed into a page that is no longer uptodate",
                        held: refaultProblem == nil,
                        observed: "write faults: \(refaultSummary); " + (refaultProblem ?? "the rest of every page still as written or as on disk")),
        ]
    }

    private func recordResults(_ promises: [CheckRecord], failure: Failure, disk: FailingDisk, into record: inout CaseRecord, started: Date) {
        record.checks = promises
        record.counters = ["bytes written": failure.written, "I/O errors logged": failure.logged.count,
                           "write errors": failure.writeError == nil ? 0 : 1, "image bytes": WritebackError.imageSize]
        if let writeError = failure.writeError { record.counters?["write error \(writeError.symbol)"] = 1 }
        var injectedText = "\(failure.logged.count) I/O errors logged on \(disk.kernelName)"
        if let failedWrites = failure.failedWrites {
            record.counters?["writes failed by dm-flakey"] = failedWrites.failed
            record.counters?["writes reaching the loop device after the failure"] = failedWrites.leaked
            injectedText = "\(failedWrites.failed) writes failed by dm-flakey, " + injectedText
        } else {
            record.counters?["tmpfs bytes left free at the failure"] = WritebackError.tmpfsLeftFree
        }
        record.reason = "\(injectedText); fsync: \(promises[0].observed)"
        var unmet: String?
        if !failure.injected {
            unmet = "no writeback error was injected: \(failure.written) bytes went through without one"
        } else if let failedWrites = failure.failedWrites, failedWrites.leaked > 0 {
            unmet = "the injection leaked: \(failedWrites.leaked) writes reached the loop device after dm-flakey was switched to fail them"
        }
        record.judge(promises: promises, unmet: unmet, started: started)
    }

    /// Reads `range` back (buffered, through `file`) and checks each sector is what `model`
    /// says or one of `alternatives`; an I/O error is an honest answer, not silent loss.
    private func readBack(_ file: OpenFile, range: Range<Int>, into buffer: MappedRegion, model: FileModel,
                          alternatives: [DataStamp], skipping: Range<Int>?) -> ReadBack {
        var bytes = 0, alternativeSectors = 0
        var offset = range.lowerBound
        while offset < range.upperBound {
            let length = min(buffer.length, range.upperBound - offset)
            let count: Int
            do { count = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<length]), at: offset) } catch let error as Errno {
                if error == .ioError { return ReadBack(bytes: bytes, alternativeSectors: alternativeSectors, stoppedBy: "EIO at \(offset)") }
                return ReadBack(bytes: bytes, problem: "read at \(offset): \(error.symbol)", alternativeSectors: alternativeSectors)
            } catch {
                return ReadBack(bytes: bytes, problem: "read at \(offset): \(error)", alternativeSectors: alternativeSectors)
            }
            if count == 0 { break }
            for sector in stride(from: 0, to: count - count % SectorPattern.sectorSize, by: SectorPattern.sectorSize) {
                let at = offset + sector
                if let skipping, skipping.contains(at) { continue }
                let bytesAt = UnsafeRawPointer(buffer.base + sector)
                if Verifier.sectorMatches(bytesAt, count: SectorPattern.sectorSize, at: at, model: model) { continue }
                if alternatives.contains(where: { SectorPattern.matches(bytesAt, stamp: $0, offset: UInt64(at)) }) {
                    alternativeSectors += 1
                    continue
                }
                let diagnosis = Verifier.diagnose(bytesAt, count: SectorPattern.sectorSize, at: at, model: model, prior: .fill(0xA5))
                return ReadBack(bytes: bytes, problem: "sector at \(at) is neither as written nor as on disk (\(diagnosis.rawValue))",
                                alternativeSectors: alternativeSectors)
            }
            bytes += count
            offset += count
        }
        return ReadBack(bytes: bytes, alternativeSectors: alternativeSectors)
    }

    /// What reading a range back gave: bytes read, sectors holding the alternative (new) data,
    /// the first sector that is wrong, and the error a read stopped at (an honest answer).
    struct ReadBack {
        var bytes = 0
        var problem: String?
        var alternativeSectors = 0
        var stoppedBy: String?
    }

    /// Reads the mapping through the fault path and checks each sector is `written` or `onDisk`.
    private func checkMapping(_ mapping: MappedRegion, into buffer: MappedRegion, written: DataStamp, onDisk: DataStamp,
                              range: Range<Int>? = nil) -> String? {
        let range = range ?? 0..<mapping.length
        let target = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<range.count])
        switch mapping.copyOut(at: range.lowerBound, into: target) {
        case .failure(let error): return "reading the mapping: \(error.symbol)"
        case .success(let count) where count < range.count: return "reading the mapping stopped at \(range.lowerBound + count)"
        case .success: break
        }
        for sector in stride(from: 0, to: range.count, by: SectorPattern.sectorSize) {
            let at = range.lowerBound + sector
            let bytes = UnsafeRawPointer(buffer.base + sector)
            if !SectorPattern.matches(bytes, stamp: written, offset: UInt64(at)) && !SectorPattern.matches(bytes, stamp: onDisk, offset: UInt64(at)) {
                let zeros = Verifier.isFilled(bytes, count: SectorPattern.sectorSize, with: 0)
                return "mapped sector at \(at) is \(zeros ? "zeros" : "other data"), neither as written nor as on disk"
            }
        }
        return nil
    }
}

extension Result {
    var isFailure: Bool { if case .failure = self { true } else { false } }
    var isSuccess: Bool { !isFailure }
}
