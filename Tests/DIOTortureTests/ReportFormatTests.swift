import Foundation
import Glibc
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import DIOSystem
@testable import DIOTorture

/// A report with one case of each verdict on two kernels, as a kernel matrix makes.
func sampleReport() -> RunReport {
    func record(_ id: String, kernel: String, _ verdict: Verdict, reason: String? = nil) -> CaseRecord {
        let failure = FailureRecord(iteration: 0, seed: 9, outcome: .shortBeforeEOF, expectedLength: 16384, result: 4096, errno: nil,
                                    firstBadOffset: 4096, badRanges: [], unfilledTail: [BadRange(offset: 4096, length: 12288, diagnosis: .unfilled)],
                                    note: nil, kernelStacks: nil)
        return CaseRecord(id: id, kernel: kernel, filesystem: FilesystemRecord(type: "btrfs", origin: "scratch", location: nil, mkfsOptions: [], mountOptions: []),
                          scenario: "nowait-partial-fault", seed: 1, iterations: 20, verdict: verdict, reason: reason,
                          failures: verdict == .fail ? 20 : 0, outcomes: [:], failureDetails: verdict == .fail ? [failure] : [],
                          durationSeconds: 0.5)
    }
    return RunReport(startedAt: "2026-11-21T00:00:00Z", hostKernel: "6.18", seed: 42, iterations: 20, complete: true, durationSeconds: 3,
                     cases: [record(mariadbCase, kernel: "6.1-bug", .fail), record("a/pass", kernel: "6.1-bug", .pass),
                             record("a/skip", kernel: "6.1-bug", .skip, reason: "tmpfs does not support O_DIRECT <#1>"),
                             record("a/pass", kernel: "6.1-fixed", .pass),
                             record("a/inconclusive", kernel: "6.1-fixed", .inconclusive, reason: "layout merged"),
                             record("vm/6.1-fixed", kernel: "6.1-fixed", .broken, reason: "guest kernel panicked")])
}

@Suite struct ReportFormatTests {
    @Test func junitHasTheStructureCISystemsRead() throws {
        let document = try XMLDocument(xmlString: JUnit.document(sampleReport()))
        let root = try #require(document.rootElement())
        #expect(root.name == "testsuites")
        let suites = root.elements(forName: "testsuite")
        #expect(suites.map { $0.attribute(forName: "name")?.stringValue } == ["6.1-bug btrfs", "6.1-fixed btrfs"])
        var totals = (tests: 0, failures: 0, errors: 0, skipped: 0)
        for suite in suites {
            let cases = suite.elements(forName: "testcase")
            func count(_ child: String) -> Int { cases.filter { !$0.elements(forName: child).isEmpty }.count }
            #expect(Int(suite.attribute(forName: "tests")!.stringValue!) == cases.count)
            #expect(Int(suite.attribute(forName: "failures")!.stringValue!) == count("failure"))
            #expect(Int(suite.attribute(forName: "errors")!.stringValue!) == count("error"))
            #expect(Int(suite.attribute(forName: "skipped")!.stringValue!) == count("skipped"))
            totals.tests += cases.count; totals.failures += count("failure"); totals.errors += count("error"); totals.skipped += count("skipped")
        }
        #expect(Int(root.attribute(forName: "tests")!.stringValue!) == totals.tests && totals.tests == 6)
        #expect(Int(root.attribute(forName: "failures")!.stringValue!) == totals.failures && totals.failures == 1)
        #expect(Int(root.attribute(forName: "errors")!.stringValue!) == totals.errors && totals.errors == 1)
        #expect(Int(root.attribute(forName: "skipped")!.stringValue!) == totals.skipped && totals.skipped == 2)
        let failure = try #require(suites[0].elements(forName: "testcase").first?.elements(forName: "failure").first)
        #expect(failure.attribute(forName: "type")?.stringValue == "short-before-eof")
        #expect(failure.attribute(forName: "message")?.stringValue?.contains("bytes 4096..<16384 unfilled") == true)
        let skipped = try #require(suites[0].elements(forName: "testcase")[2].elements(forName: "skipped").first)
        #expect(skipped.attribute(forName: "message")?.stringValue == "tmpfs does not support O_DIRECT <#1>")
    }

    @Test func ktapHasAPlanAndOneResultLinePerCase() {
        let lines = KTAP.document(sampleReport()).split(separator: "\n").map(String.init)
        #expect(lines.prefix(2) == ["KTAP version 1", "1..2"])
        let nested = lines.filter { $0.hasPrefix("  ") }
        #expect(nested.filter { $0 == "  KTAP version 1" }.count == 2)
        #expect(nested.contains("  1..3"))
        let results = nested.filter { $0.hasPrefix("  ok ") || $0.hasPrefix("  not ok ") }
        #expect(results.count == 6)
        #expect(results.contains("  not ok 1 \(mariadbCase)"))
        #expect(results.contains("  ok 3 a/skip # SKIP tmpfs does not support O_DIRECT <_1>"))
        #expect(results.contains("  ok 2 a/inconclusive # SKIP inconclusive: layout merged"))
        #expect(results.contains("  not ok 3 vm/6.1-fixed # ERROR guest kernel panicked"))
        #expect(lines.contains("not ok 1 6.1-bug btrfs") && lines.contains("not ok 2 6.1-fixed btrfs"))
    }

