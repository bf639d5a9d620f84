import DIOSystem
import Foundation

/// One Markdown file a maintainer can act on, for one failing case: the kernel and the config
/// options that matter, the filesystem as made and mounted, what was done, expected against
/// found, the kernel's log, the extents, where it does and does not reproduce, the C reproducer
/// inline and the one command that reproduces it with dio-torture.
public enum FindingReport {
    /// Config options that decide whether and how this class of bug shows.
    static let configOptions = [
        "CONFIG_IO_URING", "CONFIG_AIO", "CONFIG_USERFAULTFD", "CONFIG_TRANSPARENT_HUGEPAGE", "CONFIG_BTRFS_FS", "CONFIG_BTRFS_ASSERT",
        "CONFIG_XFS_FS", "CONFIG_XFS_DEBUG", "CONFIG_EXT4_FS", "CONFIG_EXT4_DEBUG", "CONFIG_EROFS_FS", "CONFIG_EROFS_FS_BACKED_BY_FILE",
        "CONFIG_DEBUG_VM", "CONFIG_PROVE_LOCKING", "CONFIG_KASAN", "CONFIG_PREEMPT", "CONFIG_PREEMPT_DYNAMIC",
    ]

    /// The report of `record`, from a run with `runSeed`; `matrix` holds the same case on other
    /// kernels, `config` the text of the kernel's config when this machine has it.
    public static func markdown(_ record: CaseRecord, runSeed: UInt64, matrix: [CaseRecord], config: String?,
                                reproducer: Result<String, Error>) -> String {
        let first = record.failureDetails.first
        let verdict = record.knownBug?.verdict ?? record.verdict
        var lines = ["# \(record.filesystem.type) on \(record.kernel): \(first?.note ?? record.reason ?? verdict.rawValue)", ""]
        lines += ["dio-torture case `\(record.id)`: \(verdict.rawValue) in \(record.failures) of \(record.iterations) iterations (case seed \(record.seed)).", ""]
        lines += kernelSection(record, config: config) + filesystemSection(record) + doneSection(record)
        lines += expectedSection(record) + logSection(record) + matrixSection(record, matrix: matrix)
        lines += reproducerSection(record, runSeed: runSeed, reproducer: reproducer)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The options of `configOptions` as `config` (a kernel .config) sets them.
    static func options(in config: String) -> [String] {
        let lines = config.split(separator: "\n")
        return configOptions.map { option in
            lines.first { $0.hasPrefix(option + "=") }.map(String.init) ?? "# \(option) is not set"
        }
    }

    private static func kernelSection(_ record: CaseRecord, config: String?) -> [String] {
        var lines = ["## Kernel", "", "`\(record.kernel)`.", ""]
        if let config { lines += ["Config options that matter here:", "", "```"] + options(in: config) + ["```", ""] }
        else { lines += ["Its config is not on the machine that wrote this report.", ""] }
        return lines
    }

    private static func filesystemSection(_ record: CaseRecord) -> [String] {
        let fs = record.filesystem
        return ["## Filesystem", "",
                "\(fs.type), \(fs.origin == "scratch" ? "made by dio-torture on a loop device" : "the directory \(fs.location ?? "")"); "
                + "mkfs options: \(quoted(fs.mkfsOptions.joined(separator: " "))); mount options: \(quoted(fs.mountOptions.joined(separator: ","))).", ""]
    }

    private static func quoted(_ options: String) -> String { options.isEmpty ? "none (the defaults)" : "`\(options)`" }

    private static func doneSection(_ record: CaseRecord) -> [String] {
        var lines = ["## What was done", ""]
        if let read = record.read, let pattern = record.pattern, let path = record.path {
            lines.append("A read of \(read.length) bytes at offset \(read.offset) of a \(read.fileSize)-byte file through `\(path)` (\(path.summary)), into a buffer set up as `\(pattern.rawValue)` (\(pattern.summary)).")
        } else if let write = record.write, let pattern = record.pattern, let path = record.path {
            lines.append("A write of \(write.length) bytes at offset \(write.offset) of a \(write.fileSize)-byte file (`\(write.target.rawValue)`: \(write.target.summary)) through `\(path)` (\(path.summary)), from a source set up as `\(pattern.rawValue)` (\(pattern.summary)).")
        } else if let log = record.operationLog, let text = try? String(contentsOfFile: log, encoding: .utf8) {
            let operations = text.split(separator: "\n")
            lines += ["The operation log `\(URL(fileURLWithPath: log).lastPathComponent)`\(operations.count > 40 ? " (its first 40 lines of \(operations.count); `dio-torture replay --shrink` shortens it)" : ""):", "", "```"]
                + operations.prefix(40).map(String.init) + ["```"]
        } else {
            lines.append("The `\(record.scenario)` scenario, variant `\(record.variant ?? "")`.")
        }
        if let layout = record.layout {
            lines += ["", "Extents before (FIEMAP): planned \(layout.planned), \(layout.status.rawValue): "
                      + describe(layout.found) + "."]
        }
        return lines + [""]
    }

    /// Extents as `logical+length`, unwritten ones marked.
    private static func describe(_ extents: [MappedExtent]) -> String {
        extents.isEmpty ? "none" : extents.map { "\($0.logical)+\($0.length)\($0.isUnwritten ? " unwritten" : "")" }.joined(separator: ", ")
    }

    private static func expectedSection(_ record: CaseRecord) -> [String] {
        var lines = ["## Expected and found", ""]
        for failure in record.failureDetails.prefix(3) {
            lines.append("- iteration \(failure.iteration) (seed \(failure.seed)): expected \(failure.expectedLength) bytes, got \(failure.result.map(String.init) ?? "no completion")\(failure.errno.map { " (\($0))" } ?? ""); \(failure.note ?? failure.outcome.rawValue)")
            lines += (failure.badRanges + failure.unfilledTail).prefix(4).map { "  - bytes \($0.offset)..<\($0.offset + $0.length): \($0.diagnosis.rawValue)" }
            if let after = failure.extentsAfter { lines.append("  - extents after it (FIEMAP): " + describe(after)) }
        }
        if let check = record.checks?.first(where: { $0.held == false }) { lines.append("- \(check.name): \(check.observed)") }
        if lines.count == 2 { lines.append(record.reason ?? "") }
        return lines + [""]
    }

    private static func logSection(_ record: CaseRecord) -> [String] {
        guard let log = record.kernelLog, !log.isEmpty else { return ["## Kernel log", "", "Nothing that reports a kernel problem was logged during the case.", ""] }
        return ["## Kernel log", "", "```"] + log + ["```", ""]
    }

    private static func matrixSection(_ record: CaseRecord, matrix: [CaseRecord]) -> [String] {
        let same = ([record] + matrix.filter { $0.id == record.id && $0.filesystem.type == record.filesystem.type && $0.kernel != record.kernel })
        guard same.count > 1 else { return [] }
        return ["## Where it reproduces", "", "| kernel | verdict | failing iterations |", "|---|---|---|"]
            + same.map { "| \($0.kernel) | \($0.knownBug?.verdict.rawValue ?? $0.verdict.rawValue) | \($0.failures) of \($0.iterations) |" } + [""]
    }

    private static func reproducerSection(_ record: CaseRecord, runSeed: UInt64, reproducer: Result<String, Error>) -> [String] {
        var lines = ["## Reproduce", "", "With dio-torture:", "", "```", command(record, runSeed: runSeed), "```", ""]
        switch reproducer {
        case .success(let source):
            lines += ["In plain C (`gcc -Wall repro.c -o repro -luring -lpthread`, then `./repro DIR` with DIR on a \(record.filesystem.type) filesystem):",
                      "", "```c", source.trimmingCharacters(in: .newlines), "```"]
        case .failure(let error):
            lines.append("No C reproducer: \(error)")
        }
        return lines
    }

    /// The one command that runs this case again, with its run's seed.
    static func command(_ record: CaseRecord, runSeed: UInt64) -> String {
        let fs = record.filesystem
        if record.read == nil && record.write == nil, let log = record.operationLog { return "dio-torture replay \(log) --fs \(fs.type)" }
        var words = ["dio-torture run --fs \(fs.type) --scenario \(record.scenario)"]
        if !fs.mkfsOptions.isEmpty { words.append("--mkfs-options '\(fs.type)=\(fs.mkfsOptions.joined(separator: " "))'") }
        if !fs.mountOptions.isEmpty { words.append("--mount-options \(fs.type)=\(fs.mountOptions.joined(separator: ","))") }
        if let pattern = record.pattern { words.append("--pattern \(pattern.rawValue)") }
        if let path = record.path { words.append("--io-path \(path)") }
        if let target = record.write?.target { words.append("--write-target \(target.rawValue)") }
        words.append("--iterations \(record.iterations) --seed \(runSeed) --no-known-bugs")
        return words.joined(separator: " ")
    }
}
