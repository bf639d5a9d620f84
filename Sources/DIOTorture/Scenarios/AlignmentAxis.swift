import DIOSystem

/// Direct I/O where its alignment rules bite: memory that starts inside a page and so straddles
/// page boundaries, iovec arrays, file ranges that start and end inside a block, a registered
/// buffer used from an offset, and a transfer misaligned on purpose. Every aligned one (as statx
/// says) must be full and exact, reads and writes alike; EINVAL is legal only for the misaligned.
public struct AlignmentAxis: Scenario {
    public let name = "dio-alignment"
    public let summary = "reads and writes from sub-page memory, in iovec arrays, over sub-block file ranges, through a registered buffer at an offset: full and exact; EINVAL only where statx says misaligned"

    public init() {}

    /// The last is misaligned on purpose (one byte into a page): EINVAL, or a correct fallback.
    static let alignments: [TransferAlignment] = [
        TransferAlignment(memoryOffset: 512), TransferAlignment(memoryOffset: 1536), TransferAlignment(memoryOffset: 3584),
        TransferAlignment(memoryOffset: 512, segments: 8), TransferAlignment(fileOffset: 512), TransferAlignment(memoryOffset: 1),
    ]

    public func cases(_ selection: Selection) -> [CaseSpec] {
        let layouts = selection.layouts ?? [largeExtentLayout]
        let patterns = selection.patterns ?? [.firstPageOnly]
        let paths = selection.paths ?? [.directSync, IOPath(.uringReadv), IOPath(.aio)].flatMap { [$0, $0.writing] }
        let fixed = selection.paths == nil && selection.patterns == nil
            ? [IOPath(.uringReadFixed), IOPath(.uringReadFixed, .write)].map { (path: $0, alignment: TransferAlignment(memoryOffset: 512)) } : []
        return layouts.flatMap { layout in
            let varied = paths.flatMap { path in
                patterns.flatMap { pattern in Self.alignments.map { spec(layout, pattern, path, $0) } }
            }
            return varied + fixed.map { spec(layout, .allResident, $0.path, $0.alignment) }
        }
    }

    private func spec(_ layout: ExtentPlan, _ pattern: FaultPattern, _ path: IOPath, _ alignment: TransferAlignment) -> CaseSpec {
        guard path.direction == .read else {
            return CaseSpec(scenario: name, write: WriteShape(layout: layout, target: .overwrite, pattern: pattern, path: path, alignment: alignment))
        }
        let range = alignment.fileOffset..<layout.fileSize - alignment.fileOffset
        return CaseSpec(scenario: name, read: ReadShape(layout: layout, pattern: pattern, path: path, offset: range.lowerBound,
                                                         length: range.count, alignment: alignment))
    }

    public func run(_ spec: CaseSpec, in area: WorkArea, options: RunOptions) -> CaseRecord {
        spec.read != nil ? ReadCase(spec: spec, area: area, options: options).run() : WriteCase(spec: spec, area: area, options: options).run()
    }
}
