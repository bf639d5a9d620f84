import ArgumentParser
import DIOSystem
import DIOTorture
import Foundation
import Glibc

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a sweep file's matrix (configs/*.yaml), or one shard of it.",
        discussion: """
        The matrix is the product of the file's axes (filesystems with mkfs and mount variants, \
        scenarios, patterns, paths, extents, read sizes, seeds, kernels) less its exclude rules, in \
        one fixed order. --shard K/N takes every N-th unit from the K-th, so N machines split a \
        sweep and `dio-torture merge` joins their reports. With kernels listed, each runs in a VM \
        (as `dio-torture vm`). Exit status as for `run`; 2 for an invalid sweep file.
        """)

    @Argument(help: "The sweep file (YAML).")
    var file: String

    @Option(help: ArgumentHelp("Run only shard K of N (1-based).", valueName: "K/N"))
    var shard: String = "1/1"

    @Option(help: ArgumentHelp("Write this shard's JSON report into this directory, as NAME-shard-K-of-N.json.", valueName: "dir"))
    var out: String?

    @Flag(name: .customLong("list"), help: "Print the shard's units instead of running them.")
    var listOnly = false

    @Option(name: .customLong("kernel-index"), help: .hidden)
    var kernelIndex: Int?

    @Option(name: .customLong("scratch-device"), help: .hidden)
    var scratchDevice: String?

    @OptionGroup var isolation: IsolationOption

    @OptionGroup var outputs: ReportOutputs

    @OptionGroup var artifacts: ArtifactOption

    func validate() throws {
        if Shard(shard) == nil { throw ValidationError("--shard \(shard): expected K/N with 1 <= K <= N") }
    }

    func run() throws {
        let sweep: SweepFile
        do { sweep = try SweepFile(contentsOf: URL(fileURLWithPath: file).standardizedFileURL.path) } catch let error as SweepError {
            throw UsageError(error.description)
        }
        let shard = Shard(shard)!
        let kernels = try sweep.kernels.map { kernel in
            do { return try GuestKernel(image: kernel.image, moduleDirectories: kernel.modules) } catch {
                throw UsageError("\(sweep.path): kernel \(kernel.image): \(error)")
            }
        }
        let (units, total) = sweep.units(kernelReleases: kernels.map(\.release), shard: shard)
        if listOnly {
            for unit in units {
                print([unit.kernel.map { kernels[$0].release } ?? Kernel.release, sweep.filesystems[unit.filesystem].label, unit.spec.id].joined(separator: "\t"))
            }
            return
        }
        var report: RunReport
        if let kernelIndex {
            // Inside a guest: this kernel's units of the shard (all of them when the sweep names
            // no kernels and `dio-torture vm` chose the kernel).
            let mine = sweep.kernels.isEmpty ? units : units.filter { $0.kernel == kernelIndex }
            report = runCases(sweep.batches(mine, artifactDirectory: artifacts.directory), scratchDevice: scratchDevice, isolation: try isolation.mode(caseTimeout: sweep.caseTimeout))
        } else if kernels.isEmpty {
            printError("dio-torture sweep \(sweep.name): shard \(shard) holds \(units.count) of \(total) units\n")
            report = runCases(sweep.batches(units, artifactDirectory: artifacts.directory), scratchDevice: scratchDevice, isolation: try isolation.mode(caseTimeout: sweep.caseTimeout))
        } else {
            report = try runInGuests(sweep, kernels: kernels, units: units, shard: shard)
        }
        report.sweep = SweepRecord(name: sweep.name, file: sweep.path, digest: sweep.digest, shard: shard.index, shards: shard.count,
                                   units: units.count, totalUnits: total)
        var outputs = outputs
        if let out {
            do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
                throw UsageError("--out \(out): \(error.localizedDescription)")
            }
            outputs.json = outputs.json ?? out + "/\(sweep.name)-shard-\(shard.index)-of-\(shard.count).json"
        }
        try finish(report, outputs: outputs)
    }

    private func runInGuests(_ sweep: SweepFile, kernels: [GuestKernel], units: [SweepUnit], shard: Shard) throws -> RunReport {
        if !Kernel.isRoot { throw UsageError("a sweep over kernels needs root (see dio-torture vm)") }
        if let reason = VMRunner.unavailableReason { throw UsageError(reason) }
        let used = kernels.indices.filter { index in units.contains { $0.kernel == index } }
        printError("dio-torture sweep \(sweep.name): shard \(shard) holds \(units.count) units in \(used.count) kernel(s)\n")
        // Guests find the sweep file at the same path: they see the host's root read-only.
        let options = VMOptions(kernels: used.map { kernels[$0] }, command: ["sweep", sweep.path, "--shard", shard.description],
                                jobs: sweep.vm.jobs ?? ProcessInfo.processInfo.activeProcessorCount, memoryMiB: sweep.vm.memoryMiB,
                                timeout: .seconds(sweep.vm.timeout), kernelIndices: used, opsLogDirectory: artifacts.directory)
        InterruptCleanup.install()
        let started = Date()
        let runs = try VMRunner.run(options) { printError("dio-torture sweep: \($0)\n") }
        return RunReport(merging: runs, startedAt: started, seed: sweep.seeds.first, iterations: sweep.iterations)
    }
}
