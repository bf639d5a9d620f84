import Foundation
import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

/// The repository's configs directory.
let configsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("configs").path

/// Writes `text` to a fresh file in a fresh directory and returns its path.
func scratchFile(_ name: String, _ contents: Data) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("diot-sweep-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent(name).path
    try contents.write(to: URL(fileURLWithPath: path))
    return path
}

@Suite struct SweepFileTests {
    /// Each malformed file, and the line its one-line error must name.
    static let malformed: [(name: String, text: String, line: Int, mentions: String)] = [
        ("unknown-key", "filesystems: [btrfs]\niterations: 5\nitertions: 5\n", 3, "valid keys: name, description, iterations"),
        ("nested-unknown-key", "filesystems:\n  - btrfs\n  - type: xfs\n    mkfs-options: \"-b size=1024\"\n", 4, "valid keys: type, mkfs, mount"),
        ("wrong-type", "filesystems: [ext4]\niterations: many\n", 2, "whole number"),
        ("list-for-scalar", "filesystems: [ext4]\ntimeout: [1, 2]\n", 2, "whole number"),
        ("bad-filesystem", "filesystems:\n  - btrfs\n  - zfs\n", 3, "choose from btrfs, xfs, ext4, tmpfs"),
        ("bad-pattern", "filesystems: [btrfs]\npatterns: [first-page-only, first-page]\n", 2, "unknown fault pattern 'first-page'"),
        ("bad-path", "filesystems: [btrfs]\npaths:\n  - uring-read+sqpoll\n", 3, "unknown I/O path"),
        ("bad-scenario", "filesystems: [btrfs]\n\nscenarios: [nowait]\n", 3, "choose from nowait-partial-fault"),
        ("bad-size", "filesystems: [btrfs]\nextents:\n  sizes: [4K, 3X]\n", 3, "size"),
        ("unaligned-read", "filesystems: [btrfs]\nread-sizes: [whole, 1000]\n", 2, "multiple of 512"),
        ("zero-queue-depth", "filesystems: [btrfs]\nqueue-depths:\n  - 8\n  - 0\n", 4, "a queue depth must be a whole number"),
        ("deep-queue-depth", "filesystems: [btrfs]\nqueue-depths: [1, 4096]\n", 2, "a queue depth is at most 256"),
        ("bad-exclude-key", "filesystems: [btrfs]\nexclude:\n  - {fs: tmpfs}\n", 3, "valid keys: kernel, filesystem"),
        ("missing-filesystems", "iterations: 3\n", 1, "'filesystems' is required"),
        ("empty", "", 1, "empty sweep file"),
        ("comments-only", "# nothing here\n", 1, "empty sweep file"),
        ("syntax", "filesystems: [btrfs\niterations: 3\n", 2, "invalid YAML"),
        ("duplicate-key", "filesystems: [btrfs]\niterations: 3\niterations: 4\n", 2, "duplicated key iterations"),
        ("not-a-mapping", "- btrfs\n- xfs\n", 1, "must be a mapping"),
    ]

