import Glibc

/// Realises an extent plan with O_DIRECT writes and an fsync after each, so that every extent
/// is allocated on its own before the next is written.
public enum LayoutWriter {
    /// Writes the plan into `file` (opened O_DIRECT) with `stamp`, and returns the model of
    /// what the file now holds. `spacerDirectory` receives the spacer file of interleaved plans.
    public static func write(_ plan: ExtentPlan, to file: OpenFile, stamp: DataStamp,
                             spacerDirectory: String) throws -> FileModel {
        var model = FileModel()
        let bounce = try MappedRegion(anonymousLength: plan.size)
        var spacer: OpenFile?
        if plan.spacer {
            let path = spacerDirectory + "/spacer-\(stamp.fileID).dat"
            spacer = try OpenFile.scratch(at: path, flags: O_RDWR | SystemFlags.direct)
        }
        let extents = plan.order == .reverse ? Array(plan.extents.reversed()) : plan.extents
        for (index, range) in extents.enumerated() {
            SectorPattern.fill(bounce.bytes, stamp: stamp, fileOffset: range.lowerBound)
            guard try file.write(UnsafeRawBufferPointer(bounce.bytes), at: range.lowerBound) == range.count else {
                throw Errno.ioError
            }
            try file.sync()
            model.write(range, stamp: stamp)
            if let spacer {
                memset(bounce.base, 0x5A, plan.size)
                _ = try spacer.write(UnsafeRawBufferPointer(bounce.bytes), at: index * plan.size)
                try spacer.sync()
            }
        }
        return model
    }
}
