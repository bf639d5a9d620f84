import Foundation
import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

let reproducerRequirement: String? = rootRequirement
    ?? (findExecutable("gcc") == nil ? "needs gcc to build the reproducers" : nil)
    ?? (FileManager.default.fileExists(atPath: "/usr/include/liburing.h") ? nil : "needs liburing-dev (/usr/include/liburing.h)")

extension OnTheRealKernel {
    /// `repro` on real records: every fault pattern of a read case, and every one of a write case
    /// whose source is not the target file, becomes C that compiles with -Wall -Werror and, run on
    /// a scratch ext4 of this kernel, rebuilds its layout and buffer and finds the transfer legal.
    @Suite(.serialized, .enabled(if: reproducerRequirement == nil, Comment(rawValue: reproducerRequirement ?? "")))
    struct ReproducerTests {
        @Test func everyPatternsReproducerBuildsAndRunsLegalHere() throws {
            let directory = NSTemporaryDirectory() + "dio-torture-repro-all-\(getpid())"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let run = try runTool(["run", "--fs", "ext4", "--scenario", "fault-patterns,mmap-same-file,direct-write", "--io-path", "uring-readv,uring-writev",
                                   "--write-target", "overwrite", "--iterations", "1", "--no-known-bugs", "--json", "\(directory)/run.json"])
            #expect(run.status == 0, "\(run.stdout)")
            let report = try RunReport.decode(try #require(FileManager.default.contents(atPath: "\(directory)/run.json")))
            // One case per pattern and direction: the layouts and sizes vary, the C file's parts do not.
            var seen = Set<String>(), programs: [String] = []
            for record in report.cases where record.verdict == .pass {
                guard let pattern = record.pattern, seen.insert("\(pattern)/\(record.write == nil)").inserted else { continue }
                let name = "\(programs.count)-\(pattern)-\(record.write == nil ? "read" : "write")"
                let written = try runTool(["repro", "\(directory)/run.json", record.id, "-o", "\(directory)/\(name).c"])
                if record.write != nil && pattern.traits.mapsTheFileUnderTest {
                    #expect(written.status == 2 && written.stderr.contains("maps the target file"), "\(written.stderr)")
                    continue
                }
                #expect(written.status == 0, "\(record.id): \(written.stderr)")
                try runCommand(["gcc", "-Wall", "-Werror", "\(directory)/\(name).c", "-o", "\(directory)/\(name)", "-luring"])
                programs.append(name)
            }
            let patterns = Set(FaultPattern.allCases.filter(\.traits.inDefaultCatalogue).map(\.rawValue)).union(["same-range-mmap"])
            #expect(patterns.isSubset(of: Set(seen.map { String($0.split(separator: "/")[0]) })), "\(seen.sorted())")
            let script = programs.map { "echo \"== \($0)\"; \(directory)/\($0) \"$1\" 2; echo \"exit $?\"" }.joined(separator: "\n")
            try script.write(toFile: "\(directory)/all.sh", atomically: true, encoding: .utf8)
            let ran = try runTool(["exec", "--fs", "ext4", "--", "/bin/sh", "\(directory)/all.sh", "{}"])
            #expect(ran.status == 0, "\(ran.stderr)")
            let sections = ran.stdout.components(separatedBy: "== ").dropFirst()
            #expect(sections.count == programs.count, "\(ran.stdout)")
            for section in sections {
                #expect(section.contains("0 of 2 iterations illegal") && section.contains("exit 0"), "\(section)")
            }
            print("reproducers built and run legal on \(Kernel.release) ext4: \(programs.joined(separator: ", "))")
        }
    }
}
