import DIOSystem
import Foundation

/// What a guest may be asked to run, checked on the host before anything boots.
public enum GuestCommand {
    /// Commands that make no sense inside a guest: they boot guests, need the host's files, or
    /// write only host-side results.
    static let refused = ["vm", "bench", "compare", "repro", "report", "report-bug"]
    static let reportOptions = ReportFormat.allCases.filter { $0 != .text }.map { "--" + $0.rawValue }

    /// Why `command` cannot run in a guest, in one line; nil when it can (its own arguments are
    /// the command's to check).
    public static func problem(_ command: [String]) -> String? {
        if let first = command.first, refused.contains(first) { return "the guest command cannot be '\(first)'" }
        // The guest's files stay in the guest: its report comes back to the host, written by vm.
        if let output = command.first(where: reportOptions.contains) {
            return "guest command: \(output) would be written inside the guest and lost; give \(output) to vm itself (vm \(output) FILE --kernel ... -- run ...)"
        }
        return nil
    }

    /// The command line the guest's dio-torture parses: `run` when none is named.
    public static func normalized(_ command: [String]) -> [String] {
        command.isEmpty || command[0].hasPrefix("-") ? ["run"] + command : command
    }
}

public struct VMOptions: Sendable {
    public var kernels: [GuestKernel]
    /// The dio-torture command line for inside each guest, e.g. ["run", "--fs", "btrfs"].
    public var command: [String]
    /// Guests run side by side, one vCPU each.
    public var jobs: Int
    public var memoryMiB: Int
    /// A guest still running after this is killed and its kernel reported BROKEN.
    public var timeout: Duration
    /// Appended to the kernel command line.
    public var kernelArguments: [String]
    /// The guest's scratch disk (sparse, in the host's private image store).
    public var diskSize: Int
    /// For a sweep: each kernel's index in the sweep file, which its guest is told.
    public var kernelIndices: [Int]?
    /// Where the operation logs the guests save are brought back to (for `dio-torture replay`).
    public var opsLogDirectory: String?
    /// Guests per kernel, each running one shard of a `run` (`run --shard K/N`).
    public var partsPerKernel: Int
    /// The seed the guests of a split run share, so that their shards are one run's.
    public var partSeed: UInt64
    /// The modules the guests' command needs for its filesystems and scenarios
    /// (`RunPlan.kernelModules`); by default every one any plan may need. Each costs boot time.
    public var filesystemModules: [String]

    public init(kernels: [GuestKernel], command: [String], jobs: Int, memoryMiB: Int = 2048,
                timeout: Duration, kernelArguments: [String] = [], diskSize: Int = 1 << 30, kernelIndices: [Int]? = nil,
                opsLogDirectory: String? = nil, partsPerKernel: Int = 1, filesystemModules: [String] = RunPlan.everyKernelModule) {
        self.kernels = kernels
        self.command = command
        self.jobs = jobs
        self.memoryMiB = memoryMiB
        self.timeout = timeout
        self.kernelArguments = kernelArguments
        self.diskSize = diskSize
        self.kernelIndices = kernelIndices
        self.opsLogDirectory = opsLogDirectory
        self.partsPerKernel = partsPerKernel
        self.filesystemModules = filesystemModules
        partSeed = UInt64.random(in: 1...UInt64.max)
    }

    /// How many guests share each kernel's `run`: `requested`, or by default the fewest (at
    /// most one per CPU) that make the guests a multiple of the `jobs` at once, so that no CPU
    /// idles while the last kernel's one guest finishes alone; never more than the run's `units`
    /// (target and case pairs), for a shard without cases would have nothing to run.
    public static func partsPerKernel(requested: Int? = nil, kernels: Int, jobs: Int, units: Int) -> Int {
        let parts = requested ?? (1...max(1, jobs)).first { kernels * $0 % jobs == 0 } ?? 1
        return max(1, min(parts, units))
    }

