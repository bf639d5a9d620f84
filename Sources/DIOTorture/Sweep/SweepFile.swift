import DIOSystem
import Foundation
import Yams

/// A lab sweep: the axes of a matrix of cases, read from YAML (configs/*.yaml). The product of
/// the axes is the matrix; `exclude` prunes it. Decoding is strict: an unknown key, a wrong
/// type or an unknown name is an error naming the file, the line and the valid choices.
public struct SweepFile: Sendable {
    public var path: String
    public var name: String
    /// A hash of the file's text: the shards of one sweep carry the same one, for `merge`.
    public var digest: String
    public var iterations: Int
    /// Each seed runs the whole matrix once more.
    public var seeds: [UInt64]
    public var readTimeout: Int
    public var caseTimeout: Int
    public var filesystems: [ScratchOptions]
    public var scenarios: [String]
    public var selection: Selection
    public var kernels: [SweepKernel]
    public var vm: VMSettings
    public var exclude: [ExcludeRule]

    public struct SweepKernel: Sendable {
        public var image: String
        public var modules: [String]
    }

    public struct VMSettings: Sendable {
        public var memoryMiB = 2048
        public var jobs: Int?
        public var timeout = 3600
    }

    /// A pattern per field (shell globs); a unit matching every field given is left out.
    public struct ExcludeRule: Sendable {
        public var fields: [String: String]
        public var line: Int
    }

