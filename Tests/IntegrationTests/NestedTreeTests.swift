import Glibc
@testable import SvSystem
import Testing

/// The tree the project exists for: a root svtree over enabled clients, each client an svtree
/// over its services, each service with a logger. Real processes on a temporary directory.
@Suite(.serialized, .timeLimit(.minutes(10))) struct NestedTreeTests {
    let storage = "clients/alice/services/storage"
    let snapwatch = "clients/alice/services/snapwatch"

    private func enabledTree(_ name: String, escape: Bool = false) throws -> TreeFixture {
        let tree = try TreeFixture(name)
        tree.client("alice", escape: escape)
        try tree.startSvtree("enabled")
        tree.symlink(tree.root + "/clients/alice", "enabled/alice")
        try tree.waitFor("both services and loggers of alice to run, and their first lines logged") {
            [storage, snapwatch, storage + "/log", snapwatch + "/log"].allSatisfy(tree.isRunning)
                && [storage, snapwatch].allSatisfy { tree.read($0 + "/log/current").hasPrefix("up ") }
        }
        return tree
    }

    /// root's client svtree, two services, two loggers, and (with escape) two escaped sleeps.
    private func expectOneCopyOfEverything(_ tree: TreeFixture, escape: Bool) throws {
        let expected = escape ? 7 : 5
        // Command lines too: a run just started is still "/bin/sh ./run" until it execs sleep.
        func oneCopyEach(_ lines: [String]) -> Bool {
            lines.count == expected && lines.filter { $0.hasSuffix("svtree services") }.count == 1
                && lines.filter { $0 == "cat" }.count == 2 && lines.filter { $0 == "sleep 3600" }.count == (escape ? 4 : 2)
        }
        try tree.waitFor("exactly one copy of every process") {
            oneCopyEach(tree.commandLines(under: "clients/alice"))
                && [storage, snapwatch, storage + "/log", snapwatch + "/log"].allSatisfy(tree.isRunning)
        }
        // And it stays so: the same processes after both supervisors have turned their
        // event loops once more (a look at once would see what the wait just saw).
        let before = Set(tree.processes(under: "clients/alice"))
        try tree.roundTrip("clients/alice")
        try tree.roundTrip(storage)
        try tree.roundTrip(snapwatch)
        let settled = tree.commandLines(under: "clients/alice")
        #expect(oneCopyEach(settled), "\(settled)")
        #expect(Set(tree.processes(under: "clients/alice")) == before, "processes changed: \(settled)")
    }

    @Test func linkStartsClientAndRemovalEndsEveryProcessIncludingEscapees() throws {
        let tree = try enabledTree("link", escape: true)
        try expectOneCopyOfEverything(tree, escape: true)
        #expect(tree.read(storage + "/log/current").hasPrefix("up "))
        tree.remove("enabled/alice")
        try tree.waitFor("every process of alice to be gone", seconds: 5) {
            tree.processes(under: "clients/alice").isEmpty
        }
        // The supervise FIFOs are released: runit's sv sees nothing supervising them.
        let (code, output) = tree.run("/usr/bin/sv", ["status", tree.root + "/" + storage])
        #expect(code != 0)
        #expect(output.contains("runsv not running"))
    }

    @Test func sigtermToRootEndsTheWholeTreeWithExitZero() throws {
        let tree = try enabledTree("term", escape: true)
        let rootPid = tree.started[0]
        kill(rootPid, SIGTERM)
        let status = try tree.waitExit(rootPid)
        #expect(status == 0, "root svtree exit status \(status)")
        #expect(tree.processes().isEmpty, "left behind: \(tree.commandLines())")
    }

    @Test func killedClientSvtreeComesBackWithOneCopy() throws {
        let tree = try enabledTree("killclient", escape: true)
        let client = try #require(tree.supervisedPid("clients/alice"))
        let oldStorage = tree.supervisedPid(storage)
        kill(client, SIGKILL)
        try tree.waitFor("a new client svtree") {
            tree.supervisedPid("clients/alice").map { $0 != client } ?? false
        }
        try tree.waitFor("storage restarted under the new client") {
            tree.supervisedPid(storage).map { $0 != oldStorage } ?? false
        }
        try expectOneCopyOfEverything(tree, escape: true)
    }

    @Test func killedServiceAndLoggerComeBack() throws {
        let tree = try enabledTree("killservice")
        let service = try #require(tree.supervisedPid(storage))
        kill(service, SIGKILL)
        try tree.waitFor("storage restarted") { tree.supervisedPid(storage).map { $0 != service } ?? false }
        // Both starts logged before the logger dies (what cat has read but not written dies with it).
        try tree.waitFor("two start lines in the log") { tree.read(storage + "/log/current").lines().count == 2 }
        let logger = try #require(tree.supervisedPid(storage + "/log"))
        kill(logger, SIGKILL)
        try tree.waitFor("storage's logger restarted") {
            tree.supervisedPid(storage + "/log").map { $0 != logger } ?? false
        }
        try expectOneCopyOfEverything(tree, escape: false)
        #expect(tree.read(storage + "/log/current").lines().count == 2)
    }

    @Test func lineWrittenBeforeLoggerIsKilledReachesTheLog() throws {
        let tree = try enabledTree("logline")
        let logger = try #require(tree.supervisedPid(storage + "/log"))
        // Freeze the logger so the line sits unread in the pipe, then kill it: the pipe belongs
        // to svtree, so the next logger must read the line.
        kill(logger, SIGSTOP)
        try tree.waitFor("the logger to be stopped") {
            String(decoding: (try? FileSystem.readBytes("/proc/\(logger)/status")) ?? [], as: UTF8.self)
                .contains("State:\tT")
        }
        let fd = open("/proc/\(try #require(tree.supervisedPid(storage)))/fd/1", O_WRONLY)
        #expect(fd >= 0)
        try? FileSystem.writeAll(fd, Array("the line before the kill\n".utf8))
        close(fd)
        kill(logger, SIGKILL)
        try tree.waitFor("the line in the log") {
            tree.read(storage + "/log/current").contains("the line before the kill\n")
        }
        #expect(tree.supervisedPid(storage + "/log") != logger)
    }

    @Test func restartOfTheRootLeavesNoDuplicates() throws {
        let tree = try enabledTree("reroot")
        let rootPid = tree.started[0]
        kill(rootPid, SIGTERM)
        #expect(try tree.waitExit(rootPid) == 0)
        try tree.startSvtree("enabled")
        try expectOneCopyOfEverything(tree, escape: false)
    }
}