    /// Every guest to boot: each kernel's, one per part, kernel by kernel.
    public var guests: [VMGuest] {
        kernels.indices.flatMap { kernel in
            (1...partsPerKernel).map { VMGuest(kernel: kernel, part: Shard(index: $0, count: partsPerKernel)) }
        }
    }

    /// The guest as the run's messages name it (`GuestRecord.name`).
    func name(of guest: VMGuest) -> String {
        GuestRecord.name(release: kernels[guest.kernel].release, part: guest.part == .whole ? nil : guest.part.description)
    }

    /// The command as `guest` runs it: `run` and `sweep` report their JSON and save their
    /// operation logs through the output share (a sweep runs that kernel's part of its matrix, a
    /// split `run` its shard), and they and `exec` make their scratch filesystems on the guest's
    /// virtio disk.
    func guestCommand(_ guest: VMGuest) -> [String] {
        var command = GuestCommand.normalized(command)
        if command[0] == "exec" { return ["exec", "--scratch-device", GuestInit.scratchDisk] + command.dropFirst() }
        guard runsCatalogue else { return command }
        if command[0] == "sweep" { command += ["--kernel-index", "\(kernelIndices?[guest.kernel] ?? guest.kernel)"] }
        if guest.part != .whole {
            command += ["--shard", guest.part.description] + (command.contains { $0 == "--seed" || $0.hasPrefix("--seed=") } ? [] : ["--seed", "\(partSeed)"])
        }
        // The guest reports what it saw; the host decides which failures known bugs explain.
        command += ["--json", GuestInit.outputDirectory + "/report.json", "--no-color", "--no-known-bugs",
                    "--progress-file", GuestInit.outputDirectory + "/" + GuestProgress.fileName]
        if opsLogDirectory != nil { command += ["--ops-logs", GuestInit.opsLogDirectory] }
        if !command.contains("--dir") { command += ["--scratch-device", GuestInit.scratchDisk] }
        return command
    }

    /// Whether the guests bring back a report (run, sweep) rather than only their output.
    public var runsCatalogue: Bool { ["run", "sweep"].contains(GuestCommand.normalized(command)[0]) }
}

/// One guest of a `vm` run: a kernel and the shard of the run it runs (`.whole` unless split).
public struct VMGuest: Sendable, Equatable {
    public var kernel: Int
    public var part: Shard
}

/// How a guest ended, as the host saw it.
public enum GuestOutcome: String, Codable, Sendable {
    /// dio-torture ran inside and exited (with whatever status).
    case completed
    case panicked = "kernel-panic"
    case timedOut = "timed-out"
    /// QEMU ended before dio-torture did, without a panic on the console.
    case died
}

/// One guest's boot and run, for the report.
public struct GuestRecord: Codable, Sendable {
    public var kernelImage: String
    public var release: String
    /// "K/N" when the kernel's run was split over N guests and this one ran shard K.
    public var part: String?
    public var accelerator: String
    public var outcome: GuestOutcome
    /// dio-torture's exit status inside the guest.
    public var status: Int32?
    /// Seconds from power-on to dio-torture's start, by the guest's clock.
    public var bootSeconds: Double?
    public var wallSeconds: Double
    /// Modules the guest needed but the kernel has neither as a module nor built in.
    public var missingModules: [String]
    /// Modules that did not load in the guest (the console has the kernel's reason).
    public var failedModules: [String]
    /// The end of the console, kept when the guest did not complete.
    public var consoleTail: [String]
    /// The case it was running ("TARGET CASE-ID", from its progress file) when it ended
    /// without a report: the one a hang or panic is in.
    public var lastCase: String? = nil

    /// The guest as messages and reports name it: its kernel's release, and its shard when split.
    public var name: String { Self.name(release: release, part: part) }

    static func name(release: String, part: String?) -> String { release + (part.map { " (shard \($0))" } ?? "") }
}

