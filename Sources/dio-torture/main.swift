import ArgumentParser
import DIOTorture
import Foundation
import Glibc

struct DIOTortureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dio-torture",
        abstract: "Catches kernel bugs where direct I/O and the page cache break their promises.",
        subcommands: [Run.self, Sweep.self, Merge.self, VM.self, Compare.self, Repro.self, Replay.self, Exec.self, List.self, Probe.self, Bench.self, CaseWorker.self],
        defaultSubcommand: Run.self)
}

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

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join the JSON reports of a sweep's shards into one report.",
        discussion: """
        Each argument is a report or a directory of them (every *.json inside). They must be \
        shards of the same sweep file; a missing shard leaves the merged report incomplete. \
        Exit status as for `run` over the merged cases; 2 for unreadable or mismatched reports.
        """)

    @Argument(help: "Shard reports, or directories holding them.")
    var paths: [String]

    @OptionGroup var outputs: ReportOutputs

    func run() throws {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw UsageError("\(path): no such file or directory") }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.filter { $0.hasSuffix(".json") }.sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        let shards = try files.map { file -> (file: String, report: RunReport) in
            guard let data = FileManager.default.contents(atPath: file), let report = try? RunReport.decode(data) else {
                throw UsageError("\(file): not a dio-torture JSON report")
            }
            return (file, report)
        }
        let merged: ShardMerge
        do { merged = try ShardMerge(shards) } catch let error as SweepError { throw UsageError(error.description) }
        if !merged.missingShards.isEmpty {
            printError("dio-torture merge: shard(s) \(merged.missingShards.map(String.init).joined(separator: ", ")) of \(merged.report.sweep!.file) missing; the merged report is incomplete\n")
        }
        try outputs.emit(merged.report)
        throw ExitCode(merged.report.complete ? merged.report.exitCode : max(1, merged.report.exitCode))
    }
}

