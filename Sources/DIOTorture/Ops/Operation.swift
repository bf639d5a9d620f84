import DIOSystem

/// fallocate(2) as the operations use it.
public enum AllocateKind: String, Sendable, CaseIterable, Codable {
    case plain, keepSize = "keep-size", punch, zero, zeroKeepSize = "zero-keep-size"

    var mode: AllocateMode {
        switch self {
        case .plain: .allocate
        case .keepSize: .keepSize
        case .punch: [.punchHole, .keepSize]
        case .zero: .zeroRange
        case .zeroKeepSize: [.zeroRange, .keepSize]
        }
    }
}

/// One step of an operation log. Each is one line of text (`description`), parsed back by
/// `init(line:)`, so a log is readable, editable and replayable.
public enum Operation: Hashable, Sendable, CustomStringConvertible {
    case write(offset: Int, length: Int, via: IOPath)
    case read(offset: Int, length: Int, via: IOPath)
    case allocate(AllocateKind, offset: Int, length: Int)
    case truncate(size: Int)
    case fsync
    case fdatasync
    /// sync_file_range(SYNC_FILE_RANGE_WRITE).
    case startWriteback(offset: Int, length: Int)
    /// posix_fadvise(DONTNEED).
    case dropCache(offset: Int, length: Int)
    /// The whole file read three ways (io_uring O_DIRECT, buffered, mapped), each against the model.
    case check
    /// Records the state a step starts from, touching nothing: dirty pages (cachestat) and
    /// unwritten extents (FIEMAP without sync).
    case probe

    public var description: String {
        switch self {
        case .write(let offset, let length, let via): "\(verb) \(offset) \(length) \(via.name(.write))"
        case .read(let offset, let length, let via): "\(verb) \(offset) \(length) \(via.name(.read))"
        case .allocate(let kind, let offset, let length): "\(verb) \(kind.rawValue) \(offset) \(length)"
        case .truncate(let size): "\(verb) \(size)"
        case .startWriteback(let offset, let length), .dropCache(let offset, let length): "\(verb) \(offset) \(length)"
        case .fsync, .fdatasync, .check, .probe: verb
        }
    }

    /// The first word of its line. Counters take it for every operation run, so it is not cut
    /// from `description`.
    private var verb: String {
        switch self {
        case .write: "write"
        case .read: "read"
        case .allocate: "fallocate"
        case .truncate: "truncate"
        case .fsync: "fsync"
        case .fdatasync: "fdatasync"
        case .startWriteback: "sync-file-range"
        case .dropCache: "fadvise-dontneed"
        case .check: "check"
        case .probe: "probe"
        }
    }

    var allocateKind: AllocateKind? {
        if case .allocate(let kind, _, _) = self { return kind }
        return nil
    }

    /// What counters count: the first word of its line, with the mode for fallocate.
    public var name: String { allocateKind.map { "\(verb) \($0.rawValue)" } ?? verb }

    /// The end of the furthest byte the operation names.
    var reach: Int {
        switch self {
        case .write(let offset, let length, _), .read(let offset, let length, _), .allocate(_, let offset, let length),
             .startWriteback(let offset, let length), .dropCache(let offset, let length): offset + length
        case .truncate(let size): size
        case .fsync, .fdatasync, .check, .probe: 0
        }
    }

    public init?(line: Substring) {
        let words = line.split(separator: " ")
        guard let verb = words.first else { return nil }
        let numbers = words.dropFirst().compactMap { Int($0) }.filter { $0 >= 0 }
        func path(_ index: Int, _ direction: IOPath.Direction) -> IOPath? {
            words.count > index ? IOPath(name: String(words[index]), direction: direction) : nil
        }
        switch (verb, words.count) {
        case ("write", 4) where numbers.count == 2 && numbers[1] > 0:
            guard let via = path(3, .write) else { return nil }
            self = .write(offset: numbers[0], length: numbers[1], via: via)
        case ("read", 4) where numbers.count == 2 && numbers[1] > 0:
            guard let via = path(3, .read) else { return nil }
            self = .read(offset: numbers[0], length: numbers[1], via: via)
        case ("fallocate", 4):
            let lengths = words.dropFirst(2).compactMap { Int($0) }.filter { $0 >= 0 }
            guard let kind = AllocateKind(rawValue: String(words[1])), lengths.count == 2, lengths[1] > 0 else { return nil }
            self = .allocate(kind, offset: lengths[0], length: lengths[1])
        case ("truncate", 2) where numbers.count == 1: self = .truncate(size: numbers[0])
        case ("fsync", 1): self = .fsync
        case ("fdatasync", 1): self = .fdatasync
        case ("sync-file-range", 3) where numbers.count == 2: self = .startWriteback(offset: numbers[0], length: numbers[1])
        case ("fadvise-dontneed", 3) where numbers.count == 2: self = .dropCache(offset: numbers[0], length: numbers[1])
        case ("check", 1): self = .check
        case ("probe", 1): self = .probe
        default: return nil
        }
    }
}

/// A replayable sequence of operations on one file, with what it needs to run the same way
/// again: the seed its data is stamped with and whether writeback runs beside it.
public struct OperationLog: Sendable, Equatable {
    /// A log that cannot be read: its file and line, and why.
    public struct Malformed: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    public var seed: UInt64
    /// A thread that starts writeback of the whole file in a loop while the operations run.
    public var backgroundWriteback: Bool
    public var operations: [Operation]

    public init(seed: UInt64, backgroundWriteback: Bool, operations: [Operation]) {
        self.seed = seed
        self.backgroundWriteback = backgroundWriteback
        self.operations = operations
    }

    static let magic = "# dio-torture operation log v1"

    public var text: String {
        var lines = [Self.magic, "seed \(seed)", "background-writeback \(backgroundWriteback ? "on" : "off")"]
        lines += operations.map(\.description)
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses `text`; a malformed line is an error naming its line number.
    public init(text: String, file: String) throws {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == Substring(Self.magic) else { throw Malformed("\(file):1: not a dio-torture operation log (first line '\(Self.magic)')") }
        var seed: UInt64?
        var writeback: Bool?
        var operations: [Operation] = []
        for (index, line) in lines.enumerated().dropFirst() where !line.isEmpty && !line.hasPrefix("#") {
            if line.hasPrefix("seed "), let value = UInt64(line.dropFirst(5)) { seed = value; continue }
            if line.hasPrefix("background-writeback ") { writeback = line.hasSuffix(" on"); continue }
            guard let operation = Operation(line: line) else { throw Malformed("\(file):\(index + 1): not an operation: '\(line)'") }
            operations.append(operation)
        }
        guard let seed else { throw Malformed("\(file): no 'seed' line") }
        self.init(seed: seed, backgroundWriteback: writeback ?? false, operations: operations)
    }
}
