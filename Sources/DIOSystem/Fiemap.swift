import CURing
import Glibc

/// One extent as FS_IOC_FIEMAP reports it.
public struct MappedExtent: Codable, Equatable, Sendable {
    public var logical: Int
    public var physical: Int
    public var length: Int
    public var flags: UInt32

    public var end: Int { logical + length }
    public var isUnwritten: Bool { flags & DIOT_FIEMAP_EXTENT_UNWRITTEN != 0 }
    /// Delayed allocation or an unknown location: the extent is not on disk yet.
    public var isPending: Bool { flags & (DIOT_FIEMAP_EXTENT_DELALLOC | DIOT_FIEMAP_EXTENT_UNKNOWN) != 0 }
    /// Built from FIBMAP's block numbers, which know nothing of unwritten or pending extents.
    public var isFromBlockMap: Bool { flags & DIOT_EXTENT_FROM_BLOCK_MAP != 0 }
}

extension OpenFile {
    /// The file's extents in [start, start+length), after FIEMAP_FLAG_SYNC.
    /// Throws EOPNOTSUPP on filesystems without FIEMAP (tmpfs).
    /// With `sync` false, dirty pages stay dirty and show as the filesystem maps them now.
    public func extents(start: Int = 0, length: Int = Int(Int64.max), sync: Bool = true) throws -> [MappedExtent] {
        let capacity = 512
        var raw = [fiemap_extent](repeating: fiemap_extent(), count: capacity)
        let count = try checked { diot_fiemap(descriptor, UInt64(start), UInt64(length), &raw, UInt32(capacity), sync ? 1 : 0) }
        return raw.prefix(Int(count)).map {
            MappedExtent(logical: Int($0.fe_logical), physical: Int($0.fe_physical),
                         length: Int($0.fe_length), flags: $0.fe_flags)
        }
    }

    /// The file's extents as FIBMAP maps them, block by block, for a filesystem without FIEMAP
    /// (the legacy direct-I/O filesystems): runs of consecutive physical blocks, holes left out.
    /// Synced first, as FIEMAP_FLAG_SYNC would; needs CAP_SYS_RAWIO.
    public func blockMap() throws -> [MappedExtent] {
        try sync()
        let blockSize = Int(try checked { diot_block_size(descriptor) })
        let blocks = (try size() + blockSize - 1) / blockSize
        var extents: [MappedExtent] = []
        for block in 0..<blocks {
            let physical = try checked { diot_fibmap(descriptor, Int32(block)) }
            guard physical != 0 else { continue }
            if let last = extents.last, last.end == block * blockSize, last.physical + last.length == physical * blockSize {
                extents[extents.count - 1].length += blockSize
            } else {
                extents.append(MappedExtent(logical: block * blockSize, physical: physical * blockSize, length: blockSize,
                                            flags: DIOT_EXTENT_FROM_BLOCK_MAP))
            }
        }
        return extents
    }
}
