import DIOSystem
import Foundation

/// Version of the JSON report's schema (docs/report-schema.md). Bump on any incompatible change.
public let reportSchemaVersion = 1

/// The whole run: what the JSON report holds.
public struct RunReport: Codable, Sendable {
    public var schemaVersion = reportSchemaVersion
    public var tool = "dio-torture"
    public var startedAt: String
    public var hostKernel: String
    public var seed: UInt64
    public var iterations: Int
    /// False when the run was cut short (interrupted): the cases present are all that ran.
    public var complete: Bool
    public var durationSeconds: Double
    public var cases: [CaseRecord]
    /// For `dio-torture vm`: each guest kernel's boot and run; the cases carry the guest's release.
    public var guests: [GuestRecord]?
    /// Why the kernel log could not be watched for BUG/WARNING lines, when it could not.
    public var kernelLogUnavailable: String?
    /// For `dio-torture sweep`: which sweep, and which shard of its matrix this report holds.
    public var sweep: SweepRecord?
    /// With `run --profile`: seconds of the whole run in each `Phase`, `rest` being what the
    /// measured phases leave of the wall time.
    public var profile: [String: Double]?

    public var counts: [Verdict: Int] {
        cases.reduce(into: [:]) { $0[$1.verdict, default: 0] += 1 }
    }
}

public struct FilesystemRecord: Codable, Sendable, Hashable {
    public var type: String
    /// "scratch" (made on a loop device or tmpfs by dio-torture) or "directory" (the user's).
    public var origin: String
    public var location: String?
    public var mkfsOptions: [String]
    public var mountOptions: [String]
    /// For a kind stacked on another filesystem (FUSE, overlayfs, NFS): what it stands on.
    public var stackedOn: String? = nil
    /// For NFS: how the client's data reached the server, as a probe at mount found it.
    public var nfsDataPath: NFSDataPath? = nil
}

public struct ReadRecord: Codable, Sendable {
    public var offset: Int
    public var length: Int
    public var fileSize: Int
    /// Reads of this range in flight at once; absent means one.
    public var queueDepth: Int?
    /// Where the read's memory sat against direct I/O's alignment; absent: page-aligned, one iovec.
    public var alignment: TransferAlignment? = nil
    /// Which file pages were cached when a buffered read was submitted; absent: not planned.
    public var fileCache: FileCachePlan? = nil
}

/// A write case's write: onto what, where and how long.
public struct WriteRecord: Codable, Sendable {
    public var target: WriteTarget
    public var offset: Int
    public var length: Int
    /// The file's size before the write.
    public var fileSize: Int
    /// Where the write's memory and range sat against direct I/O's alignment; absent: aligned.
    public var alignment: TransferAlignment? = nil
}

public struct LayoutRecord: Codable, Sendable {
    public var planned: ExtentPlan
    public var plannedExtents: [[Int]]
    /// How the extents were written (the method whose file the case read).
    public var method: LayoutMethod?
    public var status: LayoutStatus
    public var found: [MappedExtent]
    public var note: String?
}

public struct ResidencyRecord: Codable, Sendable {
    /// One character a page: '#' resident, '.' not.
    public var planned: String
    /// Each residency mincore found just before submission, with how many iterations saw it.
    public var found: [String: Int]
    public var heldIterations: Int
    /// Buffers set up again because mincore showed another residency than planned.
    public var retries: Int?
}

/// One failing iteration, with everything needed to replay and explain it.
public struct FailureRecord: Codable, Sendable {
    public var iteration: Int
    /// Which of the iteration's reads in flight, at queue depths above one.
    public var read: Int? = nil
    public var seed: UInt64
    public var outcome: Outcome
    public var expectedLength: Int
    /// The completion's result: bytes, or -errno.
    public var result: Int?
    public var errno: String?
    public var firstBadOffset: Int?
    public var badRanges: [BadRange]
    /// What the part of the buffer past a short read holds.
    public var unfilledTail: [BadRange]
    public var note: String?
    public var kernelStacks: [String: String]?
    /// The file's extents (FIEMAP) right after the failing transfer, to set against the layout's.
    public var extentsAfter: [MappedExtent]? = nil
}

