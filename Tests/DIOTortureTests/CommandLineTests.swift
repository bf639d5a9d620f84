import Foundation
import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

extension OnTheRealKernel {
    /// The CLI end to end: exit codes, one-line errors, and no leftovers on failure or SIGINT.
    @Suite(.serialized) struct CommandLineTests {
        @Test(arguments: [
            (["run", "--scenario", "nowait-partial-fualt"], "unknown scenario 'nowait-partial-fualt'"),
            (["run", "--pattern", "first-page"], "unknown fault pattern 'first-page'"),
            (["run", "--io-path", "uring-readv+maybe"], "unknown I/O path 'uring-readv+maybe'"),
            (["run", "--fs", "zfs"], "unknown filesystem 'zfs'"),
            (["run", "--dir", "/nonexistent/dio"], "no such directory"),
            (["run", "--dir", "/etc/hostname"], "not a directory"),
            (["run", "--iterations", "0"], "--iterations must be at least 1"),
            (["run", "--mount-options", "noatime"], "expected FS=VALUE"),
            (["run", "--iteratons", "5"], "Unknown option '--iteratons'"),
        ])
        func badInputIsOneLineAndExitTwo(_ arguments: [String], _ message: String) throws {
            let result = try runTool(arguments)
            #expect(result.status == 2, "\(result.stderr)")
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"))
            #expect(result.stdout.isEmpty)
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        }

        /// A target without room says so once, before any case runs, and nothing could run.
        @Test(.enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
        func aFullTargetIsOneLineBeforeAnyCase() throws {
            let full = try DetachedMount(fsType: "tmpfs", source: "dio-torture-full", options: ["size=8m"])
            let result = try runTool(["run", "--dir", full.root, "--no-color"])
            #expect(result.status == 3, "\(result.stdout)")
            let rows = result.stdout.split(separator: "\n").filter { $0.hasPrefix("tmpfs ") }
            #expect(rows.count == 1 && rows[0].contains("MiB free; the catalogue needs at least 64 MiB"), "\(result.stdout)")
        }

        @Test func listNamesEveryScenarioPatternAndPath() throws {
            let result = try runTool(["list"])
            #expect(result.status == 0)
            for name in catalogue.map(\.name) + FaultPattern.allCases.map(\.rawValue) + IOPath.all.map(\.description) {
                #expect(result.stdout.contains(name))
            }
        }

        @Test(.enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
        func failingRunExitsOneAndLeavesNothing() throws {
            try #require(missingTools([.btrfs, .tmpfs]) == nil, Comment(rawValue: missingTools([.btrfs, .tmpfs]) ?? ""))
            let loopsBefore = attachedLoopDevices()
            let json = FileManager.default.temporaryDirectory.appendingPathComponent("diot-fail-\(getpid()).json").path
            defer { unlink(json) }
            let result = try runTool(["run", "--fs", "btrfs,tmpfs", "--scenario", "nowait-partial-fault", "--io-path", "uring-readv,pread",
                                      "--iterations", "2", "--seed", "3", "--self-test-corruption", "--json", json])
            #expect(result.status == 1, "\(result.stderr)")
            let report = try RunReport.decode(Data(contentsOf: URL(fileURLWithPath: json)))
            #expect(!report.cases.isEmpty && report.cases.allSatisfy { $0.verdict == .fail })
            #expect(report.cases.flatMap(\.failureDetails).allSatisfy { $0.outcome == .mismatch && $0.badRanges.first?.diagnosis == .garbage })
            #expect(settles { attachedLoopDevices().isSubset(of: loopsBefore) })
            #expect(ourMounts().isEmpty)
        }

        /// SIGINT stops after the running case and still writes the report, marked incomplete;
        /// SIGKILL runs nothing, and still nothing may stay: images are O_TMPFILE files, loop
        /// devices autoclear, mounts are detached and case processes die with their parent.
        @Test(.enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")), arguments: [SIGINT, SIGKILL])
        func killedRunLeavesNoLoopDeviceMountOrFile(_ signal: Int32) throws {
            try #require(missingTools(ScratchKind.defaults) == nil, Comment(rawValue: missingTools(ScratchKind.defaults) ?? ""))
            let loopsBefore = attachedLoopDevices()
            let json = FileManager.default.temporaryDirectory.appendingPathComponent("diot-killed-\(getpid()).json").path
            defer { try? FileManager.default.removeItem(atPath: json) }
            let result = try runTool(["run", "--iterations", "50", "--seed", "5", "--json", json],
                                     interruptAfter: .milliseconds(2500), signal: signal)
            if signal == SIGINT {
                #expect(result.status == 128 + SIGINT, "\(result.stderr)")
                #expect(result.stderr.contains("complete: false"))
                let report = try RunReport.decode(Data(contentsOf: URL(fileURLWithPath: json)))
                #expect(!report.complete)
                #expect(!report.cases.isEmpty && report.cases.count < 800, "the cases that finished: \(report.cases.count)")
            } else {
                #expect(result.status == SIGKILL, "killed by the signal, not exited: \(result.stderr)")
            }
            #expect(settles { attachedLoopDevices().isSubset(of: loopsBefore) }, "left attached: \(attachedLoopDevices().subtracting(loopsBefore))")
            #expect(ourMounts().isEmpty)
            #expect(settles { caseProcesses().isEmpty }, "case processes left: \(caseProcesses())")
        }

        @Test func interruptedDirectoryRunRemovesItsScratchDirectory() throws {
            let parent = FileManager.default.temporaryDirectory.appendingPathComponent("diot-int-\(getpid())").path
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: parent) }
            let result = try runTool(["run", "--dir", parent, "--iterations", "200"], interruptAfter: .milliseconds(1000))
            #expect(result.status == 128 + SIGINT, "\(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: parent).isEmpty)
        }
    }
}
