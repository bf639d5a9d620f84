import DIOSystem
import Foundation

/// Where to run: a directory the user mounted, or a filesystem dio-torture makes.
public enum TargetSpec: Sendable, Hashable, CustomStringConvertible {
    case directory(String)
    case scratch(ScratchOptions)

    public var description: String {
        switch self {
        case .directory(let path): path
        case .scratch(let options): options.kind.name
        }
    }
}

public struct RunPlan: Sendable {
    public var targets: [TargetSpec]
    public var scenarios: [any Scenario]
    public var selection: Selection
    public var options: RunOptions
    /// A whole block device that every disk-backed scratch filesystem is made on in turn,
    /// instead of loop devices (a test VM's virtio disk). Overwritten.
    public var scratchDevice: String?
    /// The part of the plan to run: N runs of one plan, shards 1/N to N/N, run it whole between
    /// them (`dio-torture vm` splits a kernel's run over its guests so).
    public var shard: Shard

    public init(targets: [TargetSpec], scenarios: [any Scenario], selection: Selection, options: RunOptions,
                scratchDevice: String? = nil, shard: Shard = .whole) {
        self.targets = targets
        self.scenarios = scenarios
        self.selection = selection
        self.options = options
        self.scratchDevice = scratchDevice
        self.shard = shard
    }

    public var cases: [CaseSpec] { scenarios.flatMap { $0.cases(selection) } }

    /// The kernel modules its targets and scenarios need, each once, in the order first needed.
    public var kernelModules: [String] {
        let kinds = targets.compactMap { if case .scratch(let options) = $0 { options.kind } else { nil } }
        return (kinds.flatMap(\.maker.kernelModules) + scenarios.flatMap(\.kernelModules)).uniqued()
    }

    /// What every kind and scenario needs: the modules of a plan that could be anything.
    public static var everyKernelModule: [String] {
        (ScratchKind.all.flatMap(\.maker.kernelModules) + catalogue.flatMap(\.kernelModules)).uniqued()
    }

    /// Every case on every target; of a shard, the ones `ShardDealer` deals it, the plan's units
    /// (target by target, case by case) each going to the shard with the least weight so far. A
    /// target none of whose cases are the shard's is not made.
    public var batches: [RunBatch] {
        let cases = self.cases
        guard shard.count > 1 else { return targets.map { RunBatch(target: $0, cases: cases, options: options) } }
        var dealer = ShardDealer(count: shard.count)
        return targets.compactMap { target in
            let mine = cases.filter { dealer.deal($0) == shard.index - 1 }
            return mine.isEmpty ? nil : RunBatch(target: target, cases: mine, options: options)
        }
    }
}

/// Cases that run on one target, made once for them.
public struct RunBatch: Sendable {
    public var target: TargetSpec
    public var cases: [CaseSpec]
    public var options: RunOptions

    public init(target: TargetSpec, cases: [CaseSpec], options: RunOptions) {
        self.target = target
        self.cases = cases
        self.options = options
    }

    /// Its cases may be cut over several filesystems of its kind made at once: a scratch target
    /// this machine can make (a directory the user gave is one filesystem, used by one thread).
    var divisible: Bool {
        if case .scratch(let options) = target { options.kind.unavailableReason == nil } else { false }
    }

    /// The batch as `count` batches of consecutive cases, in order, each made on a target of its
    /// own; as it is when it cannot be cut.
    func parts(_ count: Int) -> [RunBatch] {
        guard divisible else { return [self] }
        return Self.ranges(cutting: cases.count, into: count).map { RunBatch(target: target, cases: Array(cases[$0]), options: options) }
    }

    /// Its cases' expected cost (`UnitWeight`).
    var weight: Int { cases.reduce(0) { $0 + UnitWeight.of($1) } }

    /// `total` items cut into at most `count` consecutive ranges, the first ones one longer.
    static func ranges(cutting total: Int, into count: Int) -> [Range<Int>] {
        let count = max(1, min(count, total))
        return (0..<count).map { index in
            (index * total / count)..<((index + 1) * total / count)
        }
    }
}

