import CURing
import Glibc

/// The direct I/O alignment a file demands, as statx(STATX_DIOALIGN) reports it.
public struct DIOAlignment: Equatable, Sendable {
    public var memory: Int
    public var offset: Int
}

/// fallocate(2) modes.
public struct AllocateMode: OptionSet, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let allocate: AllocateMode = []
    public static let keepSize = AllocateMode(rawValue: DIOT_FALLOC_FL_KEEP_SIZE)
    public static let punchHole = AllocateMode(rawValue: DIOT_FALLOC_FL_PUNCH_HOLE)
    public static let zeroRange = AllocateMode(rawValue: DIOT_FALLOC_FL_ZERO_RANGE)
    public static let collapseRange = AllocateMode(rawValue: DIOT_FALLOC_FL_COLLAPSE_RANGE)
}

/// An open file descriptor with the handful of calls the harness makes on it. Closed on deinit.
public final class OpenFile {
    /// open(2)'s access mode.
    public enum Access: Sendable {
        case readOnly, writeOnly, readWrite

        var flags: Int32 {
            switch self {
            case .readOnly: O_RDONLY
            case .writeOnly: O_WRONLY
            case .readWrite: O_RDWR
            }
        }
    }

    /// open(2)'s options (O_CLOEXEC always).
    public struct Options: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let create = Options(rawValue: O_CREAT)
        public static let truncate = Options(rawValue: O_TRUNC)
        /// O_DIRECT: transfers bypass the page cache.
        public static let direct = Options(rawValue: DIOT_O_DIRECT)
        /// O_APPEND: every write goes to the end of the file, whatever offset it names.
        public static let append = Options(rawValue: O_APPEND)
        /// O_DIRECTORY: a directory, to hand to another process.
        public static let directory = Options(rawValue: O_DIRECTORY)
    }

    public let descriptor: Int32
    public let path: String
    /// Unlink `path` when the file closes (`scratch(at:keepingName:)`).
    private var unlinkOnClose = false

    public convenience init(_ path: String, _ access: Access, options: Options = [], permissions: mode_t = 0o600) throws {
        try self.init(path: path, rawFlags: access.flags | options.rawValue, permissions: permissions)
    }

    private init(path: String, rawFlags: Int32, permissions: mode_t) throws {
        self.path = path
        descriptor = try checked { open(path, rawFlags | O_CLOEXEC, permissions) }
    }

    /// Takes ownership of a descriptor opened elsewhere (memfd_create).
    public init(adopting descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    /// An unnamed file (O_TMPFILE) in `directory`: it never appears in the tree, and vanishes
    /// with its last reference even if the process is killed.
    public static func anonymous(in directory: String) throws -> OpenFile {
        try OpenFile(path: directory, rawFlags: DIOT_O_TMPFILE | O_RDWR, permissions: 0o600)
    }

    /// A new file at `path`, unlinked at once: it lives on only through this descriptor, so a
    /// killed run leaves no file behind. For filesystems where O_TMPFILE may be missing.
    /// `keepingName` unlinks it when it closes instead, for a file that must be found by name
    /// beneath a stacked filesystem while it is open (its directory must be a scratch one).
    public static func scratch(at path: String, options: Options = [], keepingName: Bool = false) throws -> OpenFile {
        let file = try OpenFile(path, .readWrite, options: options.union([.create, .truncate]))
        if keepingName { file.unlinkOnClose = true } else { Glibc.unlink(path) }
        return file
    }

    deinit {
        close(descriptor)
        if unlinkOnClose { Glibc.unlink(path) }
    }

    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws -> Int {
        try checked { pwrite(descriptor, bytes.baseAddress, bytes.count, off_t(offset)) }
    }

    public func read(into bytes: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        try checked { pread(descriptor, bytes.baseAddress, bytes.count, off_t(offset)) }
    }

    /// One preadv2 (or pwritev2) call over `segments`, one iovec each; the raw result, so the
    /// oracle sees a short transfer as the kernel gave it. No flags and one segment is pread.
    public func transfer(_ direction: TransferDirection, _ segments: [UnsafeMutableRawBufferPointer], at offset: Int,
                         flags: ReadWriteFlags = []) -> Result<Int, Errno> {
        var vectors = segments.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
        let result = vectors.withUnsafeMutableBufferPointer { vectors in
            while true {
                let result = direction == .read
                    ? diot_preadv2(descriptor, vectors.baseAddress, Int32(vectors.count), off_t(offset), flags.rawValue)
                    : diot_pwritev2(descriptor, vectors.baseAddress, Int32(vectors.count), off_t(offset), flags.rawValue)
                if result >= 0 || errno != EINTR { return result }
            }
        }
        return result < 0 ? .failure(Errno(rawValue: errno)) : .success(result)
    }

    /// The same file opened again with other options (through /proc, so an unlinked scratch
    /// file reopens too): its O_DIRECT twin, its page-cache twin, an O_APPEND descriptor.
    public func reopened(_ access: Access, options: Options = []) throws -> OpenFile {
        try OpenFile(descriptorPath, access, options: options)
    }

    public func sync() throws { _ = try checked { fsync(descriptor) } }

    /// syncfs(2): everything of the file's filesystem written back and committed, in one call.
    public func syncFilesystem() throws { _ = try checked { diot_syncfs(descriptor) } }

    /// The file's size now (fstat).
    public func size() throws -> Int { Int(try status().st_size) }

    /// The filesystem's preferred I/O size for the file (fstat's st_blksize): a multiple of its
    /// block size, so a range of it is something fallocate's collapse accepts.
    public func preferredBlockSize() throws -> Int { Int(try status().st_blksize) }

    private func status() throws -> stat {
        var info = stat()
        _ = try checked { fstat(descriptor, &info) }
        return info
    }

    public func dataSync() throws { _ = try checked { fdatasync(descriptor) } }

    /// fallocate(2); `mode` is a FALLOC_FL_* combination (`AllocateMode`).
    public func allocate(_ mode: AllocateMode, offset: Int, length: Int) throws {
        _ = try checked { diot_fallocate(descriptor, mode.rawValue, off_t(offset), off_t(length)) }
    }

    /// sync_file_range(SYNC_FILE_RANGE_WRITE): starts writeback of the range's dirty pages and
    /// does not wait for it. Length 0 means to the end of the file.
    public func startWriteback(offset: Int = 0, length: Int = 0) throws {
        _ = try checked { diot_sync_file_range(descriptor, off_t(offset), off_t(length), DIOT_SYNC_FILE_RANGE_WRITE) }
    }

    /// The file's dirty, under-writeback and cached pages (cachestat, Linux 6.5+); throws ENOSYS before.
    public func cacheState() throws -> (dirty: Int, writeback: Int, cached: Int) {
        var dirty: UInt64 = 0, writeback: UInt64 = 0, cached: UInt64 = 0
        _ = try checked { diot_cachestat(descriptor, 0, 0, &dirty, &writeback, &cached) }
        return (Int(dirty), Int(writeback), Int(cached))
    }

    /// posix_fadvise(DONTNEED) over a range: drops its clean cached pages.
    public func dropCache(offset: Int, length: Int) throws {
        let rc = posix_fadvise(descriptor, off_t(offset), off_t(length), POSIX_FADV_DONTNEED)
        if rc != 0 { throw Errno(rawValue: rc) }
    }

    /// posix_fadvise(RANDOM): reads through this descriptor read no more than asked, no read-ahead.
    public func adviseRandomAccess() throws {
        let rc = posix_fadvise(descriptor, 0, 0, POSIX_FADV_RANDOM)
        if rc != 0 { throw Errno(rawValue: rc) }
    }

    public func truncate(to size: Int) throws { _ = try checked { ftruncate(descriptor, off_t(size)) } }

    /// Drops the file's clean page-cache pages (the per-file alternative to drop_caches).
    public func dropCache() throws {
        let rc = posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED)
        if rc != 0 { throw Errno(rawValue: rc) }
    }

    /// nil when the filesystem does not report it (statx without STATX_DIOALIGN, e.g. btrfs).
    public func dioAlignment() throws -> DIOAlignment? {
        var memory: UInt32 = 0, offset: UInt32 = 0
        _ = try checked { diot_statx_dio(descriptor, &memory, &offset) }
        return memory == 0 && offset == 0 ? nil : DIOAlignment(memory: Int(memory), offset: Int(offset))
    }
}

