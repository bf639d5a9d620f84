import ArgumentParser
import DIOTorture
import Foundation
import Glibc

struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the kernel, io_uring support, privileges and usable filesystems.")

    func run() { print(EnvironmentProbe.current().text) }
}
