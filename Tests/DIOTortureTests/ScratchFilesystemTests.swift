import Foundation
import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

extension OnTheRealKernel {
    /// Integration tests on real loop-backed filesystems. Serialized: they count loop devices.
    @Suite(.serialized, .enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
    struct ScratchFilesystemTests {
        func run(_ kind: ScratchKind, scenario name: String, patterns: [FaultPattern], paths: [IOPath], iterations: Int = 5) -> RunReport {
            let plan = RunPlan(targets: [.scratch(ScratchOptions(kind: kind))], scenarios: [scenario(named: name)!],
                               selection: Selection(patterns: patterns, paths: paths),
                               options: RunOptions(iterations: iterations, seed: 42))
            return Runner.run(plan)
        }

        @Test(arguments: [ScratchKind.btrfs, .xfs, .ext4, .tmpfs])
        func mariadbReadIsFullWithItsLayoutAndResidencyProved(_ kind: ScratchKind) throws {
            try #require(missingTools([kind]) == nil, Comment(rawValue: missingTools([kind]) ?? ""))
            let report = run(kind, scenario: "nowait-partial-fault", patterns: [.firstPageOnly], paths: [IOPath(.uringReadv)])
            let mariadb = try #require(report.cases.first { $0.layout?.planned == mariadbLayout && $0.read?.length == 16384 })
            #expect(mariadb.verdict == .pass, "\(mariadb.reason ?? "")")
            #expect(mariadb.outcomes == ["full": 5])
            #expect(mariadb.residency?.planned == "#..." && mariadb.residency?.found == ["#...": 5])
            if kind == .tmpfs {
                #expect(mariadb.layout?.status == .notApplicable)
            } else {
                #expect(mariadb.layout?.status == .verified)
                #expect(mariadb.layout?.found.count == 4)
            }
            #expect(report.cases.allSatisfy { $0.verdict == .pass }, "\(report.cases.filter { $0.verdict != .pass }.map { "\($0.id): \($0.reason ?? "")" })")
        }

        /// btrfs and tmpfs really return a short read at a PROT_NONE page; it is legal only because of
        /// the hole: the same completion without the hole must fail.
        @Test(arguments: [ScratchKind.btrfs, .tmpfs])
        func protNoneShortReadIsLegalOnlyBecauseOfTheHole(_ kind: ScratchKind) throws {
            try #require(missingTools([kind]) == nil, Comment(rawValue: missingTools([kind]) ?? ""))
            let report = run(kind, scenario: "fault-patterns", patterns: [.protNoneHole], paths: [IOPath(.uringReadv), IOPath(.pread)])
            #expect(report.cases.count == 2)
            for record in report.cases {
                #expect(record.verdict == .pass)
                #expect(record.outcomes == ["short-before-eof": 5], "\(record.id)")
                #expect(record.residency?.found == ["##.#": 5])
                let hole = 2 * pageSize
                let withHole = ReadContract(offset: 0, length: 16384, fileSize: 16384, path: record.path!, inaccessibleOffset: hole)
                let withoutHole = ReadContract(offset: 0, length: 16384, fileSize: 16384, path: record.path!, inaccessibleOffset: nil)
                #expect(Oracle.judge(.completed(hole), contract: withHole) { _ in Verification() }.call == .pass)
                #expect(Oracle.judge(.completed(hole), contract: withoutHole) { _ in Verification() }.call == .fail)
            }
        }

        @Test func xfsAndExt4FaultOnTheProtNonePage() throws {
            try #require(missingTools([.xfs, .ext4]) == nil, Comment(rawValue: missingTools([.xfs, .ext4]) ?? ""))
            for kind in [ScratchKind.xfs, .ext4] {
                let report = run(kind, scenario: "fault-patterns", patterns: [.protNoneHole], paths: [IOPath(.uringReadv)])
                #expect(report.cases.map(\.verdict) == [.pass])
                #expect(report.cases.first?.outcomes == ["error": 5])
            }
        }

        @Test func everyFaultPatternHoldsOnBtrfs() throws {
            try #require(missingTools([.btrfs]) == nil, Comment(rawValue: missingTools([.btrfs]) ?? ""))
            // Every pattern a read can complete into (uffd-never-resolved hangs by design).
            let patterns = FaultPattern.allCases.filter { $0 != .uffdNeverResolved }
            let report = run(.btrfs, scenario: "fault-patterns", patterns: patterns, paths: [IOPath(.uringRead)], iterations: 3)
            #expect(report.cases.count == patterns.count)
            for record in report.cases {
                #expect(record.verdict == .pass, "\(record.id): \(record.reason ?? "")")
                #expect(record.residency?.heldIterations == 3, "\(record.id): \(record.residency?.found ?? [:])")
            }
        }

        @Test func largerExtentsReachTheirLayoutOnEveryFilesystem() throws {
            try #require(missingTools([.btrfs, .xfs, .ext4]) == nil, Comment(rawValue: missingTools([.btrfs, .xfs, .ext4]) ?? ""))
            for kind in [ScratchKind.btrfs, .xfs, .ext4] {
                let report = run(kind, scenario: "mmap-same-file", patterns: [.sameFileMmap], paths: [IOPath(.uringReadv)])
                for record in report.cases {
                    #expect(record.layout?.status == .verified, "\(kind) \(record.id): \(record.layout?.note ?? "")")
                    #expect(record.verdict == .pass, "\(kind) \(record.id): \(record.reason ?? "")")
                }
            }
        }

        /// A detached tmpfs shrunk to 1 MiB more than it holds takes that MiB and then fails
        /// writes with ENOSPC (writeback-error's full tmpfs); below what it holds it refuses.
        @Test func aShrunkTmpfsIsFullAtItsNewSize() throws {
            let tmpfs = try DetachedMount(fsType: "tmpfs", source: "dio-torture-shrink", options: ["size=64m"])
            let file = try OpenFile(tmpfs.root + "/data", .readWrite, options: .create)
            let chunk = [UInt8](repeating: 0x5A, count: 1 << 20)
            for offset in stride(from: 0, to: 4 << 20, by: chunk.count) { _ = try chunk.withUnsafeBytes { try file.write($0, at: offset) } }
            let used = try usedBytes(at: tmpfs.root)
            #expect(used >= 4 << 20)
            let refused = #expect(throws: MountError.self) { try tmpfs.reconfigure(["size=\(used - (1 << 20))"]) }
            #expect(refused?.errno == .invalidArgument)
            try tmpfs.reconfigure(["size=\(used + (1 << 20))"])
            _ = try chunk.withUnsafeBytes { try file.write($0, at: 4 << 20) }
            #expect(throws: Errno(rawValue: ENOSPC)) { _ = try chunk.withUnsafeBytes { try file.write($0, at: 5 << 20) } }
        }

        @Test func directoryTargetLeavesNothingBehind() throws {
            let parent = FileManager.default.temporaryDirectory.appendingPathComponent("diot-dir-\(getpid())").path
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: parent) }
            let plan = RunPlan(targets: [.directory(parent)], scenarios: [NowaitPartialFault()],
                               selection: Selection(paths: [IOPath(.uringRead), IOPath(.pread)]), options: RunOptions(iterations: 2, seed: 1))
            let report = Runner.run(plan)
            #expect(!report.cases.isEmpty && report.cases.allSatisfy { $0.verdict != .fail && $0.verdict != .broken })
            #expect(try FileManager.default.contentsOfDirectory(atPath: parent).isEmpty)
        }
    }
}