/// A guest's record, its dio-torture report (for `run`), and what the tool printed inside.
public struct GuestRun: Sendable {
    public var record: GuestRecord
    public var report: RunReport?
    public var output: String
    /// For a guest without a report, the host's copy of the operation log its last case saved.
    public var lastCaseLog: String? = nil
}

public enum VMRunner {
    /// Modules a guest cannot do without.
    static let essentialModules = ["virtio_pci", "virtio_blk", "9pnet_virtio", "9p"]
    /// The checksum algorithms, loaded before the filesystems: these ask for them by alias when
    /// they load (soft dependencies, absent from modules.dep), and the guest has no modprobe to
    /// answer. Small, so every guest loads them all.
    static let checksumModules = ["crc32c_generic", "crc32c_intel", "crc32_generic", "blake2b_generic", "xxhash_generic", "sha256_generic"]

    /// Why VMs cannot run here, or nil.
    public static var unavailableReason: String? {
        if findExecutable("qemu-system-x86_64") == nil { return "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)" }
        if staticBusybox == nil { return "no statically linked busybox for the initramfs (apt-get install busybox-static)" }
        return nil
    }

    /// Boots every guest (up to `jobs` at once) and runs the command in each. `events` hears of
    /// each boot and end; `status`, every `statusInterval` while guests run, gets every started
    /// guest's progress as its run reports it through the output share.
    public static func run(_ options: VMOptions, statusInterval: Duration = .seconds(5), events: @escaping (String) -> Void = { _ in },
                           status: @escaping ([GuestStatus]) -> Void = { _ in }) throws -> [GuestRun] {
        let store = try ImageStore()
        let guests = options.guests
        let queue = GuestQueue(count: guests.count)
        let group = DispatchGroup()
        for _ in 0..<max(1, min(options.jobs, guests.count)) {
            group.enter()
            Thread.detachNewThread {
                while let index = queue.take() {
                    let name = options.name(of: guests[index])
                    events("booting \(name)")
                    let run = runGuest(guests[index], index: index, options: options, store: store, events: events) {
                        queue.started(index, name: name, output: $0)
                    }
                    events("\(name): \(run.record.outcome.rawValue) after \(Int(run.record.wallSeconds)) s")
                    queue.put(run, at: index)
                }
                group.leave()
            }
        }
        while group.wait(timeout: .now() + .milliseconds(Int(statusInterval.components.seconds * 1000))) == .timedOut {
            status(queue.statuses())
        }
        return queue.results
    }

    /// `index`: the guest's place among the run's guests, which names its output share.
    static func runGuest(_ guest: VMGuest, index: Int, options: VMOptions, store: ImageStore,
                         events: (String) -> Void = { _ in }, started onStart: (String) -> Void = { _ in }) -> GuestRun {
        let started = Date()
        let kernel = options.kernels[guest.kernel]
        var record = GuestRecord(kernelImage: kernel.image, release: kernel.release, part: guest.part == .whole ? nil : guest.part.description,
                                 accelerator: "tcg", outcome: .died,
                                 status: nil, bootSeconds: nil, wallSeconds: 0, missingModules: [], failedModules: [], consoleTail: [])
        do {
            let (modules, missing) = kernel.modules?.loadOrder(essentialModules + checksumModules + options.filesystemModules) ?? ([], [])
            record.missingModules = missing
            if let absent = missing.first(where: essentialModules.contains) {
                throw GuestError("kernel \(kernel.release) has no \(absent), neither built in nor as a module")
            }
            let initramfs = try store.newImage(size: 0)
            try buildInitramfs(modules: modules, kernel: kernel, command: options.guestCommand(guest), into: initramfs)
            let output = try store.newDirectory("guest-\(index)")
            onStart(output)
            let accelerators = usableAccelerators
            for accelerator in accelerators {
                let disk = try store.newImage(size: options.diskSize)
                let console = try store.newImage(size: 0)
                record.accelerator = accelerator
                let watch = accelerator == "kvm" ? KVMFailureWatch(console: console) : nil
                let exit = try runSupervised(qemuArguments(kernel: kernel, initramfs: initramfs, disk: disk, output: output,
                                                           accelerator: accelerator, options: options),
                                             output: console, timeout: options.timeout) { watch?.guestFailed() ?? false }
                if exit == .abandoned, let failure = watch?.failure {
                    KVMFailureWatch.recordFailure()
                    events("\(options.name(of: guest)): \(failure); again under TCG, as every later guest")
                    continue
                }
                let text = String(decoding: try console.contents(), as: UTF8.self)
                let booted = text.contains(GuestInit.bootedLine)
                if !booted && accelerator != accelerators.last && exit != .timedOut { continue }
                return finish(&record, exit: exit, console: text, output: output, opsLogDirectory: options.opsLogDirectory, started: started)
            }
        } catch {
            record.consoleTail = ["dio-torture: \(error)"]
        }
        record.wallSeconds = Date().timeIntervalSince(started)
        return GuestRun(record: record, report: nil, output: "")
    }

