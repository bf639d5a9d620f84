import ArgumentParser
import DIOSystem
import DIOTorture
import Foundation
import Glibc

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fire the catalogue's reads and judge every first completion.",
        discussion: """
        With no target, as root: scratch btrfs, xfs, ext4 and tmpfs filesystems on loop devices, \
        removed afterwards. Not root: a scratch directory under /var/tmp.
        Exit status: 0 all passed (SKIP/INCONCLUSIVE allowed), 1 a FAIL (or a BROKEN harness), \
        2 usage error, 3 nothing could run.
        """)

    @Option(name: .long, help: "Run in a fresh subdirectory of this mounted directory instead of scratch filesystems.")
    var dir: String?

    @Option(name: .long, help: "Scratch filesystems to make, comma-separated: btrfs,xfs,ext4,tmpfs.")
    var fs: String?

    @Option(name: .customLong("mkfs-options"), help: "Extra mkfs arguments for one filesystem, as FS=ARGS (repeatable).")
    var mkfsOptions: [String] = []

    @Option(name: .customLong("mount-options"), help: "Mount options for one filesystem, as FS=OPT,OPT (repeatable).")
    var mountOptions: [String] = []

    @Option(name: .customLong("scratch-device"),
            help: ArgumentHelp("Make each disk-backed scratch filesystem, in turn, on this block device instead of a loop device. It is OVERWRITTEN: meant for a test VM's spare disk.", valueName: "dev"))
    var scratchDevice: String?

    @Option(name: .long, help: "Scenarios, comma-separated (see `dio-torture list`); default: all.")
    var scenario: String?

    @Option(name: .long, help: "Fault patterns, comma-separated; default: each scenario's own.")
    var pattern: String?

    @Option(name: .customLong("io-path"), help: "I/O paths, comma-separated; default: each scenario's own.")
    var ioPath: String?

    @Option(name: .customLong("queue-depth"), help: "Reads in flight per iteration, comma-separated (io_uring paths; each read has its own buffer); default: 1.")
    var queueDepth: String?

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

    @OptionGroup var artifacts: ArtifactOption

    @Flag(name: .customLong("self-test-corruption"), help: "Harness self-test: flip a byte of every completed read before verifying it; every judged case must FAIL.")
    var selfTestCorruption = false

    @Flag(name: .customLong("drop-caches"), help: "Make page caches cold with /proc/sys/vm/drop_caches too (every cache on the machine), not only per file.")
    var dropCaches = false

    func validate() throws {
        if iterations < 1 { throw ValidationError("--iterations must be at least 1") }
        if timeout < 1 || caseTimeout < 1 { throw ValidationError("--timeout and --case-timeout must be at least 1 second") }
        if dir != nil && fs != nil { throw ValidationError("--dir and --fs are exclusive: one target kind per run") }
        if dir != nil && scratchDevice != nil { throw ValidationError("--dir and --scratch-device are exclusive: one target kind per run") }
        if let scratchDevice, let reason = ScratchFilesystem.unusableDeviceReason(scratchDevice) {
            throw ValidationError("--scratch-device: \(reason)")
        }
    }

    func run() throws {
        let plan = try makePlan()
        let total = plan.cases.count * plan.targets.count
        printError("dio-torture: \(total) cases x \(plan.options.iterations) iterations on \(plan.targets.map(\.description).joined(separator: ", ")), seed \(plan.options.seed)\n")
        let report = runCases(plan.batches, scratchDevice: plan.scratchDevice, isolation: try isolation.mode(caseTimeout: caseTimeout))
        try finish(report, outputs: outputs)
    }

    func makePlan() throws -> RunPlan {
        let scenarios = try scenario.map { try names($0).map { name in
            guard let found = DIOTorture.scenario(named: name) else {
                throw UsageError("unknown scenario '\(name)'; choose from \(catalogue.map(\.name).joined(separator: ", "))")
            }
            return found
        } } ?? catalogue
        let patterns = try pattern.map { try names($0).map { name in
            guard let found = FaultPattern(rawValue: name) else {
                throw UsageError("unknown fault pattern '\(name)'; choose from \(FaultPattern.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return found
        } }
        let paths = try ioPath.map { try names($0).map { name in
            guard let found = IOPath(name: name) else {
                throw UsageError("unknown I/O path '\(name)'; choose from \(IOPath.all.map(\.description).joined(separator: ", "))")
            }
            return found
        } }
        let depths = try queueDepth.map { try names($0).map { text in
            guard let depth = Int(text), (1...SweepFile.maxQueueDepth).contains(depth) else {
                throw UsageError("--queue-depth '\(text)': a whole number from 1 to \(SweepFile.maxQueueDepth)")
            }
            return depth
        } }
        let seed = seed ?? UInt64.random(in: 1...UInt64.max)
        return RunPlan(targets: try targets(), scenarios: scenarios,
                       selection: Selection(patterns: patterns, paths: paths, queueDepths: depths),
                       options: RunOptions(iterations: iterations, seed: seed, timeout: .seconds(timeout),
                                           injectCorruption: selfTestCorruption, artifactDirectory: artifacts.directory,
                                           dropCaches: dropCaches),
                       scratchDevice: scratchDevice)
    }

    private func targets() throws -> [TargetSpec] {
        if let dir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) else { throw UsageError("--dir \(dir): no such directory") }
            guard isDirectory.boolValue else { throw UsageError("--dir \(dir): not a directory") }
            return [.directory(dir)]
        }
        if fs == nil && !Kernel.isRoot {
            printError("dio-torture: not root, so no scratch filesystems (loop devices and mounts need root); running in /var/tmp instead\n")
            return [.directory("/var/tmp")]
        }
        let kinds = try names(fs ?? "btrfs,xfs,ext4,tmpfs").map { name in
            guard let kind = ScratchKind(rawValue: name) else {
                throw UsageError("unknown filesystem '\(name)'; choose from \(ScratchKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return kind
        }
        let mkfs = try perFilesystem(mkfsOptions, option: "--mkfs-options")
        let mount = try perFilesystem(mountOptions, option: "--mount-options")
        return kinds.map { kind in
            .scratch(ScratchOptions(kind: kind,
                                    mkfsOptions: mkfs[kind].map { $0.split(separator: " ").map(String.init) } ?? [],
                                    mountOptions: mount[kind].map { names($0) } ?? []))
        }
    }

    private func perFilesystem(_ values: [String], option: String) throws -> [ScratchKind: String] {
        var result: [ScratchKind: String] = [:]
        for value in values {
            guard let equals = value.firstIndex(of: "="), let kind = ScratchKind(rawValue: String(value[..<equals])) else {
                throw UsageError("\(option) \(value): expected FS=VALUE with FS one of \(ScratchKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            result[kind] = String(value[value.index(after: equals)...])
        }
        return result
    }

    private func names(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
