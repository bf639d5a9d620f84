import DIOSystem
import Foundation

/// One self-contained HTML page per run, sweep or kernel matrix. Failures come first, each
/// linked to its details at the bottom. Then a grid per scenario: fault patterns down, I/O paths
/// across, filesystems stacked, kernels side by side; each cell coloured by the worst verdict of
/// its cases (layouts, read sizes, targets and seeds fold into one cell, listed in its tooltip).
/// A grid wider than a screen is cut into several, so nothing scrolls sideways at 1400 px.
public enum HTMLReport {
    static let colours: [Verdict: String] = [
        .pass: "#3c9a4b", .fail: "#d22b2b", .hang: "#8b0000", .tainted: "#a0306e", .broken: "#555",
        .skip: "#cfd8dc", .inconclusive: "#e8b931", .known: "#b39ddb",
    ]
    static let severity = Verdict.bySeverity
    /// Cell columns per table: with the row labels, about 1300 px.
    static let columnsPerTable = 56

    public static func document(_ report: RunReport) -> String {
        let cells = Cells(report)
        var html = head(report) + failureList(report, cells: cells)
        for scenario in cells.scenarios { html += grids(scenario, cells: cells) }
        return html + details(report, cells: cells) + "</body></html>\n"
    }

    /// The cases of a report by grid position, and the failing ones (KNOWN too), which link to their details.
    struct Cells {
        var byPosition: [String: [(index: Int, record: CaseRecord)]] = [:]
        var scenarios: [String] = []
        var kernels: [String: [String]] = [:]
        var columns: [String: [String]] = [:]
        var filesystems: [String: [String]] = [:]
        var rows: [String: [String]] = [:]
        var failing: [(index: Int, record: CaseRecord)] = []

        init(_ report: RunReport) {
            for (index, record) in report.cases.enumerated() {
                if record.verdict.isFailure || record.verdict == .known { failing.append((index, record)) }
                let scenario = record.scenario, filesystem = TextReport.filesystemLabel(record.filesystem)
                if !scenarios.contains(scenario) { scenarios.append(scenario) }
                Self.add(record.kernel, to: &kernels[scenario, default: []])
                Self.add(record.gridColumn, to: &columns[scenario, default: []])
                Self.add(filesystem, to: &filesystems[scenario, default: []])
                Self.add(record.gridRow, to: &rows[scenario, default: []])
                byPosition[Self.key(scenario, filesystem, record.gridRow, record.kernel, record.gridColumn), default: []].append((index, record))
            }
        }

        static func key(_ parts: String...) -> String { parts.joined(separator: "\u{0}") }

        private static func add(_ value: String, to list: inout [String]) {
            if !list.contains(value) { list.append(value) }
        }
    }

    private static func head(_ report: RunReport) -> String {
        let title = JUnit.escaped(report.sweep.map { "sweep \($0.name)" } ?? (report.guests != nil ? "kernel matrix" : "run"))
        return """
        <!DOCTYPE html>
        <html><head><meta charset="utf-8"><title>dio-torture \(title)</title>
        <style>
        body { font: 13px system-ui, sans-serif; margin: 1.5em; max-width: 1360px; }
        table.grid { border-collapse: collapse; margin-bottom: 1.5em; table-layout: fixed; }
        .grid th, .grid td { border: 1px solid #fff; padding: 0; }
        .grid th.row { text-align: left; padding-right: .8em; white-space: nowrap; font-weight: normal; max-width: 260px; overflow: hidden; text-overflow: ellipsis; }
        .grid th.fs { text-align: left; padding-top: .6em; border-bottom: 1px solid #999; }
        .grid th.col { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal; padding: 2px 0; white-space: nowrap; }
        .grid th.kernel { border-bottom: 2px solid #999; border-left: 3px solid #fff; font-weight: 600; }
        .grid td.first { border-left: 3px solid #fff; }
        .grid td a, .grid td span { display: block; width: 14px; height: 14px; }
        .legend span { display: inline-block; padding: 2px 6px; margin-right: 4px; color: #fff; }
        .legend span.light { color: #000; }
        ul.failures li { margin: 2px 0; }
        pre { background: #f4f4f4; padding: .5em; white-space: pre-wrap; word-break: break-all; }
        </style></head><body>
        <h1>dio-torture \(title)</h1>
        <p>\(JUnit.escaped(TextReport.summary(report, colour: false)))</p>
        <p class="legend">\(severity.map { "<span\([.skip, .inconclusive].contains($0) ? " class=\"light\"" : "") style=\"background:\(colours[$0]!)\">\($0.rawValue)</span>" }.joined())</p>

        """
    }