    private static func finish(_ record: inout GuestRecord, exit: ChildExit, console: String, output: String,
                               opsLogDirectory: String?, started: Date) -> GuestRun {
        record.wallSeconds = Date().timeIntervalSince(started)
        // The serial console ends lines with "\r\n", one Character in Swift: split on newlines.
        let lines = console.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map {
            String($0).trimmingCharacters(in: .controlCharacters)
        }
        let status = (try? String(contentsOfFile: output + "/status", encoding: .utf8)).flatMap {
            Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        record.status = status
        record.bootSeconds = lines.first { $0.hasPrefix("\(GuestInit.marker) running") }
            .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        if exit == .timedOut {
            record.outcome = .timedOut
        } else if lines.contains(where: { $0.contains("Kernel panic - not syncing") }) {
            record.outcome = .panicked
        } else {
            record.outcome = status == nil ? .died : .completed
        }
        record.failedModules = lines.compactMap { line in
            line.hasPrefix("\(GuestInit.marker) module-failed ") ? String(line.split(separator: " ").last!) : nil
        }
        if record.outcome != .completed { record.consoleTail = Array(lines.filter { !$0.isEmpty }.suffix(25)) }
        var report = (try? Data(contentsOf: URL(fileURLWithPath: output + "/report.json"))).flatMap { try? RunReport.decode($0) }
        var run = GuestRun(record: record, report: nil, output: toolOutput(lines))
        if report == nil {
            run.record.lastCase = GuestProgress.read(output: output).flatMap { $0.current.isEmpty ? nil : $0.current }
            if let opsLogDirectory { run.lastCaseLog = bringBackStrandedLogs(from: output, to: opsLogDirectory, running: run.record.lastCase) }
        } else if let opsLogDirectory {
            bringBackOperationLogs(of: &report!, from: output, to: opsLogDirectory)
        }
        run.report = report
        return run
    }

    /// Copies the operation logs a guest saved on its output share to `directory` and points the
    /// report's records at the copies. A log that cannot be copied keeps its guest path.
    private static func bringBackOperationLogs(of report: inout RunReport, from output: String, to directory: String) {
        let prefix = GuestInit.opsLogDirectory + "/"
        for index in report.cases.indices {
            guard let guestPath = report.cases[index].operationLog, guestPath.hasPrefix(prefix) else { continue }
            if let copy = copyLog(String(guestPath.dropFirst(prefix.count)), from: output, to: directory) { report.cases[index].operationLog = copy }
        }
    }

    /// Copies every operation log a guest that brought no report back left on its share (the
    /// cases before a hang, and the hung case's own when it is a step scenario's); returns the
    /// copy of `running`'s ("TARGET CASE-ID"), if there is one.
    static func bringBackStrandedLogs(from output: String, to directory: String, running: String?) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: output + "/" + GuestInit.opsLogSubdirectory)) ?? []
        let parts = running?.split(separator: " ", maxSplits: 1).map(String.init) ?? []
        var runningLog: String?
        for name in names.sorted() {
            guard let copy = copyLog(name, from: output, to: directory) else { continue }
            if parts.count == 2, name.hasSuffix(OperationCase.logFileName("-" + parts[1])), name.contains(OperationCase.fileNameSafe(parts[0]) + "-") {
                runningLog = copy
            }
        }
        return runningLog
    }

    /// Copies the log `name` from the guest's share to `directory`; the copy's path, or nil.
    private static func copyLog(_ name: String, from output: String, to directory: String) -> String? {
        let hostPath = directory + "/" + name
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: hostPath)
            try FileManager.default.copyItem(atPath: output + "/" + GuestInit.opsLogSubdirectory + "/" + name, toPath: hostPath)
            return hostPath
        } catch {
            return nil
        }
    }

    /// What dio-torture printed inside the guest: the console between the init script's
    /// "running" and "finished" lines, without kernel messages.
    static func toolOutput(_ lines: [String]) -> String {
        guard let start = lines.firstIndex(where: { $0.hasPrefix("\(GuestInit.marker) running") }) else { return "" }
        let end = lines[start...].firstIndex { $0.hasPrefix("\(GuestInit.marker) finished") } ?? lines.endIndex
        return lines[(start + 1)..<end].filter { !$0.hasPrefix("[") }.joined(separator: "\n")
    }

    /// KVM first when it runs ordinary kernels here and no guest of this process has failed under it, then TCG:
    /// a KVM guest that does not boot, or that QEMU pauses on an emulation failure
    /// (`KVMFailureWatch`), is run again under TCG.
    static var usableAccelerators: [String] { Kernel.kvmRunsOrdinaryGuests && !KVMFailureWatch.kvmFailed ? ["kvm", "tcg"] : ["tcg"] }

    /// The CPU a TCG guest is given: every feature TCG emulates, less three that slow it. With
    /// ERMS and FSRM the guest kernel clears and copies pages with `rep stosb` and `rep movsb`,
    /// and TCG runs a `rep` one element per pass through a translated block; without them the
    /// kernel uses loops of 8-byte moves, which TCG runs as straight code. Without LA57 the guest
    /// pages with four levels, so every soft-TLB miss walks one level fewer. Real x86 machines
    /// come both ways, and the filesystem and mm code under test is the same either way.
    static let tcgCPU = "max,-erms,-fsrm,-la57"

    static func qemuArguments(kernel: GuestKernel, initramfs: OpenFile, disk: OpenFile, output: String,
                              accelerator: String, options: VMOptions) -> [String] {
        let hostRoot = "local,path=/,mount_tag=\(GuestInit.hostTag),security_model=none,readonly=on"
        let outputShare = "local,path=\(output),mount_tag=\(GuestInit.outputTag),security_model=none"
        return ["qemu-system-x86_64", "-accel", accelerator, "-cpu", accelerator == "kvm" ? "host" : tcgCPU,
                "-m", "\(options.memoryMiB)", "-smp", "1", "-nodefaults", "-display", "none", "-no-reboot",
                "-serial", "stdio", "-kernel", kernel.image, "-initrd", initramfs.descriptorPath,
                "-append", (["console=ttyS0", "panic=-1", "quiet"] + options.kernelArguments).joined(separator: " "),
                "-drive", "file=\(disk.descriptorPath),format=raw,if=virtio,cache=unsafe",
                "-virtfs", hostRoot, "-virtfs", outputShare]
    }

    static func buildInitramfs(modules: [String], kernel: GuestKernel, command: [String], into file: OpenFile) throws {
        guard let busybox = staticBusybox else { throw GuestError(unavailableReason ?? "no busybox") }
        var archive = Initramfs()
        for directory in ["/bin", "/dev", "/proc", "/sys", "/modules"] { archive.directory(directory) }
        archive.characterDevice("/dev/console", major: 5, minor: 1)
        archive.file("/bin/busybox", data: try readBytes(busybox), executable: true)
        var inArchive: [String] = []
        for (number, module) in modules.enumerated() {
            let (name, data) = try moduleImage(kernel.modules!.directory + "/" + module)
            archive.file("/modules/\(number)-" + name, data: data)
            inArchive.append("/modules/\(number)-" + name)
        }
        let binary = try ThisProcess.executablePath()
        archive.file("/init", data: Array(GuestInit.script(modules: inArchive, command: [binary] + command).utf8), executable: true)
        let bytes = archive.finished()
        _ = try bytes.withUnsafeBytes { try file.write($0, at: 0) }
    }

    /// Compressed modules' suffixes and the tools that unpack them.
    static let decompressors = [".xz": "xz", ".zst": "zstd", ".gz": "gzip"]

    /// A module as the initramfs carries it, and its name there: unpacked here when the tool for
    /// its compression is installed, since under TCG the guest's busybox took seconds to unpack
    /// each large one at every boot; else as it is, for the guest to unpack.
    private static func moduleImage(_ path: String) throws -> (name: String, data: [UInt8]) {
        let name = URL(fileURLWithPath: path).lastPathComponent
        if let (suffix, tool) = decompressors.first(where: { name.hasSuffix($0.key) }), findExecutable(tool) != nil,
           let data = try? runCommandOutput([tool, "-dc", path]) {
            return (String(name.dropLast(suffix.count)), data)
        }
        return (name, try readBytes(path))
    }

    private static func readBytes(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw GuestError("\(path): cannot read") }
        return [UInt8](data)
    }

    /// busybox on PATH when it is statically linked (no PT_INTERP program header): the
    /// initramfs has no C library.
    static var staticBusybox: String? {
        guard let path = findExecutable("busybox"), let data = FileManager.default.contents(atPath: path),
              data.count > 64, data.starts(with: [0x7F, 0x45, 0x4C, 0x46]) else { return nil }
        func integer(_ offset: Int, _ size: Int) -> Int {
            (0..<size).reduce(0) { $0 | Int(data[data.startIndex + offset + $1]) << (8 * $1) }
        }
        let headersAt = integer(0x20, 8), headerSize = integer(0x36, 2), headers = integer(0x38, 2)
        let interpreted = (0..<headers).contains { integer(headersAt + $0 * headerSize, 4) == 3 }
        return interpreted ? nil : path
    }
}

