import DIOSystem

/// Dirty folios over unwritten extents, then FALLOC_FL_ZERO_RANGE, PUNCH_HOLE and truncate
/// down and up over ranges that straddle dirty and clean, written and unwritten, block and
/// sub-block, while a second thread starts writeback of the file in a loop. After every step
/// the whole file is read directly (io_uring), buffered and through a mapping, and must be
/// exactly what the model says. A step that never returns is a HANG (the case watchdog).
public struct ZeroRangeDirtyUnwritten: Scenario {
    public let name = "zero-range-dirty-unwritten"
    public let summary = "zero-range/punch/truncate over dirty folios on unwritten extents, racing sync_file_range writeback; direct, buffered and mmap reads must match the model"

    static let fileSize = 256 << 10

    public init() {}

    public func cases(_ selection: Selection) -> [CaseSpec] { [CaseSpec(scenario: name, variant: "race-writeback")] }

    public func run(_ spec: CaseSpec, in area: WorkArea, options: RunOptions) -> CaseRecord {
        var record = OperationCase(spec: spec, area: area, options: options).run(maxFileSize: Self.fileSize, log: { seed in
            OperationGenerator.zeroRange(seed: seed, iterations: options.iterations, fileSize: Self.fileSize)
        }, preconditions: { Self.preconditions($0, hasUnwrittenExtents: area.traits.hasUnwrittenExtents) })
        if record.verdict == .pass, !area.traits.hasUnwrittenExtents {
            record.reason = [record.reason, "\(area.filesystem.type) has no unwritten extents: the steps and reads are checked, the extent precondition does not apply"]
                .compactMap { $0 }.joined(separator: "; ")
        }
        return record
    }

    /// A clean run proves something only if some step started from dirty pages over unwritten
    /// extents, as the probes saw them; a filesystem without them is noted by the caller.
    static func preconditions(_ outcome: OperationOutcome, hasUnwrittenExtents: Bool) -> String? {
        let probes = outcome.probes
        if !hasUnwrittenExtents { return nil }
        if probes.allSatisfy({ $0.unwrittenBytes == nil }) { return "no probe could see the extents (FIEMAP failed)" }
        let unwritten = probes.filter { ($0.unwrittenBytes ?? 0) > 0 }
        if unwritten.isEmpty { return "no step started over unwritten extents (\(probes.count) probes)" }
        if probes.allSatisfy({ $0.dirtyPages == nil }) { return nil }
        if !unwritten.contains(where: { ($0.dirtyPages ?? 0) > 0 }) {
            return "no step started with dirty pages over unwritten extents (\(probes.count) probes; writeback cleaned them first)"
        }
        return nil
    }
}
