import DIOSystem
import Foundation

/// fio, the reference users reach for, run on the same file system with the same block size,
/// depth and time: `--ioengine=io_uring --direct=1 --rw=randread`.
struct Fio {
    struct Result {
        var reads: Int
        var seconds: Double
        var cpuSeconds: Double
    }

    static var isInstalled: Bool { findExecutable("fio") != nil }

    /// Lays out a file with fio's own crc32c verify headers for `blockSize`, for the verified runs.
    static func writeVerifyFile(_ path: String, size: Int, blockSize: Int) throws {
        try runCommand(["fio", "--name=layout", "--filename=\(path)", "--size=\(size)", "--bs=\(blockSize)",
                        "--rw=write", "--ioengine=psync", "--direct=1", "--verify=crc32c", "--do_verify=0", "--verify_state_save=0",
                        "--output-format=terse"])
    }

    /// How fio is asked to read.
    enum Setting {
        /// fio's defaults for the io_uring engine.
        case plain
        /// Its best for io_uring: buffers and the file registered with the ring.
        case best
        /// Each block's crc32c header checked: fio then reads every block once and stops, so the
        /// rate is reads over the time it took.
        case verified
    }

    /// Random reads for `seconds`.
    static func randomReads(_ path: String, size: Int, blockSize: Int, depth: Int, seconds: Int, setting: Setting) throws -> Result {
        var arguments = ["fio", "--name=bench", "--filename=\(path)", "--size=\(size)", "--bs=\(blockSize)",
                         "--rw=randread", "--ioengine=io_uring", "--iodepth=\(depth)", "--direct=1",
                         "--time_based", "--runtime=\(seconds)", "--output-format=json"]
        switch setting {
        case .plain: break
        case .best: arguments += ["--fixedbufs=1", "--registerfiles=1"]
        case .verified: arguments += ["--verify=crc32c", "--verify_state_save=0"]
        }
        let cpuBefore = childrenCPUSeconds()
        let output = try runCommandCapturing(arguments)
        let cpuSeconds = childrenCPUSeconds() - cpuBefore
        guard let start = output.firstIndex(of: "{"),
              let json = try JSONSerialization.jsonObject(with: Data(output[start...].utf8)) as? [String: Any],
              let job = (json["jobs"] as? [[String: Any]])?.first,
              let read = job["read"] as? [String: Any],
              let reads = read["total_ios"] as? Int, let runtime = read["runtime"] as? Double ?? (read["runtime"] as? Int).map(Double.init) else {
            throw BenchmarkError("fio printed no usable JSON: \(output.prefix(200))")
        }
        if let error = job["error"] as? Int, error != 0 { throw BenchmarkError("fio reported error \(error)") }
        // fio's own usr_cpu/sys_cpu leave out its io-wq workers; the child's rusage does not. It
        // also counts fio's start-up, so per-read CPU is slightly in fio's disfavour at short runs.
        return Result(reads: reads, seconds: runtime / 1000, cpuSeconds: cpuSeconds)
    }
}

/// A benchmark that cannot run or measure here (fio missing or failing, residency lost): why.
public struct BenchmarkError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