    private static func failureList(_ report: RunReport, cells: Cells) -> String {
        let known = cells.failing.filter { $0.record.verdict == .known }.count
        let heading = "Failures (\(cells.failing.count - known))" + (known > 0 ? " and known kernel bugs (\(known))" : "")
        guard !cells.failing.isEmpty else { return "<h2>No failures</h2>\n" }
        return "<h2>\(heading)</h2>\n<ul class=\"failures\">\n" + cells.failing.map { index, record in
            "<li><a href=\"#case-\(index)\">\(record.verdict.rawValue) \(JUnit.escaped(record.kernel)) \(JUnit.escaped(TextReport.filesystemLabel(record.filesystem))) "
                + "\(JUnit.escaped(record.id))</a>: \(JUnit.escaped(record.failureSummary))</li>\n"
        }.joined() + "</ul>\n"
    }

    /// A scenario's grid, cut into tables of at most `columnsPerTable` kernel x path columns.
    private static func grids(_ scenario: String, cells: Cells) -> String {
        let columns = cells.kernels[scenario]!.flatMap { kernel in cells.columns[scenario]!.map { (kernel: kernel, column: $0) } }
        var html = "<h2>\(JUnit.escaped(scenario))</h2>\n"
        for start in stride(from: 0, to: columns.count, by: columnsPerTable) {
            let part = Array(columns[start..<min(start + columnsPerTable, columns.count)])
            html += table(scenario, columns: part, cells: cells)
        }
        return html
    }

    private static func table(_ scenario: String, columns: [(kernel: String, column: String)], cells: Cells) -> String {
        let escaped = JUnit.escaped
        var kernelSpans: [(String, Int)] = []
        for (kernel, _) in columns {
            if kernelSpans.last?.0 == kernel { kernelSpans[kernelSpans.count - 1].1 += 1 } else { kernelSpans.append((kernel, 1)) }
        }
        var html = "<table class=\"grid\">\n<tr><th></th>" + kernelSpans.map { "<th class=\"kernel\" colspan=\"\($1)\">\(escaped($0))</th>" }.joined()
        html += "</tr>\n<tr><th></th>" + columns.map { "<th class=\"col\">\(escaped($0.column))</th>" }.joined() + "</tr>\n"
        for filesystem in cells.filesystems[scenario]! {
            html += "<tr><th class=\"fs\" colspan=\"\(columns.count + 1)\">\(escaped(filesystem))</th></tr>\n"
            for row in cells.rows[scenario]! {
                let rowCells = columns.enumerated().map { offset, position in
                    let cases = cells.byPosition[Cells.key(scenario, filesystem, row, position.kernel, position.column)] ?? []
                    let first = offset == 0 || columns[offset - 1].kernel != position.kernel
                    return "<td\(first ? " class=\"first\"" : "")>" + cell(cases) + "</td>"
                }
                guard rowCells.contains(where: { $0.contains("<a") || $0.contains("<span") }) else { continue }
                html += "<tr><th class=\"row\" title=\"\(escaped(row))\">\(escaped(row))</th>" + rowCells.joined() + "</tr>\n"
            }
        }
        return html + "</table>\n"
    }

    private static func cell(_ cases: [(index: Int, record: CaseRecord)]) -> String {
        guard let worst = severity.first(where: { verdict in cases.contains { $0.record.verdict == verdict } }) else { return "" }
        let title = JUnit.escaped(cases.map { "\($0.record.id): \($0.record.verdict.rawValue)" + ($0.record.reason.map { " (\($0))" } ?? "") }
            .joined(separator: "\n"))
        let style = "style=\"background:\(colours[worst]!)\" title=\"\(title)\""
        if let failing = cases.first(where: { $0.record.verdict.isFailure || $0.record.verdict == .known }) {
            return "<a href=\"#case-\(failing.index)\" \(style)></a>"
        }
        return "<span \(style)></span>"
    }

    private static func details(_ report: RunReport, cells: Cells) -> String {
        let escaped = JUnit.escaped
        var html = cells.failing.isEmpty ? "" : "<h2>Failure details</h2>\n"
        for (index, record) in cells.failing {
            html += "<h3 id=\"case-\(index)\">\(record.verdict.rawValue) \(escaped(record.kernel)) \(escaped(TextReport.filesystemLabel(record.filesystem))) \(escaped(record.id))</h3>\n"
            html += "<p>\(escaped(record.failureSummary))</p>\n"
            let details = TextReport.failures(RunReport(startedAt: report.startedAt, hostKernel: report.hostKernel, seed: report.seed,
                                                        iterations: report.iterations, complete: true, durationSeconds: 0, cases: [record]))
            if !details.isEmpty { html += "<pre>\(escaped(details))</pre>\n" }
            for stacks in record.failureDetails.compactMap(\.kernelStacks) {
                html += "<pre>" + stacks.sorted { $0.key < $1.key }.map { escaped("\($0.key):\n\($0.value)") }.joined(separator: "\n") + "</pre>\n"
            }
            if let log = record.kernelLog { html += "<pre>\(escaped(log.joined(separator: "\n")))</pre>\n" }
        }
        return html
    }
}

extension CaseRecord {
    /// The grid row a case falls in: its fault pattern; a step scenario has one row.
    var gridRow: String { pattern?.rawValue ?? "steps" }

    /// The grid column a case falls in: its I/O path, or a step scenario's variant.
    var gridColumn: String { path?.description ?? variant ?? "-" }
}
