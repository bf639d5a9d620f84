import DIOSystem

/// Where a transfer's memory and file range sit against the alignment direct I/O asks for
/// (statx's STATX_DIOALIGN): bytes into the buffer's first page, how many iovecs carry it (cut
/// back to back from one run of memory), and bytes into the file range at each end.
public struct TransferAlignment: Codable, Hashable, Sendable, CustomStringConvertible {
    public var memoryOffset = 0
    public var segments = 1
    public var fileOffset = 0

    public init(memoryOffset: Int = 0, segments: Int = 1, fileOffset: Int = 0) {
        self.memoryOffset = memoryOffset
        self.segments = segments
        self.fileOffset = fileOffset
    }

    /// "mem+512", "iov8", "file+512", joined by "+": what case ids carry.
    public var description: String {
        let parts = [memoryOffset > 0 ? "mem+\(memoryOffset)" : nil, segments > 1 ? "iov\(segments)" : nil,
                     fileOffset > 0 ? "file+\(fileOffset)" : nil].compactMap { $0 }
        return parts.isEmpty ? "aligned" : parts.joined(separator: "+")
    }

    /// Whether direct I/O may refuse a transfer of `length` bytes at file offset `offset` laid
    /// out like this with EINVAL: statx's alignment says it is misaligned, or statx gives none
    /// (btrfs) and it is not aligned to the filesystem block in memory and in the file.
    public func misaligned(length: Int, offset: Int, statx alignment: DIOAlignment?, blockSize: Int) -> Bool {
        let memory = alignment?.memory ?? blockSize, fileAlignment = alignment?.offset ?? blockSize
        let piece = length / segments
        let addresses = memoryOffset | piece | (length - piece * (segments - 1))
        return addresses % memory != 0 || (offset | length) % fileAlignment != 0
    }
}
