import ArgumentParser
import DIOSystem
import DIOTorture
import Foundation
import Glibc

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verified reads per second against fio (plain and --verify=crc32c), side by side.",
        discussion: "Needs root (scratch filesystems) and fio. Build with -c release: `make bench`.")

    @Option(help: "Scratch filesystems, comma-separated.", completion: .list(ScratchKind.choiceNames), transform: { try ScratchKind.list($0) })
    var fs: [ScratchKind] = [.tmpfs, .ext4]

    @Option(name: .customLong("size-mib"), help: "File size in MiB.")
    var sizeMiB = 256

    @Option(name: .customLong("block-sizes-kib"), help: "Block sizes in KiB, comma-separated.")
    var blockSizesKiB = "4,16,64"

    @Option(help: "Queue depths, comma-separated.")
    var depths = "1,8,32"

    @Option(help: "Seconds per tool per run.")
    var seconds = 3

    @Option(help: "Alternations of the tools (the table shows medians).")
    var rounds = 3

    func validate() throws {
        if sizeMiB < 16 { throw ValidationError("--size-mib must be at least 16") }
        if seconds < 1 || rounds < 1 { throw ValidationError("--seconds and --rounds must be at least 1") }
    }

    func run() throws {
        func integers(_ list: String, _ option: String) throws -> [Int] {
            try list.split(separator: ",").map {
                guard let value = Int($0.trimmingCharacters(in: .whitespaces)), value > 0 else {
                    throw UsageError("\(option): '\($0)' is not a positive whole number")
                }
                return value
            }
        }
        let options = BenchOptions(filesystems: fs, fileSize: sizeMiB << 20,
                                   blockSizes: try integers(blockSizesKiB, "--block-sizes-kib").map { $0 << 10 },
                                   depths: try integers(depths, "--depths"), seconds: seconds, rounds: rounds,
                                   seed: UInt64.random(in: 1...UInt64.max))
        InterruptCleanup.install()
        let report: BenchReport
        do {
            report = try Benchmark.run(options) { printError("\r\u{1B}[K\($0)") }
        } catch {
            printError("\ndio-torture bench: \(error)\n")
            throw ExitCode(3)
        }
        printError("\r\u{1B}[K")
        print(Benchmark.table(report, options: options), terminator: "")
        if report.rows.contains(where: { $0.failures > 0 }) { throw ExitCode(1) }
    }
}