    @Test func everyMalformedFileIsOneLineWithItsLineNumberAndExit2() throws {
        var cases = Self.malformed.map { ($0.name, Data($0.text.utf8), $0.line, $0.mentions) }
        var junk = Data("filesystems: [btrfs]\n".utf8)
        junk.append(contentsOf: (0..<256).map { UInt8(($0 * 73 + 11) & 0xFF) })
        cases.append(("binary-junk", junk, 2, "not YAML text"))
        cases.append(("invalid-utf8", Data([0x66, 0x73, 0x3A, 0x20, 0xC3, 0x28, 0x0A]), 1, "not YAML text"))
        for (name, contents, line, mentions) in cases {
            let path = try scratchFile(name + ".yaml", contents)
            defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) }
            let result = try runTool(["sweep", path, "--list"])
            let lines = result.stderr.split(separator: "\n")
            #expect(result.status == 2, "\(name): exit \(result.status), \(result.stderr)")
            #expect(lines.count == 1, "\(name): \(result.stderr)")
            #expect(result.stderr.hasPrefix("dio-torture: \(path):\(line): "), "\(name): \(result.stderr)")
            #expect(result.stderr.contains(mentions), "\(name): \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test func theShippedConfigsDecode() throws {
        for name in ["quick", "mariadb-btrfs", "lab-sweep", "kernel-gate"] {
            let sweep = try SweepFile(contentsOf: "\(configsDirectory)/\(name).yaml")
            #expect(sweep.name == name)
        }
        let quick = try SweepFile(contentsOf: "\(configsDirectory)/quick.yaml")
        let plan = RunPlan(targets: ScratchKind.defaults.map { .scratch(ScratchOptions(kind: $0)) }, scenarios: catalogue,
                           selection: Selection(), options: RunOptions(iterations: 20, seed: 1))
        #expect(quick.units(kernelReleases: []).units.map(\.spec.id) == plan.batches.flatMap(\.cases).map(\.id),
                "quick.yaml is what `run` does by default")
        let mariadb = try SweepFile(contentsOf: "\(configsDirectory)/mariadb-btrfs.yaml").units(kernelReleases: []).units
        #expect(mariadb.map(\.spec.id) == ["nowait-partial-fault/4x4K-reverse/first-page-only/uring-readv",
                                           "nowait-partial-fault/4x4K-reverse/first-page-only/uring-read"])
        let gate = try SweepFile(contentsOf: "\(configsDirectory)/kernel-gate.yaml")
        #expect(gate.kernels.map { URL(fileURLWithPath: $0.image).lastPathComponent } == ["bzImage-btrfs-nowait-fixed", "bzImage-btrfs-nowait-bug"])
    }

    /// A run's shards (what `vm` gives a kernel's guests) are disjoint, hold every target and case
    /// pair of the whole run between them, and are within 5% of each other in expected cost.
    @Test func aRunsShardsPartitionItsPlanEvenly() {
        var plan = RunPlan(targets: ScratchKind.defaults.map { .scratch(ScratchOptions(kind: $0)) }, scenarios: catalogue,
                           selection: Selection(), options: RunOptions(iterations: 20, seed: 1))
        func units(_ batches: [RunBatch]) -> [String] { batches.flatMap { batch in batch.cases.map { "\(batch.target) \($0.id)" } } }
        let whole = units(plan.batches)
        for count in [2, 3] {
            let shards = (1...count).map { index in
                plan.shard = Shard(index: index, count: count)
                return plan.batches
            }
            #expect(shards.reduce(0) { $0 + units($1).count } == whole.count)
            #expect(Set(shards.flatMap(units)) == Set(whole))
            let weights = shards.map { $0.reduce(0) { $0 + $1.weight } }
            #expect(Double(weights.max()!) / Double(weights.min()!) < 1.05, "\(count) shards: \(weights)")
        }
        // A shard that deals a target none of its cases makes no filesystem for it.
        plan.scenarios = [scenario(named: "ops")!]
        plan.shard = Shard(index: 2, count: 4)
        #expect(plan.batches.map(\.target.description) == ["xfs"])
    }

    /// Four shards of the lab sweep are disjoint, cover the whole matrix, and differ in expected
    /// cost by at most the costliest unit; exclude rules really prune.
    @Test func labSweepShardsPartitionTheMatrix() throws {
        let sweep = try SweepFile(contentsOf: "\(configsDirectory)/lab-sweep.yaml")
        func key(_ unit: SweepUnit) -> String { "\(unit.filesystem)|\(unit.seed)|\(unit.spec.id)" }
        let (matrix, total) = sweep.units(kernelReleases: [])
        let whole = matrix.map(key)
        #expect(total == whole.count)
        #expect(Set(whole).count == whole.count, "unit keys are unique")
        let dealt = (1...4).map { sweep.units(kernelReleases: [], shard: Shard(index: $0, count: 4)).units }
        let shards = dealt.map { $0.map(key) }
        #expect(shards.reduce(0) { $0 + $1.count } == whole.count)
        #expect(Set(shards.flatMap { $0 }) == Set(whole))
        let costs = dealt.map { $0.reduce(0) { $0 + UnitWeight.of($1.spec) } }
        #expect(costs.max()! - costs.min()! <= matrix.map { UnitWeight.of($0.spec) }.max()!, "\(costs)")
        var unpruned = sweep
        unpruned.exclude = []
        let all = unpruned.units(kernelReleases: []).units
        #expect(all.count > whole.count)
        #expect(!matrix.contains { $0.spec.path?.method == .uringReadFixed && $0.spec.pattern != .allResident })
        #expect(all.contains { $0.spec.path?.method == .uringReadFixed && $0.spec.pattern != .allResident })
        // The CLI lists the same shard.
        let listed = try runTool(["sweep", "\(configsDirectory)/lab-sweep.yaml", "--shard", "3/4", "--list"])
        #expect(listed.status == 0)
        #expect(listed.stdout.split(separator: "\n").count == shards[2].count)
    }

    /// Dealing by cost evens out what dealing every N-th unit cannot: the matrix's period kept
    /// the costliest patterns on a few shards of eight.
    @Test func dealingByCostEvensTheShardsOut() throws {
        let sweep = try SweepFile(contentsOf: "\(configsDirectory)/lab-sweep.yaml")
        let matrix = sweep.units(kernelReleases: []).units
        var dealer = ShardDealer(count: 8)
        var dealtCost = [Int](repeating: 0, count: 8), everyEighthCost = [Int](repeating: 0, count: 8)
        for (position, unit) in matrix.enumerated() {
            let weight = UnitWeight.of(unit.spec)
            dealtCost[dealer.deal(unit.spec)] += weight
            everyEighthCost[position % 8] += weight
        }
        func spread(_ costs: [Int]) -> Double { Double(costs.max()! - costs.min()!) / Double(costs.reduce(0, +) / costs.count) }
        #expect(spread(dealtCost) < 0.001 && spread(everyEighthCost) > 0.1, "dealt \(spread(dealtCost)), every 8th \(spread(everyEighthCost))")
    }

    /// `--jobs` targets really run at once, more than there are CPUs: each body waits until all
    /// have started, which `DispatchQueue.concurrentPerform` (no more at once than CPUs) never let
    /// happen. The timeout only ends a failing wait.
    @Test func moreTargetsThanCPUsRunAtOnce() {
        let count = 2 * ProcessInfo.processInfo.activeProcessorCount + 1
        let gate = StartingGate(expected: count)
        Runner.onThreads(count) { gate.arriveAndWait(timeout: 20) }
        #expect(gate.arrived == count && gate.allMet)
    }

    /// The runner's schedule: batches in its order, each to the first thread free.
    @Test func theProjectionSchedulesBatchesAsTheRunnerDoes() {
        #expect(SweepEstimate.wallSeconds(of: [4, 1, 1, 1, 1], threads: 2) == 4)
        #expect(SweepEstimate.wallSeconds(of: [1, 1, 4], threads: 2) == 5)
        #expect(SweepEstimate.wallSeconds(of: [3, 3], threads: 1) == 6)
        // Threads take the costliest batches first; one thread takes them in order.
        #expect(Runner.takingOrder(weights: [1, 4, 1, 4], threads: 2) == [1, 3, 0, 2])
        #expect(Runner.takingOrder(weights: [1, 4], threads: 1) == [0, 1])
        func costs(_ seconds: [Double]) -> [SweepEstimate.CaseCost] { seconds.map { .init(seconds: $0, weight: Int($0 * 1e6)) } }
        #expect(SweepEstimate.wallSeconds(of: [costs([1]), costs([1]), costs([4])], perUnit: 0, setup: 0, threads: 2) == 4)
        // Few batches for the threads are cut into parts, as the runner cuts them.
        #expect(Runner.partsPerBatch(batches: 4, threads: 2) == 2 && Runner.partsPerBatch(batches: 24, threads: 2) == 1)
        #expect(Runner.partsPerBatch(batches: 1, threads: 1) == 1)
        #expect(RunBatch.ranges(cutting: 5, into: 2) == [0..<2, 2..<5] && RunBatch.ranges(cutting: 1, into: 4) == [0..<1])
        #expect(SweepEstimate.wallSeconds(of: [costs([1, 1, 1, 1])], perUnit: 0, setup: 0.5, threads: 2) == 3)
        // The overhead that makes the schedule last as long as it did, the idle tail left out.
        let batches = (0..<8).map { costs([Double](repeating: $0 == 0 ? 0.4 : 0.1, count: 10)) }
        let wall = SweepEstimate.wallSeconds(of: batches, perUnit: 0.1, setup: 0.05, threads: 2)
        let overhead = SweepEstimate.overhead(of: batches, setup: 0.05, wall: wall, threads: 2)
        #expect(abs(overhead - 0.1) < 1e-6, "\(overhead)")
    }

    /// The sample takes every class in turn, so a rare costly one is measured as often as the rest.
    @Test func theSampleDrawsEveryClassInTurn() throws {
        let sweep = try SweepFile(contentsOf: "\(configsDirectory)/lab-sweep.yaml")
        let units = sweep.units(kernelReleases: []).units
        let kinds = sweep.filesystems.map(\.kind.name)
        func key(_ unit: SweepUnit) -> String { CostModel.key(unit.spec, filesystem: kinds[unit.filesystem]) }
        let classes = Set(units.map(key))
        let sample = SweepEstimate.sampled(units, size: 3 * classes.count, key: key)
        let perClass = Dictionary(grouping: sample, by: key).mapValues(\.count)
        #expect(perClass.count == classes.count && perClass.values.allSatisfy { $0 == 3 }, "\(perClass)")
        #expect(Set(sample.map { "\($0.filesystem)|\($0.seed)|\($0.spec.id)" }).count == sample.count, "drawn without replacement")
    }
}

