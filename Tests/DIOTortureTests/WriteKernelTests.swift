import Foundation
import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

let writeBugKernel = sharedKernels + "/bzImage-btrfs-dio-write-bug"
let writeKernelRequirement: String? = vmRequirement
    ?? (FileManager.default.fileExists(atPath: writeBugKernel) ? nil : "\(writeBugKernel) is missing")

/// The case the write-bug kernel's README measures: 64 KiB written over four extents from a
/// mapping of a cold file with only its first page resident.
func partialWriteCase(_ path: String) -> String { "direct-write/4x16K-reverse/overwrite/cold-file-first-page/\(path)" }

/// Runs `dio-torture vm` with the arguments and returns what it printed and its JSON report.
func runGuests(_ arguments: [String]) throws -> (ToolRun, RunReport?) {
    let report = NSTemporaryDirectory() + "dio-torture-write-vm-\(getpid()).json"
    defer { unlink(report) }
    let result = try runTool(["vm", "--json", report, "--no-color", "--no-known-bugs"] + arguments)
    #expect(qemuProcesses().isEmpty, "QEMU left running")
    return (result, FileManager.default.contents(atPath: report).flatMap { try? RunReport.decode($0) })
}

extension OnTheRealKernel {
    /// The write side under QEMU: it must tell the write-bug kernel from its twin.
    @Suite(.serialized, .enabled(if: writeKernelRequirement == nil, Comment(rawValue: writeKernelRequirement ?? "")))
    struct WriteKernelTests {
        /// On the write-bug kernel the write returns 4096 of 65536 through pwrite, io_uring and
        /// kernel AIO in (nearly) every iteration, and the rest of the range still holds the old data.
        @Test func catchesThePartialDirectWriteOnTheWriteBugKernel() throws {
            let paths = ["pwrite", "uring-writev", "aio-write"]
            let (result, decoded) = try runGuests(["--kernel", writeBugKernel, "--", "run", "--fs", "btrfs", "--scenario", "direct-write",
                                                   "--pattern", "cold-file-first-page", "--io-path", paths.joined(separator: ","),
                                                   "--write-target", "overwrite", "--iterations", "100"])
            #expect(result.status == 1, "\(result.stderr)")
            let report = try #require(decoded, "\(result.stderr)")
            for path in paths {
                let record = try #require(report.cases.first { $0.id == partialWriteCase(path) }, "\(result.stdout)")
                let short = record.outcomes["short-write"] ?? 0
                print("partial direct write on \(record.kernel) through \(path): \(short)/\(record.iterations) short, \(record.failures) FAIL")
                #expect(record.kernel == "6.1.192-diot-wbug")
                #expect(record.verdict == .fail && short >= 99 && record.failures >= 99, "\(path)")
                #expect(record.layout?.status == .verified && record.layout?.found.count == 4, "\(path)")
                #expect(record.residency?.planned == "#" + String(repeating: ".", count: 15) && record.residency?.heldIterations == 100, "\(path)")
                let first = try #require(record.failureDetails.first)
                #expect(first.result == 4096 && first.expectedLength == 65536, "\(path)")
                #expect(first.unfilledTail == [BadRange(offset: 4096, length: 61440, diagnosis: .stale)], "\(path): \(first.unfilledTail)")
            }
        }

        /// The default write catalogue in every kernel: the write-bug kernel fails on btrfs only;
        /// its twin and Debian's 6.1 fail nothing but a bug configs/known-kernel-bugs.expunge names
        /// (6.1's io_uring EAGAIN into unwritten extents: intermittent here, where the debug
        /// binary is slow under TCG; its C reproducer has a test of its own), 6.12 nothing.
        @Test func theWriteCatalogueFailsOnlyWhereABugIs() throws {
            let kernels = [writeBugKernel, fixedKernel] + debianKernels
            let (result, decoded) = try runGuests(kernels.flatMap { ["--kernel", $0] }
                                                  + ["--", "run", "--isolation", "none", "--scenario", "direct-write", "--iterations", "5", "--seed", "5"])
            let report = try #require(decoded, "\(result.stderr)")
            print(TextReport.kernelMatrix(report, colour: false))
            #expect(report.guests?.count == kernels.count && report.guests?.allSatisfy { $0.outcome == .completed } == true)
            for guest in report.guests ?? [] {
                let cases = report.cases.filter { $0.kernel == guest.release }
                #expect(!cases.contains { $0.verdict == .broken || $0.verdict == .inconclusive }, "\(guest.release)")
                let failures = cases.filter(\.verdict.isFailure)
                for failure in failures {
                    #expect(failure.filesystem.type == "btrfs" && knownKernelBugs.entry(for: failure) != nil,
                            "\(guest.release) \(failure.filesystem.type) \(failure.id): \(failure.reason ?? "")")
                }
                if guest.release == "6.1.192-diot-wbug" {
                    #expect(failures.contains { $0.id == partialWriteCase("pwrite") })
                } else if !guest.release.hasPrefix("6.1.") {
                    #expect(failures.isEmpty, "\(guest.release)")
                }
            }
        }
    }
}
