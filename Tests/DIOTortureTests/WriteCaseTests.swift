import Foundation
import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

extension OnTheRealKernel {
    /// The write catalogue on real loop-backed filesystems of this kernel.
    @Suite(.serialized, .enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
    struct WriteCaseTests {
        func run(_ kinds: [ScratchKind], _ selection: Selection = Selection(), iterations: Int = 3, corrupting: Bool = false) -> RunReport {
            let plan = RunPlan(targets: kinds.map { .scratch(ScratchOptions(kind: $0)) }, scenarios: [DirectWrite()], selection: selection,
                               options: RunOptions(iterations: iterations, seed: 7, injectCorruption: corrupting))
            return Runner.run(plan)
        }

        /// Every default write case PASSes with its target's state and its source's residency
        /// proved in every iteration, or SKIPs with a reason, or fails as a known kernel bug.
        @Test func theWriteCatalogueHoldsItsPromisesHere() throws {
            try #require(missingTools([.btrfs, .xfs, .ext4]) == nil, Comment(rawValue: missingTools([.btrfs, .xfs, .ext4]) ?? ""))
            let report = run([.btrfs, .xfs, .ext4, .tmpfs])
            print("write catalogue on \(Kernel.release): \(report.counts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ")) in \(Int(report.durationSeconds)) s")
            #expect(report.cases.count == 4 * DirectWrite().cases(Selection()).count)
            for record in report.cases {
                let label = "\(record.filesystem.type) \(record.id): \(record.verdict) \(record.reason ?? "")"
                switch record.verdict {
                case .pass:
                    #expect(record.residency?.heldIterations == 3, "\(label)")
                    #expect(record.outcomes.values.reduce(0, +) == 3, "\(label)")
                    let status = try #require(record.layout?.status, "\(label)")
                    #expect(status == (record.filesystem.type == "tmpfs" ? .notApplicable : .verified), "\(label)")
                case .skip:
                    #expect(record.reason?.isEmpty == false, "\(label)")
                default:
                    #expect(record.verdict.isFailure && knownKernelBugs.entry(for: record) != nil, "\(label)")
                }
            }
            let passed = report.cases.filter { $0.verdict == .pass && $0.filesystem.type != "tmpfs" }
            #expect(Set(passed.compactMap(\.write?.target)) == Set(WriteTarget.allCases))
            let partlyFaulted = try #require(passed.first { $0.pattern == .coldFileFirstPage })
            #expect(partlyFaulted.residency?.planned == "#" + String(repeating: ".", count: 15))
        }

        /// Every source that carries known data onto every target: what each leaves in the file is
        /// modelled right (a source mapping the file itself, O_APPEND after the source grew the
        /// file, the old mapping of a mapped target), so nothing FAILs or is INCONCLUSIVE here.
        @Test func everySourceOntoEveryTargetIsModelledRight() throws {
            try #require(missingTools([.xfs, .ext4]) == nil, Comment(rawValue: missingTools([.xfs, .ext4]) ?? ""))
            let sources: [FaultPattern] = [.coldFileFirstPage, .coldFileMmap, .fileMmapDontneed, .sameFileMmap, .sameRangeMmap, .uffd, .protNoneHole, .firstPageOnly]
            let report = run([.xfs, .ext4], Selection(patterns: sources, paths: [.directSync.writing, IOPath(.uringReadv, .write)]), iterations: 2)
            #expect(report.cases.count == 2 * sources.count * WriteTarget.allCases.count * 2)
            for record in report.cases {
                #expect(record.verdict == .pass || record.verdict == .skip, "\(record.filesystem.type) \(record.id): \(record.verdict) \(record.reason ?? "") \(record.failureDetails.first?.note ?? "")")
            }
            #expect(report.cases.filter { $0.verdict == .skip }.allSatisfy { $0.pattern == .sameRangeMmap }, "only the same range can clash with a primed target")
        }

        /// The harness's self-test: with a byte of every read-back flipped, every judged write FAILs.
        @Test func everyJudgedWriteFailsWhenItsReadBackIsCorrupted() throws {
            try #require(missingTools([.xfs]) == nil, Comment(rawValue: missingTools([.xfs]) ?? ""))
            let report = run([.xfs], corrupting: true)
            let judged = report.cases.filter { $0.verdict != .skip }
            #expect(!judged.isEmpty)
            for record in judged {
                #expect(record.verdict == .fail && record.failures == 3, "\(record.id): \(record.verdict)")
                #expect(record.failureDetails.first?.badRanges.isEmpty == false, "\(record.id)")
            }
        }

        /// A write case reads every way back into one memory, so what the last read left there
        /// must not pass for the next one's bytes: each use starts all poison, never zeros.
        @Test func readBackMemoryStartsAllPoisonEveryTime() throws {
            let memory = ReadbackMemory()
            let first = try memory.bytes(3 * pageSize)
            first.initializeMemory(as: UInt8.self, repeating: 0)
            let again = try memory.bytes(2 * pageSize + 1)
            #expect(again.baseAddress == first.baseAddress, "reused, not mapped afresh")
            #expect(again.allSatisfy { $0 == ReadbackMemory.poison } && ReadbackMemory.poison != 0)
            #expect(try memory.bytes(8 * pageSize).allSatisfy { $0 == ReadbackMemory.poison })
        }

        /// xfs and ext4 fail a direct write from a source with a PROT_NONE page with EFAULT after
        /// putting the bytes before the page in the file (iomap reports the error, not the
        /// progress): legal because of the page, and nothing outside the range may change.
        @Test func aProtNoneSourceEndsTheWriteLegally() throws {
            try #require(missingTools([.btrfs, .xfs, .ext4]) == nil, Comment(rawValue: missingTools([.btrfs, .xfs, .ext4]) ?? ""))
            let report = run([.btrfs, .xfs, .ext4], Selection(patterns: [.protNoneHole], paths: [.directSync.writing, IOPath(.uringReadv, .write)],
                                                             writeTargets: [.overwrite, .pastEOF]))
            #expect(report.cases.count == 12)
            for record in report.cases {
                #expect(record.verdict == .pass, "\(record.filesystem.type) \(record.id): \(record.reason ?? "") \(record.failureDetails.first?.note ?? "")")
                #expect(Set(record.outcomes.keys).isSubset(of: ["error", "short-write"]), "\(record.id): \(record.outcomes)")
            }
        }
    }
}