    /// Failures first, each linked to its details; a grid per scenario cut so that no table is
    /// wider than `columnsPerTable` cells, whatever the kernels and paths.
    @Test func htmlListsFailuresFirstAndKeepsGridsNarrow() throws {
        var report = sampleReport()
        let paths = IOPath.named.filter { $0.direction == .read }
        report.cases = ["6.1", "6.12", "6.18", "7.0"].flatMap { kernel in
            paths.map { path in
                var record = sampleReport().cases[1]
                (record.kernel, record.pattern, record.path) = (kernel, .firstPageOnly, path)
                return record
            }
        } + [sampleReport().cases[0]]
        let html = HTMLReport.document(report)
        let failuresAt = try #require(html.range(of: "<h2>Failures (1)</h2>"))
        let firstGrid = try #require(html.range(of: "<table class=\"grid\">"))
        #expect(failuresAt.lowerBound < firstGrid.lowerBound)
        let link = "href=\"#case-\(report.cases.count - 1)\""
        #expect(html.components(separatedBy: link).count == 3, "the list and the red cell link to the details")
        #expect(html.contains("<h3 id=\"case-\(report.cases.count - 1)\">"))
        for table in html.components(separatedBy: "<table class=\"grid\">").dropFirst() {
            let header = table.components(separatedBy: "</tr>")[1]
            #expect(header.components(separatedBy: "<th class=\"col\">").count - 1 <= HTMLReport.columnsPerTable)
        }
        #expect(4 * paths.count > HTMLReport.columnsPerTable, "the test must need more than one table")
    }

    @Test func reproducerCarriesTheCaseOrRefusesAPatternItCannotBuild() throws {
        var record = sampleReport().cases[0]
        record.layout = LayoutRecord(planned: ExtentPlan(count: 4, size: 4096, order: .reverse), plannedExtents: [], status: .verified, found: [], note: nil)
        record.read = ReadRecord(offset: 0, length: 16384, fileSize: 16384)
        record.pattern = .firstPageOnly
        record.path = IOPath(.uringReadv)
        let source = try Reproducer.source(for: record)
        for line in ["#define EXTENTS 4", "#define REVERSE 1", "#define READ_LENGTH 16384", "touch_page(base, p, p == 0)",
                     "#define METHOD URING_READV", "#define NOWAIT 0", "#include <liburing.h>", "int main("] {
            #expect(source.contains(line), "\(line)")
        }
        record.pattern = .uffd
        #expect(try Reproducer.source(for: record).contains("UFFDIO_REGISTER"))
        record.pattern = .sameFileMmap
        #expect(try Reproducer.source(for: record).contains("file_range_pages(MIRROR_OFFSET, pages, 1)"))
        record.pattern = FaultPattern(rawValue: "uffd-never-resolved")
        #expect(throws: Reproducer.Refusal.self) { try Reproducer.source(for: record) }
        record.pattern = .firstPageOnly
        record.read?.alignment = TransferAlignment(memoryOffset: 512)
        #expect(throws: Reproducer.Refusal.self) { try Reproducer.source(for: record) }
    }

    /// A failure a known bug explains is KNOWN, keeps what it gave and its evidence, and no longer
    /// fails the run; a failure no entry names still does; the shipped file reads.
    @Test func knownKernelBugsAreCountedApartAndNewFailuresStillFail() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("known-\(getpid()).expunge").path
        try "6.1-bug btrfs nowait-partial-fault/*  # the MariaDB short read, put back\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        var report = sampleReport()
        report.cases.removeAll { $0.verdict == .broken }
        #expect(report.exitCode == 1)
        #expect(try KnownBugs(file: path).apply(to: &report) == 1)
        let known = try #require(report.cases.first { $0.id == mariadbCase })
        #expect(known.verdict == .known && known.knownBug?.verdict == .fail && known.knownBug?.entry == "\(path):1")
        #expect(known.reason?.contains("the MariaDB short read") == true && known.failureDetails.count == 1)
        #expect(report.exitCode == 0 && report.counts[.known] == 1)
        #expect(KTAP.document(report).contains("# SKIP known kernel bug"))
        report.cases.append(sampleReport().cases[0])
        report.cases[report.cases.count - 1].kernel = "6.2-new"
        #expect(try KnownBugs(file: path).apply(to: &report) == 0 && report.exitCode == 1, "a failure on another kernel is new")
        #expect(try KnownBugs(file: "\(configsDirectory)/\(KnownBugs.fileName)").list.entries.count >= 4)
    }

    @Test func compareGatesOnlyOnNewFailuresThatAreNotExpunged() throws {
        let report = sampleReport()
        var baseline = report
        baseline.cases = report.cases.filter { $0.kernel == "6.1-fixed" }
        var current = report
        current.cases = report.cases.filter { $0.kernel == "6.1-bug" }
        let gate = Comparison(baseline: baseline, current: current, expunge: nil)
        #expect(gate.exitCode == 1 && gate.newFailures.map(\.id) == [mariadbCase])
        let expunge = try ExpungeList(text: "# known\n6.1-bug btrfs nowait-partial-fault/* # reverted on purpose\n", file: "x")
        let known = Comparison(baseline: baseline, current: current, expunge: expunge)
        #expect(known.exitCode == 0 && known.expunged.count == 1 && known.expunged[0].1.line == 2)
        var repaired = current
        repaired.cases[0].verdict = .pass
        let fixed = Comparison(baseline: current, current: repaired, expunge: nil)
        #expect(fixed.exitCode == 0 && fixed.fixed.map(\.id) == [mariadbCase] && fixed.unchanged == 2)
        let broken = Comparison(baseline: current, current: baseline, expunge: nil)
        #expect(broken.exitCode == 1 && broken.newFailures.map(\.id) == ["vm/6.1-fixed"])
        #expect(throws: ExpungeList.Malformed.self) { try ExpungeList(text: "6.1-bug btrfs case\n", file: "x") }
        #expect(throws: ExpungeList.Malformed.self) { try ExpungeList(text: "6.1-bug btrfs # why\n", file: "x") }
    }
}
