import ArgumentParser
import DIOSystem
import DIOTorture
import Foundation
import Glibc

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fire the catalogue's reads and writes and judge every first completion.",
        discussion: """
        With no target, as root: scratch btrfs, xfs, ext4 and tmpfs filesystems on loop devices (and \
        with --fs any kind `dio-torture list` shows: f2fs, gfs2, exfat, jfs, NFS, FUSE, overlayfs), \
        removed afterwards. Not root: a scratch directory under /var/tmp.
        Exit status: 0 all passed (SKIP/INCONCLUSIVE allowed), 1 a FAIL (or a BROKEN harness), \
        2 usage error, 3 nothing could run.
        """)

    @Option(name: .long, help: "Run in a fresh subdirectory of this mounted directory instead of scratch filesystems.")
    var dir: String?

    @Option(name: .long, help: "Scratch filesystems to make, comma-separated (see `dio-torture list`; default: btrfs,xfs,ext4,tmpfs).",
            completion: .list(ScratchKind.choiceNames), transform: { try ScratchKind.list($0) })
    var fs: [ScratchKind]?

    @Option(name: .customLong("mkfs-options"), help: "Extra mkfs arguments for one filesystem, as FS=ARGS (repeatable).")
    var mkfsOptions: [String] = []

    @Option(name: .customLong("mount-options"), help: "Mount options for one filesystem, as FS=OPT,OPT (repeatable).")
    var mountOptions: [String] = []

    @Option(name: .customLong("scratch-device"),
            help: ArgumentHelp("Make each disk-backed scratch filesystem, in turn, on this block device instead of a loop device. It is OVERWRITTEN: meant for a test VM's spare disk.", valueName: "dev"))
    var scratchDevice: String?

    @Option(name: .customLong("fstests-config"),
            help: ArgumentHelp("Run where a lab's fstests configuration says: in a fresh subdirectory of TEST_DIR, and on SCRATCH_DEV made as FSTYP with MKFS_OPTIONS and MOUNT_OPTIONS (OVERWRITTEN).", valueName: "file"))
    var fstestsConfig: String?

    @Option(name: .long, help: ArgumentHelp("The section of the fstests configuration to read (default: its first).", valueName: "name"))
    var section: String?

    @Option(name: .long, help: "Scenarios, comma-separated (see `dio-torture list`); default: all.",
            completion: .list(ScenarioChoice.choiceNames), transform: { try ScenarioChoice.list($0) })
    var scenario: [ScenarioChoice]?

    @Option(name: .long, help: "Fault patterns, comma-separated (see `dio-torture list`); default: each scenario's own.",
            completion: .list(FaultPattern.choiceNames), transform: { try FaultPattern.list($0) })
    var pattern: [FaultPattern]?

    @Option(name: .customLong("io-path"), help: "I/O paths, comma-separated (see `dio-torture list`); default: each scenario's own.",
            completion: .list(IOPath.choiceNames), transform: { try IOPath.list($0) })
    var ioPath: [IOPath]?

    @Option(name: .customLong("write-target"), help: "What direct writes land on, comma-separated (see `dio-torture list`); default: each write scenario's own.",
            completion: .list(WriteTarget.choiceNames), transform: { try WriteTarget.list($0) })
    var writeTarget: [WriteTarget]?

    @Option(name: .customLong("queue-depth"), help: "Reads in flight per iteration, comma-separated (io_uring paths; each read has its own buffer); default: 1.",
            transform: { try QueueDepth.list($0) })
    var queueDepth: [QueueDepth]?

    @Option(help: ArgumentHelp("Run only shard K of N of the cases (1-based; each case to the shard with the least expected cost so far): N runs of the same plan and seed, one per shard, run it all.", valueName: "K/N"),
            transform: { try Shard.parsed($0) })
    var shard: Shard = .whole

    @Option(name: .long, help: "Iterations per case.")
    var iterations: Int = 20

    @Option(name: .long, help: "Run seed (default: random, printed).")
    var seed: UInt64?

    @Option(name: .long, help: "Watchdog: seconds without a completion before a read is a HANG.")
    var timeout: Int = 10

    @Option(name: .customLong("case-timeout"), help: "Seconds before a case's process is killed and the case recorded as HANG with its kernel stacks.")
    var caseTimeout: Int = 120

    @OptionGroup var isolation: IsolationOption

    @OptionGroup var outputs: ReportOutputs

    @OptionGroup var progress: ProgressFileOption

    @OptionGroup var artifacts: ArtifactOption

    @Flag(name: .customLong("self-test-corruption"), help: "Harness self-test: flip a byte of every completed read before verifying it; every judged case must FAIL.")
    var selfTestCorruption = false

    @Flag(help: "Measure where the run's time goes (mkfs, layouts, FIEMAP, buffers, transfers, verification, kernel log) and print it; the JSON report keeps it.")
    var profile = false

    @Flag(name: .customLong("drop-caches"), help: "Make page caches cold with /proc/sys/vm/drop_caches too (every cache on the machine), not only per file.")
    var dropCaches = false

    func validate() throws {
        if iterations < 1 { throw ValidationError("--iterations must be at least 1") }
        if timeout < 1 || caseTimeout < 1 { throw ValidationError("--timeout and --case-timeout must be at least 1 second") }
        if dir != nil && fs != nil { throw ValidationError("--dir and --fs are exclusive: one target kind per run") }
        if dir != nil && scratchDevice != nil { throw ValidationError("--dir and --scratch-device are exclusive: one target kind per run") }
        if fstestsConfig != nil && (dir != nil || fs != nil || scratchDevice != nil) {
            throw ValidationError("--fstests-config names the targets: it goes without --dir, --fs and --scratch-device")
        }
        if section != nil && fstestsConfig == nil { throw ValidationError("--section is a section of --fstests-config") }
        if let scratchDevice, let reason = ScratchFilesystem.unusableDeviceReason(scratchDevice) {
            throw ValidationError("--scratch-device: \(reason)")
        }
    }

    func run() throws {
        let (plan, note) = try makePlan()
        if let note { printError("dio-torture: \(note)\n") }
        let batches = plan.batches
        let total = batches.reduce(0) { $0 + $1.cases.count }
        let part = plan.shard == .whole ? "" : " (shard \(plan.shard) of \(plan.cases.count * plan.targets.count))"
        printError("dio-torture: \(total) cases\(part) x \(plan.options.iterations) iterations on \(batches.map(\.target.description).joined(separator: ", ")), seed \(plan.options.seed)\n")
        let report = runCases(batches, scratchDevice: plan.scratchDevice, isolation: try isolation.mode(caseTimeout: caseTimeout), jobs: isolation.jobs,
                                progressFile: progress.progressFile)
        try finish(report, outputs: outputs)
    }

    func makePlan() throws -> (plan: RunPlan, note: String?) {
        var request = RunRequest(options: RunOptions(iterations: iterations, seed: seed ?? UInt64.random(in: 1...UInt64.max),
                                                     timeout: .seconds(timeout), injectCorruption: selfTestCorruption,
                                                     artifactDirectory: artifacts.directory, dropCaches: dropCaches,
                                                     profile: profile))
        request.directory = dir
        request.filesystems = fs
        request.mkfsOptions = mkfsOptions
        request.mountOptions = mountOptions
        request.scratchDevice = scratchDevice
        request.scenarios = scenario
        request.patterns = pattern
        request.paths = ioPath
        request.queueDepths = queueDepth
        request.writeTargets = writeTarget
        request.shard = shard
        do {
            request.fstests = try fstestsConfig.map { try FstestsConfig(file: $0, section: section) }
            return try request.plan()
        } catch let error as RunRequest.Invalid {
            throw UsageError(error.description)
        }
    }
}