/// The run's counts and records as its targets' threads hand them in, and its progress line:
/// one at a time, under a lock.
final class RunTally: @unchecked Sendable {
    private let lock = NSLock()
    private let total: Int
    private let progress: (Progress) -> Void
    private var done = 0
    private var failures = 0
    private var next = 0
    private let order: [Int]
    private var perBatch: [[CaseRecord]]

    /// `order`: the batches' indices in the order the threads take them.
    init(total: Int, order: [Int], progress: @escaping (Progress) -> Void) {
        self.total = total
        self.progress = progress
        self.order = order
        perBatch = Array(repeating: [], count: order.count)
    }

    var interrupted: Bool { InterruptCleanup.interruptingSignal != nil }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    func nextBatch() -> Int? {
        locked {
            guard next < order.count else { return nil }
            next += 1
            return order[next - 1]
        }
    }

    func starting(_ current: String) { locked { progress(Progress(done: done, total: total, failures: failures, current: current)) } }

    func ended(_ record: CaseRecord, next current: String) {
        locked {
            if record.verdict.isFailure { failures += 1 }
            done += 1
            progress(Progress(done: done, total: total, failures: failures, current: current))
        }
    }

    func skipped(_ cases: Int) { locked { done += cases } }

    func keep(_ records: [CaseRecord], of batch: Int) { locked { perBatch[batch] = records } }

    func finished() { locked { progress(Progress(done: total, total: total, failures: failures, current: "")) } }

    /// Every batch's records, in the batches' order.
    var records: [CaseRecord] { locked { perBatch.flatMap { $0 } } }
}

/// Progress reported while the run goes on, for a progress line.
public struct Progress: Sendable {
    public var done: Int
    public var total: Int
    public var failures: Int
    public var current: String
}

public enum Runner {
    public static func run(_ plan: RunPlan, isolation: CaseIsolation = .inProcess, jobs: Int = 1,
                           progress: @escaping (Progress) -> Void = { _ in }) -> RunReport {
        run(plan.batches, scratchDevice: plan.scratchDevice, isolation: isolation, jobs: jobs, progress: progress)
    }

    /// Runs each batch's cases on its target; up to `jobs` targets are made and used at once,
    /// each removed when its cases are done, a batch cut into parts when there are few
    /// (`partsPerBatch`), the costliest taken first (`takingOrder`). The kernel log and taint
    /// are watched around every case. Several at once needs case processes (each case's own
    /// phases and log) and no scratch device (`concurrentTargets`). After a SIGINT/SIGTERM (see
    /// `InterruptCleanup.stopGracefully`) no case starts and the report is marked incomplete.
    public static func run(_ batches: [RunBatch], scratchDevice: String?, isolation: CaseIsolation, jobs: Int = 1,
                           progress: @escaping (Progress) -> Void = { _ in }) -> RunReport {
        let started = Date()
        _ = PhaseClock.take()
        let kernel = Kernel.release
        let threads = concurrentTargets(jobs: jobs, scratchDevice: scratchDevice, isolation: isolation)
        let cut = batches.count
        let batches = batches.flatMap { $0.parts(partsPerBatch(batches: cut, threads: threads)) }
        let tally = RunTally(total: batches.reduce(0) { $0 + $1.cases.count },
                             order: takingOrder(weights: batches.map(\.weight), threads: threads), progress: progress)
        // Loop images and the run's cache; not root, there is neither.
        let images = try? ImageStore()
        let cache = try? images?.newDirectory("cache")
        let concurrent = min(threads, max(1, batches.count))
        let logUnavailable = KernelWatch().logUnavailableReason
        onThreads(concurrent) {
            while let index = tally.nextBatch(), !tally.interrupted {
                let batch = batches[index]
                tally.keep(runBatch(batch, kernel: kernel, device: scratchDevice, images: images, cache: cache, isolation: isolation,
                                    concurrent: concurrent > 1, tally: tally), of: index)
            }
        }
        tally.finished()
        // The parts of a target that could not be made failed alike: one record says so.
        var setups = Set<String>()
        let records = tally.records.filter { $0.scenario != "setup" || setups.insert($0.id).inserted }
        var report = RunReport(startedAt: ISO8601DateFormatter().string(from: started), hostKernel: kernel,
                               seed: batches.first?.options.seed ?? 0, iterations: batches.first?.options.iterations ?? 0,
                               complete: !tally.interrupted, durationSeconds: Date().timeIntervalSince(started), cases: records,
                               kernelLogUnavailable: logUnavailable)
        let runnerPhases = PhaseClock.take()
        if batches.first?.options.profile == true { report.addProfile(runnerPhases: runnerPhases) }
        return report
    }

