import Foundation
import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

extension OnTheRealKernel {
    /// The layouts the lab sweep plans, on the filesystem variants that merged them before the
    /// writer had more than one method: each reached, the file's bytes as the model says.
    @Suite(.serialized, .enabled(if: rootRequirement == nil, Comment(rawValue: rootRequirement ?? "")))
    struct LayoutWriterTests {
        static let variants: [ScratchOptions] = [
            ScratchOptions(kind: .ext4), ScratchOptions(kind: .ext4, mkfsOptions: ["-b", "1024"]),
            ScratchOptions(kind: .ext4, mkfsOptions: ["-O", "^extent,^64bit"]), ScratchOptions(kind: .xfs),
            ScratchOptions(kind: .xfs, mkfsOptions: ["-b", "size=1024"]), ScratchOptions(kind: .btrfs),
        ]

        @Test(arguments: variants)
        func everyPlannedLayoutIsReached(_ options: ScratchOptions) throws {
            try #require(missingTools([options.kind]) == nil, Comment(rawValue: missingTools([options.kind]) ?? ""))
            var used: Set<LayoutMethod> = []
            try ScratchFilesystem.withDirectory(on: options, device: nil) { directory in
                for count in [2, 4, 8] {
                    for size in [4 << 10, 16 << 10, 64 << 10] {
                        let plan = ExtentPlan(count: count, size: size, order: .reverse)
                        let (method, check, bytes, model) = try reach(plan, in: directory)
                        #expect(check.status == .verified, "\(options.label) \(plan): \(check.note ?? "")")
                        let verification = bytes.withUnsafeBytes { Verifier.verify($0, fileOffset: 0, model: model, prior: { _ in .zeros }) }
                        #expect(bytes.count == plan.fileSize && verification.badRanges.isEmpty, "\(options.label) \(plan) by \(method)")
                        used.insert(method)
                    }
                }
            }
            // What each variant needs, as measured: ext4's extent-mapped files need the collapse.
            if options.kind == .ext4 && options.mkfsOptions.first != "-O" { #expect(used.contains(.collapsedSeparators)) }
            if options.kind == .btrfs { #expect(used == [.synced]) }
        }

        @Test func btrfsCannotCollapseAndSaysSo() throws {
            try #require(missingTools([.btrfs]) == nil, Comment(rawValue: missingTools([.btrfs]) ?? ""))
            try ScratchFilesystem.withDirectory(on: ScratchOptions(kind: .btrfs), device: nil) { directory in
                let file = try OpenFile.scratch(at: directory + "/f", options: .direct)
                let stamp = DataStamp(fileID: 7, generation: 1, seed: 7)
                #expect(throws: LayoutWriter.Unsupported.self) {
                    try LayoutWriter.write(ExtentPlan(count: 2, size: 4096, order: .reverse), to: file, stamp: stamp, method: .collapsedSeparators)
                }
            }
        }

        /// The methods in turn, each on a fresh file, as a read case tries them.
        private func reach(_ plan: ExtentPlan, in directory: String) throws -> (LayoutMethod, LayoutCheck, [UInt8], FileModel) {
            let stamp = DataStamp(fileID: UInt32(plan.count * plan.size), generation: 1, seed: 1)
            var last: (LayoutMethod, LayoutCheck, [UInt8], FileModel)?
            for (attempt, method) in LayoutWriter.methods.enumerated() {
                let file = try OpenFile.scratch(at: directory + "/layout-\(attempt)", options: .direct)
                guard let model = try? LayoutWriter.write(plan, to: file, stamp: stamp, method: method) else { continue }
                let check = LayoutCheck.compare(plan, found: try file.extents())
                let reader = try OpenFile(file.descriptorPath, .readOnly)
                last = (method, check, try reader.contents(), model)
                if check.status == .verified { break }
            }
            return try #require(last)
        }
    }
}