/// Hands out kernel indexes to the worker threads and collects their runs.
private final class GuestQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var runs: [GuestRun?]

    init(count: Int) { runs = Array(repeating: nil, count: count) }

    func take() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard next < runs.count else { return nil }
        next += 1
        return next - 1
    }

    func put(_ run: GuestRun, at index: Int) {
        lock.lock(); defer { lock.unlock() }
        runs[index] = run
    }

    private var starts: [Int: (name: String, output: String, at: Date)] = [:]

    func started(_ index: Int, name: String, output: String) {
        lock.lock(); defer { lock.unlock() }
        starts[index] = (name, output, Date())
    }

    /// Every started guest, in order, with what its output share says of its progress.
    func statuses() -> [GuestStatus] {
        lock.lock(); defer { lock.unlock() }
        return starts.keys.sorted().map { index in
            let start = starts[index]!
            let finished = runs[index] != nil
            return GuestStatus(name: start.name, progress: finished ? nil : GuestProgress.read(output: start.output),
                               elapsed: finished ? runs[index]!.record.wallSeconds : Date().timeIntervalSince(start.at), finished: finished)
        }
    }

    var results: [GuestRun] {
        lock.lock(); defer { lock.unlock() }
        return runs.map { $0! }
    }
}

extension CaseRecord {
    static let guestRecordPrefix = "vm/"

