import DIOSystem
import Foundation
import Glibc

/// Images stored as files on the filesystem under test and consumed by a kernel subsystem that
/// reads the image file's page cache: EROFS in file-backed mode (the new mount API; `mount -t
/// erofs` would use a loop device instead) and ext4 on a loop device, buffered or with direct
/// I/O. Each round mounts the image with a COLD page cache (posix_fadvise DONTNEED, proven with
/// mincore) and with a WARM one (read whole, proven resident), and every file must mount and
/// hash as recorded in both. Failing only cold is the Lustre -ENODATA signature.
public struct FileBackedConsumers: Scenario {
    public let name = "file-backed-consumers"
    public let summary = "EROFS file-backed and ext4-on-loop (buffered, direct-io) images on the filesystem: every file mounts and hashes as recorded, cold and warm cache"
    public var kernelModules: [String] { ["erofs", "loop"] + ScratchKind.ext4.maker.kernelModules }

    public enum Consumer: String, CaseIterable, Sendable {
        case erofs = "erofs-file-backed"
        case erofsLZ4 = "erofs-file-backed-lz4"
        case loopBuffered = "ext4-loop-buffered"
        case loopDirect = "ext4-loop-direct-io"

        var tool: String { self == .erofs || self == .erofsLZ4 ? "mkfs.erofs" : "mkfs.ext4" }
        var filesystem: String { self == .erofs || self == .erofsLZ4 ? "erofs" : "ext4" }
    }

    /// Cold and warm mounts per case, at most (each mount reads the whole tree).
    static let maxRounds = 4

    public init() {}

    public func cases(_ selection: Selection) -> [CaseSpec] {
        CaseSpec.variants(of: Consumer.self, scenario: name)
    }

    public func run(_ spec: CaseSpec, in area: WorkArea, options: RunOptions) -> CaseRecord {
        let started = Date()
        var record = CaseRecord(spec, area: area, options: options, iterations: 0)
        record.run(since: started) { record in
            let consumer = try spec.variant(as: Consumer.self)
            try ConsumerRun(consumer: consumer, area: area, seed: record.seed, rounds: min(options.iterations, Self.maxRounds),
                            dropCaches: options.dropCaches, started: started).execute(into: &record)
        }
        return record
    }
}

/// The files an image holds: incompressible stamped data, zeros and repeated text, in sizes
/// that straddle pages, EROFS blocks and inline data. Contents are a function of the seed.
struct ImageTree {
    struct Entry {
        var name: String
        var size: Int
        var kind: Kind
        var hash: UInt64
    }
    enum Kind { case stamped, zeros, text }

    let seed: UInt64
    var entries: [Entry] = []
    static let sizes = [0, 1, 100, 511, 4095, 4096, 4097, 12288, 65537, 131072, 300_000, 1 << 20]

    init(seed: UInt64) {
        self.seed = seed
        for (index, size) in Self.sizes.enumerated() {
            for kind in [Kind.stamped, .zeros, .text] where kind == .stamped || size >= 4096 {
                let name = "f\(index)-\(kind)"
                entries.append(Entry(name: name, size: size, kind: kind, hash: StableHash.fnv1a(words: bytes(of: kind, index: index, size: size))))
            }
        }
    }

    func bytes(of kind: Kind, index: Int, size: Int) -> [UInt8] {
        var data = [UInt8](repeating: 0, count: size.roundedUp(to: SectorPattern.sectorSize))
        switch kind {
        case .stamped:
            data.withUnsafeMutableBytes {
                SectorPattern.fill($0, stamp: DataStamp(fileID: UInt32(index + 1), generation: 1, seed: seed), fileOffset: 0)
            }
        case .zeros: break
        case .text:
            let line = Array("dio-torture file-backed consumer line \(seed) \(index)\n".utf8)
            for position in data.indices { data[position] = line[position % line.count] }
        }
        return Array(data.prefix(size))
    }

    func expected(_ entry: Entry) -> [UInt8] {
        bytes(of: entry.kind, index: Int(entry.name.dropFirst().prefix { $0 != "-" })!, size: entry.size)
    }

