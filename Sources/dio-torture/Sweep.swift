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
        one fixed order. --shard K/N takes the K-th of N shards of about equal cost (each unit dealt \
        to the shard with the least so far), so N machines split a sweep and `dio-torture merge` \
        joins their reports. With kernels listed, each runs in a VM \
        (as `dio-torture vm`). Exit status as for `run`; 2 for an invalid sweep file.
        """)

    @Argument(help: "The sweep file (YAML).")
    var file: String

    @Option(help: ArgumentHelp("Run only shard K of N (1-based).", valueName: "K/N"), transform: { try Shard.parsed($0) })
    var shard: Shard = .whole

    @Option(help: ArgumentHelp("Write this shard's JSON report into this directory, as NAME-shard-K-of-N.json.", valueName: "dir"))
    var out: String?

    @Flag(name: .customLong("list"), help: "Print the shard's units instead of running them.")
    var listOnly = false

    @Flag(help: "Run a sample of the sweep's units and project its wall time here, whole and in shards (and the --shard given).")
    var estimate = false

    @Option(name: .customLong("estimate-sample"), help: ArgumentHelp("Units --estimate runs.", valueName: "n"))
    var estimateSample = SweepEstimate.defaultSampleSize

    @Option(name: .customLong("estimate-shards"), help: ArgumentHelp("Shard counts --estimate projects, comma-separated.", valueName: "N,N"),
            transform: { text in
                try RunRequest.names(text).map { guard let count = Int($0), count > 0 else { throw ValidationError("'\($0)' is not a shard count") }; return count }
            })
    var estimateShards: [Int] = [1, 8, 64]

    @Option(name: .customLong("kernel-index"), help: .hidden)
    var kernelIndex: Int?

    @Option(name: .customLong("scratch-device"), help: .hidden)
    var scratchDevice: String?

    @OptionGroup var isolation: IsolationOption

    @OptionGroup var outputs: ReportOutputs

    @OptionGroup var progress: ProgressFileOption

    @OptionGroup var artifacts: ArtifactOption

    func validate() throws {
        if estimate && listOnly { throw ValidationError("--estimate and --list are exclusive") }
        if estimateSample < 1 { throw ValidationError("--estimate-sample must be at least 1") }
    }

    func run() throws {
        let plan: ShardPlan
        do { plan = try ShardPlan(path: file, shard: shard) } catch let error as SweepError { throw UsageError(error.description) }
        if listOnly {
            plan.listing.forEach { print($0) }
            return
        }
        if estimate {
            let projection: SweepEstimate, mode = try isolation.mode(caseTimeout: plan.sweep.caseTimeout)
            do {
                let jobs = Runner.concurrentTargets(jobs: isolation.jobs, scratchDevice: scratchDevice, isolation: mode)
                projection = try SweepEstimate.measure(plan, sampleSize: estimateSample, jobs: jobs, artifactDirectory: artifacts.directory) { batches in
                    runCases(batches, scratchDevice: scratchDevice, isolation: mode, jobs: jobs)
                }
            } catch let error as SweepError { throw UsageError(error.description) }
            print(projection.text(name: plan.sweep.name, shards: estimateShards, shard: shard == .whole ? nil : shard), terminator: "")
            return
        }
        var report: RunReport
        let placement: ShardPlan.Placement
        do { placement = try plan.placement(guestKernel: kernelIndex, artifactDirectory: artifacts.directory) } catch let error as SweepError {
            throw UsageError(error.description)
        }
        switch placement {
        case .here(let batches):
            if kernelIndex == nil { printError("dio-torture sweep \(plan.sweep.name): shard \(plan.shard) holds \(plan.units.count) of \(plan.total) units\n") }
            report = runCases(batches, scratchDevice: scratchDevice, isolation: try isolation.mode(caseTimeout: plan.sweep.caseTimeout),
                              jobs: isolation.jobs, progressFile: progress.progressFile)
        case .inGuests(let options):
            printError("dio-torture sweep \(plan.sweep.name): shard \(plan.shard) holds \(plan.units.count) units in \(options.kernels.count) kernel(s)\n")
            InterruptCleanup.install()
            let started = Date()
            let runs = try runGuests(options, prefix: "dio-torture sweep")
            report = RunReport(merging: runs, startedAt: started, seed: plan.sweep.seeds.first, iterations: plan.sweep.iterations)
        }
        report.sweep = plan.record
        var outputs = outputs
        if let out {
            do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
                throw UsageError("--out \(out): \(error.localizedDescription)")
            }
            outputs.files.json = outputs.files.json ?? plan.reportPath(in: out)
        }
        try finish(report, outputs: outputs)
    }
}
