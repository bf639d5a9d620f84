import DIOSystem

/// What a user narrowed the catalogue to; nil means the scenario's own defaults.
public struct Selection: Sendable {
    public var patterns: [FaultPattern]?
    public var paths: [IOPath]?
    /// File layouts in place of each scenario's own.
    public var layouts: [ExtentPlan]?
    /// Read sizes in place of each scenario's own (a sweep's `read-sizes`).
    public var readSizes: [ReadSize]?
    /// Reads in flight at once (a sweep's `queue-depths`); the default is one.
    public var queueDepths: [Int]?
    /// What direct writes land on.
    public var writeTargets: [WriteTarget]?

    public init(patterns: [FaultPattern]? = nil, paths: [IOPath]? = nil, layouts: [ExtentPlan]? = nil, readSizes: [ReadSize]? = nil,
                queueDepths: [Int]? = nil, writeTargets: [WriteTarget]? = nil) {
        self.patterns = patterns
        self.paths = paths
        self.layouts = layouts
        self.readSizes = readSizes
        self.queueDepths = queueDepths
        self.writeTargets = writeTargets
    }
}

/// One case: the read of a read scenario, or the variant of a scenario that runs steps of its own.
public struct CaseSpec: Codable, Sendable, Hashable {
    public var scenario: String
    /// What a read scenario reads, how and into what; nil for the others.
    public var read: ReadShape?
    /// What a write scenario writes, from what, how and onto what; nil for the others.
    public var write: WriteShape?
    /// What a step scenario varies (an operation mix, an image consumer); nil for read scenarios.
    public var variant: String?
    /// The run seed, in sweeps that run the matrix under several: it keeps their ids apart.
    public var seedTag: UInt64? = nil

    public init(scenario: String, read: ReadShape) {
        self.scenario = scenario
        self.read = read
    }

    public init(scenario: String, write: WriteShape) {
        self.scenario = scenario
        self.write = write
    }

    public init(scenario: String, variant: String) {
        self.scenario = scenario
        self.variant = variant
    }

    public var pattern: FaultPattern? { read?.pattern ?? write?.pattern }
    public var path: IOPath? { read?.path ?? write?.path }
    public var layout: ExtentPlan? { read?.layout ?? write?.layout }

    public var id: String {
        let body = read.map { read in
            "\(read.layout)/\(read.pattern.rawValue)/\(read.path)"
                + (read.length != read.layout.fileSize ? "/read\(formatBytes(read.length))@\(read.offset)" : "")
                + (read.queueDepth > 1 ? "/qd\(read.queueDepth)" : "") + (read.alignment.map { "/\($0)" } ?? "")
                + (read.fileCache.map { "/\($0.rawValue)" } ?? "")
        } ?? write.map { "\($0.layout)/\($0.target.rawValue)/\($0.pattern.rawValue)/\($0.path)" + ($0.alignment.map { "/\($0)" } ?? "") }
            ?? variant ?? ""
        return "\(scenario)/\(body)" + (seedTag.map { "/seed\($0)" } ?? "")
    }
}

/// A file layout, a buffer pattern, an I/O path and a read.
public struct ReadShape: Codable, Sendable, Hashable {
    public var layout: ExtentPlan
    public var pattern: FaultPattern
    public var path: IOPath
    public var offset: Int
    public var length: Int
    /// Reads of the same range, each into its own buffer, submitted together per iteration
    /// (io_uring paths only): concurrent reads are what a database's read-ahead issues.
    public var queueDepth = 1
    /// Sub-page memory and several iovecs (the file range is `offset` and `length`); nil:
    /// page-aligned, one iovec.
    public var alignment: TransferAlignment? = nil
    /// For a buffered read: which file pages are cached when it is submitted; nil: as they are.
    public var fileCache: FileCachePlan? = nil
}

/// A file layout, a write target, a source buffer's fault pattern and an I/O path: one direct
/// write of the layout's size.
public struct WriteShape: Codable, Sendable, Hashable {
    public var layout: ExtentPlan
    public var target: WriteTarget
    public var pattern: FaultPattern
    public var path: IOPath
    /// Sub-page memory, several iovecs, a sub-block file range; nil: page-aligned, one iovec, whole.
    public var alignment: TransferAlignment? = nil

