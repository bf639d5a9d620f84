import DIOSystem
import Foundation
import Glibc

public struct BenchOptions: Sendable {
    public var filesystems: [ScratchKind]
    public var fileSize: Int
    public var blockSizes: [Int]
    public var depths: [Int]
    public var seconds: Int
    public var rounds: Int
    public var seed: UInt64

    public init(filesystems: [ScratchKind], fileSize: Int, blockSizes: [Int], depths: [Int], seconds: Int, rounds: Int, seed: UInt64) {
        self.filesystems = filesystems
        self.fileSize = fileSize
        self.blockSizes = blockSizes
        self.depths = depths
        self.seconds = seconds
        self.rounds = rounds
        self.seed = seed
    }
}

/// One block size and depth on one filesystem: medians over the rounds.
public struct BenchRow: Sendable {
    public var filesystem: String
    public var blockSize: Int
    public var depth: Int
    /// Reads per second: dio-torture (every completion judged, every byte verified), fio with its
    /// defaults, at its best (registered buffers and file), and with crc32c verification.
    public var dioTorture: Double
    public var fio: Double
    public var fioBest: Double
    public var fioVerified: Double
    /// CPU microseconds per read, all threads.
    public var dioTortureCPU: Double
    public var fioCPU: Double
    public var fioBestCPU: Double
    public var fioVerifiedCPU: Double
    /// Reads the oracle did not pass: must be 0 on a correct kernel.
    public var failures: Int
}

public struct BenchReport: Sendable {
    public var kernel: String
    public var rows: [BenchRow]
    /// Microseconds to set up a 16 KiB first-page-only buffer and prove it with mincore: the
    /// per-read cost of a fault pattern, which the throughput figures leave out.
    public var patternSetupMicros: Double
}

/// `dio-torture bench`: dio-torture's verified reads against fio's, side by side, alternating
/// the tools so that drift on a shared machine cancels.
public enum Benchmark {
    public static func run(_ options: BenchOptions, progress: (String) -> Void) throws -> BenchReport {
        guard Fio.isInstalled else { throw BenchmarkError("fio is not installed (apt-get install fio)") }
        var rows: [BenchRow] = []
        var patternSetup = 0.0
        var images: ImageStore?
        for kind in options.filesystems {
            if let reason = kind.unavailableReason { throw BenchmarkError("\(kind.name): \(reason)") }
            if kind.maker.needsBlockDevice, images == nil { images = try ImageStore() }
            let filesystem = try ScratchFilesystem(ScratchOptions(kind: kind, imageSize: 2 * options.fileSize + (256 << 20)), images: images)
            let stamp = DataStamp(fileID: 1, generation: 1, seed: options.seed)
            let dataPath = filesystem.root + "/bench-dio.dat"
            progress("\(kind.name): writing \(formatBytes(options.fileSize)) of self-describing data")
            let file = try OpenFile(dataPath, .readWrite, options: [.create, .truncate, .direct])
            let model = try writeStamped(file, size: options.fileSize, stamp: stamp)
            if patternSetup == 0 { patternSetup = try measurePatternSetup(file: file, stamp: stamp, directory: filesystem.root) }
            for blockSize in options.blockSizes {
                let fioPath = filesystem.root + "/bench-fio-\(blockSize).dat"
                progress("\(kind.name): fio lays out its crc32c file for \(formatBytes(blockSize)) blocks")
                try Fio.writeVerifyFile(fioPath, size: options.fileSize, blockSize: blockSize)
                defer { removeFile(fioPath) }
                for depth in options.depths {
                    var dio: [VerifiedReadLoop.Result] = [], plain: [Fio.Result] = [], best: [Fio.Result] = [], verified: [Fio.Result] = []
                    for round in 0..<options.rounds {
                        progress("\(kind.name) bs \(formatBytes(blockSize)) qd \(depth) round \(round + 1)/\(options.rounds)")
                        let loop = VerifiedReadLoop(file: file, model: model, blockSize: blockSize, depth: depth)
                        dio.append(try loop.run(for: .seconds(options.seconds), seed: StableHash.mix(options.seed &+ UInt64(round))))
                        plain.append(try Fio.randomReads(dataPath, size: options.fileSize, blockSize: blockSize, depth: depth,
                                                         seconds: options.seconds, setting: .plain))
                        best.append(try Fio.randomReads(dataPath, size: options.fileSize, blockSize: blockSize, depth: depth,
                                                        seconds: options.seconds, setting: .best))
                        verified.append(try Fio.randomReads(fioPath, size: options.fileSize, blockSize: blockSize, depth: depth,
                                                            seconds: options.seconds, setting: .verified))
                    }
                    rows.append(BenchRow(
                        filesystem: kind.name, blockSize: blockSize, depth: depth,
                        dioTorture: median(dio.map { Double($0.reads) / $0.seconds }),
                        fio: median(plain.map { Double($0.reads) / $0.seconds }),
                        fioBest: median(best.map { Double($0.reads) / $0.seconds }),
                        fioVerified: median(verified.map { Double($0.reads) / $0.seconds }),
                        dioTortureCPU: median(dio.map { $0.cpuSeconds / Double($0.reads) * 1e6 }),
                        fioCPU: median(plain.map { $0.cpuSeconds / Double($0.reads) * 1e6 }),
                        fioBestCPU: median(best.map { $0.cpuSeconds / Double($0.reads) * 1e6 }),
                        fioVerifiedCPU: median(verified.map { $0.cpuSeconds / Double($0.reads) * 1e6 }),
                        failures: dio.reduce(0) { $0 + $1.failures }))
                }
            }
            removeFile(dataPath)
        }
        return BenchReport(kernel: Kernel.release, rows: rows, patternSetupMicros: patternSetup)
    }

