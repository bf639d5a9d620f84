import DIOSystem
import Glibc

/// A read buffer, or a write's source, set up in one fault pattern. Owns its mappings (and
/// whatever the pattern made for it) until deinit.
public final class PatternBuffer {
    public let bytes: UnsafeMutableRawBufferPointer
    private let prepared: PreparedBuffer

    public init(_ pattern: FaultPattern, context: BufferContext) throws {
        prepared = try pattern.kind.prepare(context)
        bytes = UnsafeMutableRawBufferPointer(start: prepared.region.base + prepared.start, count: context.length)
    }

    deinit { prepared.release?() }

    public var plan: [PagePlan] { prepared.plan }
    public var plannedResidency: [Bool] { plan.map(\.resident) }
    /// The buffer offset of a page made inaccessible on purpose: a short read may legally stop there.
    public var inaccessibleOffset: Int? { prepared.inaccessibleOffset }

    /// Residency of the buffer's own pages now (mincore): the precondition proved before submission.
    public func foundResidency() throws -> [Bool] {
        let first = prepared.start / pageSize
        return Array(try prepared.region.residency()[first..<first + plan.count])
    }

    /// Whether the pattern's precondition holds as found: `found` is the planned residency, and
    /// the huge pages the pattern needs back it.
    public func holdsPlan(found: [Bool]) -> Bool {
        found == plannedResidency
            && (prepared.hugePageBytesNeeded == 0 || prepared.region.anonHugePagesBytes() >= prepared.hugePageBytesNeeded)
            && (prepared.mappedPlan == nil || mappedPages() == prepared.mappedPlan)
    }

    /// Which of the buffer's own pages the page tables map now (nil when that cannot be read).
    private func mappedPages() -> [Bool]? {
        let first = prepared.start / pageSize
        return (try? prepared.region.mappedPages()).map { Array($0[first..<first + plan.count]) }
    }

    /// What the buffer held at `offset` before the read.
    public func prior(at offset: Int) -> PriorContent {
        let page = offset / pageSize
        guard page < plan.count else { return .zeros }
        if case .stamped(let stamp, let pageOffset) = plan[page].prior {
            return .stamped(stamp, fileOffset: pageOffset + offset % pageSize)
        }
        return plan[page].prior
    }
}

extension PatternBuffer {
    /// The bytes the buffer carries over `range` as its pattern planned them (not as read back
    /// from it; zeros for an inaccessible page): what a write from there must put in the file.
    func plannedContent(_ range: Range<Int>) -> [UInt8] {
        let length = range.upperBound
        var content = [UInt8](repeating: 0, count: length)
        content.withUnsafeMutableBytes { bytes in
            for (page, plan) in plan.enumerated() where page * pageSize < length {
                let range = page * pageSize..<min(length, (page + 1) * pageSize)
                switch plan.prior {
                case .fill(let value): memset(bytes.baseAddress! + range.lowerBound, Int32(value), range.count)
                case .zeros, .inaccessible: break
                case .stamped(let stamp, let fileOffset):
                    SectorPattern.fill(UnsafeMutableRawBufferPointer(rebasing: bytes[range]), stamp: stamp, fileOffset: fileOffset)
                }
            }
        }
        return Array(content[range])
    }
}