    /// Runs `body` on `count` threads of its own at once and returns when all have ended.
    /// Not `DispatchQueue.concurrentPerform`: it runs no more at once than there are CPUs, and
    /// a target's thread mostly waits on its case process.
    static func onThreads(_ count: Int, _ body: @escaping @Sendable () -> Void) {
        // One runs here: in-process cases keep the main thread's larger stack.
        if count == 1 { return body() }
        let group = DispatchGroup()
        for _ in 0..<count {
            group.enter()
            Thread.detachNewThread { body(); group.leave() }
        }
        group.wait()
    }

    /// Targets run at once by default: two per CPU. A case process waits on its device (loop
    /// round trips, cold page faults, userfaultfd delays) for a quarter to a third of its time,
    /// so one per CPU left as much of the CPUs idle; two keep them busy, and more only add
    /// contention and parts.
    public static var defaultJobs: Int { 2 * ProcessInfo.processInfo.activeProcessorCount }

    /// Targets made and used at once for `jobs`: several need case processes and no scratch
    /// device (there is one).
    public static func concurrentTargets(jobs: Int, scratchDevice: String?, isolation: CaseIsolation) -> Int {
        scratchDevice == nil && isolation.usesProcesses ? max(1, jobs) : 1
    }

    /// Parts each scratch batch is cut into (`RunBatch.parts`) so that every thread has at least
    /// four to take: with a few long targets, threads that end apart leave CPUs idle (the quick
    /// suite's four took 7, 6, 5 and 2 s on two threads), and a part waiting on I/O or on
    /// userfaultfd delays leaves room for another. One thread takes each batch whole.
    public static func partsPerBatch(batches: Int, threads: Int) -> Int {
        threads > 1 ? max(1, (4 * threads + batches - 1) / max(1, batches)) : 1
    }

    /// The order `threads` take batches of these weights in: the costliest first, so that the
    /// last to start are short and no thread idles long while another ends a long one (the
    /// quick suite's parts in the catalogue's order left one CPU idle for its last second and a
    /// half). Ties, and one thread, keep the batches' order; the records keep it always.
    static func takingOrder(weights: [Int], threads: Int) -> [Int] {
        guard threads > 1 else { return Array(weights.indices) }
        return weights.indices.sorted { (weights[$0], $1) > (weights[$1], $0) }
    }

    /// Makes the batch's target, runs its cases there and removes it: the batch's records.
    private static func runBatch(_ batch: RunBatch, kernel: String, device: String?, images: ImageStore?, cache: String?,
                                 isolation: CaseIsolation, concurrent: Bool, tally: RunTally) -> [CaseRecord] {
        var records: [CaseRecord] = []
        do {
            let (area, filesystem) = try PhaseClock.measure(.target) {
                try prepare(batch.target, kernel: kernel, device: device, images: images)
            }
            defer { withExtendedLifetime(filesystem) {} }
            let directory = try ScratchDirectory(in: area.directory)
            defer { directory.remove() }
            var inner = area.within(directory)
            inner.cacheDirectory = cache
            inner.concurrentTargets = concurrent
            tally.starting(batch.cases.first.map { "\(batch.target) \($0.id)" } ?? "")
            runCases(of: batch, in: inner, isolation: isolation, watch: KernelWatch(), interrupted: { tally.interrupted }) { record, next in
                records.append(record)
                tally.ended(record, next: next.map { "\(batch.target) \($0.id)" } ?? "")
            }
        } catch {
            tally.skipped(batch.cases.count)
            let unavailable = (error as? TargetError) != nil
            records.append(setupRecord(batch.target, kernel: kernel, verdict: unavailable ? .skip : .broken, reason: "\(error)",
                                       seed: batch.options.seed))
        }
        return records
    }

