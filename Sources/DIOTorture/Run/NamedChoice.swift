/// A value the command line, sweep files and guest commands name: fault patterns, I/O paths,
/// scenarios, write targets, filesystems. Parsing, the list of valid names and the one-line error
/// live here, so that every front end says the same thing.
public protocol NamedChoice: Sendable {
    /// What one of these is called in an error ("fault pattern").
    static var choiceKind: String { get }
    /// Every valid name, in catalogue order.
    static var choiceNames: [String] { get }
    init?(choiceName: String)
}

extension NamedChoice {
    /// The value named `name`, or one line naming it and the choices.
    public static func named(_ name: String) throws -> Self {
        guard let value = Self(choiceName: name) else {
            throw RunRequest.Invalid(description: "unknown \(choiceKind) '\(name)'; choose from \(choiceNames.joined(separator: ", "))")
        }
        return value
    }

    /// Each name of a comma-separated list.
    public static func list(_ text: String) throws -> [Self] {
        try RunRequest.names(text).map(named)
    }
}

extension NamedChoice where Self: RawRepresentable, Self.RawValue == String {
    public init?(choiceName: String) { self.init(rawValue: choiceName) }
}

extension NamedChoice where Self: RawRepresentable & CaseIterable, Self.RawValue == String {
    public static var choiceNames: [String] { allCases.map(\.rawValue) }
}

extension FaultPattern: NamedChoice {
    public static let choiceKind = "fault pattern"
    public static var choiceNames: [String] { allCases.map(\.rawValue) }
}

extension IOPath: NamedChoice {
    public static let choiceKind = "I/O path"
    public static var choiceNames: [String] { named.map(\.description) }
    public init?(choiceName: String) {
        guard let path = Self.named.first(where: { $0.description == choiceName }) else { return nil }
        self = path
    }
}

extension WriteTarget: NamedChoice {
    public static let choiceKind = "write target"
}

extension WriteOrder: NamedChoice {
    public static let choiceKind = "write order"
}

/// A scenario of the catalogue, by name.
public struct ScenarioChoice: NamedChoice {
    public static let choiceKind = "scenario"
    public static var choiceNames: [String] { catalogue.map(\.name) }
    public let scenario: any Scenario

    public init?(choiceName: String) {
        guard let scenario = catalogue.first(where: { $0.name == choiceName }) else { return nil }
        self.scenario = scenario
    }
}

/// Reads in flight per iteration, 1 to `SweepFile.maxQueueDepth`.
public struct QueueDepth: NamedChoice {
    public static let choiceKind = "queue depth"
    public static var choiceNames: [String] { ["1 to \(SweepFile.maxQueueDepth)"] }
    public let value: Int

    public init?(choiceName: String) {
        guard let value = Int(choiceName), (1...SweepFile.maxQueueDepth).contains(value) else { return nil }
        self.value = value
    }
}
