import ArgumentParser
import DIOTorture
import Foundation
import Glibc

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the catalogue: scenarios, fault patterns and I/O paths.")

    func run() {
        print("Scenarios:")
        let width = catalogue.map(\.name.count).max()!
        for scenario in catalogue { print("  \(scenario.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(scenario.summary)") }
        print("\nFault patterns:")
        for pattern in FaultPattern.allCases { print("  \(pattern.rawValue.padding(toLength: 26, withPad: " ", startingAt: 0)) \(pattern.summary)") }
        print("\nI/O paths:")
        print("  " + IOPath.all.map(\.description).joined(separator: ", "))
    }
}
