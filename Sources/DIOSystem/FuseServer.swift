import CFuse
import CURing
import Glibc
import Synchronization

/// A passthrough FUSE filesystem over a directory, on libfuse3's high-level API: each request
/// becomes the same call on the backing directory (*at calls relative to it, the backing
/// descriptor for an open file). It serves a /dev/fuse connection that its caller mounted, in a
/// process of its own: a process reading its own FUSE mount can deadlock on its own page faults.
public enum FuseServer {
    public enum Mode: String, Sendable, CaseIterable {
        /// The kernel caches file pages, kept across opens (FOPEN_KEEP_CACHE).
        case cached
        /// FOPEN_DIRECT_IO on every open: the kernel sends every read and write to the server and
        /// caches nothing.
        case directIO = "direct-io"
        /// `cached`, and a self-test of the harness: while the switch is on (`ReadFaultSwitch`),
        /// every read that reaches the server, i.e. of a page the kernel does not cache, fails
        /// with ENODATA.
        case readFaultSwitch = "read-fault-switch"
    }

    /// Serves the mounted connection `device` over the directory `backing` until the mount goes
    /// away; returns the process's exit status. The server reads and writes its backing files
    /// through their page cache (libfuse's buffers are not aligned for O_DIRECT): what is under
    /// test is the FUSE client in the kernel.
    public static func serve(device: Int32, backing: Int32, mode: Mode) -> Int32 {
        state = State(backing: backing, mode: mode)
        var operations = fuse_operations()
        FuseOperations.install(into: &operations)
        guard let fuse = diot_fuse_new(&operations, "/dev/fd/\(device)") else { return 1 }
        let status = diot_fuse_loop(fuse)
        fuse_destroy(fuse)
        return status == 0 ? 0 : 1
    }

    struct State {
        let backing: Int32
        let mode: Mode
    }

    nonisolated(unsafe) static var state: State!
    static let failingReads = Atomic<Bool>(false)
}

/// The switch of the self-test server (`FuseServer.Mode.readFaultSwitch`), flipped through an
/// extended attribute of any file on the mount, so that any process can flip it.
public enum ReadFaultSwitch {
    static let attribute = "user.dio-torture.fail-reads"

    public static func set(_ on: Bool, at path: String) throws {
        let value = on ? "on" : "off"
        _ = try checked { setxattr(path, attribute, value, value.utf8.count, 0) }
    }
}

/// The operations, each the backing call of the same name; errors go back as -errno.
private enum FuseOperations {
    static func install(into operations: inout fuse_operations) {
        operations.`init` = { _, config in
            let mode = FuseServer.state.mode
            config?.pointee.use_ino = 1
            config?.pointee.hard_remove = 1
            config?.pointee.direct_io = mode == .directIO ? 1 : 0
            config?.pointee.kernel_cache = mode == .directIO ? 0 : 1
            return nil
        }
        installMetadata(into: &operations)
        installFiles(into: &operations)
        installNamespace(into: &operations)
        installAttributes(into: &operations)
    }

