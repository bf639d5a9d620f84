import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

@Suite struct TransfersTests {
    /// An idle AIO context goes on to the next case (destroying one waits out an RCU grace
    /// period); one with a request whose completion was never taken does not, so that no late
    /// completion reaches another case. The size is the test's own: no other test asks for it.
    @Test func onlyAnIdleAIOContextIsKept() throws {
        let entries: UInt32 = 77
        let idle = try IdleAIOContexts.take(entries: entries)
        IdleAIOContexts.giveBack(idle)
        let again = try IdleAIOContexts.take(entries: entries)
        #expect(again === idle)

        let file = try OpenFile.anonymous(in: "/var/tmp")
        try file.truncate(to: 4096)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { buffer.deallocate() }
        try again.submit(.read, file: file.descriptor, segments: [buffer], offset: 0, userData: 1)
        #expect(!again.isIdle)
        IdleAIOContexts.giveBack(again)
        let fresh = try IdleAIOContexts.take(entries: entries)
        #expect(fresh !== again && fresh.isIdle)
        _ = try again.waitCompletion(timeout: .seconds(5))
        IdleAIOContexts.giveBack(fresh)
    }

    /// An SQPOLL ring's thread sleeps once it has polled for `submissionPollingIdle` after a
    /// submission: each transfer after such a pause must wake it and complete.
    @Test func aSleepingSubmissionPollerIsWokenByTheNextTransfer() throws {
        let file = try OpenFile.anonymous(in: "/var/tmp")
        try file.truncate(to: 4096)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
        defer { buffer.deallocate() }
        let transfers = Transfers(timeout: .seconds(5))
        let path = IOPath(.uringReadv, sqpoll: true)
        try transfers.prepare(path)
        for _ in 0..<3 {
            #expect(try transfers.fire(path, file: file, buffers: [buffer], offset: 0) == [.completed(4096)])
            usleep(useconds_t(Transfers.submissionPollingIdle.wholeMilliseconds * 20_000))
        }
    }
}
