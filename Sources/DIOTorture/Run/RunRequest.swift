import DIOSystem
import Foundation

/// A run as the command line asks for it. Names are parsed by `NamedChoice` where they are read;
/// the rest is checked and turned into a plan here, every error one line, so that tests reach it
/// and `vm` can reject a guest's command before booting anything.
public struct RunRequest: Sendable {
    /// A mounted directory to run in, instead of scratch filesystems.
    public var directory: String?
    /// Scratch filesystems (default: `ScratchKind.defaults`).
    public var filesystems: [ScratchKind]?
    /// `FS=ARGS` each: extra mkfs arguments, and mount options, for one filesystem.
    public var mkfsOptions: [String] = []
    public var mountOptions: [String] = []
    public var scratchDevice: String?
    /// nil: the whole catalogue, and each scenario's own patterns, paths and targets.
    public var scenarios: [ScenarioChoice]?
    public var patterns: [FaultPattern]?
    public var paths: [IOPath]?
    public var queueDepths: [QueueDepth]?
    public var writeTargets: [WriteTarget]?
    /// A lab's fstests configuration: its TEST_DIR and SCRATCH_DEV are the targets.
    public var fstests: FstestsConfig?
    public var shard: Shard = .whole
    public var options: RunOptions

    public init(options: RunOptions) { self.options = options }

    /// A request that cannot be met: one line, exit 2.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// The plan, and a note to print when the targets were chosen for the user (not root).
    public func plan() throws -> (plan: RunPlan, note: String?) {
        let targets: [TargetSpec], note: String?, device: String?
        if let fstests {
            (targets, device) = try fstests.targets()
            note = nil
        } else {
            (targets, note) = try self.targets()
            device = scratchDevice
        }
        return (RunPlan(targets: targets, scenarios: scenarios?.map(\.scenario) ?? catalogue,
                        selection: Selection(patterns: patterns, paths: paths, queueDepths: queueDepths?.map(\.value),
                                             writeTargets: writeTargets),
                        options: options, scratchDevice: device, shard: shard), note)
    }

    private func targets() throws -> ([TargetSpec], String?) {
        let mkfs = try perFilesystem(mkfsOptions, option: "--mkfs-options")
        let mount = try perFilesystem(mountOptions, option: "--mount-options")
        return try TargetSpec.choose(directory: directory, filesystems: filesystems, defaults: ScratchKind.defaults) { kind in
            ScratchOptions(kind: kind, mkfsOptions: mkfs[kind].map { $0.split(separator: " ").map(String.init) } ?? [],
                           mountOptions: mount[kind].map { Self.names($0) } ?? [])
        }
    }

    private func perFilesystem(_ values: [String], option: String) throws -> [ScratchKind: String] {
        var result: [ScratchKind: String] = [:]
        for value in values {
            guard let equals = value.firstIndex(of: "="), let kind = ScratchKind(named: String(value[..<equals])) else {
                throw Invalid(description: "\(option) \(value): expected FS=VALUE with FS one of \(ScratchKind.choiceNames.joined(separator: ", "))")
            }
            result[kind] = String(value[value.index(after: equals)...])
        }
        return result
    }

    /// The names of a comma-separated list, blanks dropped.
    public static func names(_ list: String) -> [String] {
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
