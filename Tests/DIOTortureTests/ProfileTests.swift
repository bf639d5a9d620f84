import Foundation
import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

extension OnTheRealKernel {
    /// Where the time goes: `run --profile` and `sweep --estimate` on real filesystems. Their
    /// figures are measured, so the tests check their shape and sums, never a speed.
    @Suite(.serialized, .enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
    struct ProfileTests {
        @Test func aProfiledRunSaysWhereEverySecondWent() throws {
            let report = try scratchFile("profile.json", Data())
            defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: report).deletingLastPathComponent().path) }
            let result = try runTool(["run", "--fs", "ext4", "--scenario", "nowait-partial-fault,direct-write", "--iterations", "2", "--jobs", "1",
                                      "--profile", "--json", report, "--no-color"])
            #expect(result.status == 0, "\(result.stdout)")
            #expect(result.stdout.contains("Where the ") && result.stdout.contains("transfers judged per second"), "\(result.stdout)")
            let decoded = try RunReport.read(report)
            let profile = try #require(decoded.profile)
            #expect(Set(profile.keys) == Set(Phase.allCases.map(\.rawValue)), "\(profile)")
            for phase in [Phase.target, .layout, .fiemap, .buffers, .transfers, .verification, .kernelLog] {
                #expect(profile[phase.rawValue]! > 0, "\(phase.rawValue) measured")
            }
            #expect(abs(profile.values.reduce(0, +) - decoded.durationSeconds) < 0.01 * decoded.durationSeconds + 0.01)
            #expect(decoded.cases.allSatisfy { $0.phaseSeconds != nil })
            let plain = try runTool(["run", "--fs", "tmpfs", "--scenario", "nowait-partial-fault", "--iterations", "1", "--json", report])
            #expect(plain.status == 0 && !plain.stdout.contains("Where the "))
            let unprofiled = try RunReport.read(report)
            #expect(unprofiled.profile == nil && unprofiled.cases.allSatisfy { $0.phaseSeconds == nil })
        }

        @Test func anEstimateProjectsTheSweepFromASampleOfIt() throws {
            let sweep = try scratchFile("estimate.yaml", Data("""
            filesystems: [ext4, tmpfs]
            scenarios: [nowait-partial-fault, fault-patterns]
            patterns: [first-page-only, all-resident]
            paths: [pread, uring-readv]
            iterations: 2
            """.utf8))
            defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: sweep).deletingLastPathComponent().path) }
            let result = try runTool(["sweep", sweep, "--estimate", "--estimate-shards", "1,2,4"])
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            let listed = try runTool(["sweep", sweep, "--list"]).stdout.split(separator: "\n").count
            #expect(lines.first?.hasPrefix("estimate: \(listed) units in 2 filesystems made") == true, "\(result.stdout)")
            #expect(lines.contains { $0.hasPrefix("Measured on \(listed) of them (all)") }, "\(result.stdout)")
            let projected = lines.filter { $0.contains(" shard") && !$0.hasPrefix("Projected") }
            #expect(projected.count == 3, "\(result.stdout)")
            #expect(lines.contains { $0.hasPrefix("  first-page-only ") && $0.contains(" per page") }, "\(result.stdout)")
            // Two classes (two patterns, depth 1), costliest first: between them, every unit.
            let shares = lines.drop { !$0.hasPrefix("Where the case time goes") }.dropFirst().prefix { !$0.hasPrefix("Projected") }
            #expect(shares.count == 2 && shares.compactMap { Int($0.split(separator: " ").dropLast().last ?? "") }.reduce(0, +) == listed,
                    "\(result.stdout)")
            let one = try runTool(["sweep", sweep, "--estimate", "--estimate-shards", "2", "--shard", "2/2"])
            #expect(one.status == 0 && one.stdout.contains("  shard 2/2: "), "\(one.stdout)")
            guard FileManager.default.fileExists(atPath: fixedKernel) else { return print("SKIP the kernel sweep's refusal: no \(fixedKernel)") }
            let refused = try runTool(["sweep", "\(configsDirectory)/kernel-gate.yaml", "--estimate"])
            #expect(refused.status == 2 && refused.stderr.contains("--estimate measures units run here"), "\(refused.stderr)")
        }
    }
}
