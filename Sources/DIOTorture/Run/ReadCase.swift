import DIOSystem
import Foundation
import Glibc

/// Runs one read case: lay out the file, check its extents, then per iteration set up the buffer,
/// prove its residency, fire one read and judge the first completion.
struct ReadCase {
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

    func run() -> CaseRecord {
        let started = Date()
        let caseSeed = Seeds.forCase(run: options.seed, id: spec.id)
        var record = CaseRecord(spec, area: area, options: options, iterations: options.iterations)
        record.run(since: started) { try execute(seed: caseSeed, started: started, into: &$0) }
        return record
    }

    private func execute(seed caseSeed: UInt64, started: Date, into record: inout CaseRecord) throws {
        if let reason = Oracle.incompatibility(shape.path, shape.pattern, filesystem: area.filesystem.type) { throw CaseStop(verdict: .skip, reason: reason) }
        let stamp = DataStamp(fileID: UInt32(truncatingIfNeeded: caseSeed >> 32) | 1, generation: 1, seed: caseSeed)
        let laidOut = try layOut(stamp: stamp, into: &record)
        var model = laidOut.model
        // A spare range past the data, for buffers that map another part of the same file.
        let mirrorOffset = (shape.layout.fileSize + shape.length + (1 << 20)) / (1 << 20) * (1 << 20)
        let bufferContext = { (seed: UInt64) in
            BufferContext(length: shape.length.roundedUp(to: pageSize), poison: UInt8(truncatingIfNeeded: seed % 255 + 1),
                          userfaultDelay: .milliseconds(Int(1 + seed % 4)), directory: area.directory, file: laidOut.file,
                          fileStamp: stamp, mirrorOffset: mirrorOffset, readOffset: shape.offset)
        }
        shape.pattern.kind.recordFileWrites(into: &model, context: bufferContext(caseSeed))
        try laidOut.file.dropCache()
        let ring = try makeRing()

        var progress = Progress(started: started)
        for iteration in 0..<options.iterations {
            let seed = Seeds.forIteration(case: caseSeed, iteration)
            let hung = try runIteration(iteration, seed: seed, context: bufferContext(seed), ring: ring, file: laidOut.file,
                                        model: model, progress: &progress, record: &record)
            // A hung read still owns the ring and its buffer: nothing more can run in this case.
            if hung { break }
        }
        record.residency = ResidencyRecord(planned: progress.plannedResidency, found: progress.residencies,
                                           heldIterations: progress.tally.residencyHeld,
                                           retries: progress.residencyRetries > 0 ? progress.residencyRetries : nil)
        record.outcomes = Dictionary(uniqueKeysWithValues: progress.tally.outcomes.map { ($0.key.rawValue, $0.value) })
        record.failures = progress.tally.failures
        (record.verdict, record.reason) = Oracle.verdict(layout: laidOut.layout.status, tally: progress.tally)
        if record.verdict == .pass, laidOut.layout.status == .notApplicable { record.reason = laidOut.layout.note }
    }

    /// What a case's iterations add up to.
    private struct Progress {
        var started: Date
        var tally = Tally()
        var residencies: [String: Int] = [:]
        var residencyRetries = 0
        var plannedResidency = ""
    }

    /// The file the case reads, written with the plan's extents, and the attempts that did not
    /// reach it (kept allocated so that each next attempt lands elsewhere).
    private struct LaidOut {
        var file: OpenFile
        var model: FileModel
        var layout: LayoutCheck
        var attempts: [OpenFile]
    }

    /// Writes the plan by each layout method in turn, each on a fresh file, until FIEMAP shows it.
    private func layOut(stamp: DataStamp, into record: inout CaseRecord) throws -> LaidOut {
        var attempts: [OpenFile] = []
        var reached: (file: OpenFile, model: FileModel, layout: LayoutCheck, method: LayoutMethod)?
        var refused: [String] = []
        for method in LayoutWriter.methods {
            let path = area.directory + "/case-\(stamp.fileID)-\(attempts.count).dat"
            let file: OpenFile
            do {
                file = try OpenFile.scratch(at: path, options: .direct)
            } catch Errno.invalidArgument {
                throw CaseStop(verdict: .skip, reason: "\(area.filesystem.type) does not support O_DIRECT (open: EINVAL)")
            }
            if attempts.isEmpty { try checkAlignment(file, into: &record) }
            attempts.append(file)
            do {
                let model = try LayoutWriter.write(shape.layout, to: file, stamp: stamp, method: method)
                reached = (file, model, checkLayout(file), method)
            } catch let error as LayoutWriter.Unsupported {
                refused.append("\(method.rawValue): \(error)")
                continue
            }
            if reached!.layout.status != .notReached { break }
        }
        guard let (file, model, layout, method) = reached else {
            throw CaseStop(verdict: .inconclusive, reason: "no layout method works here: \(refused.joined(separator: "; "))")
        }
        let tried = attempts.count > 1 ? " (attempt \(attempts.count), \(method.rawValue)" + (refused.isEmpty ? ")" : "; \(refused.joined(separator: "; ")))") : ""
        record.layout = LayoutRecord(planned: shape.layout, plannedExtents: shape.layout.extents.map { [$0.lowerBound, $0.count] },
                                     method: method, status: layout.status, found: layout.found,
                                     note: layout.note.map { $0 + tried })
        return LaidOut(file: file, model: model, layout: layout, attempts: attempts)
    }

