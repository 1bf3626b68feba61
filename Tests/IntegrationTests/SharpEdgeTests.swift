import Glibc
@testable import SvSystem
import Testing

/// What runit users expect and the docs promise, one claim a test (issue "sharp edges").
@Suite(.serialized, .timeLimit(.minutes(10))) struct SharpEdgeTests {
    /// Context switches of `pid` (JobTests' reader): they grow each time the process sleeps again.
    static func sleeps(_ pid: Int32) -> Int { JobTests.contextSwitches(pid) }

    /// svlog on a plain pipe, "first" logged, then "half" written and seen by svlog (it woke
    /// for it and sleeps again): the state in which TERM used to drop the piece.
    private func loggerHoldingHalfALine(_ name: String) throws -> (TreeFixture, TreeFixture.RunningLogger) {
        let tree = try TreeFixture(name)
        tree.makeDirectories(tree.root + "/log")
        let logger = try tree.startLoggerService("log")
        logger.send("first\n")
        try tree.waitFor("the first line logged, svlog waiting") {
            tree.read("log/current") == "first\n" && LoggerUnderTreeTests.waitsInEpoll(logger.pid)
        }
        let before = Self.sleeps(logger.pid)
        logger.send("half")
        try tree.waitFor("svlog to wake for the piece and wait again") {
            Self.sleeps(logger.pid) > before && LoggerUnderTreeTests.waitsInEpoll(logger.pid)
        }
        return (tree, logger)
    }

    /// TERM to svlog, returned once it took the signal and waits again (for the newline).
    static func terminate(_ logger: TreeFixture.RunningLogger, _ tree: TreeFixture) throws {
        let before = sleeps(logger.pid)
        kill(logger.pid, SIGTERM)
        try tree.waitFor("svlog to take TERM and wait for the newline") {
            sleeps(logger.pid) > before && LoggerUnderTreeTests.waitsInEpoll(logger.pid)
        }
    }

    @Test func svlogTermedMidLineWaitsForTheRestOfIt() throws {
        let (tree, logger) = try loggerHoldingHalfALine("edge-term-rest")
        try Self.terminate(logger, tree)
        #expect(tree.stillRunning(logger.pid), "svlog exited on TERM with half a line held")
        logger.send(" done\n")
        let status = try tree.waitExit(logger.pid, seconds: 5)
        close(logger.input)
        #expect(status == 0)
        #expect(tree.read("log/current") == "first\nhalf done\n")
    }

    @Test func svlogTermedMidLineWritesThePieceAfterItsBound() throws {
        let (tree, logger) = try loggerHoldingHalfALine("edge-term-piece")
        let start = EventLoop.now
        kill(logger.pid, SIGTERM)
        let status = try tree.waitExit(logger.pid, seconds: 6)
        let waited = Double(EventLoop.now - start) / 1e9
        close(logger.input)
        #expect(status == 0)
        #expect(tree.read("log/current") == "first\nhalf\n")
        #expect(waited >= 1.5 && waited < 5, "svlog exited after \(waited) s; the bound is 2 s")
    }

    @Test func svlogMakesAMissingLogDirectory() throws {
        let tree = try TreeFixture("edge-missing-dir")
        let (code, errors) = tree.runLogger(TreeFixture.svlogBinary, ["./main"], input: Array("one\ntwo\n".utf8))
        #expect(code == 0, "\(errors)")
        #expect(tree.read("main/current") == "one\ntwo\n")
        #expect(errors.contains("main: log directory made (mode 0750)"), "\(errors)")
        let info = try FileSystem.info(tree.root + "/main")
        #expect(info.mode & 0o7777 == 0o750)
    }

    private func svTree(_ name: String) throws -> TreeFixture {
        let tree = try TreeFixture(name)
        tree.service("dir/svc", logger: nil)
        try tree.startSvtree("dir")
        try tree.waitFor("svc to run") { tree.isRunning("dir/svc") }
        return tree
    }

    @Test func aControlScriptAddedToARunningServiceIsUsed() throws {
        let tree = try svTree("edge-control-added")
        let pid = try #require(tree.supervisedPid("dir/svc"))
        tree.write("dir/svc/control/t", "#!/bin/sh\necho handled >> ../control.log\nexit 0\n", executable: true)
        let (code, output) = tree.run(RunitCompatibilityTests.sv, ["term", tree.root + "/dir/svc"])
        #expect(code == 0, "\(output)")
        try tree.waitFor("control/t to run") { tree.read("dir/control.log") == "handled\n" }
        try tree.roundTrip("dir/svc")
        // Exit 0 of control/t: handled, no TERM sent; the same process runs on.
        #expect(tree.supervisedPid("dir/svc") == pid)
    }

    @Test func aFinishAddedToARunningServiceRunsAtItsNextExit() throws {
        let tree = try svTree("edge-finish-added")
        let pid = try #require(tree.supervisedPid("dir/svc"))
        tree.write("dir/svc/finish", "#!/bin/sh\necho \"finish $1 $2\" >> ../finish.log\n", executable: true)
        kill(pid, SIGKILL)
        try tree.waitFor("finish to run") { tree.read("dir/finish.log") == "finish -1 9\n" }
        _ = try tree.waitForNewPid("dir/svc", other: pid, "the restart after finish")
    }

    @Test func aSuperviseTargetWhoseParentAppearsLaterStartsTheEntry() throws {
        let tree = try TreeFixture("edge-supervise-parent")
        tree.service("dir/svc", logger: nil)
        tree.symlink(tree.root + "/run/later/svc", "dir/svc/supervise")
        try tree.startSvtree("dir")
        try tree.waitFor("the line about the missing target") { tree.read("svtree.err").contains("run/later/svc") }
        #expect(!tree.isRunning("dir/svc"))
        tree.makeDirectories(tree.root + "/run/later")
        try tree.waitFor("svc to start once the parent exists", seconds: 2) { tree.isRunning("dir/svc") }
        #expect(FileSystem.exists(tree.root + "/run/later/svc/status"))
    }

    /// snapwatch stopped by svtree with a hook that ignores TERM, every setting at its default
    /// (snapwatch's --grace, svtree's timeout-kill): it ends the hook and exits 0 itself
    /// before svtree's SIGKILL, so its state is saved.
    @Test func snapwatchWithAStubbornHookExitsBeforeSvtreeKillsIt() throws {
        let tree = try TreeFixture("edge-snapwatch-grace")
        tree.makeDirectories(tree.root + "/repo/snapshots")
        tree.write("hook", "#!/bin/sh\necho started >> \(tree.root)/hook.log\ntrap '' TERM\nsleep 60 & exec sleep 60\n",
                   executable: true)
        tree.write("dir/watch/run", """
            #!/bin/sh
            exec 2>> ../../snapwatch.err
            exec \(SnapwatchTests.binary) --repo \(tree.root)/repo --hook \(tree.root)/hook --state ./state --status ./backup-status
            """, executable: true)
        tree.write("dir/watch/finish", "#!/bin/sh\necho \"finish $1 $2\" >> ../../finish.log\n", executable: true)
        try tree.startSvtree("dir")
        try tree.waitFor("snapwatch to watch (its first backup-status)") { FileSystem.exists(tree.root + "/dir/watch/backup-status") }
        SnapwatchTests.snapshot(tree, 1)
        try tree.waitFor("the hook to run") { tree.read("hook.log") == "started\n" }
        let (code, output) = tree.run(RunitCompatibilityTests.sv, ["-w", "15", "down", tree.root + "/dir/watch"])
        #expect(code == 0, "\(output)")
        try tree.waitFor("finish") { !tree.read("finish.log").isEmpty }
        #expect(tree.read("finish.log") == "finish 0 0\n", "snapwatch was killed: \(tree.read("snapwatch.err"))")
        #expect(FileSystem.exists(tree.root + "/dir/watch/state"))
    }
}
