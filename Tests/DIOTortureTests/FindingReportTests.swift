import Testing
@testable import DIOSystem
@testable import DIOTorture

/// The finding report a maintainer gets: every section, the matrix, the command with its seed.
@Suite struct FindingReportTests {
    func writeRecord(kernel: String, _ verdict: Verdict, failures: Int) -> CaseRecord {
        var record = CaseRecord(id: partialWriteCase("pwrite"), kernel: kernel,
                                filesystem: FilesystemRecord(type: "btrfs", origin: "scratch", location: nil, mkfsOptions: ["-O", "^no-holes"], mountOptions: []),
                                scenario: "direct-write", seed: 9, iterations: 100, verdict: verdict, reason: nil, failures: failures,
                                outcomes: [:], failureDetails: [], durationSeconds: 1)
        record.pattern = .coldFileFirstPage
        record.path = .directSync.writing
        record.write = WriteRecord(target: .overwrite, offset: 0, length: 65536, fileSize: 65536)
        if failures > 0 {
            record.failureDetails = [FailureRecord(iteration: 0, seed: 5, outcome: .shortWrite, expectedLength: 65536, result: 4096, errno: nil,
                                                   firstBadOffset: nil, badRanges: [], unfilledTail: [BadRange(offset: 4096, length: 61440, diagnosis: .stale)],
                                                   note: "short write: res 4096 of 65536", kernelStacks: nil)]
        }
        return record
    }

    @Test func aFindingReportHasEverythingAMaintainerActsOn() {
        let failing = writeRecord(kernel: "6.1.192-diot-wbug", .fail, failures: 100)
        let config = "CONFIG_BTRFS_FS=y\n# CONFIG_BTRFS_ASSERT is not set\nCONFIG_IO_URING=y\n"
        let text = FindingReport.markdown(failing, runSeed: 42, matrix: [writeRecord(kernel: "6.1.192-diot-fixed", .pass, failures: 0)], config: config,
                                          reproducer: .success("int main(void) { return 0; }"))
        #expect(text.hasPrefix("# btrfs on 6.1.192-diot-wbug: short write: res 4096 of 65536\n"))
        for section in ["## Kernel", "## Filesystem", "## What was done", "## Expected and found", "## Kernel log", "## Where it reproduces", "## Reproduce"] {
            #expect(text.contains("\n" + section + "\n"), "\(section)")
        }
        #expect(text.contains("CONFIG_BTRFS_FS=y") && text.contains("# CONFIG_XFS_DEBUG is not set"))
        #expect(text.contains("mkfs options: `-O ^no-holes`"))
        #expect(text.contains("bytes 4096..<65536: stale"))
        #expect(text.contains("| 6.1.192-diot-wbug | FAIL | 100 of 100 |") && text.contains("| 6.1.192-diot-fixed | PASS | 0 of 100 |"))
        #expect(text.contains("dio-torture run --fs btrfs --scenario direct-write --mkfs-options 'btrfs=-O ^no-holes' --pattern cold-file-first-page --io-path pwrite --write-target overwrite --iterations 100 --seed 42 --no-known-bugs"))
        #expect(text.contains("```c\nint main(void) { return 0; }\n```"))
    }
}
