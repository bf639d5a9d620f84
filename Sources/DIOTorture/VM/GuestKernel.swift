import DIOSystem
import Foundation

/// A kernel to boot under QEMU: its image, the release it reports, and where its modules are
/// when it has any (Debian's kernels build virtio, 9p and the filesystems as modules).
public struct GuestKernel: Sendable {
    public let image: String
    /// `uname -r` of the guest, read from the bzImage header.
    public let release: String
    public let modules: ModuleTree?

    /// `moduleDirectories` (`lib/modules/RELEASE` trees) are matched to the kernel by release;
    /// without a match, the tree beside the image is used when there is one.
    public init(image: String, moduleDirectories: [String] = []) throws {
        self.image = image
        let release = try Self.release(ofImage: image)
        self.release = release
        let directory = moduleDirectories.first { URL(fileURLWithPath: $0).lastPathComponent == release }
            ?? Self.modulesBeside(image: image, release: release)
        self.modules = try directory.map { try ModuleTree(directory: $0, release: release) }
    }

    /// The release string of an x86 bzImage: its setup header ("HdrS" at 0x202) points, at 0x20E,
    /// to a version string 0x200 bytes further on, e.g. "6.1.192-diot-bug (builder@host) #1 SMP ...".
    static func release(ofImage path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw GuestError("\(path): cannot open the kernel image") }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 0x400)) ?? Data()
        guard header.count >= 0x210, header[0x202..<0x206] == Data("HdrS".utf8) else {
            throw GuestError("\(path): not an x86 bzImage (no setup header)")
        }
        let pointer = Int(header[0x20E]) | Int(header[0x20F]) << 8
        try handle.seek(toOffset: UInt64(pointer + 0x200))
        let text = (try? handle.read(upToCount: 256)) ?? Data()
        guard let release = String(decoding: text.prefix { $0 != 0 }, as: UTF8.self).split(separator: " ").first else {
            throw GuestError("\(path): the kernel image has no version string")
        }
        return String(release)
    }

    /// `ROOT/lib/modules/RELEASE` for `ROOT/boot/vmlinuz-RELEASE`: /boot of this machine, or a
    /// Debian package unpacked with `dpkg-deb -x`. nil when there is no such directory.
    static func modulesBeside(image: String, release: String) -> String? {
        let boot = URL(fileURLWithPath: image).deletingLastPathComponent()
        guard boot.lastPathComponent == "boot" else { return nil }
        let candidate = boot.deletingLastPathComponent().appendingPathComponent("lib/modules/\(release)").path
        return FileManager.default.fileExists(atPath: candidate + "/modules.dep") ? candidate : nil
    }
}

/// A kernel's module directory, read through `modules.dep` (what `depmod` writes).
public struct ModuleTree: Sendable {
    public let directory: String
    /// Module name ('-' as '_') to its path relative to `directory`, and its dependencies' names.
    private let files: [String: String]
    private let dependencies: [String: [String]]
    private let builtIn: Set<String>

    init(directory: String, release: String) throws {
        guard URL(fileURLWithPath: directory).lastPathComponent == release else {
            throw GuestError("modules \(directory) are not for kernel \(release)")
        }
        guard let dep = try? String(contentsOfFile: directory + "/modules.dep", encoding: .utf8) else {
            throw GuestError("\(directory)/modules.dep is missing; run depmod -b ROOT \(release) first")
        }
        self.directory = directory
        var files: [String: String] = [:], dependencies: [String: [String]] = [:]
        for line in dep.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard let file = parts.first.map(String.init) else { continue }
            let name = Self.name(ofFile: file)
            files[name] = file
            dependencies[name] = parts.count > 1 ? parts[1].split(separator: " ").map { Self.name(ofFile: String($0)) } : []
        }
        self.files = files
        self.dependencies = dependencies
        let builtin = (try? String(contentsOfFile: directory + "/modules.builtin", encoding: .utf8)) ?? ""
        builtIn = Set(builtin.split(separator: "\n").map { Self.name(ofFile: String($0)) })
    }

    /// Files to load, dependencies first, for `names`; and the names that are neither modules
    /// nor built in.
    func loadOrder(_ names: [String]) -> (files: [String], missing: [String]) {
        var order: [String] = [], seen: Set<String> = [], missing: [String] = []
        func visit(_ name: String) {
            guard !seen.contains(name) else { return }
            seen.insert(name)
            guard let file = files[name] else {
                if !builtIn.contains(name) { missing.append(name) }
                return
            }
            dependencies[name, default: []].forEach(visit)
            order.append(file)
        }
        names.map { $0.replacingOccurrences(of: "-", with: "_") }.forEach(visit)
        return (order, missing)
    }

    static func name(ofFile file: String) -> String {
        var base = URL(fileURLWithPath: file).lastPathComponent
        for suffix in [".xz", ".zst", ".gz", ".ko"] where base.hasSuffix(suffix) { base.removeLast(suffix.count) }
        return base.replacingOccurrences(of: "-", with: "_")
    }
}

/// A kernel that cannot boot a guest here (no bzImage, modules of another release, no busybox,
/// a filesystem missing): what and why.
public struct GuestError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
