import Glibc
@testable import SvSystem
import Testing

/// Debian's real `sv` (runit) driving services that svtree supervises.
@Suite(.serialized, .timeLimit(.minutes(10))) struct RunitCompatibilityTests {
    static let sv = "/usr/bin/sv"

    private func sv(_ tree: TreeFixture, _ arguments: String...) -> (Int32, String) {
        tree.run(RunitCompatibilityTests.sv, arguments.map { $0 == "SVC" ? tree.root + "/dir/svc" : $0 })
    }

    private func tree() throws -> TreeFixture {
        let tree = try TreeFixture("sv")
        tree.service("dir/svc", logger: "exec svlogd -tt ./main")
        tree.makeDirectories(tree.root + "/dir/svc/log/main")
        tree.write("dir/svc/finish", "#!/bin/sh\necho \"finish $1 $2\" >> ../finish.log\n", executable: true)
        try tree.startSvtree("dir")
        try tree.waitFor("svc and its logger to run") { tree.isRunning("dir/svc") && tree.isRunning("dir/svc/log") }
        return tree
    }

    @Test func statusUpDownOnceRestartTermKillCheck() throws {
        let tree = try tree()
        var (code, output) = sv(tree, "status", "SVC")
        #expect(code == 0)
        let pid = try #require(tree.supervisedPid("dir/svc"))
        let logPid = try #require(tree.supervisedPid("dir/svc/log"))
        #expect(output.hasPrefix("run: \(tree.root)/dir/svc: (pid \(pid)) "))
        #expect(output.contains("; run: log: (pid \(logPid)) "))

        (code, output) = sv(tree, "-w", "5", "down", "SVC")
        #expect(code == 0, "\(output)")
        #expect(output.hasPrefix("ok: down: "))
        #expect(tree.read("dir/finish.log").contains("finish -1 15"))
        (code, output) = sv(tree, "status", "SVC")
        #expect(output.hasPrefix("down: ") && output.contains("normally up"))

        (code, output) = sv(tree, "-w", "5", "up", "SVC")
        #expect(code == 0 && output.hasPrefix("ok: run: "), "\(output)")
        let upPid = try #require(tree.supervisedPid("dir/svc"))

        (code, output) = sv(tree, "-w", "5", "restart", "SVC")
        #expect(code == 0 && output.hasPrefix("ok: run: "), "\(output)")
        // sv may see the old status within the same second; the restart still happens.
        let restarted = try tree.waitForNewPid("dir/svc", other: upPid, "a new pid after restart")

        (code, _) = sv(tree, "term", "SVC")
        #expect(code == 0)
        let afterTerm = try tree.waitForNewPid("dir/svc", other: restarted, "a new pid after term")

        (code, _) = sv(tree, "kill", "SVC")
        #expect(code == 0)
        _ = try tree.waitForNewPid("dir/svc", other: afterTerm, "a new pid after kill")
        #expect(tree.read("dir/finish.log").contains("finish -1 9"), "finish.log: \(tree.read("dir/finish.log"))")

        (code, output) = sv(tree, "-w", "5", "check", "SVC")
        #expect(code == 0 && output.hasPrefix("ok: run: "), "sv check: \(output)")

        // once: runs now, is not restarted when it exits.
        (code, _) = sv(tree, "-w", "5", "down", "SVC")
        #expect(code == 0)
        // (sv's own check of "once" may answer before the start within the same second: no -w.)
        (code, _) = sv(tree, "once", "SVC")
        #expect(code == 0)
        try tree.waitFor("once to run") { tree.read("dir/svc/supervise/stat") == "run, want down\n" }
        (code, output) = sv(tree, "status", "SVC")
        #expect(output.hasPrefix("run: ") && output.contains(", want down"), "\(output)")
        let oncePid = try #require(tree.supervisedPid("dir/svc"))
        kill(oncePid, SIGTERM)
        try tree.waitFor("once not restarted") { tree.read("dir/svc/supervise/stat") == "down\n" }
        #expect(tree.isRunning("dir/svc/log"))
        // The logger's lines went through the pipe that svtree holds, in svlogd's format.
        #expect(tree.read("dir/svc/log/main/current").lines().count >= 5)
    }

    @Test func pauseContinueAndSignalsReachTheService() throws {
        let tree = try tree()
        let pid = try #require(tree.supervisedPid("dir/svc"))
        var (code, output) = sv(tree, "pause", "SVC")
        #expect(code == 0)
        try tree.waitFor("the service stopped") {
            String(decoding: (try? FileSystem.readBytes("/proc/\(pid)/status")) ?? [], as: UTF8.self).contains("State:\tT")
        }
        try tree.waitFor("paused in the status") { tree.read("dir/svc/supervise/stat") == "run, paused\n" }
        (code, output) = sv(tree, "status", "SVC")
        #expect(output.contains(", paused"))
        (code, _) = sv(tree, "cont", "SVC")
        try tree.waitFor("the service running again") {
            !String(decoding: (try? FileSystem.readBytes("/proc/\(pid)/status")) ?? [], as: UTF8.self).contains("State:\tT")
                && tree.read("dir/svc/supervise/stat") == "run\n"
        }
        (code, output) = sv(tree, "status", "SVC")
        #expect(!output.contains("paused"))
        // sleep dies of HUP: the service is restarted with a new pid.
        (code, _) = sv(tree, "hup", "SVC")
        try tree.waitFor("restart after HUP") { tree.supervisedPid("dir/svc").map { $0 != pid } ?? false }
    }

    @Test func exitStopsServiceAndLoggerUntilHangup() throws {
        let tree = try tree()
        let (code, output) = sv(tree, "-w", "5", "exit", "SVC")
        #expect(code == 0, "\(output)")
        try tree.waitFor("service and logger gone") { tree.processes(under: "dir").isEmpty }
        let status = sv(tree, "status", "SVC")
        #expect(status.1.contains("runsv not running"))
        kill(tree.started[0], SIGHUP)
        try tree.waitFor("svc back after SIGHUP") { tree.isRunning("dir/svc") && tree.isRunning("dir/svc/log") }
    }

    @Test func controlScriptsReplaceTheDefaultSignal() throws {
        let tree = try tree()
        let pid = try #require(tree.supervisedPid("dir/svc"))
        // control/h handles HUP itself (exit 0): sleep must not receive the HUP that would kill it.
        tree.write("dir/svc/control/h", "#!/bin/sh\necho handled >> ../hup.log\n", executable: true)
        // A broken entry is warned about once, and once more by the rescan that ends a SIGHUP
        // (after every entry's settings were re-read): the second warning is the reload done.
        // (stat saying run was true before the SIGHUP: it waited for nothing.)
        tree.makeDirectories(tree.root + "/dir/broken")
        func warnings() -> Int { tree.read("svtree.err").lines().filter { $0.contains("/dir/broken: no run file") }.count }
        try tree.waitFor("the broken entry warned about") { warnings() == 1 }
        kill(tree.started[0], SIGHUP)  // re-read settings
        try tree.waitFor("settings re-read") { warnings() == 2 }
        _ = sv(tree, "hup", "SVC")
        try tree.waitFor("the control script to run") { tree.read("dir/hup.log") == "handled\n" }
        #expect(tree.supervisedPid("dir/svc") == pid)
    }

    /// sv takes an open `supervise/ok` for a running supervisor and then reads `status`: svtree
    /// must never show the one without the other. Read while svtree starts many entries in
    /// one scan (the status of each was written only at the end of the scan's turn, so sv
    /// said "unable to open supervise/status" for every entry started before the last).
    @Test func svNeverFindsASupervisorWithoutAStatus() throws {
        let tree = try TreeFixture("sv-order")
        let names = (0..<150).map { "s\($0)" }
        for name in names { tree.service("dir/" + name, logger: nil) }
        let paths = names.map { tree.root + "/dir/" + $0 }
        try tree.startSvtree("dir")
        var reads = 0
        var missing: [String] = []
        try tree.waitFor("every entry up, by sv", seconds: 30) {
            let (_, output) = tree.run(RunitCompatibilityTests.sv, ["status"] + paths)
            reads += 1
            missing += output.lines().filter { $0.contains("supervise/status") }
            return output.lines().filter { $0.hasPrefix("run: ") }.count == names.count
        }
        #expect(missing.isEmpty, "\(missing.count) of \(reads) reads found ok without status, e.g. \(missing.prefix(2))")
    }
}