    static func installMetadata(into operations: inout fuse_operations) {
        operations.getattr = { path, status, info in
            if let fd = descriptor(info) { return result(fstat(fd, status!)) }
            return result(fstatat(backing, relative(path), status!, AT_SYMLINK_NOFOLLOW))
        }
        operations.statfs = { _, status in result(fstatvfs(backing, status!)) }
        operations.access = { path, mask in result(faccessat(backing, relative(path), mask, 0)) }
        operations.readdir = { path, buffer, fill, _, _, _ in
            let fd = openat(backing, relative(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0, let directory = fdopendir(fd) else { return -errno }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                let stop = withUnsafePointer(to: &entry.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { fill?(buffer, $0, nil, 0, fuse_fill_dir_flags(0)) ?? 1 }
                }
                if stop != 0 { break }
            }
            return 0
        }
    }

    static func installFiles(into operations: inout fuse_operations) {
        operations.open = { path, info in openBacking(path, info, mode: 0) }
        operations.create = { path, mode, info in openBacking(path, info, mode: mode) }
        operations.read = { _, buffer, size, offset, info in
            if FuseServer.state.mode == .readFaultSwitch, FuseServer.failingReads.load(ordering: .relaxed) { return -ENODATA }
            return transfer(size, offset) { pread(descriptor(info)!, buffer! + $0, size - $0, $1) }
        }
        operations.write = { _, buffer, size, offset, info in
            transfer(size, offset) { pwrite(descriptor(info)!, buffer! + $0, size - $0, $1) }
        }
        operations.release = { _, info in result(close(descriptor(info)!)) }
        operations.flush = { _, info in result(close(dup(descriptor(info)!))) }
        operations.fsync = { _, dataOnly, info in
            result(dataOnly != 0 ? fdatasync(descriptor(info)!) : fsync(descriptor(info)!))
        }
        operations.fallocate = { _, mode, offset, length, info in
            guard let fd = descriptor(info) else { return -EINVAL }
            return result(diot_fallocate(fd, mode, offset, length))
        }
        operations.lseek = { _, offset, whence, info in
            let position = Glibc.lseek(descriptor(info)!, offset, whence)
            return position < 0 ? off_t(-errno) : position
        }
        operations.truncate = { path, size, info in
            if let fd = descriptor(info) { return result(ftruncate(fd, size)) }
            let fd = openat(backing, relative(path), O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { return -errno }
            defer { close(fd) }
            return result(ftruncate(fd, size))
        }
    }

    static func installNamespace(into operations: inout fuse_operations) {
        operations.mkdir = { path, mode in result(mkdirat(backing, relative(path), mode)) }
        operations.unlink = { path in result(unlinkat(backing, relative(path), 0)) }
        operations.rmdir = { path in result(unlinkat(backing, relative(path), AT_REMOVEDIR)) }
        operations.rename = { from, to, flags in result(diot_renameat2(backing, relative(from), backing, relative(to), flags)) }
        operations.link = { from, to in result(linkat(backing, relative(from), backing, relative(to), 0)) }
        operations.symlink = { target, path in result(symlinkat(target!, backing, relative(path))) }
        operations.readlink = { path, buffer, size in
            let count = readlinkat(backing, relative(path), buffer!, size - 1)
            guard count >= 0 else { return -errno }
            buffer?[count] = 0
            return 0
        }
    }

    static func installAttributes(into operations: inout fuse_operations) {
        operations.chmod = { path, mode, info in
            if let fd = descriptor(info) { return result(fchmod(fd, mode)) }
            return result(fchmodat(backing, relative(path), mode, 0))
        }
        operations.chown = { path, user, group, info in
            if let fd = descriptor(info) { return result(fchown(fd, user, group)) }
            return result(fchownat(backing, relative(path), user, group, AT_SYMLINK_NOFOLLOW))
        }
        operations.utimens = { path, times, info in
            if let fd = descriptor(info) { return result(futimens(fd, times)) }
            return result(utimensat(backing, relative(path), times, AT_SYMLINK_NOFOLLOW))
        }
        // Extended attributes are not passed through: ENOSYS once, and the kernel stops asking
        // (it would otherwise ask for security.capability before every write). The self-test's
        // switch is the one attribute set.
        operations.setxattr = { _, name, value, size, _ in
            guard FuseServer.state.mode == .readFaultSwitch, let name, String(cString: name) == ReadFaultSwitch.attribute, let value else {
                return -ENOTSUP
            }
            let text = String(decoding: UnsafeRawBufferPointer(start: value, count: size), as: UTF8.self)
            FuseServer.failingReads.store(text == "on", ordering: .relaxed)
            return 0
        }
        operations.getxattr = { _, _, _, _ in -ENOSYS }
        operations.listxattr = { _, _, _ in -ENOSYS }
        operations.removexattr = { _, _ in -ENOSYS }
    }
}

// The operations' helpers are globals: a C function pointer cannot capture a type's context.

private var backing: Int32 { FuseServer.state.backing }

/// "/a/b" as a path relative to the backing directory.
private func relative(_ path: UnsafePointer<CChar>?) -> String {
    guard let path else { return "." }
    let text = String(cString: path)
    return text == "/" ? "." : String(text.drop { $0 == "/" })
}

private func result(_ value: Int32) -> Int32 { value < 0 ? -errno : value }

private func descriptor(_ info: UnsafeMutablePointer<fuse_file_info>?) -> Int32? {
    info.map { Int32(truncatingIfNeeded: $0.pointee.fh) }
}

/// Opens the backing file as the caller opened the FUSE one, but without O_DIRECT (see
/// `FuseServer.serve`) and O_APPEND (the kernel sends every write with its offset).
private func openBacking(_ path: UnsafePointer<CChar>?, _ info: UnsafeMutablePointer<fuse_file_info>?, mode: mode_t) -> Int32 {
    guard let info else { return -EINVAL }
    let flags = info.pointee.flags & ~(DIOT_O_DIRECT | O_APPEND) | O_CLOEXEC
    let fd = openat(backing, relative(path), flags, mode)
    guard fd >= 0 else { return -errno }
    info.pointee.fh = UInt64(fd)
    return 0
}

/// Repeats a partial pread or pwrite until `size` bytes moved or the file ends; the count or -errno.
private func transfer(_ size: Int, _ offset: off_t, _ call: (Int, off_t) -> Int) -> Int32 {
    var done = 0
    while done < size {
        let count = call(done, offset + off_t(done))
        if count < 0 {
            if errno == EINTR { continue }
            return done > 0 ? Int32(done) : -errno
        }
        if count == 0 { break }
        done += count
    }
    return Int32(done)
}
