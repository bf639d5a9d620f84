import Foundation
import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

/// The sweep files in configs/, each as a lab would run it.
let shippedConfigs: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: configsDirectory)) ?? [])
    .filter { $0.hasSuffix(".yaml") }.sorted().map { "\(configsDirectory)/\($0)" }

/// Kernel bugs a sampled run may meet: the only failures it may have.
let knownKernelBugs: ExpungeList = {
    let path = "\(configsDirectory)/known-kernel-bugs.expunge"
    return try! ExpungeList(text: readTextFile(path), file: path)
}()

extension OnTheRealKernel {
    @Suite(.serialized, .enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
    struct ShippedConfigTests {
        @Test func everyFilesystemVariantOfEveryConfigCanBeMadeAndMounted() throws {
            #expect(shippedConfigs.count >= 4)
            var made = Set<String>()
            for path in shippedConfigs {
                for options in try SweepFile(contentsOf: path).filesystems where made.insert(options.label).inserted {
                    if let reason = options.kind.unavailableReason {
                        print("SKIP \(options.label): \(reason)")
                        continue
                    }
                    let written = try ScratchFilesystem.withDirectory(on: options, device: nil) { directory in
                        let file = try OpenFile.scratch(at: directory + "/probe")
                        return try Array("dio-torture".utf8).withUnsafeBytes { try file.write($0, at: 0) }
                    }
                    #expect(written == 11, "\(path): \(options.label)")
                }
            }
            #expect(made.count >= 12, "the lab sweep alone has 12 variants: \(made.sorted())")
        }

        /// About six units of each config, spread over its whole matrix: no BROKEN, and no failure
        /// but a kernel bug configs/known-kernel-bugs.expunge names.
        @Test(arguments: shippedConfigs)
        func aSampledShardRunsCleanly(_ path: String) throws {
            let sweep = try SweepFile(contentsOf: path)
            if !sweep.kernels.isEmpty, let reason = VMRunner.unavailableReason {
                print("SKIP \(path): its kernels run in guests: \(reason)")
                return
            }
            let listed = try runTool(["sweep", path, "--list"])
            #expect(listed.status == 0, "\(listed.stderr)")
            let total = listed.stdout.split(separator: "\n").count
            let shard = "1/\(max(1, total / 6))"
            let directory = try scratchFile("report.json", Data()).replacingOccurrences(of: "/report.json", with: "")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let result = try runTool(["sweep", path, "--shard", shard, "--json", directory + "/report.json", "--no-known-bugs"])
            let report = try JSONDecoder().decode(RunReport.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/report.json")))
            #expect(!report.cases.isEmpty && report.complete, "\(path) --shard \(shard): \(result.stderr)")
            for record in report.cases where record.verdict.isFailure {
                let known = record.verdict != .broken ? knownKernelBugs.entry(for: record) : nil
                #expect(known != nil, "\(path) --shard \(shard): \(record.verdict.rawValue) \(record.kernel) \(record.filesystem.type) \(record.id): \(record.reason ?? "")")
            }
            print("\(path) --shard \(shard): " + TextReport.summary(report, colour: false), terminator: "")
        }
    

        /// A read crossing EOF into a buffer that maps the range it reads: the buffer's pages past
        /// EOF are anonymous (a file mapping there would raise SIGBUS and make EFAULT legal), so the
        /// read must stop exactly at EOF, into a buffer whose residency was proved.
        @Test func sameRangeMappingsStopAtEOFAndTheReadMustToo() throws {
            try #require(missingTools([.xfs, .ext4]) == nil, Comment(rawValue: missingTools([.xfs, .ext4]) ?? ""))
            let sweep = """
            name: past-eof
            iterations: 10
            filesystems: [xfs, ext4]
            scenarios: [mmap-same-file]
            patterns: [same-range-mmap]
            paths: [pread, uring-readv]
            extents: {counts: [4], sizes: [4K, 64K], order: [reverse]}
            read-sizes: [past-eof]
            """
            let path = try scratchFile("past-eof.yaml", Data(sweep.utf8))
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let result = try runTool(["sweep", path, "--json", directory + "/report.json"])
            let report = try JSONDecoder().decode(RunReport.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/report.json")))
            #expect(result.status == 0 && report.cases.count == 8, "\(result.stdout)")
            for record in report.cases {
                #expect(record.verdict == .pass && record.outcomes == ["short-at-eof": 10], "\(record.id): \(record.reason ?? "")")
                let pages = record.read!.length / pageSize
                #expect(record.residency?.planned == String(repeating: ".", count: pages))
            }
        }
    }
}