    static let topKeys = ["name", "description", "iterations", "seeds", "timeout", "case-timeout", "filesystems", "scenarios",
                          "patterns", "paths", "extents", "read-sizes", "queue-depths", "kernels", "vm", "exclude"]
    /// Each read in flight has its own buffer with its own fault pattern set up per iteration.
    public static let maxQueueDepth = 256
    static let excludeKeys = ["kernel", "filesystem", "scenario", "pattern", "path", "layout", "variant", "case"]

    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw SweepError("\(path): cannot read") }
        try self.init(data: data, path: path)
    }

    public init(data: Data, path: String) throws {
        let reader = YAMLReader(file: path)
        guard let text = String(data: data, encoding: .utf8), !text.contains("\0") else {
            let line = data.prefix { $0 != 0 && $0 < 0x80 }.filter { $0 == 0x0A }.count + 1
            throw SweepError("\(path):\(line): not YAML text (binary data)")
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw SweepError("\(path):1: empty sweep file; it needs at least 'filesystems'")
            }
            root = node
        } catch let error as YamlError {
            throw reader.error(error, text: text)
        }
        let top = try reader.mapping(root, allowed: Self.topKeys, in: "the sweep")

        self.path = path
        digest = String(StableHash.fnv1a(text.utf8), radix: 16)
        name = try top["name"].map { try reader.string($0) } ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        _ = try top["description"].map { try reader.string($0) }
        iterations = try top["iterations"].map { try reader.positiveInt($0, "iterations") } ?? 20
        seeds = try top["seeds"].map { try reader.list($0).map { UInt64(try reader.positiveInt($0, "a seed")) } } ?? [1]
        readTimeout = try top["timeout"].map { try reader.positiveInt($0, "timeout") } ?? 10
        caseTimeout = try top["case-timeout"].map { try reader.positiveInt($0, "case-timeout") } ?? 120

        guard let filesystemsNode = top["filesystems"] else { throw SweepError("\(path):\(reader.line(root)): 'filesystems' is required") }
        filesystems = try reader.list(filesystemsNode).map { try Self.filesystem($0, reader) }

        scenarios = try top["scenarios"].map { try reader.list($0).map { try reader.choice($0, as: ScenarioChoice.self).scenario.name } }
            ?? catalogue.map(\.name)
        let patterns = try top["patterns"].map { try reader.list($0).map { try reader.choice($0, as: FaultPattern.self) } }
        let paths = try top["paths"].map { try reader.list($0).map { try reader.choice($0, as: IOPath.self) } }
        let layouts = try top["extents"].map { try Self.layouts($0, reader) }
        let reads = try top["read-sizes"].map { try reader.list($0).map { try Self.readSize($0, reader) } }
        let depths = try top["queue-depths"].map {
            try reader.list($0).map { node in
                let depth = try reader.positiveInt(node, "a queue depth")
                if depth > Self.maxQueueDepth { throw SweepError("\(path):\(reader.line(node)): a queue depth is at most \(Self.maxQueueDepth), not \(depth)") }
                return depth
            }
        }
        selection = Selection(patterns: patterns, paths: paths, layouts: layouts, readSizes: reads, queueDepths: depths)

        kernels = try top["kernels"].map { try reader.list($0).map { try Self.kernel($0, reader, relativeTo: path) } } ?? []
        vm = try top["vm"].map { try Self.vmSettings($0, reader) } ?? VMSettings()
        exclude = try top["exclude"].map { node in
            try reader.list(node).map { rule in
                let fields = try reader.mapping(rule, allowed: Self.excludeKeys, in: "an exclude rule")
                if fields.isEmpty { throw SweepError("\(path):\(reader.line(rule)): an empty exclude rule would exclude everything") }
                return ExcludeRule(fields: try fields.mapValues { try reader.string($0) }, line: reader.line(rule))
            }
        } ?? []
    }

    private static func filesystem(_ node: Node, _ reader: YAMLReader) throws -> ScratchOptions {
        if node.scalar != nil { return ScratchOptions(kind: try reader.choice(node, as: ScratchKind.self)) }
        let fields = try reader.mapping(node, allowed: ["type", "mkfs", "mount"], in: "a filesystem")
        guard let type = fields["type"] else { throw SweepError("\(reader.file):\(reader.line(node)): a filesystem needs 'type'") }
        let kind = try reader.choice(type, as: ScratchKind.self)
        let mkfs = try fields["mkfs"].map { try reader.words($0, separator: " ") } ?? []
        let mount = try fields["mount"].map { try reader.words($0, separator: ",") } ?? []
        if !kind.maker.takesMkfsOptions, !mkfs.isEmpty { throw SweepError("\(reader.file):\(reader.line(fields["mkfs"]!)): \(kind.name) has no mkfs") }
        return ScratchOptions(kind: kind, mkfsOptions: mkfs, mountOptions: mount)
    }

    private static func layouts(_ node: Node, _ reader: YAMLReader) throws -> [ExtentPlan] {
        let fields = try reader.mapping(node, allowed: ["counts", "sizes", "gaps", "order"], in: "extents")
        func values(_ key: String, _ parse: (Node) throws -> Int, default value: [Int]) throws -> [Int] {
            try fields[key].map { try reader.list($0).map(parse) } ?? value
        }
        let counts = try values("counts", { try reader.positiveInt($0, "an extent count") }, default: [mariadbLayout.count])
        let sizes = try values("sizes", { try reader.size($0, "an extent size", minimum: 512) }, default: [mariadbLayout.size])
        let gaps = try values("gaps", { try reader.size($0, "a gap", minimum: 0) }, default: [0])
        let orders = try fields["order"].map {
            try reader.list($0).map { try reader.choice($0, as: WriteOrder.self) }
        } ?? [.reverse]
        return counts.flatMap { count in sizes.flatMap { size in gaps.flatMap { gap in
            orders.map { ExtentPlan(count: count, size: size, gap: gap, order: $0) }
        } } }
    }

    private static func readSize(_ node: Node, _ reader: YAMLReader) throws -> ReadSize {
        switch node.string {
        case "whole": return .whole
        case "past-eof": return .pastEOF
        default:
            guard node.int != nil || Int(sizeText: node.string ?? "") != nil else {
                throw SweepError("\(reader.file):\(reader.line(node)): read size '\(node.string ?? "?")' is not whole, past-eof or a size (4096, 4K, 1M)")
            }
            let bytes = try reader.size(node, "a read size", minimum: 512)
            // Direct I/O reads whole sectors: anything else is EINVAL, not a finding.
            guard bytes % 512 == 0 else { throw SweepError("\(reader.file):\(reader.line(node)): read size \(bytes) is not a multiple of 512") }
            return .prefix(bytes)
        }
    }

    private static func kernel(_ node: Node, _ reader: YAMLReader, relativeTo file: String) throws -> SweepKernel {
        func absolute(_ path: String) -> String {
            path.hasPrefix("/") ? path : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).standardized.path
        }
        if node.scalar != nil { return SweepKernel(image: absolute(try reader.string(node)), modules: []) }
        let fields = try reader.mapping(node, allowed: ["image", "modules"], in: "a kernel")
        guard let image = fields["image"] else { throw SweepError("\(reader.file):\(reader.line(node)): a kernel needs 'image'") }
        return SweepKernel(image: absolute(try reader.string(image)),
                           modules: try fields["modules"].map { [absolute(try reader.string($0))] } ?? [])
    }

    private static func vmSettings(_ node: Node, _ reader: YAMLReader) throws -> VMSettings {
        let fields = try reader.mapping(node, allowed: ["memory", "jobs", "timeout"], in: "vm")
        var settings = VMSettings()
        if let memory = fields["memory"] { settings.memoryMiB = try reader.positiveInt(memory, "memory (MiB)") }
        if let jobs = fields["jobs"] { settings.jobs = try reader.positiveInt(jobs, "jobs") }
        if let timeout = fields["timeout"] { settings.timeout = try reader.positiveInt(timeout, "timeout") }
        return settings
    }
}

