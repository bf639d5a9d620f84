import DIOSystem
import Foundation
import Glibc

/// Runs one read case: lay out the file, check its extents, then per iteration set up the buffer,
/// prove its residency, fire one read and judge the first completion.
struct ReadCase: IteratedCase {
    let spec: CaseSpec
    let shape: ReadShape
    let area: WorkArea
    let options: RunOptions

    init(spec: CaseSpec, area: WorkArea, options: RunOptions) {
        self.spec = spec
        shape = spec.read!
        self.area = area
        self.options = options
    }

    func execute(seed caseSeed: UInt64, started: Date, into record: inout CaseRecord) throws {
        let transfers = try transfers(shape.path, pattern: shape.pattern, depth: shape.queueDepth, fileCache: shape.fileCache)
        let stamp = DataStamp(caseSeed: caseSeed)
        let laidOut = try layOut(stamp: stamp, into: &record)
        var model = laidOut.model
        // A spare range past the data, for buffers that map another part of the same file.
        let mirrorOffset = BufferContext.mirrorOffset(past: shape.layout.fileSize + shape.length)
        let caseFiles = CaseFiles(case: stamp, writeSources: false)
        let bufferContext = { (seed: UInt64) in
            BufferContext(length: (shape.memoryOffset + shape.length).roundedUp(to: pageSize), poison: UInt8(truncatingIfNeeded: seed % 255 + 1),
                          userfaultDelay: BufferContext.userfaultDelay(seed: seed), directory: area.directory, file: laidOut.file,
                          fileStamp: stamp, mirrorOffset: mirrorOffset, readOffset: shape.offset, caseFiles: caseFiles)
        }
        shape.pattern.kind.recordFileWrites(into: &model, context: bufferContext(caseSeed))
        try laidOut.file.dropCache()
        let misaligned = try shape.alignment?.misaligned(length: shape.length, offset: shape.offset, statx: laidOut.alignment,
                                                         blockSize: laidOut.file.preferredBlockSize()) ?? false

        // A buffered path reads through the page cache: a descriptor without O_DIRECT.
        let reader = shape.path.buffered ? try laidOut.file.reopened(.readOnly) : laidOut.file
        var progress = CaseProgress(started: started)
        for iteration in 0..<options.iterations {
            let seed = Seeds.forIteration(case: caseSeed, iteration)
            let hung = try runIteration(iteration, seed: seed, context: bufferContext(seed), transfers: transfers, file: reader,
                                        model: model, misaligned: misaligned, progress: &progress, record: &record)
            // A hung read still owns the ring and its buffer: nothing more can run in this case.
            if hung { break }
        }
        progress.finish(&record, layout: laidOut.layout.status, note: laidOut.layout.note)
    }

    /// The file the case reads, laid out as planned (ahead, with other cases' files, when it
    /// was expected), recorded.
    private func layOut(stamp: DataStamp, into record: inout CaseRecord) throws -> LaidOutFile {
        let laidOut = try LayoutsAhead.shared.take(spec.id, plan: shape.layout, stamp: stamp, in: area)
            ?? LaidOutFile(shape.layout, in: area, stamp: stamp, name: Self.fileName(stamp))
        if let alignment = laidOut.alignment { record.dioAlignment = ["memory": alignment.memory, "offset": alignment.offset] }
        record.layout = laidOut.record(shape.layout)
        return laidOut
    }

    /// The name of the file a case of `stamp` reads (unlinked once open).
    static func fileName(_ stamp: DataStamp) -> String { "case-\(stamp.fileID)" }

