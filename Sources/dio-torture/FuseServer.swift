import ArgumentParser
import DIOSystem

struct FuseServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuse-server", abstract: "Internal: serve a FUSE target, its /dev/fuse on descriptor 3 and the backing directory on 4.",
        shouldDisplay: false)

    @Argument(help: "cached, direct-io or read-fault-switch.")
    var mode: FuseServer.Mode

    func run() throws {
        ThisProcess.dieWithParent()
        throw ExitCode(FuseServer.serve(device: 3, backing: 4, mode: mode))
    }
}

extension FuseServer.Mode: ExpressibleByArgument {}
