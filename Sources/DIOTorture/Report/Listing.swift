/// The catalogue as `list` prints it: every scenario, fault pattern, I/O path, write target and filesystem,
/// each with its one line.
public enum Listing {
    public static func text() -> String {
        var lines: [String] = []
        func section(_ title: String, _ rows: [(String, String)]) {
            let width = rows.map(\.0.count).max() ?? 0
            lines += [title] + rows.map { "  \($0.0.padding(toLength: width, withPad: " ", startingAt: 0))  \($0.1)" } + [""]
        }
        section("Scenarios:", catalogue.map { ($0.name, $0.summary) })
        section("Fault patterns (read buffers and write sources):", FaultPattern.allCases.map { ($0.rawValue, $0.summary) })
        section("Read paths:", IOPath.all.map { ($0.description, $0.summary) })
        section("Write paths:", IOPath.writes.map { ($0.description, $0.summary) })
        section("Write targets (--write-target):", WriteTarget.allCases.map { ($0.rawValue, $0.summary) })
        section("Filesystems (--fs; `probe` says which this machine can make):",
                ScratchKind.all.map { ($0.name, $0.maker.summary + (ScratchKind.defaults.contains($0) ? "" : " [not in the default run]")) })
        return lines.dropLast().joined(separator: "\n")
    }
}