extension OnTheRealKernel {
    /// io_uring's promise for buffered reads of regular files, with the file's cache state proved.
    @Suite(.serialized, .enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
    struct PartlyCachedReadTests {
        /// Without RWF_NOWAIT a buffered io_uring read of a partly cached file is full; with it,
        /// it comes back short or EAGAIN, which shows the cache really was partly empty.
        @Test func aPartlyCachedFileIsReadWholeUnlessNowaitIsAsked() throws {
            try #require(missingTools([.xfs]) == nil, Comment(rawValue: missingTools([.xfs]) ?? ""))
            let plan = RunPlan(targets: [.scratch(ScratchOptions(kind: .xfs))], scenarios: [PartlyCachedRead()], selection: Selection(),
                               options: RunOptions(iterations: 5, seed: 3))
            let report = Runner.run(plan)
            #expect(report.cases.count == 3 * PartlyCachedRead.paths.count)
            for record in report.cases {
                #expect(record.verdict == .pass && record.residency?.heldIterations == 5, "\(record.id): \(record.verdict) \(record.reason ?? "")")
                let nowait = record.path?.nowait == true
                #expect((record.outcomes["full"] ?? 0) == (nowait ? record.outcomes["full"] ?? 0 : 5), "\(record.id): \(record.outcomes)")
                if nowait && record.id.contains("cache-first-page") { #expect(record.outcomes["full"] == nil, "\(record.id): \(record.outcomes)") }
            }
        }
    }
}