    func write(to directory: String) throws {
        try makeDirectory(directory)
        for entry in entries {
            let data = expected(entry)
            let file = try OpenFile(directory + "/" + entry.name, .writeOnly, options: [.create, .truncate], permissions: 0o644)
            if !data.isEmpty { _ = try data.withUnsafeBytes { try file.write($0, at: 0) } }
        }
    }
}

/// One case: build the image on the filesystem under test, then mount it cold and warm in turn.
private struct ConsumerRun {
    let consumer: FileBackedConsumers.Consumer
    let area: WorkArea
    let seed: UInt64
    let rounds: Int
    let dropCaches: Bool
    let started: Date

    enum CacheState: String { case cold, warm }

    struct StateTally {
        var mounts = 0
        var mountErrors: [String] = []
        var filesHashed = 0
        var mismatches: [String] = []
        var residency: [String] = []
        var residencyHeld = 0
        /// Times the state was set again before it held.
        var retries = 0
    }

    func execute(into record: inout CaseRecord) throws {
        if !Kernel.isRoot { throw CaseStop.unsupported("mounting images needs root") }
        if !Kernel.filesystems.contains(consumer.filesystem) {
            throw CaseStop.unsupported("the kernel has no \(consumer.filesystem) (not in /proc/filesystems)")
        }
        guard findExecutable(consumer.tool) != nil else { throw CaseStop.unsupported("\(consumer.tool) is not installed") }

        let tree = ImageTree(seed: seed)
        let imagePath = area.directory + "/image-\(seed).img"
        defer { removeFile(imagePath) }
        try withBuiltImage(tree) { try copyFile($0, to: imagePath) }
        let image = try OpenFile(imagePath, .readOnly)

        // Every file is read into this one buffer: its pages are faulted in once per case.
        let buffer = try MappedRegion(anonymousLength: (ImageTree.sizes.max()! + 1).roundedUp(to: pageSize))
        var tallies: [CacheState: StateTally] = [.cold: StateTally(), .warm: StateTally()]
        for round in 0..<rounds {
            for state in [CacheState.cold, .warm] {
                var tally = tallies[state]!
                try prepare(image, state, round: round, into: &tally)
                mountAndHash(imagePath, tree: tree, round: round, buffer: buffer.bytes, into: &tally)
                tallies[state] = tally
            }
        }
        judge(tallies, tree: tree, into: &record)
    }

    /// Calls `body` with the image of `tree`, built once per run and kept in the run's cache
    /// (the seed, so the image, is the same on every filesystem). mkfs.erofs 1.5 cannot follow
    /// the /proc/PID/fd paths of detached mounts: it builds in a private directory under /tmp.
    private func withBuiltImage(_ tree: ImageTree, _ body: (String) throws -> Void) throws {
        let cached = area.cacheDirectory.map { $0 + "/\(consumer.rawValue)-\(seed).img" }
        if let cached, FileManager.default.fileExists(atPath: cached) { return try body(cached) }
        let workshop = try ScratchDirectory(in: FileManager.default.temporaryDirectory.path)
        defer { workshop.remove() }
        try tree.write(to: workshop.path + "/tree")
        try build(workshop.path + "/image", from: workshop.path + "/tree")
        if let cached {
            // Targets run at once may build the same image together: each writes its own copy,
            // and the last rename wins with the same bytes.
            let partial = cached + ".\(UUID().uuidString).partial"
            try copyFile(workshop.path + "/image", to: partial)
            try renameFile(partial, to: cached)
        }
        try body(workshop.path + "/image")
    }

    /// The ext4 image: the tree (4.7 MB), mkfs's journal and tables, and 4 MiB to spare. No
    /// larger: each case copies it whole onto the filesystem under test and every warm round
    /// reads it whole.
    static let ext4ImageSize = 12 << 20

    private func build(_ imagePath: String, from source: String) throws {
        do {
            switch consumer {
            case .erofs: try runCommand(["mkfs.erofs", "--quiet", imagePath, source])
            case .erofsLZ4: try runCommand(["mkfs.erofs", "--quiet", "-zlz4hc", imagePath, source])
            case .loopBuffered, .loopDirect:
                let file = try OpenFile(imagePath, .readWrite, options: [.create, .truncate])
                try file.truncate(to: Self.ext4ImageSize)
                try runCommand(["mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-b", "4096", "-d", source, imagePath])
            }
        } catch {
            throw CaseStop.harness("cannot build the \(consumer.filesystem) image: \(error)")
        }
    }