struct VM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Run dio-torture inside other kernels, booted under QEMU, and print one kernel matrix.",
        discussion: """
        Each kernel boots under qemu-system-x86_64 (KVM when it works, else TCG) with a busybox \
        initramfs; the guest mounts this machine's root read-only over 9p and runs this same binary \
        with the command after `--` (default: `run`), scratch filesystems on a virtio disk. Debian \
        kernels need their modules: --modules DIR, or found as ROOT/lib/modules/RELEASE beside \
        ROOT/boot/vmlinuz-RELEASE. Needs root, qemu-system-x86 and busybox-static.
        Example: dio-torture vm --kernel bzImage-btrfs-nowait-bug -- run --fs btrfs --iterations 100
        Exit status as for `run`; a guest that fails to boot, panics or hangs is BROKEN (1).
        """)

    @Option(name: .long, help: ArgumentHelp("A kernel image (bzImage) to boot; repeat for a matrix.", valueName: "image"))
    var kernel: [String] = []

    @Option(name: .long, help: ArgumentHelp("A module directory (lib/modules/RELEASE), matched to its kernel by release; repeatable.", valueName: "dir"))
    var modules: [String] = []

    @Option(name: .long, help: "Guests at once (one vCPU each); default: the number of CPUs.")
    var jobs: Int?

    @Option(name: .long, help: "Guest memory in MiB.")
    var memory: Int = 2048

    @Option(name: .long, help: "Seconds before a guest still running is killed and reported BROKEN.")
    var timeout: Int = 1200

    @Option(name: .customLong("append"), help: ArgumentHelp("Extra kernel command-line arguments.", valueName: "args"))
    var kernelArguments: String?

    @OptionGroup var artifacts: ArtifactOption

    @OptionGroup var outputs: ReportOutputs

    @Argument(parsing: .postTerminator, help: "The dio-torture command to run in each guest, after `--`.")
    var guestCommand: [String] = []

    func validate() throws {
        if kernel.isEmpty { throw ValidationError("give at least one --kernel") }
        if timeout < 1 || memory < 256 { throw ValidationError("--timeout must be at least 1 and --memory at least 256") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if ["vm", "bench", "compare", "repro"].contains(guestCommand.first ?? "") { throw ValidationError("the guest command cannot be '\(guestCommand[0])'") }
        // The guest would only fail on what the host can reject now.
        let parsed: ParsableCommand
        do {
            parsed = try DIOTortureCommand.parseAsRoot(guestCommand.isEmpty || guestCommand[0].hasPrefix("-") ? ["run"] + guestCommand : guestCommand)
        } catch {
            throw ValidationError("guest command: \(DIOTortureCommand.message(for: error))")
        }
        if let run = parsed as? Run {
            do { _ = try run.makePlan() } catch let error as UsageError { throw ValidationError("guest command: \(error)") }
        }
        if let sweep = parsed as? Sweep {
            do { _ = try SweepFile(contentsOf: sweep.file) } catch let error as SweepError { throw ValidationError("guest command: \(error)") }
        }
    }

    func run() throws {
        if !Kernel.isRoot { throw UsageError("vm needs root (QEMU's 9p shares the host's root, and the disks live on a private tmpfs)") }
        if let reason = VMRunner.unavailableReason { throw UsageError(reason) }
        for directory in modules where !FileManager.default.fileExists(atPath: directory) {
            throw UsageError("--modules \(directory): no such directory")
        }
        let kernels = try kernel.map { image in
            do { return try GuestKernel(image: image, moduleDirectories: modules) } catch let error as TargetError {
                throw UsageError("--kernel \(image): \(error)")
            }
        }
        // The guest's working directory is its root: a sweep file must be named absolutely.
        var command = guestCommand
        if command.first == "sweep", command.count > 1, !command[1].hasPrefix("-") {
            command[1] = URL(fileURLWithPath: command[1]).standardizedFileURL.path
        }
        let options = VMOptions(kernels: kernels, command: command, jobs: jobs ?? ProcessInfo.processInfo.activeProcessorCount,
                                memoryMiB: memory, timeout: .seconds(timeout),
                                kernelArguments: kernelArguments.map { $0.split(separator: " ").map(String.init) } ?? [],
                                opsLogDirectory: artifacts.directory)
        InterruptCleanup.install()
        let started = Date()
        printError("dio-torture vm: \(kernels.count) kernel(s), \(options.jobs) at once: \(kernels.map(\.release).joined(separator: ", "))\n")
        let runs = try VMRunner.run(options) { printError("dio-torture vm: \($0)\n") }
        guard options.runsCatalogue else {
            for run in runs { print("== \(run.record.release) (\(run.record.outcome.rawValue))\n\(run.output)") }
            throw ExitCode(runs.allSatisfy { $0.record.status == 0 } ? 0 : 1)
        }
        let report = RunReport(merging: runs, startedAt: started, seed: nil, iterations: nil)
        try outputs.emit(report)
        throw ExitCode(report.exitCode)
    }
}

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Gate: list new failures, fixed and unchanged cases of CURRENT against BASELINE.",
        discussion: """
        Cases match on filesystem and case id (on the same kernel when the baseline has it), so a \
        baseline from the running kernel gates its upgrade. The expunge file lists known failures, \
        one per line: KERNEL FILESYSTEM CASE # reason or fixing commit (shell globs).
        Exit status: 1 only for a new failure that is not expunged; 2 for unreadable input.
        """)

    @Argument(help: "The baseline JSON report.")
    var baseline: String

    @Argument(help: "The current JSON report.")
    var current: String

    @Option(help: ArgumentHelp("Known failures not to gate on.", valueName: "file"))
    var expunge: String?

    func run() throws {
        func load(_ path: String) throws -> RunReport {
            guard let data = FileManager.default.contents(atPath: path) else { throw UsageError("\(path): cannot read") }
            do { return try RunReport.decode(data) } catch { throw UsageError("\(path): not a dio-torture JSON report") }
        }
        let expunged = try expunge.map { path -> ExpungeList in
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw UsageError("\(path): cannot read") }
            do { return try ExpungeList(text: text, file: path) } catch { throw UsageError("\(error)") }
        }
        let comparison = Comparison(baseline: try load(baseline), current: try load(current), expunge: expunged)
        print(comparison.text, terminator: "")
        throw ExitCode(comparison.exitCode)
    }
}

