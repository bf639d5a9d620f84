import ArgumentParser
import DIOTorture
import Foundation

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert JSON reports into any format after the fact.",
        discussion: """
        Reads the JSON of a run, a sweep shard, a merged sweep or a vm kernel matrix. Several \
        shards of one sweep are merged as `merge` does; other reports are joined case by case. \
        With no file option, prints the text summary. Verdicts are taken as the report has them \
        (known kernel bugs were applied when it was written). Exit status: 0 written, 2 a report \
        that cannot be read.
        """)

    @Argument(help: "JSON reports.")
    var reports: [String]

    @OptionGroup var files: ReportFiles

    @Flag(help: "Print the text summary too (the default when no file is asked for).")
    var text = false

    func run() throws {
        let report: RunReport
        do { report = try RunReport.joined(reports) } catch let error as SweepError { throw UsageError(error.description) }
        if text || files.requested.isEmpty { print(TextReport.document(report, colour: false), terminator: "") }
        try files.write(report)
    }
}
