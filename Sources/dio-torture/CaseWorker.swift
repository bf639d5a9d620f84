import ArgumentParser
import DIOTorture
import Foundation
import Glibc

struct CaseWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "case-worker", abstract: "Internal: run one case given as JSON on standard input.", shouldDisplay: false)

    func run() throws { throw ExitCode(CaseJob.serveStandardInput()) }
}
