/// The fault patterns, in the order `list`, the catalogue and reports show them. Adding a pattern
/// is a type in `Buffers/Patterns/` and a line here.
let faultPatterns: [any BufferPattern.Type] = [
    AllResident.self,
    FirstPageOnly.self,
    LastPageOnly.self,
    NoneResident.self,
    EveryOtherPage.self,
    MadvDontneedAfterTouch.self,
    ColdFileMmap.self,
    ColdFileFirstPage.self,
    FileMmapDontneed.self,
    SameFileMmap.self,
    SameRangeMmap.self,
    ProtNoneHole.self,
    Userfault.self,
    TransparentHugePage.self,
    UserfaultNeverResolved.self,
]

/// A fault pattern by name: what records, selections and sweep files carry. Its behaviour is the
/// registered `BufferPattern` of that name.
public struct FaultPattern: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard Self.registry[rawValue] != nil else { return nil }
        self.rawValue = rawValue
    }

    init(_ pattern: any BufferPattern.Type) { rawValue = pattern.name }

    public static var allCases: [FaultPattern] { faultPatterns.map(FaultPattern.init) }

    private static let registry = Dictionary(uniqueKeysWithValues: faultPatterns.map { ($0.name, $0) })

    var kind: any BufferPattern.Type { Self.registry[rawValue]! }

    public var summary: String { kind.summary }
    public var traits: PatternTraits { kind.traits }
    public var description: String { rawValue }
}

/// What the buffer holds before the read, per page: the residency the pattern promises, and the
/// content that "unfilled" means.
public struct PagePlan: Sendable, Equatable {
    public var resident: Bool
    public var prior: PriorContent
}

extension Array where Element == Bool {
    /// Residency drawn as one character a page: '#' resident, '.' not.
    public var residencyMap: String { String(map { $0 ? "#" : "." }) }
}
