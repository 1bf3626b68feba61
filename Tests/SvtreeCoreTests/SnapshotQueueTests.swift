import Glibc
import SnapwatchDaemon
import SvFormats
import Testing

@Suite(.timeLimit(.minutes(10))) struct SnapshotQueueTests {
    static let second: Int64 = 1_000_000_000
    let a = String(repeating: "a", count: 64)
    let b = String(repeating: "b", count: 64)
    let c = String(repeating: "c", count: 64)

    func queue(delivered: Set<String> = []) -> SnapshotQueue {
        SnapshotQueue(delivered: delivered, settings: .init(hookTimeout: 60 * Self.second, retryInitial: Self.second,
                                                            retryMaximum: 4 * Self.second, termGrace: 5 * Self.second,
                                                            killGrace: 2 * Self.second, batchLimit: 2))
    }

    @Test func newSnapshotRunsTheHookAtOnceAndIsDeliveredOnSuccess() {
        var q = queue()
        #expect(q.found([a], fromEvent: true, now: 0) == [.runHook([a])])
        #expect(q.deadline == 60 * Self.second, "the hook timeout is the only timer")
        // Found while the hook runs: waits for the run to end.
        #expect(q.found([b], fromEvent: true, now: 1) == [])
        #expect(q.hookExited(.exited(0), now: 2) == [.saveState, .runHook([b])])
        #expect(q.delivered == [a])
        #expect(q.hookExited(.exited(0), now: 3) == [.saveState])
        #expect(q.delivered == [a, b])
        #expect(q.deadline == nil, "idle: no timer")
    }

    @Test func listingSkipsWhatWasDeliveredAndForgetsWhatIsGone() {
        var q = queue(delivered: [a, c])
        #expect(q.listed([a, b], now: 0) == [.runHook([b]), .saveState])
        #expect(q.delivered == [a])
    }

    @Test func failedHookIsRetriedWithGrowingDelayThenDelivered() {
        var q = queue()
        _ = q.found([a], fromEvent: true, now: 0)
        #expect(q.hookExited(.exited(1), now: 0) == [.saveState])
        #expect(q.deadline == Self.second)
        #expect(q.found([b], fromEvent: true, now: Self.second / 2) == [], "no run during the delay")
        #expect(q.timer(now: Self.second) == [.runHook([a, b])])
        #expect(q.hookExited(.signaled(SIGKILL), now: Self.second) == [.saveState])
        #expect(q.deadline == 3 * Self.second, "second failure: 2 s")
        #expect(q.timer(now: 3 * Self.second) == [.runHook([a, b])])
        _ = q.hookExited(.exited(1), now: 3 * Self.second)
        _ = q.timer(now: 7 * Self.second)
        _ = q.hookExited(.exited(1), now: 7 * Self.second)
        #expect(q.deadline == 11 * Self.second, "capped at the maximum, 4 s")
        #expect(q.failures == 4)
        #expect(q.timer(now: 11 * Self.second) == [.runHook([a, b])])
        #expect(q.hookExited(.exited(0), now: 11 * Self.second) == [.saveState])
        #expect(q.delivered == [a, b] && q.failures == 0 && q.waiting == 0)
    }

    @Test func batchesAreBounded() {
        var q = queue()
        #expect(q.listed([a, b, c], now: 0) == [.runHook([a, b])])
        #expect(q.hookExited(.exited(0), now: 1) == [.saveState, .runHook([c])])
    }

    @Test func aCloseAfterAListingDeliversAgain() {
        var q = queue()
        _ = q.listed([a], now: 0)
        _ = q.hookExited(.exited(0), now: 1)
        // The listing may have seen a file still being written in place: its close counts.
        #expect(q.found([a], fromEvent: true, now: 2) == [.runHook([a])])
        _ = q.hookExited(.exited(0), now: 3)
        #expect(q.found([a], fromEvent: true, now: 4) == [], "once confirmed, a repeat event is ignored")
        _ = q.listed([a, b], now: 5)
        _ = q.hookExited(.exited(0), now: 6)
        #expect(q.found([b], fromEvent: true, writtenInPlace: false, now: 7) == [], "a rename puts a whole file in place")
    }

    @Test func hookTimeoutSendsTermThenKill() {
        var q = queue()
        _ = q.found([a], fromEvent: true, now: 0)
        #expect(q.timer(now: 60 * Self.second) == [.signalHook(SIGTERM)])
        #expect(q.deadline == 62 * Self.second)
        #expect(q.timer(now: 62 * Self.second) == [.signalHook(SIGKILL)])
        #expect(q.hookExited(.signaled(SIGKILL), now: 62 * Self.second) == [.saveState])
        #expect(q.waiting == 1)
    }

    @Test func terminateWaitsForTheRunningHookWithinTheGrace() {
        var q = queue()
        #expect(q.terminate(now: 0) == [.saveState, .exit(0)], "idle: exits at once")
        var busy = queue()
        _ = busy.found([a], fromEvent: true, now: 0)
        #expect(busy.terminate(now: Self.second) == [])
        #expect(busy.deadline == 6 * Self.second)
        #expect(busy.found([b], fromEvent: true, now: 2 * Self.second) == [], "nothing new starts while stopping")
        #expect(busy.hookExited(.exited(0), now: 3 * Self.second) == [.saveState, .exit(0)])
        #expect(busy.delivered == [a])

        var stuck = queue()
        _ = stuck.found([a], fromEvent: true, now: 0)
        _ = stuck.terminate(now: 0)
        #expect(stuck.timer(now: 5 * Self.second) == [.signalHook(SIGTERM)])
        #expect(stuck.timer(now: 7 * Self.second) == [.signalHook(SIGKILL)])
        #expect(stuck.hookExited(.signaled(SIGKILL), now: 7 * Self.second) == [.saveState, .exit(0)])
    }
}