/// How much of the file a case reads, from offset 0.
public enum ReadSize: Hashable, Sendable {
    case whole
    /// The file and 4 KiB more: the read must stop exactly at EOF.
    case pastEOF
    /// The first N bytes (past EOF when N is larger than the file).
    case prefix(Int)

    func length(for layout: ExtentPlan) -> Int {
        switch self {
        case .whole: layout.fileSize
        case .pastEOF: layout.fileSize + 4096
        case .prefix(let bytes): bytes
        }
    }
}

public struct SweepError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Typed access to a composed YAML tree, every error "FILE:LINE: ...".
struct YAMLReader {
    var file: String

    func line(_ node: Node) -> Int { node.mark?.line ?? 1 }

    func fail(_ node: Node, _ message: String) -> SweepError { SweepError("\(file):\(line(node)): \(message)") }

    func mapping(_ node: Node, allowed: [String], in context: String) throws -> [String: Node] {
        guard let mapping = node.mapping else { throw fail(node, "\(context) must be a mapping of keys (\(allowed.joined(separator: ", ")))") }
        var fields: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.string, allowed.contains(name) else {
                throw fail(key, "unknown key '\(key.string ?? "?")' in \(context); valid keys: \(allowed.joined(separator: ", "))")
            }
            fields[name] = value
        }
        return fields
    }

    /// A list, or a single value standing for a list of one.
    func list(_ node: Node) throws -> [Node] {
        if let sequence = node.sequence {
            if sequence.isEmpty { throw fail(node, "an empty list; leave the key out for the default") }
            return Array(sequence)
        }
        if node.scalar != nil { return [node] }
        throw fail(node, "expected a list, got a mapping")
    }

    func string(_ node: Node) throws -> String {
        guard let scalar = node.scalar else { throw fail(node, "expected a single value, got a \(node.mapping != nil ? "mapping" : "list")") }
        return scalar.string
    }

    func positiveInt(_ node: Node, _ what: String) throws -> Int {
        guard node.scalar != nil, let value = node.int, value > 0 else {
            throw fail(node, "\(what) must be a whole number of at least 1, got '\(node.string ?? "a \(node.mapping != nil ? "mapping" : "list")")'")
        }
        return value
    }

    /// Bytes: a whole number or a size such as 4K, 64K, 1M.
    func size(_ node: Node, _ what: String, minimum: Int) throws -> Int {
        guard let text = node.scalar?.string, let value = node.int ?? Int(sizeText: text), value >= minimum else {
            throw fail(node, "\(what) must be a size of at least \(minimum) bytes (4096, 4K, 1M), got '\(node.string ?? "?")'")
        }
        return value
    }

    func choice<Choice: NamedChoice>(_ node: Node, as type: Choice.Type) throws -> Choice {
        do { return try Choice.named(try string(node)) } catch let error as RunRequest.Invalid { throw fail(node, error.description) }
    }

    /// Options as a list, or as one string split at `separator`.
    func words(_ node: Node, separator: Character) throws -> [String] {
        if node.sequence != nil { return try list(node).map { try string($0) } }
        return try string(node).split(separator: separator).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func error(_ error: YamlError, text: String) -> SweepError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            return SweepError("\(file):\(mark.line): invalid YAML: \(problem)" + (context.map { " (\($0.text))" } ?? ""))
        case .duplicatedKeysInMapping(let duplicates, let context):
            return SweepError("\(file):\(context.mark.line): duplicated key \(duplicates.joined(separator: ", "))")
        case .reader(let problem, let offset, _, _):
            let line = offset.map { offset in text.utf8.prefix(offset).filter { $0 == 0x0A }.count + 1 } ?? 1
            return SweepError("\(file):\(line): not YAML text: \(problem)")
        default:
            return SweepError("\(file):1: invalid YAML: \(error)")
        }
    }
}

extension Int {
    /// "4096", "4K", "64k", "1M".
    init?(sizeText text: String) {
        let units: [Character: Int] = ["K": 1 << 10, "k": 1 << 10, "M": 1 << 20, "m": 1 << 20]
        if let last = text.last, let unit = units[last], let value = Int(text.dropLast()) {
            self = value * unit
        } else if let value = Int(text) {
            self = value
        } else {
            return nil
        }
    }
}
