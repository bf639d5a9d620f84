import ArgumentParser
import DIOTorture

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the catalogue: scenarios, fault patterns, I/O paths and write targets.")

    func run() { print(Listing.text()) }
}
