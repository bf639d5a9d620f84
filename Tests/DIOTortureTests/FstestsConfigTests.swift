import Foundation
import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

/// A lab's fstests configuration, as fstests reads it: global lines, then the chosen section's.
@Suite struct FstestsConfigTests {
    static let text = """
    # as a lab keeps it
    export FSTYP=xfs
    TEST_DEV=/dev/sdb1
    TEST_DIR = /mnt/test   # spaces around '=' as fstests allows
    BASE=/mnt
    [ext4_nojournal]
    FSTYP=ext4
    SCRATCH_DEV=/dev/sdc1
    SCRATCH_MNT="${BASE}/scratch"
    MKFS_OPTIONS="-O ^has_journal -b 4096"
    MOUNT_OPTIONS="-o noatime -o nodiscard"
    [xfs_crc]
    SCRATCH_DEV=/dev/sdc1
    MKFS_OPTIONS='-m crc=1 $NOT_EXPANDED'
    MOUNT_OPTIONS="-t xfs"
    """

    @Test func theChosenSectionSitsOnTheGlobalLines() throws {
        let path = try scratchFile("local.config", Data(Self.text.utf8))
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) }
        let first = try FstestsConfig(file: path)
        #expect(first.section == "ext4_nojournal")
        #expect(first.variables["FSTYP"] == "ext4" && first.variables["TEST_DIR"] == "/mnt/test")
        #expect(first.variables["SCRATCH_MNT"] == "/mnt/scratch")
        #expect(first.mkfsOptions == ["-O", "^has_journal", "-b", "4096"])
        #expect(try first.mountOptions() == ["noatime", "nodiscard"])
        let xfs = try FstestsConfig(file: path, section: "xfs_crc")
        #expect(xfs.variables["FSTYP"] == "xfs", "a section does not inherit another section's lines")
        #expect(xfs.variables["MKFS_OPTIONS"] == "-m crc=1 $NOT_EXPANDED", "single quotes do not expand")
        #expect(throws: RunRequest.Invalid.self) { try xfs.mountOptions() }
        #expect {
            try FstestsConfig(file: path, section: "btrfs")
        } throws: { error in
            (error as? RunRequest.Invalid)?.description == "\(path): no section [btrfs]; it has ext4_nojournal, xfs_crc"
        }
    }
}

extension OnTheRealKernel {
    /// A run driven by a local.config over loop devices: cases in a fresh subdirectory of the
    /// mounted TEST_DIR, and on SCRATCH_DEV made with the section's mkfs and mount options.
    @Suite(.serialized, .enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
    struct FstestsRunTests {
        @Test func aLabsLocalConfigDrivesTheRun() throws {
            try #require(missingTools([.ext4]) == nil, Comment(rawValue: missingTools([.ext4]) ?? ""))
            let directory = try scratchFile("local.config", Data()).replacingOccurrences(of: "/local.config", with: "")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            func loop(_ name: String) throws -> LoopDevice {
                let image = try OpenFile("\(directory)/\(name).img", .readWrite, options: [.create, .truncate])
                try image.truncate(to: 256 << 20)
                return try LoopDevice(backing: image)
            }
            let testDevice = try loop("test"), scratchDevice = try loop("scratch")
            try runCommand(["mkfs.ext4", "-q", "-F", "-E", "nodiscard", testDevice.path])
            let testMount = try DetachedMount(fsType: "ext4", source: testDevice.path, options: [])
            let config = """
            FSTYP=ext4
            TEST_DEV=\(testDevice.path)
            TEST_DIR=\(testMount.root)
            [nojournal]
            SCRATCH_DEV=\(scratchDevice.path)
            MKFS_OPTIONS="-O ^has_journal"
            MOUNT_OPTIONS="-o noatime"
            [mounted_scratch]
            SCRATCH_DEV=\(testDevice.path)
            [wrong_test_dev]
            TEST_DEV=\(scratchDevice.path)
            """
            try config.write(toFile: "\(directory)/local.config", atomically: true, encoding: .utf8)
            let arguments = ["run", "--fstests-config", "\(directory)/local.config", "--scenario", "nowait-partial-fault",
                             "--pattern", "first-page-only", "--io-path", "uring-readv", "--iterations", "2"]
            let result = try runTool(arguments + ["--section", "nojournal", "--json", "\(directory)/report.json"])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            let report = try RunReport.read("\(directory)/report.json")
            let filesystems = Set(report.cases.map(\.filesystem))
            #expect(filesystems.count == 2, "\(filesystems)")
            #expect(filesystems.contains { $0.origin == "directory" && $0.type == "ext4" && $0.location == testMount.root })
            #expect(filesystems.contains { $0.origin == "scratch" && $0.type == "ext4" && $0.location == scratchDevice.path
                    && $0.mkfsOptions == ["-O", "^has_journal"] && $0.mountOptions == ["noatime"] }, "\(filesystems)")
            #expect(report.cases.allSatisfy { $0.verdict == .pass }, "\(result.stdout)")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: testMount.root).filter { $0 != "lost+found" }
            #expect(leftovers.isEmpty, "the fresh subdirectory of TEST_DIR is removed: \(leftovers)")
            for (section, message) in [("mounted_scratch", "a scratch device is overwritten"), ("wrong_test_dev", "is not mounted on TEST_DIR")] {
                let refused = try runTool(arguments + ["--section", section])
                #expect(refused.status == 2 && refused.stderr.contains(message), "\(section): \(refused.stderr)")
                #expect(refused.stderr.split(separator: "\n").count == 1)
            }
        }
    }
}