    /// The record of a guest that brought no cases back (`vm/RELEASE`, `vm/RELEASE/shard-K-of-N`
    /// for one of a split run's guests): its cases never ran.
    public var isGuestRecord: Bool { id.hasPrefix(Self.guestRecordPrefix) }
}

extension RunReport {
    /// One report for a kernel matrix: every guest's cases, and a BROKEN case for each guest that
    /// did not bring a report back (boot failure, panic, hang), with its last console line.
    public init(merging runs: [GuestRun], startedAt: Date, seed: UInt64?, iterations: Int?) {
        var cases: [CaseRecord] = [], releases: [String] = []
        for release in runs.map(\.record.release) where !releases.contains(release) { releases.append(release) }
        for release in releases {
            let guests = runs.filter { $0.record.release == release }
            cases += Self.inRunOrder(guests.flatMap { $0.report?.cases ?? [] })
            cases += guests.compactMap { Self.brokenRecord($0, seed: seed) }
        }
        self.init(startedAt: ISO8601DateFormatter().string(from: startedAt), hostKernel: Kernel.release,
                  seed: seed ?? runs.compactMap(\.report?.seed).first ?? 0,
                  iterations: iterations ?? runs.compactMap(\.report?.iterations).first ?? 0,
                  complete: runs.allSatisfy { $0.report?.complete ?? false },
                  durationSeconds: Date().timeIntervalSince(startedAt), cases: cases, guests: runs.map(\.record))
    }