/// The filesystem type name of a path, as the kernel's statfs magic identifies it.
public func filesystemType(of path: String) -> String {
    let type = diot_statfs_type(path)
    guard type >= 0 else { return "unknown" }
    let magics: [Int: String] = [
        0x9123683E: "btrfs", 0x58465342: "xfs", 0xEF53: "ext4", 0x01021994: "tmpfs",
        0xE0F5E1E2: "erofs", 0x65735546: "fuse", 0x6969: "nfs", 0x794C7630: "overlay",
    ]
    return magics[type] ?? "0x" + String(type, radix: 16)
}

/// Removes a file by name; a missing file is not an error.
public func removeFile(_ path: String) { unlink(path) }

/// Renames a file, replacing whatever `destination` names in one step (rename(2)).
public func renameFile(_ source: String, to destination: String) throws {
    _ = try checked { rename(source, destination) }
}

/// The bytes an unprivileged writer can still allocate on the filesystem holding `path` (statvfs).
public func availableBytes(at path: String) throws -> Int {
    let info = try statistics(at: path)
    return Int(info.f_bavail) * Int(info.f_frsize)
}

/// The bytes the filesystem at `path` holds: its size less what is free.
public func usedBytes(at path: String) throws -> Int {
    let info = try statistics(at: path)
    return (Int(info.f_blocks) - Int(info.f_bfree)) * Int(info.f_frsize)
}

