/// The human summary: one row per case, colour on a terminal.
public enum TextReport {
    public static func table(_ report: RunReport, colour: Bool) -> String {
        let header = ["FS", "SCENARIO", "LAYOUT", "READ", "PATTERN", "PATH", "ITER", "VERDICT", "FAIL/N", "NOTE"]
        let rows = report.cases.map { record -> [String] in
            [record.filesystem.type, record.scenario,
             record.layout.map { layoutCell($0) } ?? "-",
             record.read.map { formatBytes($0.length) + ($0.offset + $0.length > $0.fileSize ? ">EOF" : "") } ?? "-",
             record.pattern?.rawValue ?? "-", record.path?.description ?? "-",
             "\(record.iterations)", record.verdict.rawValue,
             "\(record.failures)/\(record.iterations)", record.reason ?? ""]
        }
        let widths = (0..<header.count - 1).map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        func line(_ cells: [String], verdict: Verdict?) -> String {
            var text = ""
            for (column, cell) in cells.enumerated() {
                var padded = column < widths.count ? cell.padding(toLength: widths[column]) : cell
                if column == 7, colour, let verdict { padded = paint(padded, verdict) }
                text += padded + (column < cells.count - 1 ? "  " : "")
            }
            return text
        }
        var output = line(header, verdict: nil) + "\n"
        for (record, row) in zip(report.cases, rows) { output += line(row, verdict: record.verdict) + "\n" }
        return output + summary(report, colour: colour)
    }

    public static func summary(_ report: RunReport, colour: Bool) -> String {
        let counts = report.counts
        let parts = Verdict.allCases.map { verdict -> String in
            let text = "\(counts[verdict, default: 0]) \(verdict.rawValue)"
            return colour && counts[verdict, default: 0] > 0 ? paint(text, verdict) : text
        }
        let reads = report.cases.reduce(0) { $0 + $1.outcomes.values.reduce(0, +) }
        return "\(report.cases.count) cases, \(reads) reads judged in \(String(format1: report.durationSeconds)) s on \(report.hostKernel), seed \(report.seed): "
            + parts.joined(separator: ", ") + "\n"
    }

    /// Failing cases in full: every failing iteration's seed, offsets and diagnosis.
    public static func failures(_ report: RunReport) -> String {
        var output = ""
        for record in report.cases where record.verdict == .fail {
            output += "FAIL \(record.filesystem.type) \(record.id)\n"
            for failure in record.failureDetails.prefix(3) {
                output += "  iteration \(failure.iteration) seed \(failure.seed): \(failure.outcome.rawValue)"
                output += ", res \(failure.result.map(String.init) ?? "none") of \(failure.expectedLength)"
                if let note = failure.note { output += " (\(note))" }
                output += "\n"
                for range in (failure.badRanges + failure.unfilledTail).prefix(4) {
                    output += "    bytes \(range.offset)..<\(range.offset + range.length): \(range.diagnosis.rawValue)\n"
                }
            }
        }
        return output
    }

    static func layoutCell(_ layout: LayoutRecord) -> String {
        let marks: [LayoutStatus: String] = [.verified: "ok", .notReached: "MERGED", .notApplicable: "n/a", .unverifiable: "?"]
        return "\(layout.planned.count)x\(formatBytes(layout.planned.size))\(layout.planned.gap > 0 ? "+gap" : "") \(marks[layout.status]!)"
    }

    static func paint(_ text: String, _ verdict: Verdict) -> String {
        let code = switch verdict {
        case .pass: "32"
        case .fail, .broken: "1;31"
        case .skip: "36"
        case .inconclusive: "33"
        }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }
}

extension String {
    func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }

    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}