struct Repro: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a standalone C reproducer (liburing only) of one case of a report.",
        discussion: """
        The C file rebuilds the case's extent layout, buffer fault pattern and read, judges the first \
        completion and prints expected against got. Build: gcc repro.c -o repro -luring; \
        run: ./repro DIR [ITERATIONS], or on a scratch filesystem: dio-torture exec --fs btrfs -- ./repro {}
        """)

    @Argument(help: "A JSON report.")
    var report: String

    @Argument(help: "The case id, as the report names it.")
    var caseID: String

    @Option(help: "Of several records with that id, the one on this kernel.")
    var kernel: String?

    @Option(help: "Of several records with that id, the one on this filesystem.")
    var fs: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the C file here instead of stdout.", valueName: "file"))
    var output: String?

    func run() throws {
        guard let data = FileManager.default.contents(atPath: report) else { throw UsageError("\(report): cannot read") }
        guard let decoded = try? RunReport.decode(data) else { throw UsageError("\(report): not a dio-torture JSON report") }
        let matching = decoded.cases.filter {
            $0.id == caseID && (kernel == nil || $0.kernel == kernel) && (fs == nil || $0.filesystem.type == fs)
        }
        // The failing record when there is one: that is what a reproducer is for.
        guard let record = matching.first(where: { $0.verdict.isFailure }) ?? matching.first else {
            throw UsageError("\(report): no case \(caseID)\(kernel.map { " on \($0)" } ?? "")\(fs.map { " on \($0)" } ?? "")")
        }
        let source: String
        do { source = try Reproducer.source(for: record) } catch { throw UsageError("\(error)") }
        guard let output else { print(source, terminator: ""); return }
        do { try source.write(toFile: output, atomically: true, encoding: .utf8) } catch {
            throw UsageError("cannot write \(output): \(error.localizedDescription)")
        }
        printError("dio-torture: wrote \(output) (\(record.kernel), \(record.filesystem.type), \(record.verdict.rawValue)); build with gcc \(output) -luring\n")
    }
}

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program (a reproducer) in a fresh directory on a scratch filesystem, then remove it all.",
        discussion: """
        `{}` in the program's arguments becomes the directory (appended when absent). Exits with \
        the program's status. Example: dio-torture exec --fs btrfs -- ./repro {} 100
        """)

    @Option(help: "The scratch filesystem: btrfs, xfs, ext4 or tmpfs.")
    var fs: String

    @Option(name: .customLong("mkfs-options"), help: "Extra mkfs arguments.")
    var mkfsOptions: String?

    @Option(name: .customLong("mount-options"), help: "Mount options, comma-separated.")
    var mountOptions: String?

    @Option(name: .customLong("scratch-device"), help: ArgumentHelp("Make the filesystem on this block device (OVERWRITTEN) instead of a loop device.", valueName: "dev"))
    var scratchDevice: String?

    @Argument(parsing: .postTerminator, help: "The program and its arguments, after `--`.")
    var program: [String] = []

    func validate() throws {
        if program.isEmpty { throw ValidationError("give the program to run after `--`") }
        if ScratchKind(rawValue: fs) == nil {
            throw ValidationError("unknown filesystem '\(fs)'; choose from \(ScratchKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let scratchDevice, let reason = ScratchFilesystem.unusableDeviceReason(scratchDevice) {
            throw ValidationError("--scratch-device: \(reason)")
        }
    }

    func run() throws {
        let kind = ScratchKind(rawValue: fs)!
        InterruptCleanup.install()
        let options = ScratchOptions(kind: kind, mkfsOptions: mkfsOptions.map { $0.split(separator: " ").map(String.init) } ?? [],
                                     mountOptions: mountOptions.map { $0.split(separator: ",").map(String.init) } ?? [])
        let status: Int32
        do {
            status = try ScratchFilesystem.run(program, on: options, device: scratchDevice)
        } catch {
            printError("dio-torture exec: \(error)\n")
            throw ExitCode(3)
        }
        throw ExitCode(status)
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the catalogue: scenarios, fault patterns and I/O paths.")

    func run() {
        print("Scenarios:")
        let width = catalogue.map(\.name.count).max()!
        for scenario in catalogue { print("  \(scenario.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(scenario.summary)") }
        print("\nFault patterns:")
        for pattern in FaultPattern.allCases { print("  \(pattern.rawValue.padding(toLength: 26, withPad: " ", startingAt: 0)) \(pattern.summary)") }
        print("\nI/O paths:")
        print("  " + IOPath.all.map(\.description).joined(separator: ", "))
    }
}

struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the kernel, io_uring support, privileges and usable filesystems.")

    func run() { print(EnvironmentProbe.current().text) }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verified reads per second against fio (plain and --verify=crc32c), side by side.",
        discussion: "Needs root (scratch filesystems) and fio. Build with -c release: `make bench`.")

    @Option(help: "Scratch filesystems, comma-separated.")
    var fs = "tmpfs,ext4"

    @Option(name: .customLong("size-mib"), help: "File size in MiB.")
    var sizeMiB = 256

    @Option(name: .customLong("block-sizes-kib"), help: "Block sizes in KiB, comma-separated.")
    var blockSizesKiB = "4,16,64"

    @Option(help: "Queue depths, comma-separated.")
    var depths = "1,8,32"

    @Option(help: "Seconds per tool per run.")
    var seconds = 3

    @Option(help: "Alternations of the tools (the table shows medians).")
    var rounds = 3

    func validate() throws {
        if sizeMiB < 16 { throw ValidationError("--size-mib must be at least 16") }
        if seconds < 1 || rounds < 1 { throw ValidationError("--seconds and --rounds must be at least 1") }
    }

    func run() throws {
        func integers(_ list: String, _ option: String) throws -> [Int] {
            try list.split(separator: ",").map {
                guard let value = Int($0.trimmingCharacters(in: .whitespaces)), value > 0 else {
                    throw UsageError("\(option): '\($0)' is not a positive whole number")
                }
                return value
            }
        }
        let kinds = try fs.split(separator: ",").map { name in
            guard let kind = ScratchKind(rawValue: String(name)) else { throw UsageError("unknown filesystem '\(name)'") }
            return kind
        }
        let options = BenchOptions(filesystems: kinds, fileSize: sizeMiB << 20,
                                   blockSizes: try integers(blockSizesKiB, "--block-sizes-kib").map { $0 << 10 },
                                   depths: try integers(depths, "--depths"), seconds: seconds, rounds: rounds,
                                   seed: UInt64.random(in: 1...UInt64.max))
        InterruptCleanup.install()
        let report: BenchReport
        do {
            report = try Benchmark.run(options) { printError("\r\u{1B}[K\($0)") }
        } catch {
            printError("\ndio-torture bench: \(error)\n")
            throw ExitCode(3)
        }
        printError("\r\u{1B}[K")
        print(Benchmark.table(report, options: options), terminator: "")
        if report.rows.contains(where: { $0.failures > 0 }) { throw ExitCode(1) }
    }
}

