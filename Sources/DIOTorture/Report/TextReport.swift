import DIOSystem
import Foundation

/// The human summary: one row per case, colour on a terminal.
public enum TextReport {
    /// With guest kernels (`dio-torture vm`), each row starts with the kernel it ran on.
    public static func table(_ report: RunReport, colour: Bool) -> String {
        let showKernel = report.guests != nil
        let header = (showKernel ? ["KERNEL"] : []) + ["FS", "SCENARIO", "LAYOUT", "READ", "PATTERN", "PATH", "ITER", "VERDICT", "FAIL/N", "NOTE"]
        let verdictColumn = header.firstIndex(of: "VERDICT")!
        let rows = report.cases.map { record -> [String] in
            (showKernel ? [record.kernel] : []) + [record.filesystem.type, record.scenario,
             record.layout.map { layoutCell($0) } ?? "-",
             record.read.map { formatBytes($0.length) + ($0.offset + $0.length > $0.fileSize ? ">EOF" : "") } ?? "-",
             record.pattern?.rawValue ?? record.variant ?? "-", record.path?.description ?? "-",
             "\(record.iterations)", record.verdict.rawValue,
             "\(record.failures)/\(record.reads)", record.reason ?? ""]
        }
        let widths = (0..<header.count - 1).map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        func line(_ cells: [String], verdict: Verdict?) -> String {
            var text = ""
            for (column, cell) in cells.enumerated() {
                var padded = column < widths.count ? cell.padding(toLength: widths[column]) : cell
                if column == verdictColumn, colour, let verdict { padded = paint(padded, verdict) }
                text += padded + (column < cells.count - 1 ? "  " : "")
            }
            return text
        }
        var output = line(header, verdict: nil) + "\n"
        for (record, row) in zip(report.cases, rows) { output += line(row, verdict: record.verdict) + "\n" }
        return output + notRunByReason(report) + summary(report, colour: colour)
    }

    /// SKIP and INCONCLUSIVE cases grouped by verdict and reason, most frequent first, each with
    /// the filesystems it came from: what a sweep did not run or could not prove, at a glance.
    public static func notRunByReason(_ report: RunReport) -> String {
        var groups: [String: (verdict: Verdict, reason: String, count: Int, filesystems: [String])] = [:]
        for record in report.cases where record.verdict == .skip || record.verdict == .inconclusive {
            let reason = record.reason ?? "no reason given"
            let key = record.verdict.rawValue + "\u{0}" + reason
            var group = groups[key] ?? (record.verdict, reason, 0, [])
            group.count += 1
            let filesystem = filesystemLabel(record.filesystem)
            if !group.filesystems.contains(filesystem) { group.filesystems.append(filesystem) }
            groups[key] = group
        }
        guard !groups.isEmpty else { return "" }
        let sorted = groups.values.sorted { ($0.count, $1.reason) > ($1.count, $0.reason) }
        return "SKIP and INCONCLUSIVE by reason:\n" + sorted.map { group in
            "  \(group.verdict.rawValue.padding(toLength: 12)) \(String(format: "%6d", group.count))  \(group.reason)  [\(group.filesystems.joined(separator: ", "))]\n"
        }.joined()
    }

    public static func summary(_ report: RunReport, colour: Bool) -> String {
        let counts = report.counts
        let parts = Verdict.allCases.map { verdict -> String in
            let text = "\(counts[verdict, default: 0]) \(verdict.rawValue)"
            return colour && counts[verdict, default: 0] > 0 ? paint(text, verdict) : text
        }
        let transfers = report.cases.reduce(0) { $0 + $1.outcomes.values.reduce(0, +) }
        return (report.complete ? "" : "INCOMPLETE: ") + "\(report.cases.count) cases, \(transfers) transfers judged in \(String(format1: report.durationSeconds)) s on \(report.guests.map { byKernel($0).map(\.release).joined(separator: ", ") } ?? report.hostKernel), seed \(report.seed): "
            + parts.joined(separator: ", ") + "\n"
    }

