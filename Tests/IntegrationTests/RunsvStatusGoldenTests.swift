import Glibc
import SvBase
import SvFormats
import SvSupervision
import SvSystem
import Testing

/// StatusFormat against the bytes Debian's runsv writes: what runsv writes parses to what
/// runsv says (`pid`, `stat`), and renders back to the same 20 bytes.
@Suite(.timeLimit(.minutes(10))) struct RunsvStatusGoldenTests {
    @Test func statusBytesMatchRunsv() throws {
        let tree = try TreeFixture("runsv-golden")
        tree.service("svc", logger: nil)
        let runsv = try tree.start(["/usr/bin/runsv", tree.root + "/svc"], stdoutFile: "runsv.out", stderrFile: "runsv.err")
        defer {
            _ = tree.run("/usr/bin/sv", ["exit", tree.root + "/svc"])
            _ = try? tree.waitExit(runsv)
        }
        // runsv writes pid, stat and status one after the other: wait until all three say it.
        try tree.waitFor("runsv running the service") { settled(tree, .run, "run\n") }
        try compare(tree, expectState: .run)
        #expect(tree.run("/usr/bin/sv", ["down", tree.root + "/svc"]).0 == 0)
        try tree.waitFor("runsv reporting down") { settled(tree, .down, "down\n") }
        try compare(tree, expectState: .down)
    }

    private func settled(_ tree: TreeFixture, _ state: ServiceMachine.State, _ stat: String) -> Bool {
        let status = StatusFormat.parseStatus((try? FileSystem.readBytes(tree.root + "/svc/supervise/status")) ?? [])
        let pid = tree.read("svc/supervise/pid")
        return status?.state == state && tree.read("svc/supervise/stat") == stat && (state == .run) == !pid.isEmpty
            && StatusFormat.pidText(status?.pid ?? -1) == pid
    }

    private func compare(_ tree: TreeFixture, expectState state: ServiceMachine.State) throws {
        let bytes = try FileSystem.readBytes(tree.root + "/svc/supervise/status")
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