    private func makeRing() throws -> Ring? {
        let depth = shape.queueDepth
        if shape.path.usesRing {
            do { return try Ring(entries: UInt32(max(8, depth))) } catch let error as Errno {
                throw CaseStop(verdict: .skip, reason: "io_uring unavailable: \(error.symbol)")
            }
        }
        if depth > 1 { throw CaseStop(verdict: .skip, reason: "queue depth \(depth) needs an io_uring path; \(shape.path) is synchronous") }
        return nil
    }

    /// One iteration: a buffer per read in flight, each set up afresh with the pattern and its
    /// residency proved (a buffer that missed it, because a page was read back in meanwhile, is
    /// set up again), the reads fired, each first completion judged. Returns whether a read hung.
    private func runIteration(_ iteration: Int, seed: UInt64, context: BufferContext, ring: Ring?, file: OpenFile, model: FileModel,
                              progress: inout Progress, record: inout CaseRecord) throws -> Bool {
        var proved: [ProvedBuffer] = []
        for attempt in 0..<Self.residencyAttempts {
            proved = []
            proved = try makeBuffers(context: context, depth: shape.queueDepth)
            if attempt > 0 { progress.residencyRetries += 1 }
            if proved.allSatisfy(\.held) { break }
        }
        for buffer in proved { progress.residencies[buffer.found.residencyMap, default: 0] += 1 }
        progress.plannedResidency = proved[0].buffer.plannedResidency.residencyMap
        let targets = proved.map { UnsafeMutableRawBufferPointer(rebasing: $0.buffer.bytes[0..<shape.length]) }
        if shape.path.method == .uringReadFixed {
            do { try ring!.registerBuffers(proved.map(\.buffer.bytes)) } catch let error as Errno {
                throw CaseStop(verdict: .skip, reason: "cannot register a \(shape.pattern.rawValue) buffer: \(error.symbol)")
            }
        }
        defer { if shape.path.method == .uringReadFixed { ring!.unregisterBuffers() } }

        let results = try fire(ring: ring, file: file, into: targets, iteration: iteration)
        for (index, (buffer, target)) in zip(proved, targets).enumerated() {
            let read = JudgedIteration(iteration: iteration, read: shape.queueDepth > 1 ? index : nil, seed: seed,
                                       result: results[index], buffer: buffer, target: target)
            if judge(read, model: model, progress: &progress, record: &record) == .hang { return true }
        }
        return false
    }

    /// One read of an iteration, as fired.
    private struct JudgedIteration {
        var iteration: Int
        var read: Int?
        var seed: UInt64
        var result: ReadResult
        var buffer: ProvedBuffer
        var target: UnsafeMutableRawBufferPointer
    }

    /// Judges one read's first completion, counts it and keeps the first failures in full.
    private func judge(_ read: JudgedIteration, model: FileModel, progress: inout Progress, record: inout CaseRecord) -> Outcome {
        if options.injectCorruption, case .completed(let count) = read.result, count > 0 { read.target[count / 2] ^= 0xFF }
        let buffer = read.buffer.buffer
        let contract = ReadContract(offset: shape.offset, length: shape.length, fileSize: model.size,
                                    path: shape.path, inaccessibleOffset: buffer.inaccessibleOffset)
        let (judgement, verification) = Oracle.judgeRead(read.result, contract: contract, bytes: UnsafeRawBufferPointer(read.target),
                                                         model: model, prior: buffer.prior(at:)).pair
        progress.tally.iterations += 1
        progress.tally.outcomes[judgement.outcome, default: 0] += 1
        if case .skip(let reason) = judgement.call {
            progress.tally.skipReason = progress.tally.skipReason ?? reason
            return judgement.outcome
        }
        progress.tally.judged += 1
        if read.buffer.held { progress.tally.residencyHeld += 1 }
        guard judgement.call == .fail else { return judgement.outcome }
        progress.tally.failures += 1
        if record.firstFailureSeconds == nil { record.firstFailureSeconds = Date().timeIntervalSince(progress.started) }
        if record.failureDetails.count < CaseRecord.maxFailureDetails {
            record.failureDetails.append(failure(iteration: read.iteration, read: read.read, seed: read.seed, result: read.result,
                                                 judgement: judgement, contract: contract, verification: verification,
                                                 buffer: buffer, target: read.target, model: model))
        }
        return judgement.outcome
    }

