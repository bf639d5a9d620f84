import DIOSystem

/// The catalogue of buffers: the MariaDB file read into every fault pattern through every path.
public struct FaultPatterns: ReadScenario {
    public let name = "fault-patterns"
    public let summary = "the MariaDB file read into every buffer fault pattern (anon, file mappings, PROT_NONE, uffd, THP) through every path"

    public init() {}

    public func cases(_ selection: Selection) -> [CaseSpec] {
        let patterns = selection.patterns ?? FaultPattern.allCases.filter(\.traits.inDefaultCatalogue)
        let paths = selection.paths ?? IOPath.all
        return product(layouts: selection.layouts ?? [mariadbLayout], reads: selection.readSizes ?? [.whole], patterns: patterns, paths: paths,
                       depths: selection.queueDepths ?? [1])
            .filter { selection.paths != nil || Oracle.incompatibility($0.read!.path, $0.read!.pattern, filesystem: nil) == nil || $0.read!.path.isPlain }
    }
}

extension IOPath {
    /// The path without modifiers: kept in the default matrix even when it can only SKIP, so the
    /// reason shows.
    var isPlain: Bool { !nowait && !async }
}
