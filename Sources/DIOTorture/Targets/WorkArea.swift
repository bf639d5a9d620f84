import DIOSystem
import Foundation
import Glibc

/// A fresh directory the cases create their files in, on the filesystem under test.
public struct WorkArea: Codable, Sendable {
    public var directory: String
    public var filesystem: FilesystemRecord
    public var kernel: String
    /// The same directory in the filesystem beneath, for a kind stacked on another one.
    public var backingDirectory: String? = nil
    /// An NFS target's per-operation counts (`NFSStatistics`), for each case's data path.
    public var nfsStatistics: String? = nil
    /// A directory of the run's, for what cases on several targets can share (images built
    /// from the same seed); it goes with the run.
    public var cacheDirectory: String? = nil
    /// Cases on other targets run at the same time: the kernel log is shared with them.
    public var concurrentTargets = false

    /// What the oracle and the scenarios must know of the filesystem.
    public var traits: FilesystemTraits { FilesystemTraits.of(filesystem.type) }

    /// Where FIEMAP sees the extents of the file at `path` in this area: the file itself, or
    /// for a kind stacked on another filesystem the same file beneath.
    func extentsPath(of path: String) -> String {
        guard let backingDirectory, path.hasPrefix(directory + "/") else { return path }
        return backingDirectory + path.dropFirst(directory.count)
    }

    /// The extents of `file`, a file of this area (see `extentsPath`), with FIEMAP_FLAG_SYNC when
    /// `sync`; from FIBMAP where the filesystem has no FIEMAP.
    func extents(of file: OpenFile, sync: Bool = true) throws -> [MappedExtent] {
        let path = extentsPath(of: file.path)
        let mapped = path == file.path ? file : try OpenFile(path, .readOnly)
        do { return try mapped.extents(sync: sync) } catch Errno.notSupported where traits.hasExtents {
            return try mapped.blockMap()
        }
    }

    /// The area for a fresh directory made in this one's directory.
    func within(_ scratch: ScratchDirectory) -> WorkArea {
        var inner = self
        inner.directory = scratch.path
        inner.backingDirectory = backingDirectory.map { $0 + "/" + scratch.name }
        return inner
    }
}

public struct TargetError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Creates `dio-torture.PID.RANDOM` inside `parent` and removes it (with everything in it) when
/// closed or when the run is interrupted. Nothing outside it is touched.
public final class ScratchDirectory {
    public let path: String
    /// Its name in its parent.
    public let name: String
    private var interruptToken: Int?

    public init(in parent: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory) else {
            throw TargetError("\(parent): no such directory")
        }
        guard isDirectory.boolValue else { throw TargetError("\(parent): not a directory") }
        name = "dio-torture.\(ThisProcess.id).\(UInt32.random(in: 0...UInt32.max))"
        path = parent.hasSuffix("/") ? parent + name : parent + "/" + name
        do { try makeDirectory(path) } catch {
            throw TargetError("\(parent): cannot create a scratch directory: \(error)")
        }
        let path = self.path
        interruptToken = InterruptCleanup.register { try? FileManager.default.removeItem(atPath: path) }
    }

    public func remove() {
        if let token = interruptToken { InterruptCleanup.unregister(token) }
        interruptToken = nil
        try? FileManager.default.removeItem(atPath: path)
    }

    deinit { remove() }
}
