import CURing
import Glibc

/// mmap's ENODEV for a shared mapping of a file: its filesystem does not map that file shared
/// (FUSE with FOPEN_DIRECT_IO, unless the server allows it). Nothing that needs one can run there.
public struct SharedMappingRefused: Error, CustomStringConvertible {
    public var description: String { "the filesystem does not map this file shared (mmap: ENODEV)" }

    static func or(_ error: Errno) -> any Error { error == .noSuchDevice ? SharedMappingRefused() : error }
}

/// A mapping made with mmap and removed on deinit: the read buffers and their fault patterns.
public final class MappedRegion {
    public let base: UnsafeMutableRawPointer
    public let length: Int

    /// Private anonymous memory: nothing is resident until touched.
    public init(anonymousLength length: Int, alignment: Int = pageSize) throws {
        // Over-map and trim so that huge-page buffers can start on a 2 MiB boundary.
        let span = length + (alignment > pageSize ? alignment : 0)
        let raw = mmap(nil, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let raw, raw != MAP_FAILED else { throw Errno(rawValue: errno) }
        let address = UInt(bitPattern: raw)
        let aligned = (address + UInt(alignment) - 1) / UInt(alignment) * UInt(alignment)
        if aligned > address { munmap(raw, Int(aligned - address)) }
        let tail = address + UInt(span) - (aligned + UInt(length))
        if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + UInt(length)), Int(tail)) }
        base = UnsafeMutableRawPointer(bitPattern: aligned)!
        self.length = length
    }

    /// A shared mapping of `file` at `offset`: writes through it land in that file's page cache.
    public init(file: OpenFile, offset: Int, length: Int) throws {
        let raw = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, file.descriptor, off_t(offset))
        guard let raw, raw != MAP_FAILED else { throw SharedMappingRefused.or(Errno(rawValue: errno)) }
        base = raw
        self.length = length
    }

    /// Maps `file` from `offset` over the first `pages` pages of this region (MAP_FIXED, shared),
    /// leaving the rest as it was.
    public func mapShared(_ file: OpenFile, offset: Int, pages: Int) throws {
        guard pages > 0 else { return }
        let raw = mmap(base, pages * pageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, file.descriptor, off_t(offset))
        guard let raw, raw != MAP_FAILED else { throw SharedMappingRefused.or(Errno(rawValue: errno)) }
    }

    /// A read-only mapping of `file`, to ask which of its pages are cached (mincore) without
    /// touching them.
    public init(readOnly file: OpenFile, length: Int) throws {
        let raw = mmap(nil, length, PROT_READ, MAP_SHARED, file.descriptor, 0)
        guard let raw, raw != MAP_FAILED else { throw SharedMappingRefused.or(Errno(rawValue: errno)) }
        base = raw
        self.length = length
    }

    deinit { munmap(base, length) }

    public var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: length) }

    /// Copies from the mapping at `offset` into `destination` through the kernel's fault path
    /// (process_vm_readv on this process): a page that would raise SIGBUS gives EFAULT or a short
    /// count instead. Returns the bytes copied.
    public func copyOut(at offset: Int, into destination: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        let count = diot_vm_copy(destination.baseAddress, nil, destination.count, 0, base + offset)
        return count < 0 ? .failure(Errno(rawValue: errno)) : .success(count)
    }

    /// Copies `source` into the mapping at `offset` as write faults would (process_vm_writev).
    public func copyIn(at offset: Int, from source: UnsafeRawBufferPointer) -> Result<Int, Errno> {
        let count = diot_vm_copy(nil, source.baseAddress, source.count, 1, base + offset)
        return count < 0 ? .failure(Errno(rawValue: errno)) : .success(count)
    }

    /// mprotect(2)'s protections.
    public struct Protection: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        /// No access: touching the page raises SIGSEGV, and the kernel gives EFAULT.
        public static let none: Protection = []
        public static let read = Protection(rawValue: PROT_READ)
        public static let write = Protection(rawValue: PROT_WRITE)
    }

    /// The madvise(2) advice the harness gives.
    public enum Advice: Sendable {
        /// MADV_DONTNEED: drop the pages; the next touch faults them in again.
        case dontNeed
        case hugePage
        case noHugePage
        /// MADV_RANDOM: a fault reads in its own page only, with no read-ahead around it.
        case random

        var rawValue: Int32 {
            switch self {
            case .dontNeed: MADV_DONTNEED
            case .hugePage: MADV_HUGEPAGE
            case .noHugePage: MADV_NOHUGEPAGE
            case .random: MADV_RANDOM
            }
        }
    }

    public func protect(pageRange: Range<Int>, _ protection: Protection) throws {
        _ = try checked { mprotect(base + pageRange.lowerBound * pageSize, pageRange.count * pageSize, protection.rawValue) }
    }

    public func advise(pageRange: Range<Int>, _ advice: Advice) throws {
        _ = try checked { madvise(base + pageRange.lowerBound * pageSize, pageRange.count * pageSize, advice.rawValue) }
    }

    /// Which pages are resident now (mincore). Touches nothing.
    public func residency() throws -> [Bool] {
        var vector = [UInt8](repeating: 0, count: (length + pageSize - 1) / pageSize)
        _ = try checked { mincore(base, length, &vector) }
        return vector.map { $0 & 1 == 1 }
    }

    /// Which pages this process's page tables map now (/proc/self/pagemap, bit 63): for a file
    /// mapping, unlike mincore, this tells a cached page that is mapped from one that is not.
    public func mappedPages() throws -> [Bool] {
        let pagemap = try OpenFile("/proc/self/pagemap", .readOnly)
        let pages = (length + pageSize - 1) / pageSize
        var entries = [UInt64](repeating: 0, count: pages)
        let read = try entries.withUnsafeMutableBytes { try pagemap.read(into: $0, at: Int(bitPattern: base) / pageSize * 8) }
        guard read == pages * 8 else { throw Errno.ioError }
        return entries.map { $0 & (1 << 63) != 0 }
    }

    /// Size of the transparent huge pages backing this mapping: each 2 MiB of it whose first
    /// page's frame (/proc/self/pagemap) /proc/kpageflags marks THP. Both need root for frame
    /// numbers; without it, /proc/self/smaps, whose every mapping of the process is parsed.
    public func anonHugePagesBytes() -> Int {
        hugePageBytesFromPageFlags() ?? hugePageBytesFromSmaps()
    }

    static let hugePageSize = 2 << 20

    private func hugePageBytesFromPageFlags() -> Int? {
        guard let pagemap = try? OpenFile("/proc/self/pagemap", .readOnly), let flags = try? OpenFile("/proc/kpageflags", .readOnly) else {
            return nil
        }
        let start = (UInt(bitPattern: base) + UInt(Self.hugePageSize) - 1) / UInt(Self.hugePageSize) * UInt(Self.hugePageSize)
        var total = 0
        for huge in stride(from: start, to: UInt(bitPattern: base) + UInt(length), by: Self.hugePageSize) {
            var entry: UInt64 = 0, pageFlags: UInt64 = 0
            guard (try? withUnsafeMutableBytes(of: &entry) { try pagemap.read(into: $0, at: Int(huge) / pageSize * 8) }) == 8 else { return nil }
            let present = entry & (1 << 63) != 0, frame = entry & ((1 << 55) - 1)
            if !present { continue }
            if frame == 0 { return nil } // frame numbers are hidden from this process
            guard (try? withUnsafeMutableBytes(of: &pageFlags) { try flags.read(into: $0, at: Int(frame) * 8) }) == 8 else { return nil }
            if pageFlags & (1 << 22) != 0 { total += Self.hugePageSize } // KPF_THP
        }
        return total
    }

    private func hugePageBytesFromSmaps() -> Int {
        guard let smaps = try? readTextFile("/proc/self/smaps") else { return 0 }
        let start = UInt(bitPattern: base), end = start + UInt(length)
        var inside = false, total = 0
        for line in smaps.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), let space = line.firstIndex(of: " "), dash < space,
               let low = UInt(line[..<dash], radix: 16),
               let high = UInt(line[line.index(after: dash)..<space], radix: 16) {
                inside = low < end && high > start
            } else if inside, line.hasPrefix("AnonHugePages:") {
                total += (Int(line.split(separator: " ")[1]) ?? 0) * 1024
            }
        }
        return total
    }
}

/// Writes a control such as a /proc or /sys entry with one write(2) at offset 0.
public func writeControl(_ path: String, _ text: String) throws {
    let control = try OpenFile(path, .writeOnly)
    _ = try Array(text.utf8).withUnsafeBytes { try control.write($0, at: 0) }
}

/// Reads a small text file such as a /proc or /sys entry.
public func readTextFile(_ path: String) throws -> String {
    let descriptor = try checked { open(path, O_RDONLY | O_CLOEXEC) }
    defer { close(descriptor) }
    var data = [UInt8]()
    // A page, what a /proc or sysfs read gives at a time: the taint flags are read around every
    // case, and clearing a larger chunk cost more than the read.
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = try checked { chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) } }
        if count == 0 { break }
        data += chunk[..<count]
    }
    return String(decoding: data, as: UTF8.self)
}
