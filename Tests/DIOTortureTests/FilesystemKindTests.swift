import Foundation
import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

@Suite struct FilesystemKindRegistryTests {
    @Test func everyKindHasItsOwnNameAndTheDefaultsAreKinds() {
        let names = ScratchKind.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(ScratchKind.defaults.allSatisfy(ScratchKind.all.contains))
        #expect(ScratchKind.all.allSatisfy { !$0.maker.summary.isEmpty })
        #expect(!ScratchKind.defaults.contains(.fuseEnodata), "the self-test is no target to test a kernel with")
        #expect(ScratchKind(named: "nfs4.2") == .nfs42 && ScratchKind(named: "nfs") == nil)
    }

    @Test func traitsFollowTheRecordsName() {
        #expect(!FilesystemTraits.of("tmpfs").hasExtents && !FilesystemTraits.of("tmpfs").pagesCanBeCold)
        #expect(["tmpfs", "gfs2", "exfat", "jfs"].allSatisfy { !FilesystemTraits.of($0).hasUnwrittenExtents })
        #expect(["btrfs", "xfs", "ext4", "f2fs", "fuse", "overlay"].allSatisfy { FilesystemTraits.of($0).hasUnwrittenExtents })
        #expect(FilesystemTraits.of("fuse-enodata").hasReadFaultSwitch && !FilesystemTraits.of("fuse").hasReadFaultSwitch)
        // A directory on a filesystem dio-torture does not make is taken for a disk filesystem.
        #expect(FilesystemTraits.of("0x12345678").hasExtents && FilesystemTraits.of("0x12345678").pagesCanBeCold)
    }

    /// /proc/PID/mountstats as Linux prints it: only the client mount's own section counts,
    /// READ_PLUS (NFSv4.2) with READ.
    @Test func nfsStatisticsReadTheClientMountsOperations() throws {
        let text = """
        device proc mounted on /proc with fstype proc
        device 127.0.0.1:/run/dio-torture-nfs-export mounted on /run/elsewhere with fstype nfs4 statvers=1.1
        per-op statistics
        \t        READ: 99 99 0 0 0 0 0 0 0
        device 127.0.0.1:/run/dio-torture-nfs-export mounted on \(NFSStatistics.clientMountPoint) with fstype nfs4 statvers=1.1
        \topts:\trw,vers=4.2
        per-op statistics
        \t        NULL: 1 1 0 44 24 0 0 0 0
        \t        READ: 3 3 0 0 0 0 0 0 0
        \t       WRITE: 4 4 0 17120 448 1 34 35 0
        \t   READ_PLUS: 5 5 0 720 16864 0 9 11 0
        \t     READDIR: 7 7 0 0 0 0 0 0 0

        """
        let path = try scratchFile("mountstats", Data(text.utf8))
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path) }
        #expect(NFSStatistics(path: path) == NFSStatistics(reads: 8, writes: 4))
        #expect(NFSStatistics(path: "/nonexistent/mountstats") == nil)
    }
}

