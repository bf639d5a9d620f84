import DIOSystem
import Foundation

/// A run as the command line asks for it, in words. Checked and turned into a plan here, every
/// error one line that names the valid choices, so that tests reach it and `vm` can reject a
/// guest's command before booting anything.
public struct RunRequest: Sendable {
    /// A mounted directory to run in, instead of scratch filesystems.
    public var directory: String?
    /// Scratch filesystems, comma-separated (default: btrfs, xfs, ext4 and tmpfs).
    public var filesystems: String?
    /// `FS=ARGS` each: extra mkfs arguments, and mount options, for one filesystem.
    public var mkfsOptions: [String] = []
    public var mountOptions: [String] = []
    public var scratchDevice: String?
    /// Comma-separated names; nil: each scenario's own.
    public var scenarios: String?
    public var patterns: String?
    public var paths: String?
    public var queueDepths: String?
    public var writeTargets: String?
    public var options: RunOptions

    public init(options: RunOptions) { self.options = options }

    /// A request that cannot be met: one line, exit 2.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// The plan, and a note to print when the targets were chosen for the user (not root).
    public func plan() throws -> (plan: RunPlan, note: String?) {
        let scenarios = try list(scenarios, "scenario", choices: catalogue.map(\.name)) { scenario(named: $0) } ?? catalogue
        let patterns = try list(patterns, "fault pattern", choices: FaultPattern.allCases.map(\.rawValue)) { FaultPattern(rawValue: $0) }
        let paths = try list(paths, "I/O path", choices: IOPath.named.map(\.description)) { name in IOPath.named.first { $0.description == name } }
        let depths = try list(queueDepths, "queue depth", choices: ["1 to \(SweepFile.maxQueueDepth)"]) { text in
            Int(text).flatMap { (1...SweepFile.maxQueueDepth).contains($0) ? $0 : nil }
        }
        let writeTargets = try list(writeTargets, "write target", choices: WriteTarget.allCases.map(\.rawValue)) { WriteTarget(rawValue: $0) }
        let (targets, note) = try self.targets()
        return (RunPlan(targets: targets, scenarios: scenarios,
                        selection: Selection(patterns: patterns, paths: paths, queueDepths: depths, writeTargets: writeTargets),
                        options: options, scratchDevice: scratchDevice), note)
    }

    private func targets() throws -> ([TargetSpec], String?) {
        let kinds = try list(filesystems, "filesystem", choices: ScratchKind.allCases.map(\.rawValue)) { ScratchKind(rawValue: $0) }
        let mkfs = try perFilesystem(mkfsOptions, option: "--mkfs-options")
        let mount = try perFilesystem(mountOptions, option: "--mount-options")
        return try TargetSpec.choose(directory: directory, filesystems: kinds, defaults: ScratchKind.allCases) { kind in
            ScratchOptions(kind: kind, mkfsOptions: mkfs[kind].map { $0.split(separator: " ").map(String.init) } ?? [],
                           mountOptions: mount[kind].map { Self.names($0) } ?? [])
        }
    }

    private func perFilesystem(_ values: [String], option: String) throws -> [ScratchKind: String] {
        var result: [ScratchKind: String] = [:]
        for value in values {
            guard let equals = value.firstIndex(of: "="), let kind = ScratchKind(rawValue: String(value[..<equals])) else {
                throw Invalid(description: "\(option) \(value): expected FS=VALUE with FS one of \(ScratchKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            result[kind] = String(value[value.index(after: equals)...])
        }
        return result
    }

    /// Each comma-separated name of `text` made into a value, or one line naming the bad one and the choices.
    private func list<T>(_ text: String?, _ what: String, choices: [String], _ make: (String) -> T?) throws -> [T]? {
        try text.map { text in
            try Self.names(text).map { name in
                guard let value = make(name) else {
                    throw Invalid(description: "unknown \(what) '\(name)'; choose from \(choices.joined(separator: ", "))")
                }
                return value
            }
        }
    }

    static func names(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

extension TargetSpec {
    /// Where a run goes: the directory given; else, as root, scratch filesystems of `filesystems`
    /// (or `defaults`); else, not root, a scratch directory in /var/tmp, with a note saying so.
    /// Naming filesystems without root is an error: loop devices and mounts need root.
    public static func choose(directory: String?, filesystems: [ScratchKind]?, defaults: [ScratchKind],
                              options: (ScratchKind) -> ScratchOptions = { ScratchOptions(kind: $0) }) throws -> ([TargetSpec], String?) {
        if let directory {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
                throw RunRequest.Invalid(description: "--dir \(directory): no such directory")
            }
            guard isDirectory.boolValue else { throw RunRequest.Invalid(description: "--dir \(directory): not a directory") }
            return ([.directory(directory)], nil)
        }
        guard Kernel.isRoot else {
            if filesystems != nil { throw RunRequest.Invalid(description: "--fs needs root (loop devices and mounts); use --dir") }
            return ([.directory("/var/tmp")], "not root, so no scratch filesystems (loop devices and mounts need root); running in /var/tmp instead")
        }
        return ((filesystems ?? defaults).map { .scratch(options($0)) }, nil)
    }

    /// Calls `body` with a fresh directory on this target (a scratch filesystem made for it, or
    /// a subdirectory of the directory), and removes it all afterwards.
    public func withFreshDirectory<T>(_ body: (String) throws -> T) throws -> T {
        switch self {
        case .directory(let path):
            let directory = try ScratchDirectory(in: path)
            defer { directory.remove() }
            return try body(directory.path)
        case .scratch(let options):
            return try ScratchFilesystem.withDirectory(on: options, device: nil, body)
        }
    }
}
