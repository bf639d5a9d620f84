import DIOSystem
import Glibc

/// The dio-torture side of the benchmark: random O_DIRECT reads through io_uring at a fixed
/// depth, each completion judged by the oracle and every byte verified, buffers reused.
///
/// Where the time goes at these rates is waiting, not checking: a read of a loop-backed file
/// takes ~20 µs, verifying 4 KiB well under 1 µs. So the loop keeps the device busy: the file and
/// buffers are registered with the ring (no descriptor lookup, no page pinning per read), each
/// slot has two buffers so that its next read is in flight while the last one is verified, and
/// the loop polls for completions for up to `spin` before it sleeps (a sleeping task and an idle
/// vCPU take tens of µs to wake, longer than the read itself).
struct VerifiedReadLoop {
    let file: OpenFile
    let model: FileModel
    let blockSize: Int
    let depth: Int
    /// How long to poll for a completion before sleeping for it.
    var spin: Duration = .microseconds(50)

    struct Result {
        var reads = 0
        var failures = 0
        var seconds = 0.0
        var cpuSeconds = 0.0
    }

    /// A completion taken from the ring and not yet judged.
    private struct Reaped {
        var buffer: Int
        var offset: Int
        var completion: Completion
    }

    func run(for duration: Duration, seed: UInt64) throws -> Result {
        let ring = try Ring(entries: UInt32(depth), flags: throughputRingFlags)
        // Slot s reads into buffers 2s and 2s+1 in turn.
        let buffers = try (0..<2 * depth).map { _ in try MappedRegion(anonymousLength: blockSize) }
        for buffer in buffers { memset(buffer.base, 0, blockSize) }
        try ring.registerBuffers(buffers.map(\.bytes))
        try ring.registerFiles([file.descriptor])
        let blocks = model.size / blockSize
        var random = Xorshift64(state: seed | 1)
        var offsets = [Int](repeating: 0, count: buffers.count)
        func queue(into buffer: Int) throws {
            offsets[buffer] = Int(random.next() % UInt64(blocks)) * blockSize
            try ring.queue(.readFixed(index: buffer), .read, file: 0, fixedFile: true, segments: [buffers[buffer].bytes],
                               offset: offsets[buffer], async: false, userData: UInt64(buffer))
        }
        for slot in 0..<depth { try queue(into: 2 * slot) }

        var result = Result()
        var reaped: [Reaped] = []
        reaped.reserveCapacity(depth)
        let path = IOPath(.uringReadFixed)
        let cpuStart = processCPUSeconds()
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + duration
        var refilling = true
        try ring.submitAndPost()
        while ring.inFlight > 0 {
            let spinEnd = clock.now + spin
            while ring.postedCompletions == 0, clock.now < spinEnd { try ring.submitAndPost() }
            if ring.postedCompletions == 0, try !ring.submitAndWait(timeout: .seconds(10)) {
                result.failures += ring.inFlight
                break
            }
            // Take every completion and put each slot's next read in flight before judging any.
            reaped.removeAll(keepingCapacity: true)
            while let completion = ring.nextCompletion() {
                let buffer = Int(completion.userData)
                reaped.append(Reaped(buffer: buffer, offset: offsets[buffer], completion: completion))
                if refilling { try queue(into: buffer ^ 1) }
            }
            try ring.submitAndPost()
            for read in reaped {
                let bytes = buffers[read.buffer].bytes
                let contract = ReadContract(offset: read.offset, length: blockSize, fileSize: model.size, path: path, inaccessibleOffset: nil)
                let judged = Oracle.judgeRead(TransferResult(read.completion), contract: contract, bytes: UnsafeRawBufferPointer(bytes),
                                              model: model, prior: { _ in .zeros })
                result.reads += 1
                if judged.judgement.call != .pass { result.failures += 1 }
            }
            if refilling, clock.now >= deadline { refilling = false }
        }
        let elapsed = clock.now - start
        result.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        result.cpuSeconds = processCPUSeconds() - cpuStart
        return result
    }
}