    /// Runs a batch's cases in `area` and hands each record to `each` with the case that comes
    /// next. Process isolation runs them in child processes, several per child; a case that left
    /// its process stuck in the kernel for good ends the batch, the rest recorded as not run.
    private static func runCases(of batch: RunBatch, in area: WorkArea, isolation: CaseIsolation, watch: KernelWatch,
                                 interrupted: () -> Bool, each: (CaseRecord, CaseSpec?) -> Void) {
        var ended = 0
        func next() -> CaseSpec? { ended < batch.cases.count ? batch.cases[ended] : nil }
        switch isolation {
        case .inProcess:
            LayoutsAhead.expecting(batch.cases, in: area, options: batch.options) {
                for spec in batch.cases where !interrupted() {
                    let record = watch.run(spec, in: area, options: batch.options)
                    ended += 1
                    each(record, next())
                }
            }
        case .childProcess(let executable, let deadline):
            let jobs = batch.cases.map { CaseJob(spec: $0, area: area, options: batch.options, parent: ThisProcess.id) }
            var unrecoverable = false
            CaseProcess.run(jobs, executable: executable, deadline: deadline, watch: watch, interrupted: interrupted) { result in
                ended += 1
                unrecoverable = result.unrecoverable
                each(result.record, next())
            }
            guard unrecoverable else { return }
            for spec in batch.cases[ended...] {
                ended += 1
                each(notRun(spec, area: area, options: batch.options, reason: "not run: an earlier case left \(batch.target) stuck in the kernel"),
                     next())
            }
        }
    }

    /// Space a directory target must have free: the largest file any case writes, with room.
    static let minimumFreeBytes = 64 << 20

    private static func prepare(_ target: TargetSpec, kernel: String, device: String?,
                                images: ImageStore?) throws -> (WorkArea, ScratchFilesystem?) {
        switch target {
        case .directory(let path):
            // Say it once, before any case runs, rather than once per case as each write fails.
            if let free = try? availableBytes(at: path), free < minimumFreeBytes {
                throw TargetError("\(path): \(free >> 20) MiB free; the catalogue needs at least \(minimumFreeBytes >> 20) MiB")
            }
            let record = FilesystemRecord(type: filesystemType(of: path), origin: "directory", location: path,
                                          mkfsOptions: [], mountOptions: [])
            return (WorkArea(directory: path, filesystem: record, kernel: kernel), nil)
        case .scratch(let options):
            if let reason = options.kind.unavailableReason { throw TargetError(reason) }
            let filesystem = try ScratchFilesystem(options, images: images, device: device)
            return (WorkArea(directory: filesystem.root, filesystem: filesystem.record, kernel: kernel, backingDirectory: filesystem.backingRoot,
                             nfsStatistics: filesystem.nfs?.statistics), filesystem)
        }
    }

    private static func notRun(_ spec: CaseSpec, area: WorkArea, options: RunOptions, reason: String) -> CaseRecord {
        CaseRecord(spec, area: area, options: options, iterations: 0, verdict: .skip, reason: reason)
    }

    private static func setupRecord(_ target: TargetSpec, kernel: String, verdict: Verdict, reason: String, seed: UInt64) -> CaseRecord {
        let filesystem: FilesystemRecord = switch target {
        case .directory(let path): FilesystemRecord(type: filesystemType(of: path), origin: "directory", location: path, mkfsOptions: [], mountOptions: [])
        case .scratch(let options): FilesystemRecord(type: options.kind.name, origin: "scratch", location: nil,
                                                     mkfsOptions: options.mkfsOptions, mountOptions: options.mountOptions)
        }
        return CaseRecord(id: "setup/\(target)", kernel: kernel, filesystem: filesystem, scenario: "setup", seed: seed,
                          iterations: 0, verdict: verdict, reason: reason, failures: 0, outcomes: [:], failureDetails: [],
                          durationSeconds: 0)
    }
}

extension RunReport {
    /// 0 all passed (SKIP, INCONCLUSIVE and KNOWN allowed), 1 a FAIL, HANG, TAINTED or a BROKEN
    /// harness, 3 nothing ran.
    public var exitCode: Int32 {
        let counts = self.counts
        if counts.contains(where: { $0.key.isFailure && $0.value > 0 }) { return 1 }
        if counts[.pass, default: 0] + counts[.inconclusive, default: 0] + counts[.known, default: 0] == 0 { return 3 }
        return 0
    }
}
