import DIOSystem
import Glibc

/// How a plan's extents are put on disk. Allocators place a file's neighbouring blocks back to
/// back when they can, and then FIEMAP shows one extent where the plan has several; each method
/// defeats that differently, and `LayoutWriter.methods` tries them in turn.
public enum LayoutMethod: String, Codable, Sendable, CaseIterable {
    /// Extents written in the plan's order with O_DIRECT and an fsync after each, so each is
    /// allocated before the next is written. Before each write the range is punched (it is a hole
    /// already): on ext4 that drops the inode's block preallocation, without which an indirect-
    /// mapped file hands the next extent the blocks right beside the last one.
    case synced
    /// Every extent written with a one-block separator after it, then each separator removed with
    /// FALLOC_FL_COLLAPSE_RANGE: neighbours end up adjacent in the file and apart on disk by
    /// construction. ext4 needs it for extent-mapped files, whose allocation goal is the block
    /// beside the neighbouring extent; btrfs and tmpfs cannot collapse.
    case collapsedSeparators = "collapsed-separators"
    /// Extents written in file order, each followed by a block of another file, so the next
    /// extent cannot be allocated beside it. For filesystems without holes or collapse, where a
    /// write past EOF allocates everything before it (exfat's clusters).
    case spaced
}

/// Realises an extent plan with O_DIRECT writes, so that every extent is allocated on its own.
public enum LayoutWriter {
    /// The methods a case tries, in order, each on a fresh file, until FIEMAP shows the plan.
    public static let methods: [LayoutMethod] = [.synced, .collapsedSeparators, .spaced, .synced]

    /// The method cannot be used on this filesystem (collapse unsupported): try the next.
    public struct Unsupported: Error, CustomStringConvertible {
        public var description: String
    }

    /// Writes the plan into `file` (opened O_DIRECT) with `stamp` by `method`, and returns the
    /// model of what the file now holds.
    public static func write(_ plan: ExtentPlan, to file: OpenFile, stamp: DataStamp,
                             method: LayoutMethod) throws -> FileModel {
        switch method {
        case .synced: try writeExtentBySyncedExtent(plan, to: [file], stamps: [stamp])
        case .collapsedSeparators: try writeCollapsingSeparators(plan, to: file, stamp: stamp)
        case .spaced: try writeSpaced(plan, to: file, stamp: stamp)
        }
        return model(plan, stamp: stamp)
    }

    /// The synced method for several files at once, each with its own stamp: one extent of every
    /// file, then one syncfs, extent by extent. Other files' extents come between a file's, which
    /// keeps them apart all the more. Returns each file's model.
    public static func writeSynced(_ plan: ExtentPlan, to files: [OpenFile], stamps: [DataStamp]) throws -> [FileModel] {
        try writeExtentBySyncedExtent(plan, to: files, stamps: stamps)
        return stamps.map { model(plan, stamp: $0) }
    }

    private static func model(_ plan: ExtentPlan, stamp: DataStamp) -> FileModel {
        var model = FileModel()
        for range in plan.extents { model.write(range, stamp: stamp) }
        return model
    }

    private static func writeExtentBySyncedExtent(_ plan: ExtentPlan, to files: [OpenFile], stamps: [DataStamp]) throws {
        let bounce = try MappedRegion(anonymousLength: plan.size)
        let extents = plan.order == .reverse ? Array(plan.extents.reversed()) : plan.extents
        for range in extents {
            for (file, stamp) in zip(files, stamps) {
                do {
                    try file.allocate([.punchHole, .keepSize], offset: range.lowerBound, length: range.count)
                } catch Errno.notSupported {}
                try write(bounce, stamp: stamp, dataAt: range.lowerBound, to: file, at: range.lowerBound)
            }
            if files.count == 1 { try files[0].sync() } else { try files[0].syncFilesystem() }
        }
    }

    private static func writeCollapsingSeparators(_ plan: ExtentPlan, to file: OpenFile, stamp: DataStamp) throws {
        let separator = try file.preferredBlockSize()
        let bounce = try MappedRegion(anonymousLength: plan.size + separator)
        let extents = plan.extents
        // Extent i sits i separators further on until the separators before it are collapsed.
        for (index, range) in extents.enumerated() {
            let length = index < extents.count - 1 ? plan.size + separator : plan.size
            try write(bounce, length: length, stamp: stamp, dataAt: range.lowerBound, to: file, at: range.lowerBound + index * separator)
        }
        try file.sync()
        for (index, range) in extents.enumerated().reversed() where index < extents.count - 1 {
            do {
                try file.allocate(.collapseRange, offset: range.upperBound + index * separator, length: separator)
            } catch let error as Errno where error == .notSupported || error == .invalidArgument {
                throw Unsupported(description: "FALLOC_FL_COLLAPSE_RANGE of \(separator) bytes: \(error.symbol)")
            }
        }
        try file.sync()
    }

    private static func writeSpaced(_ plan: ExtentPlan, to file: OpenFile, stamp: DataStamp) throws {
        let spacer = try OpenFile.scratch(at: file.path + ".spacer", options: .direct)
        let block = try file.preferredBlockSize()
        let bounce = try MappedRegion(anonymousLength: max(plan.size, block))
        for (index, range) in plan.extents.enumerated() {
            try write(bounce, length: plan.size, stamp: stamp, dataAt: range.lowerBound, to: file, at: range.lowerBound)
            try file.sync()
            guard try spacer.write(UnsafeRawBufferPointer(rebasing: bounce.bytes[0..<block]), at: index * block) == block else { throw Errno.ioError }
            try spacer.sync()
        }
    }

    /// Writes `length` bytes stamped as the file's data at `dataOffset` to `offset`: a separator
    /// past the extent's size holds data that the collapse removes.
    private static func write(_ bounce: MappedRegion, length: Int? = nil, stamp: DataStamp, dataAt dataOffset: Int,
                              to file: OpenFile, at offset: Int) throws {
        let bytes = UnsafeMutableRawBufferPointer(rebasing: bounce.bytes[0..<(length ?? bounce.length)])
        SectorPattern.fill(bytes, stamp: stamp, fileOffset: dataOffset)
        guard try file.write(UnsafeRawBufferPointer(bytes), at: offset) == bytes.count else { throw Errno.ioError }
    }
}
