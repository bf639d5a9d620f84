import Foundation
import Testing
@testable import DIOSystem
@testable import DIOTorture

@Suite struct PlanTests {
    @Test func extentPlanExpandsWithGaps() {
        let plan = ExtentPlan(count: 3, size: 4096, gap: 8192, order: .reverse)
        #expect(plan.extents == [0..<4096, 12288..<16384, 24576..<28672])
        #expect(plan.fileSize == 28672)
    }

    @Test func ioPathNamesRoundTrip() {
        #expect(IOPath.all.count == 14)
        for path in IOPath.all { #expect(IOPath(name: path.description) == path) }
        #expect(IOPath(name: "pread+nowait") == nil)
        #expect(IOPath(name: "uring-readv+sometimes") == nil)
        #expect(IOPath(name: "preadv2") == nil)
    }

    @Test func catalogueExpandsToDistinctCases() {
        let cases = catalogue.flatMap { $0.cases(Selection()) }
        #expect(Set(cases.map(\.id)).count == cases.count)
        #expect(Set(cases.map(\.pattern)).count >= 10)
        #expect(Set(cases.map(\.path)).count >= 8)
        let mariadb = cases.filter { $0.scenario == "nowait-partial-fault" && $0.layout == mariadbLayout
            && $0.pattern == .firstPageOnly && $0.path == IOPath(.uringReadv) && $0.read?.length == 16384 }
        #expect(mariadb.count == 1)
    }

    @Test func selectionNarrowsTheCatalogue() {
        let cases = NowaitPartialFault().cases(Selection(patterns: [.noneResident], paths: [IOPath(.pread)]))
        #expect(!cases.isEmpty && cases.allSatisfy { $0.pattern == .noneResident && $0.path == IOPath(.pread) })
    }

    @Test func layoutCheckAcceptsSplitsAndRejectsMergesAndHoles() {
        let plan = ExtentPlan(count: 2, size: 8192, gap: 4096, order: .reverse)
        let extent = { (logical: Int, length: Int) in MappedExtent(logical: logical, physical: logical * 7, length: length, flags: 0) }
        #expect(LayoutCheck.compare(plan, found: [extent(0, 8192), extent(12288, 8192)]).status == .verified)
        #expect(LayoutCheck.compare(plan, found: [extent(0, 4096), extent(4096, 4096), extent(12288, 8192)]).status == .verified)
        #expect(LayoutCheck.compare(plan, found: [extent(0, 8192)]).status == .notReached)
        #expect(LayoutCheck.compare(plan, found: [extent(0, 20480)]).status == .notReached)
        let contiguous = ExtentPlan(count: 2, size: 4096, order: .reverse)
        #expect(LayoutCheck.compare(contiguous, found: [extent(0, 8192)]).status == .notReached)
        let unwritten = MappedExtent(logical: 0, physical: 0, length: 4096, flags: 0x800)
        #expect(LayoutCheck.compare(ExtentPlan(count: 1, size: 4096, order: .forward), found: [unwritten]).status == .notReached)
    }

    @Test func seedsAreStablePerCaseAndIteration() {
        #expect(Seeds.forCase(run: 42, id: "a") == Seeds.forCase(run: 42, id: "a"))
        #expect(Seeds.forCase(run: 42, id: "a") != Seeds.forCase(run: 42, id: "b"))
        // FNV-1a's published value for "a": the hash must not depend on the process.
        #expect(StableHash.fnv1a("a".utf8) == 0xAF63_DC4C_8601_EC8C)
    }

    @Test func reportRoundTripsThroughJSON() throws {
        let record = CaseRecord(
            id: "x/y", kernel: "6.18", filesystem: FilesystemRecord(type: "xfs", origin: "scratch", location: "/dev/loop0", mkfsOptions: ["-b", "size=1024"], mountOptions: ["noatime"]),
            scenario: "nowait-partial-fault", pattern: .firstPageOnly, path: IOPath(.uringReadv, nowait: true),
            read: ReadRecord(offset: 0, length: 16384, fileSize: 16384), dioAlignment: ["memory": 512, "offset": 512],
            layout: LayoutRecord(planned: mariadbLayout, plannedExtents: [[0, 4096]], status: .verified, found: [], note: nil),
            residency: ResidencyRecord(planned: "#...", found: ["#...": 2], heldIterations: 2), seed: 99, iterations: 2,
            verdict: .fail, reason: "1/2", failures: 1, outcomes: ["short-before-eof": 1, "full": 1],
            failureDetails: [FailureRecord(iteration: 1, seed: 5, outcome: .shortBeforeEOF, expectedLength: 16384, result: 4096,
                                           errno: nil, firstBadOffset: 4096, badRanges: [],
                                           unfilledTail: [BadRange(offset: 4096, length: 12288, diagnosis: .unfilled)],
                                           note: "res 4096 of 16384", kernelStacks: nil)],
            durationSeconds: 0.5)
        let report = RunReport(startedAt: "2026-11-21T00:00:00Z", hostKernel: "6.18", seed: 42, iterations: 2, complete: true,
                               durationSeconds: 1, cases: [record])
        let decoded = try RunReport.decode(report.jsonData())
        #expect(decoded.schemaVersion == reportSchemaVersion)
        #expect(decoded.cases.first?.path == IOPath(.uringReadv, nowait: true))
        #expect(decoded.cases.first?.failureDetails.first?.unfilledTail.first?.diagnosis == .unfilled)
        #expect(try decoded.jsonData() == report.jsonData())
        #expect(report.exitCode == 1)
    }
}
