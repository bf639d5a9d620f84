import Glibc

/// The dio-torture side of the benchmark: random O_DIRECT reads through io_uring at a fixed
/// depth, each completion judged by the oracle and every byte verified, buffers reused.
struct VerifiedReadLoop {
    let file: OpenFile
    let model: FileModel
    let blockSize: Int
    let depth: Int

    struct Result {
        var reads = 0
        var failures = 0
        var seconds = 0.0
        var cpuSeconds = 0.0
    }

    func run(for duration: Duration, seed: UInt64) throws -> Result {
        let ring = try Ring(entries: UInt32(depth), flags: throughputRingFlags)
        let buffers = try (0..<depth).map { _ in try MappedRegion(anonymousLength: blockSize) }
        for buffer in buffers { memset(buffer.base, 0, blockSize) }
        let blocks = model.size / blockSize
        var random = seed | 1
        func nextOffset() -> Int {
            random ^= random << 13; random ^= random >> 7; random ^= random << 17
            return Int(random % UInt64(blocks)) * blockSize
        }
        var offsets = [Int](repeating: 0, count: depth)
        func queue(_ slot: Int) throws {
            offsets[slot] = nextOffset()
            try ring.queueRead(.read, file: file.descriptor, into: buffers[slot].bytes, offset: offsets[slot],
                               rwFlags: 0, async: false, userData: UInt64(slot))
        }
        for slot in 0..<depth { try queue(slot) }

        var result = Result()
        let cpuStart = processCPUSeconds()
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + duration
        let path = IOPath(.uringRead)
        var refilling = true
        // One syscall per round trip: submit the refills and wait; then reap everything that has
        // arrived, judging each completion on its own and queueing its slot again.
        while ring.inFlight > 0 {
            guard try ring.submitAndWait(timeout: .seconds(10)) else {
                result.failures += ring.inFlight
                break
            }
            while let completion = ring.nextCompletion() {
                let slot = Int(completion.userData)
                let buffer = buffers[slot].bytes
                let contract = ReadContract(offset: offsets[slot], length: blockSize, fileSize: model.size, path: path, inaccessibleOffset: nil)
                let raw: ReadResult = completion.result < 0 ? .failed(Errno(rawValue: -completion.result)) : .completed(Int(completion.result))
                let judgement = Oracle.judge(raw, contract: contract) { count in
                    Verifier.verify(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), fileOffset: contract.offset,
                                    model: model, prior: { _ in .zeros })
                }
                result.reads += 1
                if judgement.call != .pass { result.failures += 1 }
                if refilling { try queue(slot) }
            }
            if refilling, clock.now >= deadline { refilling = false }
        }
        result.seconds = Double((clock.now - start).components.attoseconds) / 1e18 + Double((clock.now - start).components.seconds)
        result.cpuSeconds = processCPUSeconds() - cpuStart
        return result
    }
}
