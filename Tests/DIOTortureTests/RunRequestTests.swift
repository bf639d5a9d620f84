import Foundation
import Testing
@testable import DIOSystem
@testable import DIOTorture

/// `run`'s words made into a plan by the library, without the command line.
@Suite struct RunRequestTests {
    func request(_ change: (inout RunRequest) throws -> Void) rethrows -> RunRequest {
        var request = RunRequest(options: RunOptions(iterations: 3, seed: 1))
        request.directory = FileManager.default.temporaryDirectory.path
        try change(&request)
        return request
    }

    @Test func namesBecomeAPlan() throws {
        let (plan, note) = try request {
            $0.scenarios = try ScenarioChoice.list("nowait-partial-fault")
            $0.patterns = try FaultPattern.list("first-page-only, last-page-only")
            $0.paths = try IOPath.list("uring-readv,pread")
        }.plan()
        #expect(plan.targets == [.directory(FileManager.default.temporaryDirectory.path)] && note == nil)
        #expect(plan.selection.patterns == [.firstPageOnly, FaultPattern(rawValue: "last-page-only")!])
        #expect(Set(plan.cases.compactMap(\.read?.path)) == [IOPath(.uringReadv), IOPath(.pread)])
        #expect(Set(plan.cases.compactMap(\.pattern)).count == 2)
    }

    @Test(arguments: [
        ("scenarios", "nowait", "unknown scenario 'nowait'; choose from nowait-partial-fault"),
        ("patterns", "first-page-only,first-page", "unknown fault pattern 'first-page'; choose from all-resident"),
        ("paths", "uring-readv+polled", "unknown I/O path 'uring-readv+polled'"),
        ("queueDepths", "0", "unknown queue depth '0'; choose from 1 to 256"),
        ("writeTargets", "hole,sparse", "unknown write target 'sparse'; choose from overwrite"),
        ("filesystems", "zfs", "unknown filesystem 'zfs'; choose from btrfs, xfs, ext4, tmpfs"),
        ("directory", "/nonexistent/dio", "--dir /nonexistent/dio: no such directory"),
    ])
    func badWordsAreOneLineNamingTheChoices(_ field: String, _ value: String, _ message: String) {
        #expect {
            _ = try request {
                switch field {
                case "scenarios": $0.scenarios = try ScenarioChoice.list(value)
                case "patterns": $0.patterns = try FaultPattern.list(value)
                case "paths": $0.paths = try IOPath.list(value)
                case "queueDepths": $0.queueDepths = try QueueDepth.list(value)
                case "writeTargets": $0.writeTargets = try WriteTarget.list(value)
                case "filesystems": $0.filesystems = try ScratchKind.list(value)
                default: $0.directory = value
                }
            }.plan()
        } throws: { error in
            let text = (error as? RunRequest.Invalid)?.description ?? ""
            return text.hasPrefix(message) && !text.contains("\n")
        }
    }

    /// As root the default targets are the four scratch filesystems; naming one picks it.
    @Test(.enabled(if: Kernel.isRoot)) func rootGetsScratchFilesystems() throws {
        let (all, _) = try TargetSpec.choose(directory: nil, filesystems: nil, defaults: ScratchKind.defaults)
        #expect(all == ScratchKind.defaults.map { .scratch(ScratchOptions(kind: $0)) })
        let (one, note) = try TargetSpec.choose(directory: nil, filesystems: [.xfs], defaults: ScratchKind.defaults)
        #expect(one == [.scratch(ScratchOptions(kind: .xfs))] && note == nil)
    }
}

/// What `vm` refuses to run in a guest, decided in the library.
@Suite struct GuestCommandTests {
    @Test func aGuestCannotBootGuestsOrWriteReportsThatStayInIt() {
        #expect(GuestCommand.problem(["vm", "--kernel", "K"]) == "the guest command cannot be 'vm'")
        #expect(GuestCommand.problem(["run", "--json", "out.json"])?.contains("give --json to vm itself") == true)
        #expect(GuestCommand.problem(["run", "--fs", "btrfs"]) == nil && GuestCommand.problem([]) == nil)
        #expect(GuestCommand.normalized(["--fs", "xfs"]) == ["run", "--fs", "xfs"] && GuestCommand.normalized(["sweep", "f"]) == ["sweep", "f"])
    }
}
