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
}