private func statistics(at path: String) throws -> statvfs {
    var info = statvfs()
    _ = try checked { statvfs(path, &info) }
    return info
}

/// The device number of `path` as "MAJOR:MINOR" (the form /proc/self/mountinfo uses) when it
/// is a block device; nil when it is something else.
public func blockDeviceNumber(of path: String) throws -> String? {
    var status = stat()
    _ = try checked { stat(path, &status) }
    guard status.st_mode & S_IFMT == S_IFBLK else { return nil }
    return majorMinor(UInt64(status.st_rdev))
}

/// The kernel's name of the block device at `path` ("loop3", "dm-0"), as /sys/block and the
/// kernel log name it; nil for anything else.
public func blockDeviceKernelName(of path: String) throws -> String? {
    guard let number = try blockDeviceNumber(of: path) else { return nil }
    var target = [CChar](repeating: 0, count: Int(PATH_MAX))
    let length = try checked { readlink("/sys/dev/block/\(number)", &target, target.count - 1) }
    return String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: "/").last.map(String.init)
}

/// Whether the block device at `path` is held: mounted (detached mounts too, which no mount
/// table lists), or claimed by another device. An O_EXCL open of a block device fails with EBUSY
/// then, the kernel's own test.
public func blockDeviceIsHeld(_ path: String) throws -> Bool {
    let descriptor = open(path, O_RDONLY | O_EXCL | O_CLOEXEC)
    if descriptor >= 0 {
        close(descriptor)
        return false
    }
    if errno == EBUSY { return true }
    throw Errno(rawValue: errno)
}

/// The device of the filesystem holding `path`, as "MAJOR:MINOR".
public func filesystemDeviceNumber(of path: String) throws -> String {
    var status = stat()
    _ = try checked { stat(path, &status) }
    return majorMinor(UInt64(status.st_dev))
}

/// glibc's gnu_dev_major/minor are macros Swift cannot see; this is their encoding.
private func majorMinor(_ device: UInt64) -> String {
    let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)
    let minor = (device & 0xff) | ((device >> 12) & ~0xff)
    return "\(major):\(minor)"
}

extension OpenFile {
    /// A path to this descriptor that child processes (QEMU) can open: /proc/PID/fd/N reopens
    /// even an unnamed O_TMPFILE file.
    public var descriptorPath: String { "/proc/\(getpid())/fd/\(descriptor)" }

    /// The whole file from its start, whatever the descriptor's offset.
    public func contents() throws -> [UInt8] { try contents(from: 0) }

    /// Reads from offset 0 until EOF or `buffer` is full; the bytes read. Into memory the caller
    /// keeps: a fresh array per file faults in and clears every page again.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var total = 0
        while total < buffer.count {
            let count = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...]), at: total)
            if count == 0 { break }
            total += count
        }
        return total
    }

    /// The file from `offset` to its end.
    public func contents(from offset: Int) throws -> [UInt8] {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try read(into: $0, at: offset + data.count) }
            if count == 0 { return data }
            data += chunk[..<count]
        }
    }
}

public func makeDirectory(_ path: String, mode: mode_t = 0o700) throws {
    _ = try checked { mkdir(path, mode) }
}
