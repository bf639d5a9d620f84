import DIOSystem

/// The write side of the family: one direct write from a source buffer that faults part-way, onto
/// every kind of target, through every interface; the first completion judged, then the file read
/// back every way. The 2023 LMDB corruption (a partial write left a gap of zeros) and the 2024
/// btrfs append-size bug are this shape.
public struct DirectWrite: Scenario {
    public let name = "direct-write"
    public let summary = "one O_DIRECT write from a partly faulted source onto extents, holes, unwritten ranges, EOF, O_APPEND and cached/mapped pages: full, and read back exactly every way"

    public init() {}

    /// 64 KiB over four 16 KiB extents: a source of 16 pages, so a fault part-way leaves most of it.
    static let layout = largeExtentLayout

    public func cases(_ selection: Selection) -> [CaseSpec] {
        let layouts = selection.layouts ?? [Self.layout]
        if selection.patterns != nil || selection.paths != nil || selection.writeTargets != nil {
            return product(layouts, targets: selection.writeTargets ?? WriteTarget.allCases, patterns: selection.patterns ?? [.coldFileFirstPage],
                           paths: selection.paths?.filter { $0.direction == .write } ?? Self.mainPaths)
        }
        // The source that faults part-way onto every target through one path of each interface,
        // and through every path onto extents; every other source through the synchronous and the
        // io_uring interface; the registered buffer as a control.
        let interfaces: [IOPath] = [.directSync.writing, IOPath(.uringReadv, .write), IOPath(.aio, .write)]
        return product(layouts, targets: WriteTarget.allCases, patterns: [.coldFileFirstPage], paths: interfaces)
            + product(layouts, targets: [.overwrite], patterns: [.coldFileFirstPage], paths: Self.mainPaths.filter { !interfaces.contains($0) })
            + product(layouts, targets: [.overwrite], patterns: Self.otherSources, paths: Array(interfaces.prefix(2)))
            + product(layouts, targets: [.overwrite], patterns: [.allResident], paths: [IOPath(.uringReadFixed, .write)])
    }

    public func run(_ spec: CaseSpec, in area: WorkArea, options: RunOptions) -> CaseRecord {
        WriteCase(spec: spec, area: area, options: options).run()
    }

    static let mainPaths: [IOPath] = [
        .directSync.writing, IOPath(.preadv2, .write), IOPath(.uringRead, .write), IOPath(.uringReadv, .write),
        IOPath(.uringReadv, .write, nowait: true), IOPath(.aio, .write), IOPath(.aio, .write, nowait: true),
    ] + IOPath.ringSetups.map(\.writing)

    static let otherSources: [FaultPattern] = [.firstPageOnly, .coldFileMmap, .fileMmapDontneed, .sameFileMmap, .sameRangeMmap, .uffd, .protNoneHole]

    private func product(_ layouts: [ExtentPlan], targets: [WriteTarget], patterns: [FaultPattern], paths: [IOPath]) -> [CaseSpec] {
        layouts.flatMap { layout in
            targets.flatMap { target in
                patterns.flatMap { pattern in
                    paths.map { CaseSpec(scenario: name, write: WriteShape(layout: layout, target: target, pattern: pattern, path: $0)) }
                }
            }
        }
    }
}