/// Where cases run: each in its own process (the default), or all in this one.
struct IsolationOption: ParsableArguments {
    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case process, none
    }

    @Option(name: .long, help: ArgumentHelp("process: each case in its own process, killed at the case timeout (a crash or hang stays with its case). none: all in this process; faster where starting a process is slow (a TCG guest), but a stuck case stops the run.", valueName: "mode"))
    var isolation: Mode = .process

    func mode(caseTimeout seconds: Int) throws -> CaseIsolation {
        switch isolation {
        case .process: .childProcess(executable: try ownExecutable(), deadline: .seconds(seconds))
        case .none: .inProcess
        }
    }
}

/// Runs batches with a progress line on a terminal; the first SIGINT/SIGTERM stops after the
/// running case, and the report says it is incomplete.
func runCases(_ batches: [RunBatch], scratchDevice: String?, isolation: CaseIsolation) -> RunReport {
    InterruptCleanup.install()
    InterruptCleanup.stopGracefully()
    let showProgress = isatty(STDERR_FILENO) != 0
    let started = Date()
    let report = Runner.run(batches, scratchDevice: scratchDevice, isolation: isolation) { progress in
        guard showProgress else { return }
        let elapsed = Date().timeIntervalSince(started)
        let eta = progress.done > 0 ? " ETA \(Int(elapsed / Double(progress.done) * Double(progress.total - progress.done)))s" : ""
        let line = "\r\u{1B}[K[\(progress.done)/\(progress.total)] \(progress.failures) failed\(eta)  \(progress.current)"
        printError(String(line.prefix(160)))
        if progress.done == progress.total { printError("\r\u{1B}[K") }
    }
    return report
}

