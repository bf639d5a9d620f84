import DIOSystem

/// The order extents are written in, which decides whether the allocator merges them.
public enum WriteOrder: String, Codable, Sendable, CaseIterable {
    /// First to last: filesystems often merge these into one extent.
    case forward
    /// Last to first, fsync after each: separate extents on btrfs, xfs and ext4 at 4 KiB.
    case reverse
}

/// A file made of `count` extents of `size` bytes, `gap` bytes of hole between neighbours.
public struct ExtentPlan: Codable, Hashable, Sendable, CustomStringConvertible {
    public var count: Int
    public var size: Int
    public var gap: Int
    public var order: WriteOrder

    public init(count: Int, size: Int, gap: Int = 0, order: WriteOrder) {
        self.count = count
        self.size = size
        self.gap = gap
        self.order = order
    }

    /// File ranges of the extents, in file order.
    public var extents: [Range<Int>] {
        (0..<count).map { index in
            let start = index * (size + gap)
            return start..<start + size
        }
    }

    public var fileSize: Int { count * size + (count - 1) * gap }

    public var description: String {
        "\(count)x\(formatBytes(size))" + (gap > 0 ? "+gap\(formatBytes(gap))" : "") + "-\(order.rawValue)"
    }
}

/// "4K", "64K", "1M": compact sizes for names and tables.
public func formatBytes(_ bytes: Int) -> String {
    if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20)M" }
    if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10)K" }
    return "\(bytes)"
}