    /// Submits one read per target on `path` and returns the first completion of each, in target
    /// order, unjudged and never resubmitted. Reads with no completion within the watchdog's
    /// window come back as `.timedOut`.
    private func fire(ring: Ring?, file: OpenFile, into targets: [UnsafeMutableRawBufferPointer], iteration: Int) throws -> [ReadResult] {
        let flags: ReadWriteFlags = shape.path.nowait ? .nowait : []
        switch shape.path.method {
        case .pread:
            return [ReadResult { try file.read(into: targets[0], at: shape.offset) }]
        case .preadv2:
            return [ReadResult(file.readV2(into: targets[0], at: shape.offset, flags: flags))]
        case .mapped:
            throw CaseStop(verdict: .skip, reason: "read cases read through a descriptor; \(shape.path) is a step scenarios' path")
        case .uringRead, .uringReadv, .uringReadFixed:
            for (index, target) in targets.enumerated() {
                let kind: RingRead = switch shape.path.method {
                case .uringRead: .read
                case .uringReadv: .readv
                default: .readFixed(index: index)
                }
                try ring!.queueRead(kind, file: file.descriptor, into: target, offset: shape.offset, flags: flags,
                                    async: shape.path.async, userData: UInt64(index))
            }
            try ring!.submit()
            var results = [ReadResult](repeating: .timedOut, count: targets.count)
            for _ in targets.indices {
                guard let completion = try ring!.waitCompletion(timeout: options.timeout) else { break }
                results[Int(completion.userData)] = ReadResult(completion)
            }
            return results
        }
    }

    static let residencyAttempts = 3

    /// A buffer with the residency mincore found once it was set up.
    private struct ProvedBuffer {
        var buffer: ReadBuffer
        var found: [Bool]
        /// The planned residency (and for thp its huge page) held.
        var held: Bool
    }

    private func makeBuffers(context: BufferContext, depth: Int) throws -> [ProvedBuffer] {
        let buffers: [ReadBuffer]
        do {
            buffers = try (0..<depth).map { _ in try ReadBuffer(shape.pattern, context: context) }
        } catch let error as BufferSetupError where error.isUnsupported {
            throw CaseStop(verdict: .skip, reason: error.description)
        }
        return try buffers.map { buffer in
            let found = try buffer.foundResidency()
            let held = buffer.holdsPlan(found: found)
            return ProvedBuffer(buffer: buffer, found: found, held: held)
        }
    }

    /// SKIPs a case whose plan the filesystem's direct I/O alignment (statx) cannot serve.
    private func checkAlignment(_ file: OpenFile, into record: inout CaseRecord) throws {
        guard let alignment = try file.dioAlignment() else { return }
        record.dioAlignment = ["memory": alignment.memory, "offset": alignment.offset]
        if alignment.offset > shape.layout.size || alignment.memory > pageSize {
            throw CaseStop(verdict: .skip, reason: "direct I/O needs \(alignment.offset)-byte offsets and \(alignment.memory)-byte buffers; the plan uses \(shape.layout.size)-byte extents")
        }
    }

    private func checkLayout(_ file: OpenFile) -> LayoutCheck {
        do {
            return LayoutCheck.compare(shape.layout, found: try file.extents())
        } catch {
            if area.filesystem.type == "tmpfs" {
                return LayoutCheck(status: .notApplicable, found: [], note: "tmpfs has no extents (no FIEMAP)")
            }
            return LayoutCheck(status: .unverifiable, found: [], note: "FIEMAP failed: \(error)")
        }
    }

    private func failure(iteration: Int, read: Int?, seed: UInt64, result: ReadResult, judgement: Judgement, contract: ReadContract,
                         verification: Verification, buffer: ReadBuffer, target: UnsafeMutableRawBufferPointer,
                         model: FileModel) -> FailureRecord {
        var record = FailureRecord(iteration: iteration, read: read, seed: seed, outcome: judgement.outcome,
                                   expectedLength: contract.expectedLength, result: nil, errno: nil,
                                   firstBadOffset: verification.firstBadOffset, badRanges: verification.badRanges,
                                   unfilledTail: [], note: judgement.note, kernelStacks: nil)
        switch result {
        case .completed(let count):
            record.result = count
            if count < contract.expectedLength {
                record.unfilledTail = Verifier.diagnoseTail(UnsafeRawBufferPointer(target), bufferOffset: count,
                                                            fileOffset: shape.offset, model: model, prior: buffer.prior(at:))
                record.firstBadOffset = record.firstBadOffset ?? shape.offset + count
            }
        case .failed(let error):
            record.result = -Int(error.rawValue)
            record.errno = error.symbol
        case .timedOut:
            record.kernelStacks = taskKernelStacks(of: ThisProcess.id)
        }
        return record
    }
}

extension Int {
    func roundedUp(to multiple: Int) -> Int { (self + multiple - 1) / multiple * multiple }
}
