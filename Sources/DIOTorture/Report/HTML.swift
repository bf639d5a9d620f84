import DIOSystem
import Foundation

/// One self-contained HTML page per run or sweep: for each scenario, a grid with a row per
/// filesystem (and options) and a column per kernel x pattern x path, each cell coloured by the
/// worst verdict of its cases (layouts, read sizes and seeds fold into one cell). Failing cells
/// link to their details below the grids.
public enum HTMLReport {
    static let colours: [Verdict: String] = [
        .pass: "#3c9a4b", .fail: "#d22b2b", .hang: "#8b0000", .tainted: "#a0306e", .broken: "#555",
        .skip: "#cfd8dc", .inconclusive: "#e8b931", .known: "#b39ddb",
    ]
    static let severity = Verdict.bySeverity

    public static func document(_ report: RunReport) -> String {
        let escaped = JUnit.escaped
        let records = report.cases.filter { $0.gridColumn != nil }
        let kernels = ordered(records.map(\.kernel))
        let filesystems = ordered(records.map { TextReport.filesystemLabel($0.filesystem) })
        var anchors: [Int: String] = [:]
        for (index, record) in report.cases.enumerated() where record.verdict.isFailure { anchors[index] = "case-\(index)" }

        var html = """
        <!DOCTYPE html>
        <html><head><meta charset="utf-8"><title>dio-torture \(escaped(report.sweep?.name ?? "run"))</title>
        <style>
        body { font: 13px system-ui, sans-serif; margin: 1.5em; }
        table.grid { border-collapse: collapse; margin-bottom: 2em; }
        .grid th, .grid td { border: 1px solid #fff; padding: 0; }
        .grid th.row { text-align: left; padding-right: 1em; white-space: nowrap; }
        .grid th.col { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal; padding: 2px; white-space: nowrap; }
        .grid th.group { border-bottom: 2px solid #999; }
        .grid td a, .grid td span { display: block; width: 14px; height: 14px; }
        .legend span { display: inline-block; padding: 2px 6px; margin-right: 4px; color: #fff; }
        pre { background: #f4f4f4; padding: .5em; overflow-x: auto; }
        </style></head><body>
        <h1>dio-torture \(escaped(report.sweep.map { "sweep \($0.name)" } ?? "run"))</h1>
        <p>\(escaped(TextReport.summary(report, colour: false)))</p>
        <p class="legend">\(severity.map { "<span style=\"background:\(colours[$0]!)\">\($0.rawValue)</span>" }.joined())</p>

        """
        for scenario in ordered(records.map(\.scenario)) {
            let inScenario = records.enumerated().filter { $0.element.scenario == scenario }
            let columns = ordered(inScenario.map { $0.element.gridColumn! })
            html += "<h2>\(escaped(scenario))</h2>\n<table class=\"grid\">\n<tr><th></th>"
            for kernel in kernels { html += "<th class=\"group\" colspan=\"\(columns.count)\">\(escaped(kernel))</th>" }
            html += "</tr>\n<tr><th></th>"
            for _ in kernels { html += columns.map { "<th class=\"col\">\(escaped($0))</th>" }.joined() }
            html += "</tr>\n"
            for filesystem in filesystems {
                html += "<tr><th class=\"row\">\(escaped(filesystem))</th>"
                for kernel in kernels {
                    for column in columns {
                        let cell = inScenario.filter {
                            $0.element.kernel == kernel && TextReport.filesystemLabel($0.element.filesystem) == filesystem
                                && $0.element.gridColumn == column
                        }
                        html += "<td>" + self.cell(cell, anchors: anchors) + "</td>"
                    }
                }
                html += "</tr>\n"
            }
            html += "</table>\n"
        }
        let failing = report.cases.enumerated().filter { $0.element.verdict.isFailure }
        html += "<h2>Failures (\(failing.count))</h2>\n"
        for (index, record) in failing {
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
        return html + "</body></html>\n"
    }

    private static func cell(_ cases: [(offset: Int, element: CaseRecord)], anchors: [Int: String]) -> String {
        guard let worst = severity.first(where: { verdict in cases.contains { $0.element.verdict == verdict } }) else { return "" }
        let title = JUnit.escaped(cases.map { "\($0.element.id): \($0.element.verdict.rawValue)" + ($0.element.reason.map { " (\($0))" } ?? "") }
            .joined(separator: "\n"))
        let style = "style=\"background:\(colours[worst]!)\" title=\"\(title)\""
        if let failing = cases.first(where: { anchors[$0.offset] != nil }) {
            return "<a href=\"#\(anchors[failing.offset]!)\" \(style)></a>"
        }
        return "<span \(style)></span>"
    }

    private static func ordered(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }
}

extension CaseRecord {
    /// The grid column a case falls in: its pattern and path, or a step scenario's variant.
    var gridColumn: String? {
        if let pattern, let path { return "\(pattern.rawValue) \(path)" }
        return variant
    }
}
