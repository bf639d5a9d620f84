import DIOSystem

/// Whether the file's extents, as FIEMAP reports them, are the ones the plan asked for.
public enum LayoutStatus: String, Codable, Sendable {
    /// FIEMAP shows every planned extent boundary (and no mapping in the holes).
    case verified
    /// FIEMAP shows fewer boundaries than planned: extents merged or were not allocated as asked.
    case notReached = "not-reached"
    /// The filesystem has no extents to check (tmpfs): the precondition does not apply.
    case notApplicable = "not-applicable"
    /// The filesystem may have extents but does not report them (no FIEMAP).
    case unverifiable
}

public struct LayoutCheck: Codable, Sendable {
    public var status: LayoutStatus
    public var found: [MappedExtent]
    public var note: String?

    /// What a layout check says where FIEMAP failed: the precondition does not apply on a
    /// filesystem without extents, and is unverifiable on any other.
    static func unmapped(_ area: WorkArea, error: any Error) -> LayoutCheck {
        area.traits.hasExtents
            ? LayoutCheck(status: .unverifiable, found: [], note: "FIEMAP failed: \(error)")
            : LayoutCheck(status: .notApplicable, found: [], note: "\(area.filesystem.type) has no extents (no FIEMAP)")
    }

    /// Compares `found` with `plan`: each planned extent fully mapped, written and on disk, no
    /// found extent crossing a planned boundary, nothing mapped in the planned holes.
    public static func compare(_ plan: ExtentPlan, found: [MappedExtent]) -> LayoutCheck {
        let planned = plan.extents
        var problems: [String] = []
        for extent in found {
            if extent.isUnwritten || extent.isPending {
                problems.append("extent at \(extent.logical) is \(extent.isUnwritten ? "unwritten" : "not yet allocated")")
            }
            let inside = planned.contains { $0.lowerBound <= extent.logical && extent.end <= $0.upperBound }
            let crossesData = planned.contains { $0.overlaps(extent.logical..<extent.end) }
            if !inside && crossesData {
                problems.append("extent \(extent.logical)+\(extent.length) spans planned extents (merged)")
            } else if !inside {
                problems.append("extent \(extent.logical)+\(extent.length) lies in a planned hole")
            }
        }
        for range in planned {
            let covered = found.filter { $0.logical < range.upperBound && $0.end > range.lowerBound }
                .reduce(0) { $0 + min($1.end, range.upperBound) - max($1.logical, range.lowerBound) }
            if covered < range.count { problems.append("planned extent \(range.lowerBound)+\(range.count) not fully mapped") }
        }
        let source = found.contains(where: \.isFromBlockMap) ? "FIBMAP (no FIEMAP here)" : "FIEMAP"
        let note = problems.isEmpty
            ? "\(found.count) extents for \(planned.count) planned" + (source == "FIEMAP" ? "" : ", from \(source)")
            : "\(source) shows \(found.count) extents for \(planned.count) planned: " + problems.prefix(3).joined(separator: "; ")
        return LayoutCheck(status: problems.isEmpty ? .verified : .notReached, found: found, note: note)
    }
}
