import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

extension OnTheRealKernel {
    /// The benchmark's fast loop must still judge every completion: speed may not come from
    /// checking less.
    @Suite(.enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
    struct BenchTests {
        @Test func fastLoopVerifiesEveryRead() throws {
            let filesystem = try ScratchFilesystem(ScratchOptions(kind: .tmpfs, imageSize: 64 << 20), images: nil)
            let file = try OpenFile(filesystem.root + "/bench.dat", .readWrite, options: [.create, .direct])
            let written = DataStamp(fileID: 1, generation: 1, seed: 7)
            let model = try Benchmark.writeStamped(file, size: 4 << 20, stamp: written)

            let honest = try VerifiedReadLoop(file: file, model: model, blockSize: 16384, depth: 8).run(for: .milliseconds(200), seed: 1)
            #expect(honest.reads > 100)
            #expect(honest.failures == 0)

            var otherGeneration = FileModel()
            otherGeneration.write(0..<(4 << 20), stamp: DataStamp(fileID: 1, generation: 2, seed: 7))
            // Each slot's next read is in flight while the last is verified: every read must still
            // be judged against the model, at depth 1 too.
            for depth in [1, 4] {
                let stale = try VerifiedReadLoop(file: file, model: otherGeneration, blockSize: 4096, depth: depth).run(for: .milliseconds(100), seed: 2)
                #expect(stale.reads > 10)
                #expect(stale.failures == stale.reads)
            }
        }
    }
}