public struct CaseRecord: Codable, Sendable {
    public var id: String
    public var kernel: String
    public var filesystem: FilesystemRecord
    public var scenario: String
    /// The variant of a step scenario (see `CaseSpec.variant`).
    public var variant: String? = nil
    public var pattern: FaultPattern?
    public var path: IOPath?
    public var read: ReadRecord?
    public var write: WriteRecord? = nil
    public var dioAlignment: [String: Int]?
    public var layout: LayoutRecord?
    public var residency: ResidencyRecord?
    public var seed: UInt64
    public var iterations: Int
    public var verdict: Verdict
    public var reason: String?
    public var failures: Int
    public var outcomes: [String: Int]
    /// The first failing iterations in full (at most `maxFailureDetails`); `failures` counts all.
    public var failureDetails: [FailureRecord]
    public var durationSeconds: Double
    /// Time to first detection: from the start of the case (layout included) to its first FAIL.
    public var firstFailureSeconds: Double?
    /// Kernel-log lines logged while the case ran that report a kernel problem (BUG, WARNING,
    /// Oops, hung task, lockdep, filesystem or I/O errors).
    public var kernelLog: [String]?
    /// Set when the kernel's taint flags changed while the case ran.
    public var taint: TaintRecord?
    /// Step scenarios: each promise or check, with what it gave (all of them, passing or not).
    public var checks: [CheckRecord]? = nil
    /// Step scenarios: what was done and seen, by name (operations run, errors injected, ...).
    public var counters: [String: Int]? = nil
    /// Where the case's replayable operation log was saved (`dio-torture replay`).
    public var operationLog: String? = nil
    /// For a KNOWN case: the verdict it had, and the known bug that explains it.
    public var knownBug: KnownBugRecord? = nil
    /// With `run --profile`: seconds of the case in each `Phase`.
    public var phaseSeconds: [String: Double]? = nil
    /// How the case's data moved, on a target with more than one way: NFS's "rpc" (READ or WRITE
    /// RPCs went out) or "localio" (none did: the client reached the server's files directly).
    public var transport: String? = nil

    public static let maxFailureDetails = 20
    public static let maxKernelLogLines = 50
}

/// A failure a known kernel bug explains: what the case gave, and the entry that names it.
public struct KnownBugRecord: Codable, Sendable, Equatable {
    public var verdict: Verdict
    public var bug: String
    /// The known-bugs file and line of the entry.
    public var entry: String
}

/// One promise a step scenario checks, and what it gave.
public struct CheckRecord: Codable, Sendable, Equatable {
    public var name: String
    /// nil: not judged (its preconditions did not arise).
    public var held: Bool?
    public var observed: String

    public init(name: String, held: Bool?, observed: String) {
        self.name = name
        self.held = held
        self.observed = observed
    }
}

/// A sweep shard's identity, so that `merge` joins only the shards of one sweep.
public struct SweepRecord: Codable, Sendable {
    public var name: String
    public var file: String
    /// A hash of the sweep file's text.
    public var digest: String
    public var shard: Int
    public var shards: Int
    /// Units (cases on a filesystem, seed and kernel) in this shard and in the whole matrix.
    public var units: Int
    public var totalUnits: Int

    public init(name: String, file: String, digest: String, shard: Int, shards: Int, units: Int, totalUnits: Int) {
        (self.name, self.file, self.digest, self.shard, self.shards, self.units, self.totalUnits) = (name, file, digest, shard, shards, units, totalUnits)
    }
}

/// /proc/sys/kernel/tainted before and after a case.
public struct TaintRecord: Codable, Sendable {
    public var before: UInt64
    public var after: UInt64
}

extension RunReport {
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    public static func decode(_ data: Data) throws -> RunReport {
        try JSONDecoder().decode(RunReport.self, from: data)
    }
}