    /// Kernels x filesystems, the verdicts of each cell counted, for a `dio-torture vm` run;
    /// with each kernel's accelerator, boot time and time to first detection.
    public static func kernelMatrix(_ report: RunReport, colour: Bool) -> String {
        guard let guests = report.guests else { return "" }
        var columns: [String] = []
        for record in report.cases where record.filesystem.origin != "vm" && !columns.contains(filesystemLabel(record.filesystem)) {
            columns.append(filesystemLabel(record.filesystem))
        }
        let header = ["KERNEL", "ACCEL", "GUEST", "BOOT"] + columns + ["FIRST FAIL"]
        var rows: [[String]] = [], worst: [[Verdict?]] = []
        for kernel in byKernel(guests) {
            let cases = report.cases.filter { $0.kernel == kernel.release }
            let broken = cases.first { $0.filesystem.origin == "vm" }
            var row = [kernel.release, kernel.accelerator, kernel.outcome.rawValue, kernel.bootSeconds.map { String(format1: $0) + " s" } ?? "-"]
            var verdicts: [Verdict?] = [nil, nil, broken == nil ? nil : .broken, nil]
            for column in columns {
                let cell = cases.filter { filesystemLabel($0.filesystem) == column }
                if cell.isEmpty {
                    row.append(broken == nil ? "-" : "BROKEN")
                    verdicts.append(broken == nil ? nil : .broken)
                    continue
                }
                let counts = cell.reduce(into: [Verdict: Int]()) { $0[$1.verdict, default: 0] += 1 }
                let order = Verdict.bySeverity
                row.append(order.filter { counts[$0] != nil }.map { "\(counts[$0]!) \($0.rawValue)" }.joined(separator: " "))
                verdicts.append(order.first { counts[$0] != nil })
            }
            let firstFailure = cases.compactMap(\.firstFailureSeconds).min()
            row.append(firstFailure.map { String(format: "%.3f s", $0) } ?? "-")
            verdicts.append(nil)
            rows.append(row)
            worst.append(verdicts)
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String], _ verdicts: [Verdict?]) -> String {
            zip(cells.indices, cells).map { column, cell in
                let padded = cell.padding(toLength: widths[column])
                guard colour, let verdict = verdicts[column] else { return padded }
                return paint(padded, verdict)
            }.joined(separator: "  ")
        }
        var output = line(header, Array(repeating: nil, count: header.count)) + "\n"
        for (row, verdicts) in zip(rows, worst) { output += line(row, verdicts) + "\n" }
        for guest in guests where !guest.consoleTail.isEmpty {
            output += "\n\(guest.name): \(guest.outcome.rawValue); last console lines:\n"
            output += guest.consoleTail.suffix(12).map { "  | " + $0 }.joined(separator: "\n") + "\n"
        }
        for kernel in byKernel(guests) {
            if !kernel.missingModules.isEmpty {
                output += "\(kernel.release): no module for \(kernel.missingModules.joined(separator: ", ")) (neither built in nor shipped)\n"
            }
            if !kernel.failedModules.isEmpty { output += "\(kernel.release): modules failed to load: \(kernel.failedModules.joined(separator: ", "))\n" }
        }
        return output
    }

    /// What a command other than `run` and `sweep` printed in each guest, and the last console
    /// lines of a guest that did not complete (a hang's or a panic's, with its kernel's stacks).
    public static func guestOutputs(_ runs: [GuestRun]) -> String {
        runs.map { run in
            let guest = run.record
            let tail = guest.consoleTail.isEmpty ? "" : "last console lines:\n" + guest.consoleTail.map { "  | " + $0 + "\n" }.joined()
            return "== \(guest.name) (\(guest.outcome.rawValue))\n\(run.output)\n" + tail
        }.joined()
    }

    /// The guests as the matrix's rows: a kernel whose run was split over several guests (or
    /// booted by several joined reports) is one row, with the worst of their outcomes, the
    /// longest boot and every module any of them missed.
    static func byKernel(_ guests: [GuestRecord]) -> [GuestRecord] {
        var kernels: [GuestRecord] = []
        for guest in guests {
            guard let index = kernels.firstIndex(where: { $0.release == guest.release }) else {
                kernels.append(guest)
                continue
            }
            var kernel = kernels[index]
            if kernel.outcome == .completed { kernel.outcome = guest.outcome }
            if !kernel.accelerator.split(separator: ",").contains(Substring(guest.accelerator)) { kernel.accelerator += "," + guest.accelerator }
            kernel.bootSeconds = [kernel.bootSeconds, guest.bootSeconds].compactMap { $0 }.max()
            kernel.missingModules += guest.missingModules.filter { !kernel.missingModules.contains($0) }
            kernel.failedModules += guest.failedModules.filter { !kernel.failedModules.contains($0) }
            kernels[index] = kernel
        }
        return kernels
    }

    static func filesystemLabel(_ filesystem: FilesystemRecord) -> String {
        ([filesystem.type] + filesystem.mkfsOptions + filesystem.mountOptions.map { "-o" + $0 }).joined(separator: " ")
    }

    /// Failing cases in full: every failing iteration's seed, offsets and diagnosis.
    public static func failures(_ report: RunReport) -> String {
        var output = ""
        for record in report.cases where record.verdict.isFailure && record.verdict != .broken {
            output += "\(record.verdict.rawValue) \(record.kernel) \(record.filesystem.type) \(record.id)"
            output += record.firstFailureSeconds.map { String(format: " (first detected %.3f s into the case)", $0) } ?? ""
            output += "\n"
            for failure in record.failureDetails.prefix(3) {
                output += "  iteration \(failure.iteration)\(failure.read.map { " read \($0)" } ?? "") seed \(failure.seed): \(failure.outcome.rawValue)"
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
        case .fail, .hang, .tainted, .broken: "1;31"
        case .skip: "36"
        case .inconclusive: "33"
        case .known: "35"
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
