import DIOSystem
import Foundation
import Glibc

/// Runs one write case. Per iteration: prepare the target file afresh and prove its state
/// (FIEMAP, cache residency), set up the source buffer and prove its residency, fire one write
/// and judge its first completion, then read the whole file back every way (O_DIRECT, through
/// the page cache, through a new mapping, and through the target's own mapping when it has one)
/// and judge each against what the write reported.
struct WriteCase: IteratedCase {
    let spec: CaseSpec
    let shape: WriteShape
    let area: WorkArea
    let options: RunOptions
    let readbackMemory = ReadbackMemory()

    init(spec: CaseSpec, area: WorkArea, options: RunOptions) {
        self.spec = spec
        shape = spec.write!
        self.area = area
        self.options = options
    }

    func execute(seed caseSeed: UInt64, started: Date, into record: inout CaseRecord) throws {
        let transfers = try transfers(shape.path, pattern: shape.pattern, writeTarget: shape.target)
        var progress = CaseProgress(started: started)
        var layout: LayoutStatus?
        let caseFiles = CaseFiles(case: DataStamp(caseSeed: caseSeed), writeSources: true)
        for iteration in 0..<options.iterations {
            // A hung write still owns the ring and its buffer: nothing more can run in this case.
            let (outcome, status) = try runIteration(iteration, seed: Seeds.forIteration(case: caseSeed, iteration), transfers: transfers,
                                                     caseFiles: caseFiles, progress: &progress, record: &record)
            layout = Self.worse(layout, status)
            if outcome == .hang { break }
        }
        progress.finish(&record, layout: layout, note: record.layout?.note)
    }

    /// The worse of two states a case's files were found in: one missed plan makes the case unproved.
    private static func worse(_ old: LayoutStatus?, _ new: LayoutStatus) -> LayoutStatus {
        let order: [LayoutStatus] = [.notReached, .unverifiable, .notApplicable, .verified]
        return old.map { order.firstIndex(of: $0)! < order.firstIndex(of: new)! ? $0 : new } ?? new
    }

