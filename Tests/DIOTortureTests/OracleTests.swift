import Glibc
import Testing
@testable import DIOSystem
@testable import DIOTorture

@Suite struct OracleTests {
    let readv = IOPath(.uringReadv)
    let nowait = IOPath(.uringReadv, nowait: true)

    func judge(_ result: TransferResult, path: IOPath, length: Int = 16384, fileSize: Int = 16384,
               hole: Int? = nil, bad: [BadRange] = []) -> Judgement {
        let contract = ReadContract(offset: 0, length: length, fileSize: fileSize, path: path, inaccessibleOffset: hole)
        return Oracle.judge(result, contract: contract) { _ in Verification(badRanges: bad) }
    }

    @Test func fullReadPasses() {
        #expect(judge(.completed(16384), path: readv) == Judgement(outcome: .full, call: .pass))
    }

    @Test func shortBeforeEOFFails() {
        let judgement = judge(.completed(4096), path: readv)
        #expect(judgement.outcome == .shortBeforeEOF && judgement.call == .fail)
    }

    @Test func shortAtEOFPassesButNotPastIt() {
        #expect(judge(.completed(16384), path: readv, length: 20480).outcome == .shortAtEOF)
        #expect(judge(.completed(16384), path: readv, length: 20480).call == .pass)
        #expect(judge(.completed(20480), path: readv, length: 20480).call == .fail)
        #expect(judge(.completed(12288), path: readv, length: 20480).call == .fail)
    }

    @Test func eagainIsLegalOnlyWithExplicitNowait() {
        #expect(judge(.failed(Errno(rawValue: EAGAIN)), path: readv).call == .fail)
        #expect(judge(.failed(Errno(rawValue: EAGAIN)), path: nowait).call == .pass)
        #expect(judge(.failed(Errno(rawValue: EAGAIN)), path: IOPath(.preadv2)).call == .pass)
    }

    @Test func protNoneHoleAllowsExactlyThatShortReadOrEFAULT() {
        #expect(judge(.completed(8192), path: readv, hole: 8192).call == .pass)
        #expect(judge(.completed(4096), path: readv, hole: 8192).call == .fail)
        #expect(judge(.completed(8192), path: readv).call == .fail)
        #expect(judge(.failed(Errno(rawValue: EFAULT)), path: readv, hole: 8192).call == .pass)
        #expect(judge(.failed(Errno(rawValue: EFAULT)), path: readv).call == .fail)
    }

    @Test func eopnotsuppUnderNowaitIsSkipButOtherwiseFails() {
        #expect(judge(.failed(Errno(rawValue: EOPNOTSUPP)), path: nowait).call == .skip("RWF_NOWAIT direct reads are not supported here (EOPNOTSUPP)"))
        #expect(judge(.failed(Errno(rawValue: EOPNOTSUPP)), path: readv).call == .fail)
        #expect(judge(.failed(Errno(rawValue: EIO)), path: nowait).call == .fail)
    }

    @Test func badBytesFailEvenInAFullLengthRead() {
        let judgement = judge(.completed(16384), path: readv, bad: [BadRange(offset: 4096, length: 512, diagnosis: .stale)])
        #expect(judgement.outcome == .mismatch && judgement.call == .fail)
    }

    @Test func hangFails() {
        #expect(judge(.timedOut, path: readv) == Judgement(outcome: .hang, call: .fail, note: "no completion within the watchdog's window"))
    }

    @Test func verdictNeedsEveryPrecondition() {
        var tally = Tally()
        tally.iterations = 10; tally.judged = 10; tally.residencyHeld = 10
        #expect(Oracle.verdict(layout: .verified, tally: tally).0 == .pass)
        #expect(Oracle.verdict(layout: .notReached, tally: tally).0 == .inconclusive)
        #expect(Oracle.verdict(layout: .unverifiable, tally: tally).0 == .inconclusive)
        tally.residencyHeld = 9
        #expect(Oracle.verdict(layout: .verified, tally: tally).0 == .inconclusive)
        tally.failures = 1
        #expect(Oracle.verdict(layout: .notReached, tally: tally).0 == .fail)
        var skipped = Tally()
        skipped.iterations = 3; skipped.skipReason = "why"
        #expect(Oracle.verdict(layout: .verified, tally: skipped) == (.skip, "why"))
    }

    @Test func readFixedOnlyTakesResidentBuffersAndTmpfsHasNoColdMappings() {
        #expect(Oracle.incompatibility(IOPath(.uringReadFixed), .allResident, filesystem: "xfs") == nil)
        #expect(Oracle.incompatibility(IOPath(.uringReadFixed), .firstPageOnly, filesystem: "xfs") != nil)
        #expect(Oracle.incompatibility(readv, .coldFileMmap, filesystem: "tmpfs") != nil)
        #expect(Oracle.incompatibility(readv, .coldFileMmap, filesystem: "btrfs") == nil)
    }

    @Test func aTaintChangeMakesTaintedUnlessTheCaseFailedOnItsOwn() {
        #expect(Oracle.verdict(.pass, afterTaintChange: true) == .tainted)
        #expect(Oracle.verdict(.skip, afterTaintChange: true) == .tainted)
        #expect(Oracle.verdict(.broken, afterTaintChange: true) == .tainted)
        #expect(Oracle.verdict(.fail, afterTaintChange: true) == .fail)
        #expect(Oracle.verdict(.hang, afterTaintChange: true) == .hang)
        #expect(Oracle.verdict(.pass, afterTaintChange: false) == .pass)
    }

    @Test func onlyAKernelFailureCanBeAKnownBug() {
        #expect([Verdict.fail, .hang, .tainted].allSatisfy { Oracle.verdict($0, explainedByKnownBug: true) == .known })
        #expect([Verdict.pass, .skip, .inconclusive, .broken].allSatisfy { Oracle.verdict($0, explainedByKnownBug: true) == $0 })
        #expect(Oracle.verdict(.fail, explainedByKnownBug: false) == .fail)
    }

    @Test func aStepScenarioFailsOnItsFirstFailingOperation() {
        #expect(Oracle.verdict(failedOutcome: .error, readsJudged: 5, unmet: nil) == .fail)
        #expect(Oracle.verdict(failedOutcome: .hang, readsJudged: 5, unmet: "x") == .hang)
        #expect(Oracle.verdict(failedOutcome: nil, readsJudged: 0, unmet: nil) == .skip)
        #expect(Oracle.verdict(failedOutcome: nil, readsJudged: 5, unmet: "not proved") == .inconclusive)
        #expect(Oracle.verdict(failedOutcome: nil, readsJudged: 5, unmet: nil) == .pass)
    }
}
