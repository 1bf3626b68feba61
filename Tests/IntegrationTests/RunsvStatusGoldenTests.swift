import Glibc
import SvBase
import SvFormats
import SvSupervision
import SvSystem
import Testing

/// StatusFormat against the bytes Debian's runsv writes: what runsv writes parses to what
/// runsv says (`pid`, `stat`), and renders back to the same 20 bytes.
@Suite(.timeLimit(.minutes(1))) struct RunsvStatusGoldenTests {
    @Test func statusBytesMatchRunsv() throws {
        let tree = try TreeFixture("runsv-golden")
        tree.service("svc", logger: nil)
        let runsv = try tree.start(["/usr/bin/runsv", tree.root + "/svc"], stdoutFile: "runsv.out", stderrFile: "runsv.err")
        defer {
            _ = tree.run("/usr/bin/sv", ["exit", tree.root + "/svc"])
            _ = try? tree.waitExit(runsv)
        }
        try tree.waitFor("runsv running the service") { tree.read("svc/supervise/stat") == "run\n" }
        try compare(tree, expectState: .run)
        #expect(tree.run("/usr/bin/sv", ["down", tree.root + "/svc"]).0 == 0)
        try tree.waitFor("runsv reporting down") { tree.read("svc/supervise/stat") == "down\n" }
        try compare(tree, expectState: .down)
    }

    private func compare(_ tree: TreeFixture, expectState state: ServiceMachine.State) throws {
        let bytes = try #require(FileSystem.readBytes(tree.root + "/svc/supervise/status"))
        let parsed = try #require(StatusFormat.parseStatus(bytes), "runsv's status: \(bytes)")
        #expect(parsed.state == state)
        #expect(StatusFormat.statusBytes(parsed) == bytes)
        #expect(StatusFormat.statText(parsed) == tree.read("svc/supervise/stat"))
        #expect(StatusFormat.pidText(parsed.pid) == tree.read("svc/supervise/pid"))
        // runsv stamps the change with the wall clock: within the last minute.
        let age = EventLoop.wallNow - parsed.since
        #expect(age >= 0 && age < 60 * nanosPerSecond, "since is \(age) ns ago")
    }
}
