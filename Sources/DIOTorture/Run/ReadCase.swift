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
        var record = CaseRecord(
            id: spec.id, kernel: area.kernel, filesystem: area.filesystem, scenario: spec.scenario,
            pattern: shape.pattern, path: shape.path,
            read: ReadRecord(offset: shape.offset, length: shape.length, fileSize: shape.layout.fileSize,
                             queueDepth: shape.queueDepth > 1 ? shape.queueDepth : nil),
            seed: caseSeed, iterations: options.iterations, verdict: .broken, failures: 0, outcomes: [:],
            failureDetails: [], durationSeconds: 0)
        record.run(since: started) { try execute(seed: caseSeed, started: started, into: &$0) }
        return record
    }

    private func execute(seed caseSeed: UInt64, started: Date, into record: inout CaseRecord) throws {
        if let reason = Oracle.incompatibility(shape.path, shape.pattern, filesystem: area.filesystem.type) { throw CaseStop(verdict: .skip, reason: reason) }
        let stamp = DataStamp(fileID: UInt32(truncatingIfNeeded: caseSeed >> 32) | 1, generation: 1, seed: caseSeed)
        var attempts: [OpenFile] = []
        var file: OpenFile!
        var model = FileModel()
        var layout: LayoutCheck!
        var method = LayoutWriter.methods[0]
        var refused: [String] = []
        // Each method on a fresh file, keeping the failed attempts allocated so the next one lands
        // elsewhere, until FIEMAP shows the plan.
        for candidate in LayoutWriter.methods {
            let path = area.directory + "/case-\(stamp.fileID)-\(attempts.count).dat"
            do {
                file = try OpenFile.scratch(at: path, options: .direct)
            } catch Errno.invalidArgument {
                throw CaseStop(verdict: .skip, reason: "\(area.filesystem.type) does not support O_DIRECT (open: EINVAL)")
            }
            if attempts.isEmpty { try checkAlignment(file, into: &record) }
            attempts.append(file)
            do {
                model = try LayoutWriter.write(shape.layout, to: file, stamp: stamp, method: candidate)
            } catch let error as LayoutWriter.Unsupported {
                refused.append("\(candidate.rawValue): \(error)")
                continue
            }
            method = candidate
            layout = checkLayout(file)
            if layout.status != .notReached { break }
        }
        let tried = attempts.count > 1 ? " (attempt \(attempts.count), \(method.rawValue)" + (refused.isEmpty ? ")" : "; \(refused.joined(separator: "; ")))") : ""
        record.layout = LayoutRecord(planned: shape.layout, plannedExtents: shape.layout.extents.map { [$0.lowerBound, $0.count] },
                                     method: method, status: layout.status, found: layout.found,
                                     note: layout.note.map { $0 + tried })

        // A spare range past the data, for buffers that map another part of the same file.
        let mirrorOffset = (shape.layout.fileSize + shape.length + (1 << 20)) / (1 << 20) * (1 << 20)
        func bufferContext(seed: UInt64) -> BufferContext {
            BufferContext(length: shape.length.roundedUp(to: pageSize), poison: UInt8(truncatingIfNeeded: seed % 255 + 1),
                          userfaultDelay: .milliseconds(Int(1 + seed % 4)), directory: area.directory, file: file,
                          fileStamp: stamp, mirrorOffset: mirrorOffset, readOffset: shape.offset)
        }
        shape.pattern.kind.recordFileWrites(into: &model, context: bufferContext(seed: caseSeed))
        try file.dropCache()

        let depth = shape.queueDepth
        let ring: Ring?
        if shape.path.usesRing {
            do { ring = try Ring(entries: UInt32(max(8, depth))) } catch let error as Errno {
                throw CaseStop(verdict: .skip, reason: "io_uring unavailable: \(error.symbol)")
            }
        } else if depth > 1 {
            throw CaseStop(verdict: .skip, reason: "queue depth \(depth) needs an io_uring path; \(shape.path) is synchronous")
        } else {
            ring = nil
        }

        var tally = Tally()
        var residencies: [String: Int] = [:]
        var residencyRetries = 0
        var plannedResidency = ""
        iterations: for iteration in 0..<options.iterations {
            let seed = Seeds.forIteration(case: caseSeed, iteration)
            let context = bufferContext(seed: seed)
            // One buffer per read in flight, each set up afresh with the pattern and its residency
            // proved; a buffer that missed it (a page read back in meanwhile) is set up again.
            var proved: [ProvedBuffer] = []
            for attempt in 0..<Self.residencyAttempts {
                proved = []
                proved = try makeBuffers(context: context, depth: depth)
                if attempt > 0 { residencyRetries += 1 }
                if proved.allSatisfy(\.held) { break }
            }
            for buffer in proved { residencies[buffer.found.residencyMap, default: 0] += 1 }
            let buffers = proved.map(\.buffer), held = proved.map(\.held)
            let targets = buffers.map { UnsafeMutableRawBufferPointer(rebasing: $0.bytes[0..<shape.length]) }
            if shape.path.method == .uringReadFixed {
                do { try ring!.registerBuffers(buffers.map(\.bytes)) } catch let error as Errno {
                    throw CaseStop(verdict: .skip, reason: "cannot register a \(shape.pattern.rawValue) buffer: \(error.symbol)")
                }
            }
            defer { if shape.path.method == .uringReadFixed { ring!.unregisterBuffers() } }
            plannedResidency = buffers[0].plannedResidency.residencyMap

            let results = try fire(ring: ring, file: file, into: targets, iteration: iteration)
            for (index, (buffer, target)) in zip(buffers, targets).enumerated() {
                let result = results[index]
                if options.injectCorruption, case .completed(let count) = result, count > 0 {
                    target[count / 2] ^= 0xFF
                }
                let contract = ReadContract(offset: shape.offset, length: shape.length, fileSize: model.size,
                                            path: shape.path, inaccessibleOffset: buffer.inaccessibleOffset)
                let (judgement, verification) = Oracle.judgeRead(result, contract: contract, bytes: UnsafeRawBufferPointer(target),
                                                                 model: model, prior: buffer.prior(at:)).pair

                tally.iterations += 1
                tally.outcomes[judgement.outcome, default: 0] += 1
                switch judgement.call {
                case .skip(let reason):
                    tally.skipReason = tally.skipReason ?? reason
                    continue
                case .pass:
                    tally.judged += 1
                    if held[index] { tally.residencyHeld += 1 }
                case .fail:
                    tally.judged += 1
                    if held[index] { tally.residencyHeld += 1 }
                    tally.failures += 1
                    if record.firstFailureSeconds == nil { record.firstFailureSeconds = Date().timeIntervalSince(started) }
                    if record.failureDetails.count < CaseRecord.maxFailureDetails {
                        record.failureDetails.append(failure(iteration: iteration, read: depth > 1 ? index : nil, seed: seed,
                                                             result: result, judgement: judgement, contract: contract,
                                                             verification: verification, buffer: buffer, target: target, model: model))
                    }
                }
                // A hung read still owns the ring and its buffer: nothing more can run in this case.
                if judgement.outcome == .hang { break iterations }
            }
        }

        record.residency = ResidencyRecord(planned: plannedResidency, found: residencies, heldIterations: tally.residencyHeld,
                                           retries: residencyRetries > 0 ? residencyRetries : nil)
        record.outcomes = Dictionary(uniqueKeysWithValues: tally.outcomes.map { ($0.key.rawValue, $0.value) })
        record.failures = tally.failures
        (record.verdict, record.reason) = Oracle.verdict(layout: layout.status, tally: tally)
        if record.verdict == .pass, layout.status == .notApplicable { record.reason = layout.note }
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
