import Glibc
import SvSystem
import Testing

/// The harness itself: a crash is not an exit 0, a hang is not a wait forever.
@Suite(.timeLimit(.minutes(10))) struct HarnessTests {
    @Test func aSignalDeathIsNotExitZeroAndIsRecorded() {
        var code: Int32 = 0
        withKnownIssue("run() records a death by signal") {
            code = TreeFixture.run("/bin/sh", ["-c", "kill -USR1 $$"]).0
        }
        #expect(code == 128 + SIGUSR1)
        #expect(TreeFixture.run("/bin/sh", ["-c", "exit 3"]).0 == 3)
        #expect(TreeFixture.run("/bin/true", []).0 == 0)
    }

    @Test func aHungCommandIsKilledAtItsBoundAndRecorded() {
        let start = EventLoop.now
        var result: (Int32, String) = (0, "")
        withKnownIssue("run() records a command that outlived its bound") {
            result = TreeFixture.run("/bin/sh", ["-c", "sleep 3600 & exec sleep 3600"], seconds: 0.5)
        }
        let elapsed = Double(EventLoop.now - start) / 1e9
        #expect(result.0 == 128 + SIGKILL && result.1.contains("killed after 0.5 s"), "\(result)")
        #expect(elapsed < 5, "\(elapsed) s")
    }

    @Test func whatACommandLeavesBehindDoesNotHoldTheWait() {
        let start = EventLoop.now
        let (code, output) = TreeFixture.run("/bin/sh", ["-c", "echo out; sleep 3600 & exit 0"])
        #expect(code == 0 && output == "out\n", "\(code) \(output)")
        #expect(Double(EventLoop.now - start) / 1e9 < 5)
    }
}