    /// One iteration; returns the outcome that counted (`.hang` ends the case) and the state its
    /// target file was found in.
    private func runIteration(_ iteration: Int, seed: UInt64, transfers: Transfers, caseFiles: CaseFiles,
                              progress: inout CaseProgress, record: inout CaseRecord) throws -> (Outcome, LayoutStatus) {
        let stamp = DataStamp(caseSeed: seed)
        let target = try PhaseClock.measure(.layout) {
            try PreparedTarget.make(shape.target, layout: shape.layout, in: area, stamp: stamp, name: Self.targetName(stamp),
                                    ahead: LayoutsAhead.key(spec.id, iteration: iteration))
        }
        if record.layout == nil || target.check.status == .notReached { record.layout = target.layout }
        var model = target.model
        let context = bufferContext(seed: seed, file: target.file, stamp: stamp, offset: shape.offset(fileSize: target.model.size),
                                    caseFiles: caseFiles)
        shape.pattern.kind.recordFileWrites(into: &model, context: context)
        // O_APPEND writes at EOF, wherever the source's own writes to the file left it.
        let offset = shape.target == .append ? model.size : context.readOffset
        let (proved, retries) = try ProvedBuffer.make(shape.pattern, context: context, count: 1)
        progress.residencyRetries += retries
        let buffer = proved[0].buffer
        // Cached or mapped only now: a source mapping the same file drops its cache as it is made.
        let primed = try PhaseClock.measure(.buffers) { try CachePriming(shape.target, file: target.file, length: target.model.size, memory: readbackMemory) }
        let held = try proved[0].held && primed.held && buffer.holdsPlan(found: buffer.foundResidency())
        progress.residencies[proved[0].found.residencyMap, default: 0] += 1
        progress.plannedResidency = buffer.plannedResidency.residencyMap

        let writer = shape.target == .append ? try appending(target.file) : target.file
        let memory = shape.memoryOffset..<shape.memoryOffset + shape.length
        let source = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[memory])
        let result: TransferResult
        do {
            result = try transfers.fire(shape.path, file: writer, buffers: [source], segments: shape.alignment?.segments ?? 1, offset: offset)[0]
        } catch let unavailable as Transfers.Unavailable {
            throw CaseStop.unsupported(unavailable.description)
        } catch let unregisterable as Transfers.Unregisterable {
            throw CaseStop.unsupported("cannot register a \(shape.pattern.rawValue) buffer: \(unregisterable.error.symbol)")
        }
        let expected = ExpectedFile(model)
        // A source mapping the written range carries the file's own bytes there, hole or data.
        let carried = shape.pattern.traits.mapsTheTransferredRange ? expected.held(offset..<offset + shape.length) : buffer.plannedContent(memory)
        let written = WrittenFile(target: target, expected: expected, offset: offset, source: carried,
                                  mapping: primed.mapping, memory: readbackMemory)
        let misaligned = try shape.alignment?.misaligned(length: shape.length, offset: offset, statx: target.file.dioAlignment(),
                                                         blockSize: target.file.preferredBlockSize()) ?? false
        let contract = WriteContract(length: shape.length, path: shape.path, inaccessibleOffset: buffer.inaccessibleOffset.map { $0 - shape.memoryOffset },
                                     misaligned: misaligned)
        let outcome = judge(WriteIteration(iteration: iteration, seed: seed, result: result, held: held), contract: contract,
                            written: written, progress: &progress, record: &record)
        return (outcome, target.check.status)
    }

    private func bufferContext(seed: UInt64, file: OpenFile, stamp: DataStamp, offset: Int, caseFiles: CaseFiles) -> BufferContext {
        // A spare range past everything the write may reach, for sources that map another part of the file.
        let mirrorOffset = BufferContext.mirrorOffset(past: offset + shape.length)
        return BufferContext(length: (shape.memoryOffset + shape.length).roundedUp(to: pageSize), poison: UInt8(truncatingIfNeeded: seed % 255 + 1),
                             userfaultDelay: BufferContext.userfaultDelay(seed: seed), directory: area.directory, file: file,
                             fileStamp: stamp, mirrorOffset: mirrorOffset, readOffset: offset, caseFiles: caseFiles)
    }

    /// One write of an iteration, as fired.
    private struct WriteIteration {
        var iteration: Int
        var seed: UInt64
        var result: TransferResult
        /// The target's state and the source's residency held as planned when it was fired.
        var held: Bool
    }

    /// Judges the write's first completion, then the file read back every way against what the
    /// completion reported; counts the iteration and keeps the first failures in full.
    private func judge(_ write: WriteIteration, contract: WriteContract, written: WrittenFile, progress: inout CaseProgress,
                       record: inout CaseRecord) -> Outcome {
        var written = written
        written.expected.aim(written.source, at: written.offset)
        let judgement = Oracle.judgeWrite(write.result, contract: contract)
        switch write.result {
        case .completed(let count):
            written.expected.write(written.source, count: count, at: written.offset)
        case .failed where judgement.call == .pass:
            // A legal error (EFAULT at the PROT_NONE page, EAGAIN under RWF_NOWAIT) reports no
            // progress, not no effect: iomap returns the error of a direct write that stopped part-way.
            let reach = contract.inaccessibleOffset ?? contract.length
            written.expected.mayHold(written.source, over: written.offset..<written.offset + reach)
        default:
            break
        }
        let readback = PhaseClock.measure(.verification) { written.readBack(corrupting: options.injectCorruption) }
        let failing = judgement.call == .fail ? judgement : readback.first { $0.judgement.call == .fail }?.judgement ?? judgement
        return progress.count(failing, held: write.held, into: &record) {
            written.failure(write.iteration, seed: write.seed, result: write.result, judgement: failing, length: contract.length, readback: readback,
                            in: area)
        }
    }

    /// The name of an iteration's target file of `stamp` (unlinked once open).
    static func targetName(_ stamp: DataStamp) -> String { "write-\(stamp.fileID)" }

    /// The target opened O_APPEND for the `append` target; a filesystem that refuses O_APPEND
    /// with O_DIRECT at open (NFS: EINVAL) cannot take this target.
    private func appending(_ file: OpenFile) throws -> OpenFile {
        do { return try file.reopened(.writeOnly, options: [.direct, .append]) } catch Errno.invalidArgument {
            throw CaseStop.unsupported("\(area.filesystem.type) refuses O_APPEND with O_DIRECT (open: EINVAL)")
        }
    }
}
