import Foundation
import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

let validatorPython = repository.path + "/.cache/validators/bin/python"
let validatorRequirement: String? =
    FileManager.default.isExecutableFile(atPath: validatorPython) ? (FileManager.default.fileExists(atPath: repository.path + "/.cache/kunit/kunit_parser.py")
        ? nil : "the kernel's KTAP parser is not in .cache/kunit (make deps unpacks it from linux-source)")
        : "the validators' virtualenv is not in .cache/validators (make deps installs kcidb-io and junitparser)"

/// What the reference parser of `format` counted in `file` (scripts/validate-report.py), or nil
/// with the parser's message recorded as a failure.
func referenceCounts(_ format: ReportFormat, _ file: String) throws -> String? {
    do {
        return try runCommandCapturing([validatorPython, repository.path + "/scripts/validate-report.py", format.rawValue, file])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    } catch let error as CommandError {
        Issue.record("\(format.rawValue) \(file): \(error.output)")
        return nil
    }
}

/// Converts the report at `path` with `dio-torture report` into every format and checks KCIDB,
/// JUnit and KTAP with their reference parsers, each count against the report's own verdicts.
func convertAndValidate(_ path: String) throws {
    let report = try RunReport.read(path)
    let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
    let outputs = ReportFormat.allCases.filter { $0 != .text }.map { ($0, "\(directory)/converted.\($0.rawValue)") }
    let converted = try runTool(["report", path, "--text"] + outputs.flatMap { ["--\($0.0.rawValue)", $0.1] })
    #expect(converted.status == 0, "\(converted.stderr)")
    #expect(converted.stdout.contains(TextReport.summary(report, colour: false)), "\(converted.stdout)")
    for (_, file) in outputs { #expect(FileManager.default.fileExists(atPath: file), "\(file)") }
    let counts = report.counts
    func count(_ verdicts: Verdict...) -> Int { verdicts.reduce(0) { $0 + counts[$1, default: 0] } }
    let failed = count(.fail, .hang, .tainted)
    if let kcidb = try referenceCounts(.kcidb, "\(directory)/converted.kcidb") {
        let statuses = [("PASS", count(.pass)), ("FAIL", failed + count(.known)), ("SKIP", count(.skip)), ("DONE", count(.inconclusive))]
        for (status, number) in statuses where number > 0 { #expect(kcidb.contains(" \(status)=\(number)"), "\(kcidb)") }
        #expect(kcidb.hasPrefix("tests=\(report.cases.count) ") && kcidb.contains("incidents=\(count(.known))"), "\(kcidb)")
    }
    let skipped = count(.skip, .inconclusive, .known)
    let expected = "tests=\(report.cases.count) pass=\(count(.pass)) fail=\(failed) error=\(count(.broken)) skip=\(skipped)"
    #expect(try referenceCounts(.junit, "\(directory)/converted.junit") == expected)
    // KTAP has no error result: a BROKEN case is a failure with an ERROR note.
    let ktap = "tests=\(report.cases.count) pass=\(count(.pass)) fail=\(failed + count(.broken)) error=0 skip=\(skipped)"
    #expect(try referenceCounts(.ktap, "\(directory)/converted.ktap") == ktap)
}

extension OnTheRealKernel {
    /// `report` turns any JSON report into every format after the fact, and what it writes passes
    /// the reference parsers: KernelCI's kcidb-io, junitparser and the kernel's own KTAP parser.
    @Suite(.serialized, .enabled(if: validatorRequirement == nil, Comment(rawValue: validatorRequirement ?? "")))
    struct ReportValidationTests {
        /// Every verdict there is, including KNOWN with its incident and a guest that never ran.
        @Test func everyVerdictConvertsAndValidates() throws {
            var report = sampleReport()
            let expunge = try scratchFile("known.expunge", Data("6.1-bug btrfs nowait-partial-fault/*  # the MariaDB short read, put back\n".utf8))
            #expect(try KnownBugs(file: expunge).apply(to: &report) == 1)
            report.cases.append(report.cases[1])
            report.cases[report.cases.count - 1].verdict = .fail
            report.cases[report.cases.count - 1].kernel = "6.1-fixed"
            let path = URL(fileURLWithPath: expunge).deletingLastPathComponent().path + "/sample.json"
            defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) }
            try report.jsonData().write(to: URL(fileURLWithPath: path))
            try convertAndValidate(path)
            let kcidb = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path.replacingOccurrences(of: "sample.json", with: "converted.kcidb")))) as! [String: Any]
            let tests = kcidb["tests"] as! [[String: Any]]
            #expect(Set(tests.map { $0["status"] as! String }) == ["PASS", "FAIL", "SKIP", "DONE", "MISS"])
            #expect(tests.contains { $0["path"] as? String == "dio_torture.nowait-partial-fault.btrfs.4x4K-reverse.first-page-only.uring-readv" })
            #expect((kcidb["issues"] as! [[String: Any]]).count == 1)
        }

        @Test(.enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
        func aRunAndAMergedSweepConvertAndValidate() throws {
            let sweep = try scratchFile("two-shards.yaml", Data("""
            filesystems: [ext4, tmpfs]
            scenarios: [nowait-partial-fault]
            patterns: [first-page-only]
            iterations: 2
            """.utf8))
            let directory = URL(fileURLWithPath: sweep).deletingLastPathComponent().path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let run = try runTool(["run", "--fs", "ext4,tmpfs", "--scenario", "nowait-partial-fault,dio-alignment", "--iterations", "2",
                                   "--json", "\(directory)/run.json"])
            #expect(run.status == 0, "\(run.stdout)")
            try convertAndValidate("\(directory)/run.json")
            for shard in ["1/2", "2/2"] {
                let result = try runTool(["sweep", sweep, "--shard", shard, "--json", "\(directory)/shard\(shard.first!).json"])
                #expect(result.status == 0, "\(result.stdout)")
            }
            let merged = try runTool(["report", "\(directory)/shard1.json", "\(directory)/shard2.json", "--json", "\(directory)/merged.json"])
            #expect(merged.status == 0, "\(merged.stderr)")
            let report = try RunReport.read("\(directory)/merged.json")
            let shards = try ["1", "2"].map { try RunReport.read("\(directory)/shard\($0).json") }
            #expect(report.complete && report.cases.count == shards.reduce(0) { $0 + $1.cases.count } && shards.allSatisfy { !$0.cases.isEmpty })
            try convertAndValidate("\(directory)/merged.json")
        }

        @Test func anUnreadableReportIsOneLineAndExitTwo() throws {
            let junk = try scratchFile("junk.json", Data("{\"not\": \"a report\"}".utf8))
            defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: junk).deletingLastPathComponent().path) }
            let result = try runTool(["report", junk, "--kcidb", "/dev/null"])
            #expect(result.status == 2 && result.stderr.contains("not a dio-torture JSON report"), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
    }
}