/// Prints and writes the report; exits 128 + the signal when interrupted, else the report's status.
func finish(_ report: RunReport, outputs: ReportOutputs) throws -> Never {
    try outputs.emit(report)
    if let signalNumber = InterruptCleanup.interruptingSignal {
        printError("dio-torture: interrupted; the report holds the \(report.cases.count) cases that finished (complete: false)\n")
        throw ExitCode(128 + signalNumber)
    }
    throw ExitCode(report.exitCode)
}

/// This binary, for the case processes.
func ownExecutable() throws -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { throw UsageError("cannot find this executable through /proc/self/exe") }
    return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

struct CaseWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "case-worker", abstract: "Internal: run one case given as JSON on standard input.", shouldDisplay: false)

    func run() throws { throw ExitCode(CaseJob.serveStandardInput()) }
}

/// Where step scenarios save their operation logs.
struct ArtifactOption: ParsableArguments {
    @Option(name: .customLong("ops-logs"), help: ArgumentHelp("Save the operation logs of the step scenarios (ops, zero-range-dirty-unwritten) here, for `dio-torture replay`; from test-kernel guests too.", valueName: "dir"))
    var opsLogs = "dio-torture-ops-logs"

    var directory: String { URL(fileURLWithPath: opsLogs).standardizedFileURL.path }
}

/// The human table on stdout, and the report files a run or a kernel matrix can write.
struct ReportOutputs: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Write the JSON report (docs/report-schema.md) here.", valueName: "file"))
    var json: String?

    @Option(name: .long, help: ArgumentHelp("Write JUnit XML here (one testsuite per kernel and filesystem).", valueName: "file"))
    var junit: String?

    @Option(name: .long, help: ArgumentHelp("Write KTAP (as kernel selftests print it) here.", valueName: "file"))
    var ktap: String?

    @Option(name: .long, help: ArgumentHelp("Write an HTML page with the matrix as a coloured grid here.", valueName: "file"))
    var html: String?

    @Flag(name: .customLong("no-color"), help: "No colour, even on a terminal.")
    var noColor = false

    func emit(_ report: RunReport) throws {
        let colour = !noColor && isatty(STDOUT_FILENO) != 0
        print(TextReport.table(report, colour: colour), terminator: "")
        let failures = TextReport.failures(report)
        if !failures.isEmpty { print("\n" + failures, terminator: "") }
        if report.guests != nil { print("\n" + TextReport.kernelMatrix(report, colour: colour), terminator: "") }
        let files: [(String?, String, () throws -> Data)] = [
            (json, "JSON report", { try report.jsonData() }),
            (junit, "JUnit XML", { Data(JUnit.document(report).utf8) }),
            (ktap, "KTAP", { Data(KTAP.document(report).utf8) }),
            (html, "HTML grid", { Data(HTMLReport.document(report).utf8) }),
        ]
        for case let (path?, name, contents) in files {
            do {
                try contents().write(to: URL(fileURLWithPath: path))
                print("\(name): \(path)")
            } catch {
                throw UsageError("cannot write \(path): \(error.localizedDescription)")
            }
        }
    }
}

/// Writes to standard error, unbuffered, so progress and messages interleave correctly.
func printError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}

/// A usage or configuration error: one line, exit 2.
struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