    /// A kernel's cases in the order one whole run gives them, when shards of it ran in several
    /// guests: filesystem by filesystem, scenario by scenario (each as first met), the shards'
    /// cases in turn within. A kernel run whole keeps its order.
    private static func inRunOrder(_ cases: [CaseRecord]) -> [CaseRecord] {
        var filesystems: [String: Int] = [:], scenarios: [String: Int] = [:]
        for record in cases {
            if filesystems[TextReport.filesystemLabel(record.filesystem)] == nil { filesystems[TextReport.filesystemLabel(record.filesystem)] = filesystems.count }
            if scenarios[record.scenario] == nil { scenarios[record.scenario] = scenarios.count }
        }
        func key(_ item: (offset: Int, element: CaseRecord)) -> [Int] {
            [filesystems[TextReport.filesystemLabel(item.element.filesystem)]!, scenarios[item.element.scenario]!, item.offset]
        }
        return cases.enumerated().sorted { key($0).lexicographicallyPrecedes(key($1)) }.map(\.element)
    }

    /// The BROKEN case of a guest that brought no report back.
    private static func brokenRecord(_ run: GuestRun, seed: UInt64?) -> CaseRecord? {
        guard let reason = brokenReason(run) else { return nil }
        let shard = run.record.part.map { "/shard-" + $0.replacingOccurrences(of: "/", with: "-of-") } ?? ""
        var record = CaseRecord(id: CaseRecord.guestRecordPrefix + run.record.release + shard, kernel: run.record.release,
                                filesystem: FilesystemRecord(type: "-", origin: "vm", location: nil, mkfsOptions: [], mountOptions: []),
                                scenario: "vm", seed: seed ?? 0, iterations: 0, verdict: .broken, reason: reason,
                                failures: 0, outcomes: [:], failureDetails: [], durationSeconds: run.record.wallSeconds)
        record.operationLog = run.lastCaseLog
        return record
    }

    private static func brokenReason(_ run: GuestRun) -> String? {
        let record = run.record
        let running = record.lastCase.map { " while running \($0)" } ?? ""
        let last = record.consoleTail.last.map { ": \($0)" } ?? ""
        switch record.outcome {
        case .completed where run.report == nil:
            return "dio-torture exited \(record.status.map(String.init) ?? "?") in the guest without a report" + running
                + (run.output.split(separator: "\n").last.map { ": \($0)" } ?? "")
        case .completed: return nil
        case .panicked: return "guest kernel panicked" + running + (record.consoleTail.first { $0.contains("Kernel panic") }.map { ": \($0)" } ?? last)
        case .timedOut: return "guest still running after the timeout, killed after \(Int(record.wallSeconds)) s" + running + last
        case .died: return "guest ended before dio-torture finished" + running + last
        }
    }
}