    /// One iteration: a buffer per read in flight, each set up afresh with the pattern and its
    /// residency proved (a buffer that missed it, because a page was read back in meanwhile, is
    /// set up again), the reads fired, each first completion judged. Returns whether a read hung.
    private func runIteration(_ iteration: Int, seed: UInt64, context: BufferContext, transfers: Transfers, file: OpenFile, model: FileModel,
                              misaligned: Bool, progress: inout CaseProgress, record: inout CaseRecord) throws -> Bool {
        let (proved, retries) = try ProvedBuffer.make(shape.pattern, context: context, count: shape.queueDepth)
        progress.residencyRetries += retries
        let cacheHeld = try PhaseClock.measure(.buffers) { try shape.fileCache?.prime(context.file, length: shape.layout.fileSize) ?? true }
        for buffer in proved { progress.residencies[buffer.found.residencyMap, default: 0] += 1 }
        progress.plannedResidency = proved[0].buffer.plannedResidency.residencyMap
        let memory = shape.memoryOffset..<shape.memoryOffset + shape.length
        let targets = proved.map { UnsafeMutableRawBufferPointer(rebasing: $0.buffer.bytes[memory]) }
        let results: [TransferResult]
        do {
            results = try transfers.fire(shape.path, file: file, buffers: targets, segments: shape.alignment?.segments ?? 1, offset: shape.offset)
        } catch let unavailable as Transfers.Unavailable {
            throw CaseStop.unsupported(unavailable.description)
        } catch let unregisterable as Transfers.Unregisterable {
            throw CaseStop.unsupported("cannot register a \(shape.pattern.rawValue) buffer: \(unregisterable.error.symbol)")
        }
        for (index, (buffer, target)) in zip(proved, targets).enumerated() {
            let read = JudgedIteration(iteration: iteration, read: shape.queueDepth > 1 ? index : nil, seed: seed,
                                       result: results[index], buffer: buffer, target: target, misaligned: misaligned, cacheHeld: cacheHeld)
            if judge(read, file: file, model: model, progress: &progress, record: &record) == .hang { return true }
        }
        return false
    }

    /// One read of an iteration, as fired.
    private struct JudgedIteration {
        var iteration: Int
        var read: Int?
        var seed: UInt64
        var result: TransferResult
        var buffer: ProvedBuffer
        var target: UnsafeMutableRawBufferPointer
        var misaligned: Bool
        /// The file's planned page-cache state held (true when the case plans none).
        var cacheHeld: Bool

        /// What the buffer held before the read at `offset` into the read's memory.
        func prior(at offset: Int) -> PriorContent { buffer.buffer.prior(at: offset + (target.baseAddress! - buffer.buffer.bytes.baseAddress!)) }
    }

    /// Judges one read's first completion, counts it and keeps the first failures in full.
    private func judge(_ read: JudgedIteration, file: OpenFile, model: FileModel, progress: inout CaseProgress, record: inout CaseRecord) -> Outcome {
        if options.injectCorruption, case .completed(let count) = read.result, count > 0 { read.target[count / 2] ^= 0xFF }
        let buffer = read.buffer.buffer
        let contract = ReadContract(offset: shape.offset, length: shape.length, fileSize: model.size, path: shape.path,
                                    inaccessibleOffset: buffer.inaccessibleOffset.map { $0 - shape.memoryOffset }, misaligned: read.misaligned)
        let (judgement, verification) = PhaseClock.measure(.verification) {
            Oracle.judgeRead(read.result, contract: contract, bytes: UnsafeRawBufferPointer(read.target), model: model, prior: read.prior(at:)).pair
        }
        return progress.count(judgement, held: read.buffer.held && read.cacheHeld, into: &record) {
            var failure = failure(read, judgement: judgement, contract: contract, verification: verification, model: model)
            failure.extentsAfter = FailureRecord.extents(of: file, in: area, after: read.result)
            return failure
        }
    }

    private func failure(_ read: JudgedIteration, judgement: Judgement, contract: ReadContract, verification: Verification,
                         model: FileModel) -> FailureRecord {
        var record = FailureRecord(iteration: read.iteration, read: read.read, seed: read.seed, judgement: judgement,
                                   expectedLength: contract.expectedLength, result: read.result)
        (record.firstBadOffset, record.badRanges) = (verification.firstBadOffset, verification.badRanges)
        if case .completed(let count) = read.result, count < contract.expectedLength {
            record.unfilledTail = Verifier.diagnoseTail(UnsafeRawBufferPointer(read.target), bufferOffset: count, fileOffset: shape.offset,
                                                        model: model, prior: read.prior(at:))
            record.firstBadOffset = record.firstBadOffset ?? shape.offset + count
        }
        return record
    }
}

extension Int {
    func roundedUp(to multiple: Int) -> Int { (self + multiple - 1) / multiple * multiple }
}
