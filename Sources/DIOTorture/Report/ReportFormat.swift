import Foundation

/// Every format a report can be written in, chosen when a run writes it or afterwards with
/// `dio-torture report`: the one place a format is named.
public enum ReportFormat: String, CaseIterable, Sendable {
    case json, junit, ktap, kcidb, html, text

    /// What the format is, for help and for the line that says where it went.
    public var title: String {
        switch self {
        case .json: "JSON report (docs/report-schema.md)"
        case .junit: "JUnit XML (one testsuite per kernel and filesystem)"
        case .ktap: "KTAP (as kernel selftests print it)"
        case .kcidb: "KCIDB JSON (KernelCI's results schema v5.3)"
        case .html: "HTML page (a grid per scenario)"
        case .text: "text summary (the table run prints, without colour)"
        }
    }

    public func render(_ report: RunReport) throws -> Data {
        switch self {
        case .json: try report.jsonData()
        case .junit: Data(JUnit.document(report).utf8)
        case .ktap: Data(KTAP.document(report).utf8)
        case .kcidb: try KCIDB.document(report)
        case .html: Data(HTMLReport.document(report).utf8)
        case .text: Data(TextReport.document(report, colour: false).utf8)
        }
    }
}

extension TextReport {
    /// What `run` prints: the table, the failures in full, for guests the kernel matrix, and the
    /// profile when there is one.
    public static func document(_ report: RunReport, colour: Bool) -> String {
        var text = table(report, colour: colour)
        let failures = failures(report)
        if !failures.isEmpty { text += "\n" + failures }
        if report.guests != nil { text += "\n" + kernelMatrix(report, colour: colour) }
        if report.profile != nil { text += "\n" + profile(report) }
        return text
    }
}

extension RunReport {
    /// The report at `path`, or one line saying why it is not one.
    public static func read(_ path: String) throws -> RunReport {
        guard let data = FileManager.default.contents(atPath: path) else { throw SweepError("\(path): cannot read") }
        do { return try decode(data) } catch { throw SweepError("\(path): not a dio-torture JSON report") }
    }

    /// Several reports as one: the shards of one sweep merged as `merge` does, any others joined
    /// case by case (runs of several machines, or a run beside a kernel matrix).
    public static func joined(_ paths: [String]) throws -> RunReport {
        let reports = try paths.map { try read($0) }
        guard var joined = reports.first else { throw SweepError("no reports given") }
        if reports.count == 1 { return joined }
        if reports.allSatisfy({ $0.sweep != nil }) { return try ShardMerge(zip(paths, reports).map { (file: $0, report: $1) }).report }
        for report in reports.dropFirst() {
            joined.cases += report.cases
            // A kernel booted by several of the reports is one row of the matrix: its first guest's.
            let known = Set((joined.guests ?? []).map(\.release))
            joined.guests = (joined.guests ?? []) + (report.guests ?? []).filter { !known.contains($0.release) } as [GuestRecord]?
            joined.complete = joined.complete && report.complete
            joined.durationSeconds += report.durationSeconds
        }
        if joined.guests?.isEmpty == true { joined.guests = nil }
        return joined
    }
}
