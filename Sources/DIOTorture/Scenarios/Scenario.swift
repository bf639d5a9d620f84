/// What a user narrowed the catalogue to; nil means the scenario's own defaults.
public struct Selection: Sendable {
    public var patterns: [FaultPattern]?
    public var paths: [IOPath]?

    public init(patterns: [FaultPattern]? = nil, paths: [IOPath]? = nil) {
        self.patterns = patterns
        self.paths = paths
    }
}

/// One case of a read scenario: a file layout, a buffer pattern, an I/O path and a read.
public struct CaseSpec: Codable, Sendable, Hashable {
    public var scenario: String
    public var layout: ExtentPlan
    public var pattern: FaultPattern
    public var path: IOPath
    public var readOffset: Int
    public var readLength: Int

    public var id: String {
        "\(scenario)/\(layout)/\(pattern.rawValue)/\(path)" + (readLength != layout.fileSize ? "/read\(formatBytes(readLength))@\(readOffset)" : "")
    }
}

/// A family of cases. Each scenario is one file; the harness only knows this protocol.
public protocol Scenario: Sendable {
    var name: String { get }
    var summary: String { get }
    /// The scenario's cases for `selection`, in a stable order.
    func cases(_ selection: Selection) -> [CaseSpec]
    func run(_ spec: CaseSpec, in area: WorkArea, options: RunOptions) -> CaseRecord
}

extension Scenario {
    public func run(_ spec: CaseSpec, in area: WorkArea, options: RunOptions) -> CaseRecord {
        ReadCase(spec: spec, area: area, options: options).run()
    }

    /// Every combination of layouts, patterns and paths, reading each file whole.
    func product(layouts: [ExtentPlan], patterns: [FaultPattern], paths: [IOPath],
                 readLength: (ExtentPlan) -> Int = { $0.fileSize }) -> [CaseSpec] {
        layouts.flatMap { layout in
            patterns.flatMap { pattern in
                paths.map { CaseSpec(scenario: name, layout: layout, pattern: pattern, path: $0,
                                     readOffset: 0, readLength: readLength(layout)) }
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
public let catalogue: [any Scenario] = [NowaitPartialFault(), FaultPatterns(), MmapSameFile()]

public func scenario(named name: String) -> (any Scenario)? {
    catalogue.first { $0.name == name }
}

/// Paths that take any buffer: read_fixed is left out of the defaults because registering a
/// buffer faults it in (see `Oracle.incompatibility`).
let unregisteredPaths = IOPath.all.filter { $0.method != .uringReadFixed }
