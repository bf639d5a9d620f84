import DIOSystem
import Foundation

/// JUnit XML as CI systems read it: testsuites > testsuite (one per kernel and filesystem) >
/// testcase, with <failure>, <error> (a BROKEN harness) or <skipped> and their reasons.
public enum JUnit {
    public static func document(_ report: RunReport) -> String {
        let groups = CaseGroup.of(report)
        let counts = report.counts
        var xml = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        xml += "<testsuites name=\"dio-torture\" tests=\"\(report.cases.count)\" failures=\"\(failures(counts))\" "
            + "errors=\"\(counts[.broken, default: 0])\" skipped=\"\(counts[.skip, default: 0] + counts[.inconclusive, default: 0])\" "
            + "time=\"\(seconds(report.durationSeconds))\">\n"
        for group in groups {
            let tally = group.cases.reduce(into: [Verdict: Int]()) { $0[$1.verdict, default: 0] += 1 }
            xml += "  <testsuite name=\"\(escaped(group.name))\" tests=\"\(group.cases.count)\" failures=\"\(failures(tally))\" "
                + "errors=\"\(tally[.broken, default: 0])\" skipped=\"\(tally[.skip, default: 0] + tally[.inconclusive, default: 0])\" "
                + "time=\"\(seconds(group.cases.reduce(0) { $0 + $1.durationSeconds }))\" timestamp=\"\(escaped(report.startedAt))\">\n"
            xml += "    <properties>\n"
            xml += "      <property name=\"kernel\" value=\"\(escaped(group.kernel))\"/>\n"
            xml += "      <property name=\"filesystem\" value=\"\(escaped(group.filesystem))\"/>\n"
            xml += "      <property name=\"seed\" value=\"\(report.seed)\"/>\n"
            xml += "    </properties>\n"
            for record in group.cases {
                xml += "    <testcase classname=\"dio-torture.\(escaped(record.scenario))\" name=\"\(escaped(record.id))\" time=\"\(seconds(record.durationSeconds))\""
                switch record.verdict {
                case .pass:
                    xml += "/>\n"
                case .skip, .inconclusive, .known:
                    let prefix = record.verdict == .skip ? "" : record.verdict.rawValue + ": "
                    let reason = prefix + (record.reason ?? "")
                    xml += ">\n      <skipped message=\"\(escaped(reason))\"/>\n    </testcase>\n"
                case .fail, .hang, .tainted:
                    let outcome = record.verdict == .fail ? record.failureDetails.first?.outcome.rawValue ?? "fail" : record.verdict.rawValue
                    xml += ">\n      <failure message=\"\(escaped(record.failureSummary))\" type=\"\(outcome)\">"
                    xml += escaped(TextReport.failures(RunReport(startedAt: report.startedAt, hostKernel: report.hostKernel, seed: report.seed,
                                                                 iterations: report.iterations, complete: report.complete,
                                                                 durationSeconds: 0, cases: [record])))
                    xml += "</failure>\n    </testcase>\n"
                case .broken:
                    xml += ">\n      <error message=\"\(escaped(record.reason ?? "broken"))\" type=\"BROKEN\"/>\n    </testcase>\n"
                }
            }
            xml += "  </testsuite>\n"
        }
        return xml + "</testsuites>\n"
    }

    static func failures(_ counts: [Verdict: Int]) -> Int {
        counts.filter { $0.key.isFailure && $0.key != .broken }.values.reduce(0, +)
    }

    static func seconds(_ value: Double) -> String { String(format: "%.3f", value) }

    static func escaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "\n", "\t": result.unicodeScalars.append(scalar)
            // XML 1.0 cannot carry other control characters at all.
            case _ where scalar.value < 0x20: result += "?"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