extension OnTheRealKernel {
    /// The kinds this machine's kernel can make besides the four disk ones: FUSE through
    /// dio-torture's own server and overlayfs, each stacked on a filesystem beneath it.
    @Suite(.serialized, .enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
    struct StackedFilesystemTests {
        let stacked: [ScratchKind] = [.fuse, .fuseDirectIO, .overlay]

        func run(_ kinds: [ScratchKind], scenario name: String, patterns: [FaultPattern]? = nil, paths: [IOPath]? = nil,
                 iterations: Int = 4) -> RunReport {
            let plan = RunPlan(targets: kinds.map { .scratch(ScratchOptions(kind: $0)) }, scenarios: [scenario(named: name)!],
                               selection: Selection(patterns: patterns, paths: paths), options: RunOptions(iterations: iterations, seed: 7))
            return Runner.run(plan)
        }

        /// What a stacked kind leaves: its server or helper process, a FUSE connection, a loop device.
        func expectNothingLeft(_ loopsBefore: Set<String>) {
            #expect(settles { helperProcesses().isEmpty }, "helper processes left: \(helperProcesses())")
            #expect(settles { fuseConnections().isEmpty }, "FUSE connections left: \(fuseConnections())")
            #expect(settles { attachedLoopDevices() == loopsBefore }, "loop devices left")
        }

        @Test func theMariaDBReadHoldsWithItsLayoutProvedBeneath() throws {
            try #require(missingTools(stacked) == nil, Comment(rawValue: missingTools(stacked) ?? ""))
            let loops = attachedLoopDevices()
            let report = run(stacked, scenario: "nowait-partial-fault", patterns: [.firstPageOnly], paths: [IOPath(.uringReadv), IOPath(.pread)])
            for kind in stacked {
                let cases = report.cases.filter { $0.filesystem.type == kind.name }
                #expect(cases.count == 10, "\(kind)")
                for record in cases {
                    #expect(record.verdict == .pass, "\(kind) \(record.id): \(record.reason ?? "")")
                    #expect(record.layout?.status == .verified && record.residency?.heldIterations == 4, "\(kind) \(record.id)")
                    #expect(record.filesystem.stackedOn?.hasPrefix(kind == .overlay ? "xfs on /dev/loop" : "ext4 on /dev/loop") == true)
                }
            }
            expectNothingLeft(loops)
        }

        /// FOPEN_DIRECT_IO files cannot be mapped shared (libfuse 3.14 does not ask the kernel to
        /// allow it): every case that needs such a mapping SKIPs with the reason, none FAILs.
        @Test func aRefusedSharedMappingIsASkip() throws {
            try #require(missingTools([.fuseDirectIO]) == nil, Comment(rawValue: missingTools([.fuseDirectIO]) ?? ""))
            let report = run([.fuseDirectIO], scenario: "mmap-same-file", paths: [IOPath(.uringReadv), IOPath(.pread)], iterations: 2)
            #expect(!report.cases.isEmpty)
            for record in report.cases {
                #expect(record.verdict == .skip && record.reason?.contains("mmap: ENODEV") == true, "\(record.id): \(record.verdict) \(record.reason ?? "")")
            }
        }

        /// The harness's own check of file-backed-consumers: a FUSE server that answers every read
        /// of an uncached page with ENODATA while the images are mounted (the Lustre class). Every
        /// consumer that reads through the page cache must FAIL cold, naming the errno, and keep
        /// every promise warm; the real FUSE target keeps them all.
        @Test func theENODATASelfTestFailsColdAndPassesWarm() throws {
            try #require(missingTools([.fuseEnodata]) == nil, Comment(rawValue: missingTools([.fuseEnodata]) ?? ""))
            let loops = attachedLoopDevices()
            let report = run([.fuseEnodata, .fuse], scenario: "file-backed-consumers")
            for record in report.cases.filter({ $0.filesystem.type == "fuse" }) {
                #expect(record.verdict == .pass, "fuse \(record.id): \(record.reason ?? "")")
            }
            let selfTest = report.cases.filter { $0.filesystem.type == "fuse-enodata" }
            #expect(selfTest.count == 4)
            for record in selfTest {
                let checks = Dictionary(uniqueKeysWithValues: (record.checks ?? []).map { ($0.name, $0) })
                if record.variant == "ext4-loop-direct-io" {
                    // Direct I/O reads the server even warm: it never mounts, which is a SKIP.
                    #expect(record.verdict == .skip, "\(record.id): \(record.reason ?? "")")
                    continue
                }
                #expect(record.verdict == .fail, "\(record.id): \(record.verdict)")
                let errno = record.variant?.hasPrefix("erofs") == true ? "ENODATA" : "EIO"
                #expect(checks["cold: image mounts"]?.held == false && checks["cold: image mounts"]?.observed.contains(errno) == true,
                        "\(record.id): \(checks["cold: image mounts"]?.observed ?? "")")
                for name in ["warm: page cache state", "warm: image mounts", "warm: every file hashes as recorded", "cold: page cache state"] {
                    #expect(checks[name]?.held == true, "\(record.id) \(name): \(checks[name]?.observed ?? "missing")")
                }
            }
            expectNothingLeft(loops)
        }

        @Test func aKilledRunLeavesNoServerHelperOrMount() throws {
            try #require(missingTools([.fuse, .overlay]) == nil, Comment(rawValue: missingTools([.fuse, .overlay]) ?? ""))
            let loops = attachedLoopDevices()
            let run = try runTool(["run", "--fs", "overlay,fuse", "--scenario", "fault-patterns", "--iterations", "2000"],
                                  interruptAfter: .seconds(5), signal: SIGKILL)
            #expect(run.status != 0)
            expectNothingLeft(loops)
            #expect(settles { caseProcesses().isEmpty })
        }

        /// FIBMAP, the layout proof where a filesystem has no FIEMAP, maps the same extents as
        /// FIEMAP where both work.
        @Test func theBlockMapAgreesWithFIEMAP() throws {
            try ScratchFilesystem.withDirectory(on: ScratchOptions(kind: .ext4), device: nil) { directory in
                let file = try OpenFile.scratch(at: directory + "/blocks.dat", options: .direct)
                let plan = ExtentPlan(count: 4, size: 16384, order: .reverse)
                _ = try LayoutWriter.write(plan, to: file, stamp: DataStamp(fileID: 3, generation: 1, seed: 3), method: .synced)
                let mapped = try file.extents(), blocks = try file.blockMap()
                #expect(blocks.allSatisfy { $0.isFromBlockMap })
                #expect(blocks.map { [$0.logical, $0.physical, $0.length] } == mapped.map { [$0.logical, $0.physical, $0.length] })
                #expect(LayoutCheck.compare(plan, found: blocks).status == .verified)
            }
        }
    }
}

/// dio-torture's FUSE servers and filesystem helpers alive now.
func helperProcesses() -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(Int32.init).filter { pid in
        let command = (try? readTextFile("/proc/\(pid)/cmdline")) ?? ""
        return command.contains("dio-torture") && (command.contains("fuse-server") || command.contains("filesystem-helper"))
    }
}

/// Live FUSE connections (/sys/fs/fuse/connections has one directory each).
func fuseConnections() -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/fuse/connections")) ?? []
}