do {
    var command = try DIOTortureCommand.parseAsRoot()
    try command.run()
} catch let error as UsageError {
    printError("dio-torture: \(error.description)\n")
    exit(2)
} catch {
    // Parse and validation errors: one line, exit 2 (ArgumentParser would print usage and exit 64).
    if DIOTortureCommand.exitCode(for: error) == .validationFailure {
        printError("dio-torture: \(DIOTortureCommand.message(for: error)) (see 'dio-torture --help')\n")
        exit(2)
    }
    DIOTortureCommand.exit(withError: error)
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-run a saved operation log (the ops and zero-range-dirty-unwritten scenarios) from an empty file and judge it again.",
        discussion: """
        The same log gives the same operations and data; the outcome is printed as the failing \
        operation (or PASS). --shrink reduces a failing log by delta debugging to a short one \
        that still fails the same way and writes it beside the log (or to -o). \
        Exit status: 0 PASS, 1 FAIL, 2 usage error, 3 the log could not run.
        """)

    @Argument(help: "The operation log (.opslog).")
    var log: String

    @Option(help: "Replay on a scratch filesystem made for it: btrfs, xfs, ext4 or tmpfs (default: ext4 when root).")
    var fs: String?

    @Option(help: "Replay in a fresh subdirectory of this mounted directory instead.")
    var dir: String?

    @Flag(help: "Shrink a failing log to a short one that still fails the same way.")
    var shrink = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Where the shrunk log goes (default: LOG.min.opslog).", valueName: "file"))
    var output: String?

    @Option(help: "Watchdog: seconds without a completion before an io_uring operation is a HANG.")
    var timeout: Int = 10

    @Flag(name: .customLong("self-test-corruption"), help: ArgumentHelp("Harness self-test: flip a byte of every completed read.", visibility: .hidden))
    var selfTestCorruption = false

    func validate() throws {
        if fs != nil && dir != nil { throw ValidationError("--fs and --dir are exclusive") }
        if let fs, ScratchKind(rawValue: fs) == nil {
            throw ValidationError("unknown filesystem '\(fs)'; choose from \(ScratchKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        guard let data = FileManager.default.contents(atPath: log) else { throw UsageError("\(log): cannot read") }
        let parsed: OperationLog
        do { parsed = try OperationLog(text: String(decoding: data, as: UTF8.self), file: log) } catch { throw UsageError("\(error)") }
        InterruptCleanup.install()
        let body = { (directory: String) throws -> Int32 in
            let outcome = try OperationReplay.run(parsed, in: directory, timeout: .seconds(timeout), corruptReads: selfTestCorruption)
            print("replay \(log): \(outcome.failure == nil ? "PASS" : "FAIL at " + outcome.signature); "
                  + "\(outcome.executed) of \(parsed.operations.count) operations, \(outcome.readsJudged) reads judged")
            guard let failure = outcome.failure else { return 0 }
            if let note = failure.detail.note { print("  \(note)") }
            if shrink {
                let (shrunk, replays) = try OperationReplay.shrink(parsed, failing: failure, in: directory, timeout: .seconds(timeout),
                                                                   corruptReads: selfTestCorruption)
                let path = output ?? log.replacingOccurrences(of: ".opslog", with: "") + ".min.opslog"
                try shrunk.text.write(toFile: path, atomically: true, encoding: .utf8)
                print("shrunk to \(shrunk.operations.count) of \(parsed.operations.count) operations in \(replays) replays: \(path)")
            }
            return 1
        }
        let status: Int32
        do {
            if let dir {
                let directory = try ScratchDirectory(in: dir)
                defer { directory.remove() }
                status = try body(directory.path)
            } else {
                guard Kernel.isRoot || fs == nil else { throw TargetError("--fs needs root (loop devices and mounts); use --dir") }
                if !Kernel.isRoot {
                    let directory = try ScratchDirectory(in: "/var/tmp")
                    defer { directory.remove() }
                    status = try body(directory.path)
                } else {
                    status = try ScratchFilesystem.withDirectory(on: ScratchOptions(kind: ScratchKind(rawValue: fs ?? "ext4")!), device: nil, body)
                }
            }
        } catch let error as TargetError {
            printError("dio-torture replay: \(error)\n")
            throw ExitCode(3)
        }
        throw ExitCode(status)
    }
}
