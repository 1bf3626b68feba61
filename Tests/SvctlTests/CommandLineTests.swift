import SvSystem
import SvctlKit
import Testing

/// svctl's shared command-line pieces: global options, the one error type, the one wait.
@Suite struct CommandLineTests {
    @Test func treeOptionsBeforeTheSubcommandMoveBehindIt() {
        #expect(GlobalOptions.hoisted(["--root", "/t/enabled", "status", "alice"])
                == ["status", "--root", "/t/enabled", "alice"])
        #expect(GlobalOptions.hoisted(["--root=/r", "--clients", "/c", "--data", "/d", "up", "-w", "5", "a"])
                == ["up", "--root=/r", "--clients", "/c", "--data", "/d", "-w", "5", "a"])
        // Nothing to move, or nothing to move it behind: left for the parser to judge.
        for unchanged in [["status", "--root", "/r"], ["--root", "/r"], ["--root"], ["--help"], []] {
            #expect(GlobalOptions.hoisted(unchanged) == unchanged)
        }
    }

    @Test func errorsCarryTheirExitCodes() {
        #expect(SvctlError.failed("x").exitCode == 1)
        #expect(SvctlError.unknown("x").exitCode == 3)
        #expect(SvctlError.noSuchClient("bob").exitCode == 3)
        #expect(SvctlError.noSuchClient("bob").description == "no such client: bob")
        #expect(SvctlError.noSuchClient("bob", hint: "svctl add bob makes one").description
                == "no such client: bob (svctl add bob makes one)")
        #expect(SvctlError.noSuchService(client: "a", service: "web").description == "no such service: a/web")
    }

    @Test func pollStopsAtTheConditionOrTheBound() {
        var calls = 0
        #expect(Poll.until(seconds: 5) {
            calls += 1
            return calls == 3
        })
        #expect(calls == 3)
        let start = EventLoop.now
        #expect(!Poll.until(seconds: 0.05) { false })
        #expect(EventLoop.now - start >= 50_000_000)
    }
}
