import DIOSystem
import Foundation

/// A lab's fstests configuration (`local.config`, or a file of sections) read as fstests reads it,
/// so that the set-up a lab already has drives dio-torture: the cases run in a fresh subdirectory
/// of `TEST_DIR`, and the scratch filesystem is made on `SCRATCH_DEV` as `FSTYP` with the lab's
/// `MKFS_OPTIONS` and `MOUNT_OPTIONS`.
///
/// As fstests does, the lines before the first `[section]` hold for every section, and a section's
/// own lines are applied on top of them; `VAR=value`, `export VAR=value`, quotes, `#` comments and
/// `$VAR`/`${VAR}` of variables set above are understood. Nothing else of the shell is.
public struct FstestsConfig: Sendable {
    public var file: String
    /// The section read, nil for a file without sections.
    public var section: String?
    public var variables: [String: String]

    public init(file: String, section wanted: String? = nil) throws {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw Self.invalid("\(file): cannot read") }
        self.file = file
        let (global, sections) = try Self.split(text, file: file)
        if let wanted, sections.lines[wanted] == nil {
            throw Self.invalid("\(file): no section [\(wanted)]; it has \(sections.order.isEmpty ? "none" : sections.order.joined(separator: ", "))")
        }
        section = wanted ?? sections.order.first
        var variables: [String: String] = [:]
        for (line, number) in global + (section.flatMap { sections.lines[$0] } ?? []) {
            let (name, value) = try Self.assignment(line, file: file, line: number, variables: variables)
            variables[name] = value
        }
        self.variables = variables
    }

    /// The targets the configuration names: `TEST_DIR` as a directory target (it must be mounted,
    /// from `TEST_DEV` when that is given), and a scratch filesystem of `FSTYP` on `SCRATCH_DEV`.
    public func targets() throws -> (targets: [TargetSpec], scratchDevice: String?) {
        var targets: [TargetSpec] = []
        if let directory = variables["TEST_DIR"] {
            try checkMounted(directory, device: variables["TEST_DEV"])
            targets.append(.directory(directory))
        }
        let device = variables["SCRATCH_DEV"]
        if let device {
            if let reason = ScratchFilesystem.unusableDeviceReason(device) { throw Self.invalid("\(where_) SCRATCH_DEV \(reason)") }
            targets.append(.scratch(ScratchOptions(kind: try kind(), mkfsOptions: mkfsOptions, mountOptions: try mountOptions())))
        }
        if targets.isEmpty { throw Self.invalid("\(where_) sets neither TEST_DIR nor SCRATCH_DEV: nothing to run on") }
        return (targets, device)
    }

    var mkfsOptions: [String] { RunRequest.words(variables["MKFS_OPTIONS"] ?? "") }

    /// MOUNT_OPTIONS as fstests passes them to mount(8): `-o a,b`, repeatable.
    func mountOptions() throws -> [String] {
        var words = RunRequest.words(variables["MOUNT_OPTIONS"] ?? "")[...]
        var options: [String] = []
        while let word = words.popFirst() {
            if word == "-o", let list = words.popFirst() { options += RunRequest.names(list) }
            else if word.hasPrefix("-o") { options += RunRequest.names(String(word.dropFirst(2))) }
            else { throw Self.invalid("\(where_) MOUNT_OPTIONS: only -o OPTIONS is understood, not '\(word)'") }
        }
        return options
    }

    private func kind() throws -> ScratchKind {
        guard let name = variables["FSTYP"] else { throw Self.invalid("\(where_) sets SCRATCH_DEV without FSTYP: which filesystem to make?") }
        let onDevices = ScratchKind.all.filter(\.maker.needsBlockDevice)
        guard let kind = onDevices.first(where: { $0.name == name }) else {
            throw Self.invalid("\(where_) FSTYP \(name): dio-torture makes \(onDevices.map(\.name).joined(separator: ", ")) on SCRATCH_DEV")
        }
        return kind
    }

    private func checkMounted(_ directory: String, device: String?) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Self.invalid("\(where_) TEST_DIR \(directory): no such directory")
        }
        guard let device else { return }
        let mounted = try? filesystemDeviceNumber(of: directory)
        guard let number = try? blockDeviceNumber(of: device), mounted == number else {
            throw Self.invalid("\(where_) TEST_DEV \(device) is not mounted on TEST_DIR \(directory) (mount it as fstests' check does)")
        }
    }

    private var where_: String { "\(file)\(section.map { " [\($0)]" } ?? ""):" }

    private static func invalid(_ text: String) -> RunRequest.Invalid { RunRequest.Invalid(description: text) }

    typealias Lines = [(text: String, number: Int)]

    /// The lines before the first section, and each section's lines, comments and blanks dropped.
    private static func split(_ text: String, file: String) throws -> (global: Lines, sections: (order: [String], lines: [String: Lines])) {
        var global: Lines = []
        var order: [String] = []
        var sections: [String: Lines] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?
                .trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else { throw invalid("\(file):\(index + 1): a section is [NAME], not \(line)") }
                let name = String(line.dropFirst().dropLast())
                if sections[name] == nil { order.append(name) }
                sections[name, default: []] += []
                continue
            }
            if let current = order.last { sections[current]!.append((line, index + 1)) } else { global.append((line, index + 1)) }
        }
        return (global, (order, sections))
    }

    /// `[export] NAME = value`, the value unquoted and its `$VAR`s expanded.
    private static func assignment(_ line: String, file: String, line number: Int, variables: [String: String]) throws -> (String, String) {
        let statement = line.hasPrefix("export ") ? String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) : line
        guard let equals = statement.firstIndex(of: "=") else { throw invalid("\(file):\(number): expected NAME=value, not \(line)") }
        let name = statement[..<equals].trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw invalid("\(file):\(number): '\(name)' is not a variable name")
        }
        var value = statement[statement.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        if value.count >= 2, let quote = value.first, quote == "\"" || quote == "'", value.last == quote {
            value = String(value.dropFirst().dropLast())
            if quote == "'" { return (name, value) }
        }
        return (name, expand(value, variables))
    }

    private static func expand(_ value: String, _ variables: [String: String]) -> String {
        var result = ""
        var rest = value[...]
        while let dollar = rest.firstIndex(of: "$") {
            result += rest[..<dollar]
            rest = rest[rest.index(after: dollar)...]
            let braced = rest.first == "{"
            if braced { rest = rest.dropFirst() }
            let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            rest = rest.dropFirst(name.count)
            if braced, rest.first == "}" { rest = rest.dropFirst() }
            result += variables[String(name)] ?? ProcessInfo.processInfo.environment[String(name)] ?? ""
        }
        return result + rest
    }
}

extension RunRequest {
    /// Words split at blanks, as a shell splits an unquoted variable.
    static func words(_ text: String) -> [String] { text.split(whereSeparator: \.isWhitespace).map(String.init) }
}
