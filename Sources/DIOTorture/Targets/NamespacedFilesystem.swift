import DIOSystem
import Foundation

/// Namespaces a kind must be made in, away from the rest of the machine.
public enum OwnNamespaces: String, Codable, Sendable {
    case none
    /// A mount namespace: its filesystems may be attached (overlayfs's layers before 6.15 must
    /// be), and vanish with it.
    case mount
    /// And a network namespace, for a server and its clients on a loopback of their own (NFS).
    case mountAndNetwork = "mount+network"
}

/// A filesystem a kind made inside a helper process (`dio-torture filesystem-helper`) that has
/// namespaces of its own. The helper keeps it, reachable from here through /proc/HELPER/fd, until
/// this object lets go of its lifeline (or this process dies); then it takes all of it down.
final class NamespacedFilesystem {
    private let helper: ChildProcess
    private let lifeline: Lifeline
    let made: MadeFilesystem

    /// How long a helper may take to make its filesystem (mkfs, a server's start, in a TCG guest).
    static let startTimeout: Duration = .seconds(300)
    static let stopTimeout: Duration = .seconds(30)

    /// What the helper is asked to make, on its standard input.
    struct Job: Codable {
        var kind: String
        var mkfsOptions: [String]
        var mountOptions: [String]
        var imageSize: Int
        var device: String?
    }

    /// What it made, one line of JSON on its standard output (or why it could not).
    struct Answer: Codable {
        var root: String?
        var backingRoot: String?
        var stackedOn: String?
        var nfs: NFSClient?
        var error: String?
    }

    init(_ options: ScratchOptions, device: String?) throws {
        lifeline = try Lifeline()
        let job = Job(kind: options.kind.name, mkfsOptions: options.mkfsOptions, mountOptions: options.mountOptions,
                      imageSize: options.imageSize, device: device)
        helper = try ChildProcess(executable: try ThisProcess.toolPath(), arguments: ["filesystem-helper"],
                                  input: Array(try JSONEncoder().encode(job)), passing: [lifeline.childEnd])
        let answer = try Self.awaitAnswer(from: helper)
        guard let root = answer.root else { throw TargetError(answer.error ?? "the filesystem helper gave no answer") }
        made = MadeFilesystem(root: root, backingRoot: answer.backingRoot, stackedOn: answer.stackedOn, nfs: answer.nfs,
                              holding: [])
    }

    deinit {
        lifeline.release()
        if helper.wait(for: Self.stopTimeout) == nil { helper.kill() }
    }

    private static func awaitAnswer(from helper: ChildProcess) throws -> Answer {
        let deadline = ContinuousClock.now + startTimeout
        while ContinuousClock.now < deadline {
            let output = try helper.standardOutput()
            if let end = output.firstIndex(of: UInt8(ascii: "\n")) {
                return try JSONDecoder().decode(Answer.self, from: Data(output[..<end]))
            }
            if let exit = helper.wait(for: .milliseconds(20)) {
                let said = String(decoding: try helper.standardError(), as: UTF8.self).split(separator: "\n").last.map { ": \($0)" } ?? ""
                throw TargetError("the filesystem helper ended (\(exit)) without making the filesystem" + said)
            }
        }
        throw TargetError("the filesystem helper did not make the filesystem within \(startTimeout)")
    }

    /// The helper's side: reads the job, enters its namespaces, makes the filesystem, answers,
    /// and keeps it until its lifeline (descriptor 3) ends. Returns the exit status.
    static func serveStandardInput() -> Int32 {
        func answer(_ answer: Answer) {
            FileHandle.standardOutput.write((try? JSONEncoder().encode(answer)).map { $0 + Data("\n".utf8) } ?? Data())
        }
        let made: MadeFilesystem
        do {
            let job = try JSONDecoder().decode(Job.self, from: FileHandle.standardInput.readDataToEndOfFile())
            guard let kind = ScratchKind(named: job.kind) else { throw TargetError("no filesystem kind \(job.kind)") }
            try PrivateNamespaces.enter(network: kind.maker.ownNamespaces == .mountAndNetwork)
            // Mount points, and the sockets and state of the servers it starts, stay in here.
            try DetachedMount(fsType: "tmpfs", source: "dio-torture-private", options: ["mode=0755"]).attach(at: privateRun)
            made = try kind.maker.make(ScratchOptions(kind: kind, mkfsOptions: job.mkfsOptions, mountOptions: job.mountOptions,
                                                      imageSize: job.imageSize), device: job.device)
        } catch {
            answer(Answer(error: "\(error)"))
            return 1
        }
        answer(Answer(root: made.root, backingRoot: made.backingRoot, stackedOn: made.stackedOn, nfs: made.nfs))
        Lifeline.wait(on: 3)
        withExtendedLifetime(made) {}
        return 0
    }

    /// The helper's private /run: a tmpfs over the machine's, in its mount namespace alone.
    static let privateRun = "/run"
}
