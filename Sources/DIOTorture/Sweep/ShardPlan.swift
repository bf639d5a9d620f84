import DIOSystem
import Foundation

/// One shard of a sweep file, planned: the file read, its kernels resolved, the shard's units
/// picked, and where they run (here, in this guest's kernel, or in guests booted for them).
public struct ShardPlan {
    public let sweep: SweepFile
    public let shard: Shard
    public let kernels: [GuestKernel]
    public let units: [SweepUnit]
    /// Units in the whole matrix.
    public let total: Int

    /// Reads `path` and picks `shard`'s units. Every problem is one line (`SweepError`).
    public init(path: String, shard: Shard) throws {
        sweep = try SweepFile(contentsOf: URL(fileURLWithPath: path).standardizedFileURL.path)
        self.shard = shard
        let sweep = sweep
        kernels = try sweep.kernels.map { kernel in
            do { return try GuestKernel(image: kernel.image, moduleDirectories: kernel.modules) } catch {
                throw SweepError("\(sweep.path): kernel \(kernel.image): \(error)")
            }
        }
        (units, total) = sweep.units(kernelReleases: kernels.map(\.release), shard: shard)
    }

    /// One line per unit: kernel, filesystem variant, case.
    public var listing: [String] {
        units.map { [$0.kernel.map { kernels[$0].release } ?? Kernel.release, sweep.filesystems[$0.filesystem].label, $0.spec.id].joined(separator: "\t") }
    }

    /// Where the shard's units run.
    public enum Placement {
        /// In this kernel, as these batches.
        case here([RunBatch])
        /// In guests booted for the sweep's kernels, as `dio-torture vm` does.
        case inGuests(VMOptions)
    }

    /// `guestKernel` is the index of the kernel this process runs in as a guest of a sweep over
    /// kernels (all the shard's units when the sweep names none and `vm` chose the kernel).
    public func placement(guestKernel: Int?, artifactDirectory: String?) throws -> Placement {
        if let guestKernel {
            let mine = sweep.kernels.isEmpty ? units : units.filter { $0.kernel == guestKernel }
            return .here(sweep.batches(mine, artifactDirectory: artifactDirectory))
        }
        if kernels.isEmpty { return .here(sweep.batches(units, artifactDirectory: artifactDirectory)) }
        if !Kernel.isRoot { throw SweepError("a sweep over kernels needs root (see dio-torture vm)") }
        if let reason = VMRunner.unavailableReason { throw SweepError(reason) }
        let used = kernels.indices.filter { index in units.contains { $0.kernel == index } }
        // Guests find the sweep file at the same path: they see the host's root read-only.
        return .inGuests(VMOptions(kernels: used.map { kernels[$0] }, command: ["sweep", sweep.path, "--shard", shard.description],
                                   jobs: sweep.vm.jobs ?? ProcessInfo.processInfo.activeProcessorCount, memoryMiB: sweep.vm.memoryMiB,
                                   timeout: .seconds(sweep.vm.timeout), kernelIndices: used, opsLogDirectory: artifactDirectory))
    }

    /// What a report of this shard says about the sweep it belongs to (what `merge` checks).
    public var record: SweepRecord {
        SweepRecord(name: sweep.name, file: sweep.path, digest: sweep.digest, shard: shard.index, shards: shard.count,
                    units: units.count, totalUnits: total)
    }

    /// The shard's report file in `directory`: NAME-shard-K-of-N.json.
    public func reportPath(in directory: String) -> String {
        directory + "/\(sweep.name)-shard-\(shard.index)-of-\(shard.count).json"
    }
}