    /// The layout's size, less `alignment.fileOffset` at each end.
    public var length: Int { layout.fileSize - 2 * (alignment?.fileOffset ?? 0) }

    /// Where the write starts in a target file of `size` bytes.
    public func offset(fileSize size: Int) -> Int { target.offset(fileSize: size) + (alignment?.fileOffset ?? 0) }

    /// Where in its buffer the write's memory starts.
    public var memoryOffset: Int { alignment?.memoryOffset ?? 0 }
}

extension ReadShape {
    /// Where in its buffer the read's memory starts.
    public var memoryOffset: Int { alignment?.memoryOffset ?? 0 }
}

/// A family of cases. Each scenario is one file; the harness only knows this protocol.
public protocol Scenario: Sendable {
    var name: String { get }
    var summary: String { get }
    /// The scenario's cases for `selection`, in a stable order.
    func cases(_ selection: Selection) -> [CaseSpec]
    func run(_ spec: CaseSpec, in area: WorkArea, options: RunOptions) -> CaseRecord
    /// Kernel modules its cases need besides their filesystem's (`FilesystemMaker.kernelModules`).
    var kernelModules: [String] { get }
}

extension Scenario {
    public var kernelModules: [String] { [] }
}

/// The scenarios whose cases are reads of a laid-out file: `ReadCase` runs them all.
public protocol ReadScenario: Scenario {}

extension ReadScenario {
    public func run(_ spec: CaseSpec, in area: WorkArea, options: RunOptions) -> CaseRecord {
        ReadCase(spec: spec, area: area, options: options).run()
    }
}

extension Scenario {
    /// Every combination of layouts, read sizes, patterns, paths and queue depths; depths above
    /// one only on io_uring paths, as a synchronous read has nothing else in flight.
    func product(layouts: [ExtentPlan], reads: [ReadSize] = [.whole], patterns: [FaultPattern], paths: [IOPath],
                 depths: [Int] = [1]) -> [CaseSpec] {
        layouts.flatMap { layout in
            reads.flatMap { read in
                patterns.flatMap { pattern in
                    paths.filter { $0.direction == .read }.flatMap { path in
                        depths.filter { $0 == 1 || path.usesRing }.map {
                            CaseSpec(scenario: name, read: ReadShape(layout: layout, pattern: pattern, path: path, offset: 0,
                                                                     length: read.length(for: layout), queueDepth: $0))
                        }
                    }
                }
            }
        }
    }
}

/// The 2022 btrfs/MariaDB shape: 4 extents of 4 KiB written in reverse, read whole.
public let mariadbLayout = ExtentPlan(count: 4, size: 4096, order: .reverse)
/// Larger extents. 16 KiB is the largest ext4 keeps apart every time here: at 32 and 64 KiB its
/// per-inode preallocation places reverse or spaced writes contiguously (README, "Extent layouts").
public let largeExtentLayout = ExtentPlan(count: 4, size: 16384, order: .reverse)

/// Every scenario dio-torture knows, in the order `list` prints them.
public let catalogue: [any Scenario] = [NowaitPartialFault(), FaultPatterns(), MmapSameFile(), DirectWrite(), AlignmentAxis(), PartlyCachedRead(),
                                        ZeroRangeDirtyUnwritten(),
                                        WritebackError(), FileBackedConsumers(), Ops()]

public func scenario(named name: String) -> (any Scenario)? {
    catalogue.first { $0.name == name }
}

/// Paths that take any buffer: read_fixed is left out of the defaults because registering a
/// buffer faults it in (see `Oracle.incompatibility`).
let unregisteredPaths = IOPath.all.filter { $0.method != .uringReadFixed }

extension CaseSpec {
    /// One case per value of a scenario's variant enumeration.
    static func variants<Variant: CaseIterable & RawRepresentable>(of type: Variant.Type, scenario: String) -> [CaseSpec]
        where Variant.RawValue == String {
        Variant.allCases.map { CaseSpec(scenario: scenario, variant: $0.rawValue) }
    }

    /// The case's variant as the scenario's enumeration; one it does not know is a harness error.
    func variant<Variant: RawRepresentable>(as type: Variant.Type) throws -> Variant where Variant.RawValue == String {
        guard let value = variant.flatMap(Variant.init(rawValue:)) else {
            throw CaseStop.harness("\(scenario) has no variant \(variant ?? "none")")
        }
        return value
    }
}