    public static func table(_ report: BenchReport, options: BenchOptions) -> String {
        var lines = ["dio-torture bench on \(report.kernel): \(formatBytes(options.fileSize)) file, \(options.seconds) s per run, median of \(options.rounds) alternations",
                     "FS     BS    QD  DIOT-VERIFIED/s  FIO/s      FIO-BEST/s  FIO-CRC32C/s  DIOT/FIO-CRC  DIOT/FIO  DIOT/FIO-BEST  CPU-us/read DIOT  FIO    FIO-BEST  FIO-CRC  FAILED"]
        for row in report.rows {
            lines.append([
                row.filesystem.padding(toLength: 6), formatBytes(row.blockSize).padding(toLength: 5), "\(row.depth)".padding(toLength: 3),
                String(Int(row.dioTorture)).padding(toLength: 16), String(Int(row.fio)).padding(toLength: 10),
                String(Int(row.fioBest)).padding(toLength: 11), String(Int(row.fioVerified)).padding(toLength: 13),
                ratio(row.dioTorture / row.fioVerified).padding(toLength: 13), ratio(row.dioTorture / row.fio).padding(toLength: 9),
                ratio(row.dioTorture / row.fioBest).padding(toLength: 14),
                micros(row.dioTortureCPU).padding(toLength: 17), micros(row.fioCPU).padding(toLength: 6),
                micros(row.fioBestCPU).padding(toLength: 9), micros(row.fioVerifiedCPU).padding(toLength: 8), "\(row.failures)",
            ].joined(separator: " "))
        }
        lines.append("fault-pattern setup (16K first-page-only buffer + mincore proof): \(micros(report.patternSetupMicros)) us per read")
        return lines.joined(separator: "\n") + "\n"
    }

    static func writeStamped(_ file: OpenFile, size: Int, stamp: DataStamp) throws -> FileModel {
        let chunk = 1 << 20
        let bounce = try MappedRegion(anonymousLength: chunk)
        var model = FileModel()
        for offset in stride(from: 0, to: size, by: chunk) {
            let count = min(chunk, size - offset)
            let part = UnsafeMutableRawBufferPointer(rebasing: bounce.bytes[0..<count])
            SectorPattern.fill(part, stamp: stamp, fileOffset: offset)
            guard try file.write(UnsafeRawBufferPointer(part), at: offset) == count else { throw Errno.ioError }
        }
        try file.sync()
        model.write(0..<size, stamp: stamp)
        return model
    }

    static func measurePatternSetup(file: OpenFile, stamp: DataStamp, directory: String) throws -> Double {
        let context = BufferContext(length: 16384, poison: 0xDB, userfaultDelay: .zero, directory: directory, file: file,
                                    fileStamp: stamp, mirrorOffset: 0, readOffset: 0, caseFiles: CaseFiles(case: stamp, writeSources: false))
        let count = 2000
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<count {
            let buffer = try PatternBuffer(.firstPageOnly, context: context)
            guard try buffer.foundResidency() == buffer.plannedResidency else { throw BenchmarkError("residency did not hold while measuring") }
        }
        let elapsed = clock.now - start
        return (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) / Double(count) * 1e6
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    static func ratio(_ value: Double) -> String { String(format1: value) + "x" }
    static func micros(_ value: Double) -> String { String(format1: value) }
}