extension OnTheRealKernel {
    @Suite struct SweepRunTests {
        static let smallSweep = """
            name: small
            iterations: 3
            seeds: [1, 2]
            filesystems: [btrfs, {type: ext4, mkfs: "-b 1024"}]
            scenarios: [fault-patterns]
            patterns: [first-page-only, all-resident]
            paths: [uring-read, pread]
            exclude:
              - {filesystem: "ext4*", path: pread, pattern: all-resident}
            """

        /// Four shards run separately and merged hold exactly the cases of the unsharded run.
        @Test(.enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
        func fourShardsMergeIntoTheUnshardedMatrix() throws {
            try #require(missingTools([.btrfs, .ext4]) == nil, Comment(rawValue: missingTools([.btrfs, .ext4]) ?? ""))
            let file = try scratchFile("small.yaml", Data(Self.smallSweep.utf8))
            let directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let loopsBefore = attachedLoopDevices()
            for shard in 1...4 {
                let result = try runTool(["sweep", file, "--shard", "\(shard)/4", "--out", directory + "/shards", "--no-color"])
                #expect(result.status == 0, "shard \(shard): \(result.stderr)")
            }
            let whole = try runTool(["sweep", file, "--json", directory + "/whole.json", "--no-color"])
            #expect(whole.status == 0, "\(whole.stderr)")
            let merged = try runTool(["merge", directory + "/shards", "--json", directory + "/merged.json", "--html", directory + "/merged.html", "--no-color"])
            #expect(merged.status == 0, "\(merged.stderr)")

            func keys(_ path: String) throws -> [String] {
                try RunReport.decode(Data(contentsOf: URL(fileURLWithPath: path))).cases
                    .map { "\(TextReport.filesystemLabel($0.filesystem))|\($0.id)" }.sorted()
            }
            let wholeKeys = try keys(directory + "/whole.json")
            #expect(wholeKeys.count == 2 * 2 * 2 * 2 - 2, "2 filesystems x 2 seeds x 2 patterns x 2 paths, less the excluded")
            #expect(try keys(directory + "/merged.json") == wholeKeys)
            let report = try RunReport.decode(Data(contentsOf: URL(fileURLWithPath: directory + "/merged.json")))
            #expect(report.complete && report.sweep?.units == wholeKeys.count && report.sweep?.totalUnits == wholeKeys.count)
            #expect(report.cases.allSatisfy { $0.verdict == .pass || $0.verdict == .inconclusive }, "\(report.cases.map(\.verdict))")
            #expect(try String(contentsOfFile: directory + "/merged.html", encoding: .utf8).contains("<h2>fault-patterns</h2>"))

            // A missing shard leaves the merge incomplete; a shard of another sweep is refused.
            try FileManager.default.removeItem(atPath: directory + "/shards/small-shard-2-of-4.json")
            let partial = try runTool(["merge", directory + "/shards", "--no-color"])
            #expect(partial.status == 1 && partial.stderr.contains("shard(s) 2 of"), "\(partial.stderr)")
            let mixed = try runTool(["merge", directory + "/shards", directory + "/whole.json"])
            #expect(mixed.status == 2 && mixed.stderr.split(separator: "\n").count == 1, "\(mixed.stderr)")
            #expect(settles { attachedLoopDevices().isSubset(of: loopsBefore) })
            #expect(ourMounts().isEmpty)
        }

        /// A buffer whose userfault nobody resolves hangs its read forever: the case process is
        /// killed at the case timeout and reported HANG with the stuck task's kernel stack, and
        /// the rest of the sweep still runs.
        @Test(.enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
        func aCaseThatHangsIsKilledAndReportedWhileTheSweepGoesOn() throws {
            try #require(missingTools([.btrfs, .ext4]) == nil, Comment(rawValue: missingTools([.btrfs, .ext4]) ?? ""))
            let file = try scratchFile("hang.yaml", Data("""
                iterations: 3
                timeout: 2
                case-timeout: 4
                filesystems: [ext4, btrfs]
                scenarios: [fault-patterns]
                patterns: [uffd-never-resolved, all-resident]
                paths: [pread, uring-read]
                """.utf8))
            let directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let loopsBefore = attachedLoopDevices()
            let started = Date()
            let result = try runTool(["sweep", file, "--json", directory + "/hang.json", "--no-color"])
            #expect(result.status == 1, "\(result.stderr)")
            #expect(Date().timeIntervalSince(started) < 60)
            let report = try RunReport.decode(Data(contentsOf: URL(fileURLWithPath: directory + "/hang.json")))
            #expect(report.complete && report.cases.count == 8)
            for record in report.cases {
                if record.pattern == .uffdNeverResolved {
                    #expect(record.verdict == .hang, "\(record.id): \(record.verdict) \(record.reason ?? "")")
                    #expect(record.durationSeconds < 4 + Double(CaseProcess.reapTimeout.components.seconds), "killed within the timeout")
                    let stacks = record.failureDetails.compactMap(\.kernelStacks).flatMap(\.values)
                    #expect(stacks.contains { $0.contains("handle_userfault") }, "\(record.id): \(stacks)")
                } else {
                    #expect(record.verdict == .pass, "\(record.id): \(record.verdict) \(record.reason ?? "")")
                }
            }
            #expect(settles { attachedLoopDevices().isSubset(of: loopsBefore) })
            #expect(ourMounts().isEmpty)
            #expect(settles { caseProcesses().isEmpty })
        }

        /// At queue depth 4 every iteration puts four reads of the range in flight at once, each
        /// into its own buffer set up with the pattern, and judges each first completion; a
        /// synchronous path gets no deeper queue.
        @Test(.enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
        func queueDepthsJudgeEveryReadInFlight() throws {
            try #require(missingTools([.btrfs, .ext4]) == nil, Comment(rawValue: missingTools([.btrfs, .ext4]) ?? ""))
            let file = try scratchFile("depth.yaml", Data("""
                iterations: 3
                filesystems: [btrfs, ext4]
                scenarios: [fault-patterns]
                patterns: [first-page-only, all-resident]
                paths: [uring-readv, uring-read-fixed, pread]
                queue-depths: [1, 4]
                """.utf8))
            let directory = URL(fileURLWithPath: file).deletingLastPathComponent().path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let result = try runTool(["sweep", file, "--json", directory + "/depth.json", "--no-color"])
            #expect(result.status == 0, "\(result.stderr)")
            let report = try RunReport.decode(Data(contentsOf: URL(fileURLWithPath: directory + "/depth.json")))
            #expect(report.cases.count == 2 * 2 * (3 + 2), "2 filesystems x 2 patterns x (3 paths at depth 1 + 2 io_uring paths at depth 4)")
            #expect(!report.cases.contains { $0.path?.method == .pread && $0.id.hasSuffix("/qd4") })
            for record in report.cases where record.id.hasSuffix("/qd4") {
                #expect(record.read?.queueDepth == 4)
                if record.path?.method == .uringReadFixed && record.pattern == .firstPageOnly {
                    #expect(record.verdict == .skip, "registering faults the buffer in: \(record.id)")
                    continue
                }
                #expect(record.verdict == .pass, "\(record.id): \(record.verdict) \(record.reason ?? "")")
                #expect(record.outcomes.values.reduce(0, +) == 3 * 4, "\(record.id): \(record.outcomes)")
                #expect(record.residency?.found.values.reduce(0, +) == 3 * 4, "every buffer's residency is proven")
            }

            // Every read in flight is judged on its own: corrupt each completion and each one fails.
            let corrupted = try runTool(["run", "--fs", "ext4", "--scenario", "nowait-partial-fault", "--io-path", "uring-read",
                                         "--queue-depth", "4", "--iterations", "2", "--self-test-corruption",
                                         "--json", directory + "/corrupted.json", "--no-color"])
            #expect(corrupted.status == 1, "\(corrupted.stderr)")
            let failing = try RunReport.decode(Data(contentsOf: URL(fileURLWithPath: directory + "/corrupted.json")))
            #expect(!failing.cases.isEmpty)
            for record in failing.cases {
                #expect(record.verdict == .fail && record.failures == 2 * 4, "\(record.id): \(record.failures)")
                #expect(Set(record.failureDetails.compactMap(\.read)) == [0, 1, 2, 3])
            }
        }

        /// A WARNING the kernel logs while a case runs attaches to that case.
        @Test(.enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
        func kernelLogFindingsAttachToTheCase() throws {
            let watch = KernelWatch()
            try #require(watch.logUnavailableReason == nil, Comment(rawValue: watch.logUnavailableReason ?? ""))
            var record = sampleReport().cases[1]
            watch.caseStarts()
            let marker = "dio-torture test \(getpid()): WARNING: injected through /dev/kmsg"
            let kmsg = try OpenFile("/dev/kmsg", .writeOnly)
            // With its newline: the kernel finalizes a record (makes it readable) at its end of line.
            _ = try Array((marker + "\n").utf8).withUnsafeBytes { try kmsg.write($0, at: 0) }
            watch.caseEnded(&record)
            #expect(record.kernelLog?.contains { $0.contains(marker) } == true, "\(record.kernelLog ?? [])")
            #expect(record.verdict == .pass, "a finding alone does not change the verdict; taint does")
        }
    }
}

/// Threads that each wait until `expected` of them have arrived.
private final class StartingGate: @unchecked Sendable {
    private let condition = NSCondition()
    private let expected: Int
    private(set) var arrived = 0
    /// No waiter gave up before all had arrived.
    private(set) var allMet = true

    init(expected: Int) { self.expected = expected }

    func arriveAndWait(timeout seconds: Double) {
        condition.lock(); defer { condition.unlock() }
        arrived += 1
        condition.broadcast()
        let deadline = Date(timeIntervalSinceNow: seconds)
        while arrived < expected {
            if !condition.wait(until: deadline) { allMet = false; return }
        }
    }
}

@Suite struct KernelWatchTests {
    @Test func findingsAreKernelProblemsNotRoutineMessages() {
        #expect(KernelWatch.isFinding("BUG: kernel NULL pointer dereference, address: 0000000000000000"))
        #expect(KernelWatch.isFinding("WARNING: CPU: 1 PID: 42 at fs/iomap/direct-io.c:123 iomap_dio_rw+0x1/0x2"))
        #expect(KernelWatch.isFinding("INFO: task kworker/u4:2:123 blocked for more than 120 seconds."))
        #expect(KernelWatch.isFinding("BTRFS error (device loop0): bdev /dev/loop0 errs: wr 1, rd 0"))
        #expect(KernelWatch.isFinding("XFS (loop1): Metadata corruption detected at xfs_buf_ioend+0x1/0x2"))
        #expect(!KernelWatch.isFinding("XFS (loop1): Mounting V5 Filesystem 1234"))
        #expect(!KernelWatch.isFinding("EXT4-fs (loop2): mounted filesystem with ordered data mode"))
        #expect(!KernelWatch.isFinding("loop0: detected capacity change from 0 to 1048576"))
    }

    @Test func aTaintChangeIsItsOwnKindOfFailure() {
        var passing = sampleReport().cases[1]
        KernelWatch.attach(messages: ["WARNING: CPU: 0 PID: 1 at mm/filemap.c:1 x"], taintBefore: 0, taintAfter: 1 << 9, to: &passing)
        #expect(passing.verdict == .tainted && passing.reason?.contains("+W") == true && passing.taint?.after == 512)
        var failing = sampleReport().cases[0]
        KernelWatch.attach(messages: [], taintBefore: 1, taintAfter: 1 | 1 << 7, to: &failing)
        #expect(failing.verdict == .fail && failing.taint != nil, "a FAIL stays a FAIL, with the taint recorded")
        var unchanged = sampleReport().cases[1]
        KernelWatch.attach(messages: [], taintBefore: 4096, taintAfter: 4096, to: &unchanged)
        #expect(unchanged.verdict == .pass && unchanged.taint == nil)
        #expect(Kernel.taintLetters(1 << 9 | 1 << 12) == "WO")
    }

    /// With cases on other targets at once, a splat another case process hit (or its io_uring
    /// worker) is left to it, taint included; a splat of any other task, or of this process,
    /// stays with the case.
    @Test func anotherCasesSplatIsLeftToIt() {
        let theirs = ["WARNING: CPU: 1 PID: 4242 at fs/ext4/inode.c:460 ext4_check_map_extents_env+0x1/0x2",
                      "CPU: 1 UID: 0 PID: 4242 Comm: dio-torture Not tainted 6.18.44 #1", "Call Trace:"]
        var concurrent = sampleReport().cases[1]
        KernelWatch.attach(messages: theirs, taintBefore: 0, taintAfter: 1 << 9, to: &concurrent, ownTasks: [100, 101])
        #expect(concurrent.verdict == .pass && concurrent.kernelLog == nil, "\(concurrent.verdict) \(concurrent.kernelLog ?? [])")
        var own = sampleReport().cases[1]
        KernelWatch.attach(messages: theirs, taintBefore: 0, taintAfter: 1 << 9, to: &own, ownTasks: [4242])
        #expect(own.verdict == .tainted && own.kernelLog?.first?.hasPrefix("WARNING") == true)
        let worker = theirs.map { $0.replacingOccurrences(of: "Comm: dio-torture", with: "Comm: iou-wrk-100") }
        var ownWorker = sampleReport().cases[1]
        KernelWatch.attach(messages: worker, taintBefore: 0, taintAfter: 1 << 9, to: &ownWorker, ownTasks: [100])
        #expect(ownWorker.verdict == .tainted, "an io_uring worker of this process is this case's")
        let kworker = theirs.map { $0.replacingOccurrences(of: "Comm: dio-torture", with: "Comm: kworker/u4:2") }
        var unknown = sampleReport().cases[1]
        KernelWatch.attach(messages: kworker, taintBefore: 0, taintAfter: 1 << 9, to: &unknown, ownTasks: [100])
        #expect(unknown.verdict == .tainted, "a kworker could be writing this case's filesystem back")
        var serial = sampleReport().cases[1]
        KernelWatch.attach(messages: theirs, taintBefore: 0, taintAfter: 1 << 9, to: &serial)
        #expect(serial.verdict == .tainted, "one target at a time, every splat is the running case's")
    }
}