@Suite(.timeLimit(.minutes(10))) struct SnapwatchFormatTests {
    @Test func recordRoundTrip() {
        var record = SnapwatchRecord(watchingSince: 100)
        record.lastHook = .init(startMs: 5000, durationMs: 12, exit: .exited(1))
        record.lastSuccess = 4
        let delivered: Set<String> = [String(repeating: "d", count: 64)]
        let parsed = SnapwatchRecord.parse(record.stateText(delivered: delivered), now: 0)
        #expect(parsed.record == record && parsed.delivered == delivered)
        #expect(SnapwatchRecord.parse("garbage\ndelivered ../x\ndelivered ABC\n", now: 7).delivered.isEmpty)
        record.lastSnapshot = .init(id: String(repeating: "e", count: 64), time: 9)
        record.waiting = 2
        record.failures = 1
        #expect(SnapwatchRecord.parse(record.statusText(), now: 0).record == record)
    }

    @Test func snapshotNames() {
        #expect(SnapwatchRecord.isSnapshotID(String(repeating: "0f", count: 32).utf8))
        #expect(!SnapwatchRecord.isSnapshotID(String(repeating: "A", count: 64).utf8))
        #expect(!SnapwatchRecord.isSnapshotID((String(repeating: "a", count: 64) + "-tmp-1").utf8))
        #expect(!SnapwatchRecord.isSnapshotID((String(repeating: "a", count: 64) + ".rest-server-temp5").utf8))
    }

    @Test func options() {
        guard let options = try? SnapwatchOptions.parse(["--repo", "r", "--hook", "h", "--retry", "0.1",
                                                         "--ready-fd", "3"]) else {
            Issue.record("refused good options")
            return
        }
        #expect(options.retryInitial == 100_000_000)
        #expect(options.stateFile == "./state")
        #expect(options.readyFD == 3)
        for bad in [["--repo", "r"], ["--hook", "h"], ["--repo"], ["--repo", "r", "--hook", "h", "--bogus", "1"],
                    ["--repo", "r", "--hook", "h", "--timeout", "-1"], ["--repo", "r", "--hook", "h", "--ready-fd", "2"],
                    ["--repo", "r", "--hook", "h", "--ready-fd", "x"]] {
            guard (try? SnapwatchOptions.parse(bad)) == nil else {
                Issue.record("accepted \(bad)")
                continue
            }
        }
    }
}
