import ArgumentParser
import DIOSystem
import DIOTorture
import Foundation
import Glibc

struct VM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Run dio-torture inside other kernels, booted under QEMU, and print one kernel matrix.",
        discussion: """
        Each kernel boots under qemu-system-x86_64 (KVM when it works, else TCG) with a busybox \
        initramfs; the guest mounts this machine's root read-only over 9p and runs this same binary \
        with the command after `--` (default: `run`), scratch filesystems on a virtio disk. Debian \
        kernels need their modules: --modules DIR, or found as ROOT/lib/modules/RELEASE beside \
        ROOT/boot/vmlinuz-RELEASE. A kernel's `run` is split into shards, a guest each, when the \
        kernels alone would leave a CPU idle (one kernel on two CPUs; see --parts); the matrix \
        shows it as one kernel. Needs root, qemu-system-x86 and busybox-static.
        Example: dio-torture vm --kernel bzImage-btrfs-nowait-bug -- run --fs btrfs --iterations 100
        Exit status as for `run`; a guest that fails to boot, panics or hangs is BROKEN (1).
        """)

    @Option(name: .long, help: ArgumentHelp("A kernel image (bzImage) to boot; repeat for a matrix.", valueName: "image"))
    var kernel: [String] = []

    @Option(name: .long, help: ArgumentHelp("A module directory (lib/modules/RELEASE), matched to its kernel by release; repeatable.", valueName: "dir"))
    var modules: [String] = []

    @Option(name: .long, help: "Guests at once (one vCPU each); default: the number of CPUs.")
    var jobs: Int?

    @Option(name: .long, help: "Guests per kernel, each running one shard of the `run` (run --shard K/N), all with one seed; default: the fewest that keep every CPU busy to the end.")
    var parts: Int?

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
        if let parts, parts < 1 { throw ValidationError("--parts must be at least 1") }
        if let problem = GuestCommand.problem(guestCommand) { throw ValidationError(problem) }
        // The guest would only fail on what the host can reject now: the same parser checks it.
        let parsed: ParsableCommand
        do {
            parsed = try DIOTortureCommand.parseAsRoot(GuestCommand.normalized(guestCommand))
        } catch {
            throw ValidationError("guest command: \(DIOTortureCommand.message(for: error))")
        }
        if let run = parsed as? Run {
            do { _ = try run.makePlan() } catch let error as UsageError { throw ValidationError("guest command: \(error)") }
            if (parts ?? 1) > 1 && run.shard != .whole { throw ValidationError("--parts splits the guests' run into shards; the guest command already runs shard \(run.shard)") }
        } else if (parts ?? 1) > 1 {
            throw ValidationError("--parts splits a guest command of `run`, not '\(GuestCommand.normalized(guestCommand)[0])'")
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
            do { return try GuestKernel(image: image, moduleDirectories: modules) } catch let error as GuestError {
                throw UsageError("--kernel \(image): \(error)")
            }
        }
        // The guest's working directory is its root: a sweep file must be named absolutely.
        var command = guestCommand
        if command.first == "sweep", command.count > 1, !command[1].hasPrefix("-") {
            command[1] = URL(fileURLWithPath: command[1]).standardizedFileURL.path
        }
        let jobs = jobs ?? ProcessInfo.processInfo.activeProcessorCount
        let plan = try guestPlan()
        let options = VMOptions(kernels: kernels, command: command, jobs: jobs, memoryMiB: memory, timeout: .seconds(timeout),
                                kernelArguments: kernelArguments.map { $0.split(separator: " ").map(String.init) } ?? [],
                                opsLogDirectory: artifacts.directory, partsPerKernel: partsPerKernel(plan, kernels: kernels.count, jobs: jobs),
                                filesystemModules: plan?.kernelModules ?? RunPlan.everyKernelModule)
        InterruptCleanup.install()
        let started = Date()
        let split = options.partsPerKernel > 1 ? ", each kernel's run in \(options.partsPerKernel) shards" : ""
        printError("dio-torture vm: \(kernels.count) kernel(s)\(split), \(options.jobs) guests at once: \(kernels.map(\.release).joined(separator: ", "))\n")
        let runs = try runGuests(options, prefix: "dio-torture vm")
        guard options.runsCatalogue else {
            print(TextReport.guestOutputs(runs), terminator: "")
            throw ExitCode(runs.allSatisfy { $0.record.status == 0 } ? 0 : 1)
        }
        let report = RunReport(merging: runs, startedAt: started, seed: nil, iterations: nil)
        throw ExitCode(try outputs.emit(report).exitCode)
    }

    /// The plan of the guests' command when it is `run`; nil for the others.
    private func guestPlan() throws -> RunPlan? {
        try (DIOTortureCommand.parseAsRoot(GuestCommand.normalized(guestCommand)) as? Run)?.makePlan().plan
    }

    /// Guests per kernel for the guests' `run` (`VMOptions.partsPerKernel`); 1 for other commands
    /// and for a `run` that is already one shard.
    private func partsPerKernel(_ plan: RunPlan?, kernels: Int, jobs: Int) -> Int {
        guard let plan, plan.shard == .whole else { return 1 }
        return VMOptions.partsPerKernel(requested: parts, kernels: kernels, jobs: jobs, units: plan.cases.count * plan.targets.count)
    }
}
