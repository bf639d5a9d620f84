import Foundation

/// Where to run: a directory the user mounted, or a filesystem dio-torture makes.
public enum TargetSpec: Sendable, Hashable, CustomStringConvertible {
    case directory(String)
    case scratch(ScratchOptions)

    public var description: String {
        switch self {
        case .directory(let path): path
        case .scratch(let options): options.kind.rawValue
        }
    }
}

public struct RunPlan: Sendable {
    public var targets: [TargetSpec]
    public var scenarios: [any Scenario]
    public var selection: Selection
    public var options: RunOptions
    /// A whole block device that every disk-backed scratch filesystem is made on in turn,
    /// instead of loop devices (a test VM's virtio disk). Overwritten.
    public var scratchDevice: String?

    public init(targets: [TargetSpec], scenarios: [any Scenario], selection: Selection, options: RunOptions,
                scratchDevice: String? = nil) {
        self.targets = targets
        self.scenarios = scenarios
        self.selection = selection
        self.options = options
        self.scratchDevice = scratchDevice
    }

    public var cases: [CaseSpec] { scenarios.flatMap { $0.cases(selection) } }
}

/// Progress reported while the run goes on, for a progress line.
public struct Progress: Sendable {
    public var done: Int
    public var total: Int
    public var failures: Int
    public var current: String
}

public enum Runner {
    /// Runs every case of `plan` on every target, one target at a time; each target is made,
    /// used and removed before the next.
    public static func run(_ plan: RunPlan, progress: (Progress) -> Void = { _ in }) -> RunReport {
        let started = Date()
        let kernel = Kernel.release
        let cases = plan.cases
        let total = cases.count * plan.targets.count
        var records: [CaseRecord] = []
        var failures = 0
        var images: ImageStore?
        for target in plan.targets {
            do {
                let (area, keepAlive) = try prepare(target, kernel: kernel, device: plan.scratchDevice, images: &images)
                defer { withExtendedLifetime(keepAlive) {} }
                let directory = try ScratchDirectory(in: area.directory)
                defer { directory.remove() }
                var inner = area
                inner.directory = directory.path
                for spec in cases {
                    progress(Progress(done: records.count, total: total, failures: failures, current: "\(target) \(spec.id)"))
                    let record = scenario(named: spec.scenario)!.run(spec, in: inner, options: plan.options)
                    if record.verdict == .fail { failures += 1 }
                    records.append(record)
                }
            } catch {
                let unavailable = (error as? TargetError) != nil
                records.append(setupRecord(target, kernel: kernel, verdict: unavailable ? .skip : .broken, reason: "\(error)",
                                           seed: plan.options.seed))
            }
        }
        progress(Progress(done: total, total: total, failures: failures, current: ""))
        return RunReport(startedAt: ISO8601DateFormatter().string(from: started), hostKernel: kernel,
                         seed: plan.options.seed, iterations: plan.options.iterations, complete: true,
                         durationSeconds: Date().timeIntervalSince(started), cases: records)
    }

    private static func prepare(_ target: TargetSpec, kernel: String, device: String?,
                                images: inout ImageStore?) throws -> (WorkArea, AnyObject?) {
        switch target {
        case .directory(let path):
            let record = FilesystemRecord(type: filesystemType(of: path), origin: "directory", location: path,
                                          mkfsOptions: [], mountOptions: [])
            return (WorkArea(directory: path, filesystem: record, kernel: kernel), nil)
        case .scratch(let options):
            if let reason = options.kind.unavailableReason { throw TargetError(reason) }
            if images == nil, device == nil, options.kind != .tmpfs { images = try ImageStore() }
            let filesystem = try ScratchFilesystem(options, images: images, device: device)
            return (WorkArea(directory: filesystem.root, filesystem: filesystem.record, kernel: kernel), filesystem)
        }
    }

    private static func setupRecord(_ target: TargetSpec, kernel: String, verdict: Verdict, reason: String, seed: UInt64) -> CaseRecord {
        let filesystem: FilesystemRecord = switch target {
        case .directory(let path): FilesystemRecord(type: filesystemType(of: path), origin: "directory", location: path, mkfsOptions: [], mountOptions: [])
        case .scratch(let options): FilesystemRecord(type: options.kind.rawValue, origin: "scratch", location: nil,
                                                     mkfsOptions: options.mkfsOptions, mountOptions: options.mountOptions)
        }
        return CaseRecord(id: "setup/\(target)", kernel: kernel, filesystem: filesystem, scenario: "setup", seed: seed,
                          iterations: 0, verdict: verdict, reason: reason, failures: 0, outcomes: [:], failureDetails: [],
                          durationSeconds: 0)
    }
}

extension RunReport {
    /// 0 all passed (SKIP and INCONCLUSIVE allowed), 1 a FAIL or a BROKEN harness, 3 nothing ran.
    public var exitCode: Int32 {
        let counts = self.counts
        if counts[.fail, default: 0] > 0 || counts[.broken, default: 0] > 0 { return 1 }
        if counts[.pass, default: 0] + counts[.inconclusive, default: 0] == 0 { return 3 }
        return 0
    }
}
