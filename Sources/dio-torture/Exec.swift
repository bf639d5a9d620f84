import ArgumentParser
import DIOSystem
import DIOTorture
import Foundation
import Glibc

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program (a reproducer) in a fresh directory on a scratch filesystem, then remove it all.",
        discussion: """
        `{}` in the program's arguments becomes the directory (appended when absent). Exits with \
        the program's status. Example: dio-torture exec --fs btrfs -- ./repro {} 100
        """)

    @Option(help: "The scratch filesystem (see `dio-torture list`).")
    var fs: ScratchKind

    @Option(name: .customLong("mkfs-options"), help: "Extra mkfs arguments.")
    var mkfsOptions: String?

    @Option(name: .customLong("mount-options"), help: "Mount options, comma-separated.")
    var mountOptions: String?

    @Option(name: .customLong("scratch-device"), help: ArgumentHelp("Make the filesystem on this block device (OVERWRITTEN) instead of a loop device.", valueName: "dev"))
    var scratchDevice: String?

    @Argument(parsing: .postTerminator, help: "The program and its arguments, after `--`.")
    var program: [String] = []

    func validate() throws {
        if program.isEmpty { throw ValidationError("give the program to run after `--`") }
        if let scratchDevice, let reason = ScratchFilesystem.unusableDeviceReason(scratchDevice) {
            throw ValidationError("--scratch-device: \(reason)")
        }
    }

    func run() throws {
        InterruptCleanup.install()
        let options = ScratchOptions(kind: fs, mkfsOptions: mkfsOptions.map { $0.split(separator: " ").map(String.init) } ?? [],
                                     mountOptions: mountOptions.map { $0.split(separator: ",").map(String.init) } ?? [])
        let status: Int32
        do {
            status = try ScratchFilesystem.run(program, on: options, device: scratchDevice)
        } catch {
            printError("dio-torture exec: \(error)\n")
            throw ExitCode(3)
        }
        throw ExitCode(status)
    }
}
