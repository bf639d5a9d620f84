import Foundation

/// KernelCI's common results schema (KCIDB, I/O schema v5.3): a checkout and a build per kernel
/// release the report ran on, a test per case with a dotted path
/// (`dio_torture.<scenario>.<filesystem>.<rest of the case id>`), and an issue per known kernel bug
/// with an incident for each case it explains. dio-torture neither checks out nor builds the
/// kernels it tests: their checkouts and builds say only which release was run.
public enum KCIDB {
    public static let origin = "dio_torture"

    public static func document(_ report: RunReport) throws -> Data {
        let run = sanitized(report.startedAt) + "-" + String(report.seed)
        let releases = report.cases.map(\.kernel).uniqued()
        let knownBugs = report.cases.compactMap { $0.knownBug?.entry }.uniqued()
        let document = Document(
            checkouts: releases.map { Checkout(id: id("checkout", $0), origin: origin, comment: "Linux \($0)", valid: true) },
            builds: releases.map { release in
                Build(checkoutId: id("checkout", release), id: id("build", release), origin: origin,
                      comment: "Linux \(release) as run by dio-torture (not built by it)", status: "PASS",
                      misc: BuildMisc(kernelRelease: release, kernelImage: report.guests?.first { $0.release == release }?.kernelImage))
            },
            tests: report.cases.map { test($0, run: run, report: report) },
            issues: knownBugs.map { entry in
                let bug = report.cases.first { $0.knownBug?.entry == entry }!.knownBug!.bug
                return Issue(id: id("known", entry), version: 1, origin: origin, comment: bug, culprit: Culprit(code: true))
            },
            incidents: report.cases.compactMap { record in
                record.knownBug.map {
                    Incident(id: id("incident", run + ":" + testKey(record)), origin: origin, issueId: id("known", $0.entry), issueVersion: 1,
                             testId: testID(record, run: run), present: true)
                }
            })
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(document)
    }

    /// KCIDB's test status for a verdict: what never ran (a guest that did not complete) is MISS,
    /// the harness failing is ERROR, a case whose preconditions were not proved ran without
    /// judging the kernel (DONE), and a failure a known bug explains is still a FAIL, with an incident.
    static func status(_ record: CaseRecord) -> String {
        switch record.verdict {
        case .pass: "PASS"
        case .fail, .hang, .tainted, .known: "FAIL"
        case .broken: record.isGuestRecord ? "MISS" : "ERROR"
        case .skip: "SKIP"
        case .inconclusive: "DONE"
        }
    }

    /// The dotted test path: every part reduced to the characters a KCIDB path allows.
    static func path(_ record: CaseRecord) -> String {
        var parts = record.id.split(separator: "/").map(String.init)
        let scenario = parts.isEmpty ? record.scenario : parts.removeFirst()
        return ([origin, scenario, record.filesystem.type] + parts).map(sanitized).joined(separator: ".")
    }

    private static func test(_ record: CaseRecord, run: String, report: RunReport) -> Test {
        let failures = record.verdict.isFailure || record.verdict == .known
            ? TextReport.failures(RunReport(startedAt: report.startedAt, hostKernel: report.hostKernel, seed: report.seed, iterations: report.iterations,
                                            complete: report.complete, durationSeconds: 0, cases: [record]))
            : nil
        let excerpt = failures ?? record.reason.map { "\(record.verdict.rawValue): \($0)\n" }
        let fs = record.filesystem
        return Test(buildId: id("build", record.kernel), id: testID(record, run: run), origin: origin,
                    environment: Environment(comment: ([fs.type, fs.origin == "scratch" ? "made by dio-torture" : fs.location ?? ""]
                                                       + (fs.mkfsOptions.isEmpty ? [] : ["mkfs: " + fs.mkfsOptions.joined(separator: " ")])
                                                       + (fs.mountOptions.isEmpty ? [] : ["mount: " + fs.mountOptions.joined(separator: ",")]))
                                                          .joined(separator: "; ")),
                    path: path(record), comment: record.id, logExcerpt: excerpt.map { String(decoding: $0.utf8.prefix(16_000), as: UTF8.self) },
                    status: status(record), startTime: report.startedAt, duration: record.durationSeconds,
                    misc: TestMisc(verdict: record.verdict.rawValue, reason: record.reason, iterations: record.iterations,
                                   failingIterations: record.failures, caseSeed: record.seed, runSeed: report.seed,
                                   kernelLog: record.kernelLog, knownBug: record.knownBug?.entry))
    }

    private static func testKey(_ record: CaseRecord) -> String { "\(record.kernel):\(record.filesystem.type):\(record.id)" }
    private static func testID(_ record: CaseRecord, run: String) -> String { id("test", run + ":" + testKey(record)) }
    private static func id(_ kind: String, _ name: String) -> String { "\(origin):\(kind):\(name)" }

    private static func sanitized(_ text: String) -> String {
        String(text.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") ? $0 : "_" })
    }

    struct Document: Encodable {
        var version = Version()
        var checkouts: [Checkout]
        var builds: [Build]
        var tests: [Test]
        var issues: [Issue]
        var incidents: [Incident]
    }

    struct Version: Encodable {
        var major = 5
        var minor = 3
    }

    struct Checkout: Encodable {
        var id: String
        var origin: String
        var comment: String
        var valid: Bool
    }

    struct Build: Encodable {
        var checkoutId: String
        var id: String
        var origin: String
        var comment: String
        var status: String
        var misc: BuildMisc
    }

    struct BuildMisc: Encodable {
        var kernelRelease: String
        var kernelImage: String?
    }

    struct Environment: Encodable {
        var comment: String
    }

    struct Test: Encodable {
        var buildId: String
        var id: String
        var origin: String
        var environment: Environment
        var path: String
        var comment: String
        var logExcerpt: String?
        var status: String
        var startTime: String
        var duration: Double
        var misc: TestMisc
    }

    struct TestMisc: Encodable {
        var verdict: String
        var reason: String?
        var iterations: Int
        var failingIterations: Int
        var caseSeed: UInt64
        var runSeed: UInt64
        var kernelLog: [String]?
        var knownBug: String?
    }

    struct Issue: Encodable {
        var id: String
        var version: Int
        var origin: String
        var comment: String
        var culprit: Culprit
    }

    struct Culprit: Encodable {
        var code: Bool
    }

    struct Incident: Encodable {
        var id: String
        var origin: String
        var issueId: String
        var issueVersion: Int
        var testId: String
        var present: Bool
    }
}
