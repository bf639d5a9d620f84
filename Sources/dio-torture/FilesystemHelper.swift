import ArgumentParser
import DIOTorture

struct FilesystemHelper: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filesystem-helper", abstract: "Internal: make a scratch filesystem in namespaces of its own and keep it until descriptor 3 ends.",
        shouldDisplay: false)

    func run() throws { throw ExitCode(ScratchFilesystem.serveHelper()) }
}
