import Foundation
import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

@Suite struct OperationLogTests {
    @Test func theSameSeedGivesTheSameLogAndTheTextRoundTrips() throws {
        let log = OperationGenerator.mixed(seed: 7, count: 3000, maxFileSize: 512 << 10, maxLength: 64 << 10)
        #expect(log.operations.count == 3000)
        #expect(log == OperationGenerator.mixed(seed: 7, count: 3000, maxFileSize: 512 << 10, maxLength: 64 << 10))
        #expect(log != OperationGenerator.mixed(seed: 8, count: 3000, maxFileSize: 512 << 10, maxLength: 64 << 10))
        #expect(try OperationLog(text: log.text, file: "log") == log)
        // Every kind of operation and every operation path appears.
        let names = Set(log.operations.map { String($0.name.prefix { $0 != " " }) })
        #expect(names == ["write", "read", "fallocate", "truncate", "fsync", "fdatasync", "sync-file-range", "fadvise-dontneed"])
        for path in IOPath.operationPaths {
            #expect(log.operations.contains { if case .read(_, _, path) = $0 { true } else { false } }, "reads via \(path)")
            #expect(log.operations.contains { if case .write(_, _, path.writing) = $0 { true } else { false } }, "writes via \(path.writing)")
        }
        // Each direction has its own names: a write through the page cache is "pwrite+buffered".
        #expect(log.text.contains(" pwrite+buffered\n") && log.text.contains(" uring-read\n") && !log.text.contains(" pread+buffered+"))
        let zeroRange = OperationGenerator.zeroRange(seed: 3, iterations: 2, fileSize: 256 << 10)
        #expect(try OperationLog(text: zeroRange.text, file: "log") == zeroRange && zeroRange.backgroundWriteback)
    }

    @Test func aMalformedLogNamesItsLine() {
        let text = OperationLog.magic + "\nseed 5\nwrite 0 4096 pwrite+buffered\nwrite 0 4096 sideways\n"
        #expect(throws: OperationLog.Malformed.self) { try OperationLog(text: text, file: "bad.opslog") }
        do { _ = try OperationLog(text: text, file: "bad.opslog") } catch { #expect("\(error)".hasPrefix("bad.opslog:4: ")) }
        #expect(throws: OperationLog.Malformed.self) { try OperationLog(text: "seed 5\n", file: "x") }
    }

    /// ddmin keeps exactly the operations the failure needs.
    @Test func shrinkingKeepsOnlyWhatTheFailureNeeds() {
        let log = OperationGenerator.mixed(seed: 11, count: 1000, maxFileSize: 512 << 10, maxLength: 64 << 10)
        let needed = [log.operations[123], log.operations[777]]
        let (shrunk, replays) = LogShrinker.shrink(log) { candidate in
            needed.allSatisfy { operation in candidate.operations.contains(operation) }
        }
        #expect(Set(shrunk.operations) == Set(needed) && shrunk.operations.count == 2, "\(shrunk.operations)")
        #expect(replays < 200)
    }

    /// Segments that start and end inside sectors are verified byte for byte.
    @Test func theModelIsByteExact() {
        var model = FileModel()
        let old = DataStamp(fileID: 1, generation: 1, seed: 9), new = DataStamp(fileID: 1, generation: 2, seed: 9)
        model.write(0..<4096, stamp: old)
        model.write(100..<1000, stamp: new)
        model.clear(2000..<2001)
        model.resize(to: 3001)
        var bytes = [UInt8](repeating: 0, count: 4096)
        bytes.withUnsafeMutableBytes { buffer in
            SectorPattern.fill(buffer, stamp: old, fileOffset: 0)
            var sector = [UInt8](repeating: 0, count: 1024)
            sector.withUnsafeMutableBytes { SectorPattern.fill($0, stamp: new, fileOffset: 0) }
            for index in 100..<1000 { buffer[index] = sector[index] }
            buffer[2000] = 0
        }
        let good = bytes.withUnsafeBytes { Verifier.verify(UnsafeRawBufferPointer(rebasing: $0[0..<3001]), fileOffset: 0, model: model, prior: { _ in .zeros }) }
        #expect(good.isClean, "\(good.badRanges)")
        bytes[999] ^= 1
        let bad = bytes.withUnsafeBytes { Verifier.verify(UnsafeRawBufferPointer(rebasing: $0[0..<3001]), fileOffset: 0, model: model, prior: { _ in .zeros }) }
        #expect(bad.badRanges.count == 1 && bad.badRanges[0].offset == 512 && bad.badRanges[0].length == 488, "\(bad.badRanges)")
    }
}

extension OnTheRealKernel {
    @Suite struct StepScenarioTests {
        static let filesystems: [ScratchKind] = [.btrfs, .xfs, .ext4, .tmpfs]

