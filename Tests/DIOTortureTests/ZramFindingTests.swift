import Foundation
import Testing
@testable import DIOSystem
@testable import DIOTorture

extension OnTheRealKernel {
    /// docs/findings/zram-unaligned-buffer-dio: O_DIRECT on a zram device from a buffer that is
    /// not page aligned returns in full with the wrong bytes. Its plain C program makes and removes
    /// a zram device of its own; on 6.18 every transfer is wrong, elsewhere the outcome is printed.
    @Suite struct ZramFindingTests {
        static let unavailable: String? = rootRequirement
            ?? (findExecutable("gcc") == nil ? "needs gcc to build the C program" : nil)
            ?? (ZramDevice.isAvailable ? nil : "this kernel has no zram (/sys/class/zram-control)")

        @Test(.enabled(if: unavailable == nil, "\(unavailable ?? "")"))
        func theZramUnalignedBufferCorruptionReproducesInC() throws {
            let directory = NSTemporaryDirectory() + "dio-torture-zram-finding-\(getpid())"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let source = repository.appendingPathComponent("docs/findings/zram-unaligned-buffer-dio.c").path
            try runCommand(["gcc", "-Wall", "-Wextra", "-Werror", "-O2", source, "-o", "\(directory)/zram"])
            let devices = try zramDevices()
            var output = ""
            var status: Int32 = 0
            do { output = try runCommandCapturing(["\(directory)/zram"]) } catch let error as CommandError {
                (output, status) = (error.output, error.status)
            }
            print("zram finding in C on \(Kernel.release):\n\(output)")
            #expect(try zramDevices() == devices, "the program removes the zram device it made")
            guard Kernel.release.hasPrefix("6.18.") else { return }
            #expect(status == 1, "\(output)")
            for line in ["read into page+512: 65536 bytes returned; the sector at 0 holds the one of offset 512",
                         "read into page+1: 65536 bytes returned;", "write from page+512: 65536 bytes returned;",
                         "write from page+1: 65536 bytes returned;"] {
                #expect(output.contains(line), "\(line)\n\(output)")
            }
        }

        /// dio-torture shows it too, with xfs made on a zram device: the dio-alignment reads and
        /// writes from memory at +512 and +1 FAIL, the aligned ones PASS.
        @Test(.enabled(if: unavailable == nil, "\(unavailable ?? "")"))
        func theToolFailsMisalignedMemoryOnAZramDevice() throws {
            let devices = try zramDevices()
            let directory = NSTemporaryDirectory() + "dio-torture-zram-run-\(getpid())"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let run = try withExtendedLifetime(try ZramDevice(size: 512 << 20)) { zram in
                try runTool(["run", "--fs", "xfs", "--scenario", "dio-alignment", "--iterations", "3", "--scratch-device", zram.path,
                             "--json", "\(directory)/report.json"])
            }
            #expect(try zramDevices() == devices, "the zram device is removed")
            let report = try RunReport.decode(Data(contentsOf: URL(fileURLWithPath: "\(directory)/report.json")))
            let verdicts = Dictionary(grouping: report.cases) { $0.id.contains("/mem+") ? "misaligned memory" : "aligned memory" }
                .mapValues { Set($0.map(\.verdict)) }
            print("dio-alignment on xfs on zram, \(Kernel.release): \(verdicts.mapValues { $0.map(\.rawValue).sorted() })")
            #expect(verdicts["aligned memory"]?.contains(.fail) == false, "\(run.stdout)")
            guard Kernel.release.hasPrefix("6.18.") else { return }
            #expect(run.status == 1 && verdicts["misaligned memory"]?.contains(.fail) == true, "\(run.stdout)")
        }

        private func zramDevices() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: "/sys/block").filter { $0.hasPrefix("zram") }.sorted()
        }
    }
}