    /// A copy written through the page cache and synced, so that it can be dropped from it.
    private func copyFile(_ source: String, to destination: String) throws {
        let from = try OpenFile(source, .readOnly)
        let to = try OpenFile(destination, .writeOnly, options: [.create, .truncate], permissions: 0o644)
        let buffer = try MappedRegion(anonymousLength: 1 << 20)
        var offset = 0
        while true {
            let count = try from.read(into: buffer.bytes, at: offset)
            if count == 0 { break }
            _ = try to.write(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<count]), at: offset)
            offset += count
        }
        try to.sync()
    }

    /// tmpfs's pages are its files: they cannot be dropped, so a tmpfs image is never cold.
    private var hasColdState: Bool { area.traits.pagesCanBeCold }

    /// Times the image's cache state is set again when mincore shows it missed: a loop device
    /// or mount just released can still be reading the image back in.
    static let stateAttempts = 4

    /// Sets the image's cache state and proves it with mincore over a mapping of the image, setting
    /// it again (after a short pause) while it does not hold; the retries are counted.
    private func prepare(_ image: OpenFile, _ state: CacheState, round: Int, into tally: inout StateTally) throws {
        let size = try image.size()
        let pages = (size + pageSize - 1) / pageSize
        var resident = 0
        // A filesystem that cannot drop its pages has no cold state to set again.
        for attempt in 0..<(state == .cold && !hasColdState ? 1 : Self.stateAttempts) {
            if attempt > 0 {
                tally.retries += 1
                ThisProcess.pause(microseconds: 20_000 * attempt)
            }
            try set(image, state, size: size)
            resident = try MappedRegion(readOnly: image, length: size).residency().filter { $0 }.count
            if state == .cold ? resident == 0 : resident == pages { break }
        }
        let held = state == .cold ? resident == 0 : resident == pages
        if held { tally.residencyHeld += 1 }
        if tally.residency.count < 2 || !held { tally.residency.append("round \(round): \(resident)/\(pages) pages resident") }
    }

    private func set(_ image: OpenFile, _ state: CacheState, size: Int) throws {
        switch state {
        case .cold:
            try image.dropCache()
            if dropCaches { try Kernel.dropPageCache() }
        case .warm:
            let buffer = try MappedRegion(anonymousLength: 1 << 20)
            var offset = 0
            while offset < size {
                let count = try image.read(into: buffer.bytes, at: offset)
                if count == 0 { break }
                offset += count
            }
        }
    }

    private func mountAndHash(_ imagePath: String, tree: ImageTree, round: Int, buffer: UnsafeMutableRawBufferPointer,
                              into tally: inout StateTally) {
        do {
            // The self-test filesystem fails the reads of uncached pages from here on.
            if area.traits.hasReadFaultSwitch { try ReadFaultSwitch.set(true, at: imagePath) }
            defer { if area.traits.hasReadFaultSwitch { try? ReadFaultSwitch.set(false, at: imagePath) } }
            var loop: LoopDevice?
            let mount: DetachedMount
            switch consumer {
            case .erofs, .erofsLZ4:
                mount = try DetachedMount(fsType: "erofs", source: imagePath, options: [])
            case .loopBuffered, .loopDirect:
                let backing = try OpenFile(imagePath, .readOnly)
                loop = try LoopDevice(backing: backing, readOnly: true, directIO: consumer == .loopDirect)
                mount = try DetachedMount(fsType: "ext4", source: loop!.path, options: ["ro", "noload"])
            }
            tally.mounts += 1
            withExtendedLifetime(loop) {
                for entry in tree.entries {
                    tally.filesHashed += 1
                    if let problem = check(entry, at: mount.root + "/" + entry.name, tree: tree, buffer: buffer) {
                        tally.mismatches.append("round \(round) \(entry.name): \(problem)")
                    }
                }
            }
        } catch let error as MountError {
            tally.mountErrors.append("round \(round): \(error)")
        } catch {
            tally.mountErrors.append("round \(round): \(error)")
        }
    }

    /// What is wrong with the file at `path`, or nil when it has the recorded size and hash. Read
    /// into `buffer`, one page longer than the largest file, so that a longer one shows as longer.
    private func check(_ entry: ImageTree.Entry, at path: String, tree: ImageTree, buffer: UnsafeMutableRawBufferPointer) -> String? {
        let count: Int
        do { count = try OpenFile(path, .readOnly).readFully(into: buffer) } catch {
            return "cannot read: \(error)"
        }
        if count != entry.size { return "size \(count == buffer.count ? "over \(count - 1)" : "\(count)"), recorded \(entry.size)" }
        let contents = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
        let hash = StableHash.fnv1a(words: contents)
        if hash == entry.hash { return nil }
        let expected = tree.expected(entry)
        let first = contents.indices.first { contents[$0] != expected[$0] } ?? 0
        let zeros = contents[first...].prefix(512).allSatisfy { $0 == 0 }
        return String(format: "hash %016llx, recorded %016llx; first bad byte at %d (%@)", hash, entry.hash, first, zeros ? "zeros" : "other data")
    }

    private func judge(_ tallies: [CacheState: StateTally], tree: ImageTree, into record: inout CaseRecord) {
        record.iterations = rounds
        var checks: [CheckRecord] = []
        for state in [CacheState.cold, .warm] {
            let tally = tallies[state]!
            let how = state == .warm ? "read whole" : dropCaches ? "posix_fadvise(DONTNEED) and drop_caches" : "posix_fadvise(DONTNEED)"
            checks.append(CheckRecord(name: "\(state.rawValue): page cache state", held: tally.residencyHeld == rounds,
                                      observed: "\(how); " + tally.residency.joined(separator: "; ")))
            checks.append(CheckRecord(name: "\(state.rawValue): image mounts", held: tally.mountErrors.isEmpty,
                                      observed: tally.mountErrors.isEmpty ? "\(tally.mounts) of \(rounds) mounts" : tally.mountErrors.joined(separator: "; ")))
            checks.append(CheckRecord(name: "\(state.rawValue): every file hashes as recorded", held: tally.mounts == 0 ? nil : tally.mismatches.isEmpty,
                                      observed: tally.mismatches.isEmpty ? "\(tally.filesHashed) files read"
                                          : "\(tally.mismatches.count) of \(tally.filesHashed): " + tally.mismatches.prefix(5).joined(separator: "; ")))
        }
        record.checks = checks
        let cold = tallies[.cold]!, warm = tallies[.warm]!
        record.counters = ["files": tree.entries.count, "mounts": cold.mounts + warm.mounts,
                           "files hashed": cold.filesHashed + warm.filesHashed,
                           "mount errors": cold.mountErrors.count + warm.mountErrors.count,
                           "mismatches": cold.mismatches.count + warm.mismatches.count,
                           "cache state retries": cold.retries + warm.retries]
        if cold.mounts == 0 && warm.mounts == 0 {
            // The consumer cannot use this image here at all, whatever the cache holds: the
            // kernel or the backing filesystem does not support it.
            (record.verdict, record.reason) = Oracle.verdictNeverMounted(consumer.rawValue, firstError: cold.mountErrors.first ?? "")
            return
        }
        // The cache-state checks are preconditions, not promises; tmpfs has no cold state at all.
        let promises = checks.filter { !$0.name.hasSuffix("page cache state") }
        let statesHeld = cold.residencyHeld == rounds && warm.residencyHeld == rounds
        let unmet = !hasColdState || statesHeld ? nil : "the image's page cache was not in the planned state before every mount"
        if !hasColdState {
            record.reason = "\(area.filesystem.type) cannot drop its pages: there is no cold state; the mounts and hashes are checked in the one there is"
        }
        record.judge(promises: promises, unmet: unmet, started: started)
        if record.verdict == .pass { record.outcomes = ["full": cold.filesHashed + warm.filesHashed] }
    }
}