        func runScenario(_ scenario: String, on kinds: [ScratchKind], extra: [String] = []) throws -> (ToolRun, RunReport, String) {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("diot-steps-\(getpid())-\(scenario)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let result = try runTool(["run", "--fs", kinds.map(\.name).joined(separator: ","), "--scenario", scenario, "--seed", "5",
                                      "--json", directory + "/report.json", "--ops-logs", directory + "/logs", "--no-color", "--no-known-bugs"] + extra)
            let report = try RunReport.decode(Data(contentsOf: URL(fileURLWithPath: directory + "/report.json")))
            return (result, report, directory)
        }

        /// 10,000 operations per filesystem in the quick suite; the saved log is the one the seed
        /// gives, and replaying it reproduces its outcome (PASS, or the same failing operation).
        @Test(.enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
        func opsRunsTenThousandOperationsAndReplaysExactly() throws {
            try #require(missingTools(Self.filesystems) == nil, Comment(rawValue: missingTools(Self.filesystems) ?? ""))
            let loopsBefore = attachedLoopDevices()
            let (_, report, directory) = try runScenario("ops", on: Self.filesystems)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            #expect(report.cases.count == Self.filesystems.count)
            for record in report.cases {
                #expect(record.verdict == .pass || record.verdict == .fail, "\(record.filesystem.type): \(record.verdict) \(record.reason ?? "")")
                if record.verdict == .pass { #expect(record.counters?["operations"] == 10_000, "\(record.filesystem.type): \(record.counters ?? [:])") }
                if record.verdict == .fail { print("ops found on \(record.filesystem.type): \(record.reason ?? "")") }
                let path = try #require(record.operationLog)
                let saved = try OperationLog(text: String(contentsOfFile: path, encoding: .utf8), file: path)
                #expect(saved == OperationGenerator.mixed(seed: record.seed, count: 10_000, maxFileSize: Ops.maxFileSize, maxLength: Ops.maxLength))
                let replay = try runTool(["replay", path, "--fs", record.filesystem.type])
                let expected = record.verdict == .pass ? "PASS;" : "FAIL at operation \(record.failureDetails.first?.iteration ?? -1) "
                #expect(replay.stdout.contains(expected), "\(record.filesystem.type): \(replay.stdout) \(replay.stderr)")
                #expect(replay.status == (record.verdict == .pass ? 0 : 1))
            }
            #expect(settles { attachedLoopDevices().isSubset(of: loopsBefore) })
            #expect(ourMounts().isEmpty)
        }

        /// A failing log (every read corrupted by the self-test) shrinks to the two operations
        /// that matter, and the shrunk log still fails.
        @Test(.enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
        func aFailingLogShrinksAndStillFails() throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("diot-shrink-\(getpid())").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let log = OperationGenerator.mixed(seed: 21, count: 2000, maxFileSize: 512 << 10, maxLength: 64 << 10)
            try log.text.write(toFile: directory + "/a.opslog", atomically: true, encoding: .utf8)
            let shrunk = try runTool(["replay", directory + "/a.opslog", "--dir", directory, "--self-test-corruption", "--shrink"])
            #expect(shrunk.status == 1 && shrunk.stdout.contains("shrunk to"), "\(shrunk.stdout) \(shrunk.stderr)")
            let minimal = try OperationLog(text: String(contentsOfFile: directory + "/a.min.opslog", encoding: .utf8), file: "min")
            #expect((1...3).contains(minimal.operations.count), "\(minimal.operations)")
            #expect(minimal.operations.allSatisfy(log.operations.contains))
            let again = try runTool(["replay", directory + "/a.min.opslog", "--dir", directory, "--self-test-corruption"])
            #expect(again.status == 1 && again.stdout.contains("mismatch"), "\(again.stdout)")
            let clean = try runTool(["replay", directory + "/a.min.opslog", "--dir", directory])
            #expect(clean.status == 0, "without the corruption the shrunk log passes: \(clean.stdout)")
        }

        /// Writeback races every step; on the extent filesystems steps really start from dirty
        /// pages over unwritten extents; every check reads three ways; corruption is caught.
        @Test(.enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
        func zeroRangeRacesWritebackFromProvenState() throws {
            try #require(missingTools(Self.filesystems) == nil, Comment(rawValue: missingTools(Self.filesystems) ?? ""))
            let (_, report, directory) = try runScenario("zero-range-dirty-unwritten", on: Self.filesystems)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            for record in report.cases {
                let counters = record.counters ?? [:]
                #expect(record.verdict == .pass, "\(record.filesystem.type): \(record.verdict) \(record.reason ?? "")")
                #expect((counters["writeback passes"] ?? 0) > 0 && counters["check"] == 20 * 9)
                #expect(counters["reads judged"] == 3 * 20 * 9, "three reads per check: \(counters)")
                if record.filesystem.type != "tmpfs" {
                    #expect((counters["probes: dirty over unwritten"] ?? 0) > counters["probes"]! / 2, "\(record.filesystem.type): \(counters)")
                }
            }
            let (corrupted, failing, more) = try runScenario("zero-range-dirty-unwritten", on: [.ext4], extra: ["--self-test-corruption"])
            defer { try? FileManager.default.removeItem(atPath: more) }
            #expect(corrupted.status == 1 && failing.cases.first?.verdict == .fail)
            #expect(failing.cases.first?.failureDetails.first?.outcome == .mismatch)
        }

        /// Errors are really injected (counted in the kernel log; with dm-flakey, counted as
        /// failed writes, none of which reached the loop device) and each of the five promises is
        /// recorded with what it gave; the kernel here keeps them. dm-flakey SKIPs, with the
        /// reason, on a kernel without device-mapper (this machine's).
        @Test(.enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
        func writebackErrorsAreInjectedAndEveryPromiseRecorded() throws {
            try #require(missingTools(Self.filesystems) == nil, Comment(rawValue: missingTools(Self.filesystems) ?? ""))
            let loopsBefore = attachedLoopDevices()
            let (_, report, directory) = try runScenario("writeback-error", on: Self.filesystems)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            for record in report.cases {
                if record.filesystem.type == "tmpfs" {
                    #expect(record.verdict == .skip)
                    continue
                }
                print("writeback-error \(record.filesystem.type) \(record.variant ?? ""): \(record.verdict) \(record.reason ?? "")")
                if record.variant == "dm-flakey", let reason = MappedDevice.unavailableReason(target: "flakey") {
                    #expect(record.verdict == .skip && record.reason == reason)
                    continue
                }
                #expect(record.verdict == .pass, "\(record.filesystem.type): \(record.reason ?? "")")
                #expect((record.counters?["I/O errors logged"] ?? 0) > 0, "\(record.counters ?? [:])")
                if record.variant == "dm-flakey" {
                    #expect((record.counters?["writes failed by dm-flakey"] ?? 0) > 0, "\(record.counters ?? [:])")
                    #expect(record.counters?["writes reaching the loop device after the failure"] == 0, "\(record.counters ?? [:])")
                }
                #expect(record.checks?.count == 5 && record.checks?.allSatisfy { $0.held != nil && !$0.observed.isEmpty } == true)
            }
            #expect(Set(report.cases.compactMap(\.variant)) == ["loop-on-full-tmpfs", "dm-flakey"])
            #expect(settles { attachedLoopDevices().isSubset(of: loopsBefore) && ourMappedDevices().isEmpty })
            #expect(ourMounts().isEmpty)
        }

        /// Every consumer mounts its image cold and warm (the cache state proven) and hashes
        /// every file; EROFS refuses an image on tmpfs, which is a SKIP with the errno.
        @Test(.enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
        func imagesMountAndHashColdAndWarm() throws {
            let kinds: [ScratchKind] = [.btrfs, .ext4, .tmpfs]
            try #require(missingTools(kinds) == nil && findExecutable("mkfs.erofs") != nil, "needs mkfs.erofs (erofs-utils)")
            let loopsBefore = attachedLoopDevices()
            let (_, report, directory) = try runScenario("file-backed-consumers", on: kinds)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            #expect(report.cases.count == kinds.count * FileBackedConsumers.Consumer.allCases.count)
            for record in report.cases {
                let label = "\(record.filesystem.type) \(record.variant ?? "")"
                if record.filesystem.type == "tmpfs" && record.variant?.hasPrefix("erofs") == true {
                    #expect(record.verdict == .skip && record.reason?.contains("ENOTBLK") == true, "\(label): \(record.reason ?? "")")
                    continue
                }
                // The one finding on 6.18: ext4 warns when EROFS maps its blocks for a cold mount.
                if record.verdict == .tainted { print("file-backed-consumers \(label): \(record.reason ?? "")") }
                #expect(record.verdict == .pass || record.verdict == .tainted, "\(label): \(record.verdict) \(record.reason ?? "")")
                #expect(record.counters?["mounts"] == 8 && record.counters?["files hashed"] == 8 * record.counters!["files"]!)
                if record.filesystem.type != "tmpfs" {
                    #expect(record.checks?.filter { $0.name.hasSuffix("page cache state") }.allSatisfy { $0.held == true } == true, "\(label)")
                }
            }
            #expect(settles { attachedLoopDevices().isSubset(of: loopsBefore) })
            #expect(ourMounts().isEmpty)
        }
    }
}
