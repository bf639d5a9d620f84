import DIOSystem

/// A deterministic random source of its own (xorshift, each value mixed): the same seed gives the
/// same log on every build and platform, which the standard library's algorithms do not promise.
struct SeededRandom {
    private var generator: Xorshift64

    init(seed: UInt64) { generator = Xorshift64(state: StableHash.mix(seed) | 1) }

    mutating func next() -> UInt64 { StableHash.mix(generator.next()) }

    /// 0..<bound (bound > 0).
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func pick<T>(_ choices: [T]) -> T { choices[below(choices.count)] }

    /// `value` rounded down to a granularity drawn from byte, sector and block: operations that
    /// straddle sectors and blocks as well as ones that match them.
    mutating func straddling(_ value: Int, block: Int) -> Int {
        let granularity = pick([1, SectorPattern.sectorSize, block])
        return value / granularity * granularity
    }
}

/// Builds operation logs from a seed.
public enum OperationGenerator {
    /// fsx's mix over one file: reads and writes through every access, every fallocate mode,
    /// truncate, the syncs and cache drops. Direct accesses use `block`-aligned ranges; mapped
    /// writes stay inside the file (a mapping cannot extend it).
    public static func mixed(seed: UInt64, count: Int, maxFileSize: Int, maxLength: Int, block: Int = 4096) -> OperationLog {
        var random = SeededRandom(seed: seed)
        var size = 0
        var operations: [Operation] = []
        operations.reserveCapacity(count)
        func range(direct: Bool) -> (Int, Int) {
            if direct {
                let offset = random.below(maxFileSize / block) * block
                let length = (1 + random.below(maxLength / block)) * block
                return (offset, min(length, maxFileSize - offset))
            }
            let offset = random.below(maxFileSize)
            return (offset, min(1 + random.below(maxLength), maxFileSize - offset))
        }
        while operations.count < count {
            let roll = random.below(100)
            switch roll {
            case 0..<38:
                let via = random.pick(IOPath.operationPaths)
                if via.method == .mapped {
                    // Up to the end of the page holding EOF: the bytes past EOF there read as zeros.
                    let visible = size.roundedUp(to: pageSize)
                    guard visible > 0 else { continue }
                    let offset = random.below(visible)
                    operations.append(.read(offset: offset, length: min(1 + random.below(maxLength), visible - offset), via: via))
                } else {
                    let (offset, length) = range(direct: via.isDirect)
                    operations.append(.read(offset: offset, length: length, via: via))
                }
            case 38..<68:
                let via = random.pick(IOPath.operationPaths).writing
                if via.method == .mapped {
                    guard size > 0 else { continue }
                    let offset = random.below(size)
                    operations.append(.write(offset: offset, length: min(1 + random.below(maxLength), size - offset), via: via))
                } else {
                    let (offset, length) = range(direct: via.isDirect)
                    operations.append(.write(offset: offset, length: length, via: via))
                    size = max(size, offset + length)
                }
            case 68..<80:
                let kind = random.pick(AllocateKind.allCases)
                let (offset, length) = range(direct: false)
                operations.append(.allocate(kind, offset: random.straddling(offset, block: block), length: length))
                if kind == .plain || kind == .zero { size = max(size, operations.last!.allocatedEnd) }
            case 80..<87:
                size = random.straddling(random.below(maxFileSize + 1), block: block)
                operations.append(.truncate(size: size))
            case 87..<91:
                operations.append(random.below(2) == 0 ? .startWriteback(offset: 0, length: 0)
                                  : .startWriteback(offset: random.below(maxFileSize) / block * block, length: maxLength))
            case 91..<96:
                operations.append(.dropCache(offset: random.below(maxFileSize) / block * block, length: random.below(2) * maxLength))
            case 96..<98:
                operations.append(.fsync)
            default:
                operations.append(.fdatasync)
            }
        }
        return OperationLog(seed: seed, backgroundWriteback: false, operations: operations)
    }

    /// The zero-range scenario: per iteration, preallocate a file (unwritten extents), write a
    /// little of it directly and sync (written extents), dirty parts of it with buffered writes
    /// (dirty folios over unwritten and written blocks), then zero, punch, truncate down and up
    /// and re-dirty over ranges that straddle all of those, checking the whole file after each
    /// step (each step first re-dirties a range). The log asks for writeback to run in a loop
    /// beside it.
    public static func zeroRange(seed: UInt64, iterations: Int, fileSize: Int, steps: Int = 8, block: Int = 4096) -> OperationLog {
        var random = SeededRandom(seed: seed)
        var operations: [Operation] = []
        func someRange(within limit: Int, maxLength: Int) -> (Int, Int) {
            let offset = random.straddling(random.below(limit), block: block)
            let length = max(1, random.straddling(1 + random.below(maxLength), block: block))
            return (offset, min(length, limit - offset))
        }
        for _ in 0..<iterations {
            var size = fileSize
            operations += [.truncate(size: 0), .allocate(.plain, offset: 0, length: fileSize)]
            for _ in 0..<2 {
                let offset = random.below(fileSize / block) * block
                operations.append(.write(offset: offset, length: min((1 + random.below(8)) * block, fileSize - offset), via: IOPath.directSync.writing))
            }
            operations.append(.fdatasync)
            for _ in 0..<(4 + random.below(3)) {
                let (offset, length) = someRange(within: fileSize, maxLength: 40 << 10)
                operations.append(.write(offset: offset, length: length, via: IOPath.cachedSync.writing))
            }
            operations.append(.check)
            for _ in 0..<steps {
                // The check before flushed the file (a direct read writes back its range first):
                // dirty some of it again, so that the step meets dirty folios.
                let (dirtyOffset, dirtyLength) = someRange(within: size, maxLength: 64 << 10)
                operations += [.write(offset: dirtyOffset, length: dirtyLength, via: IOPath.cachedSync.writing), .probe]
                switch random.below(6) {
                case 0:
                    let (offset, length) = someRange(within: size, maxLength: 64 << 10)
                    operations.append(.allocate(.zero, offset: offset, length: length))
                case 1:
                    let (offset, length) = someRange(within: size, maxLength: 64 << 10)
                    operations.append(.allocate(.zeroKeepSize, offset: offset, length: length))
                case 2:
                    let (offset, length) = someRange(within: size, maxLength: 64 << 10)
                    operations.append(.allocate(.punch, offset: offset, length: length))
                case 3:
                    size = max(1, random.straddling(size / 2 + random.below(max(1, size / 2)), block: block))
                    operations.append(.truncate(size: size))
                case 4:
                    size = max(1, min(fileSize, random.straddling(size + 1 + random.below(fileSize - size + 1), block: block)))
                    operations.append(.truncate(size: size))
                default:
                    let (offset, length) = someRange(within: size, maxLength: 40 << 10)
                    operations.append(.write(offset: offset, length: length, via: IOPath.cachedSync.writing))
                }
                operations.append(.check)
            }
        }
        return OperationLog(seed: seed, backgroundWriteback: true, operations: operations)
    }
}

extension Operation {
    var allocatedEnd: Int {
        if case .allocate(_, let offset, let length) = self { return offset + length }
        return 0
    }
}
