import Glibc
@testable import SvSystem
@testable import SvtreeDaemon
import Testing

/// Exact teardown by cgroup v2 (this machine's unified hierarchy is writable), and the
/// session mode that is used without one.
@Suite(.serialized, .timeLimit(.minutes(10))) struct CgroupTests {
    /// A service whose child escapes everything but its cgroup: double fork, setsid, and an
    /// empty environment (so no marker says whose it is). The escapee runs a copy of sleep
    /// inside the tree: its command line names this test's tree (not another test's or another
    /// checkout's, on a shared machine), and the fixture kills it even when the test fails.
    private func escapingService(_ tree: TreeFixture, _ path: String) {
        tree.run("/bin/cp", ["/bin/sleep", tree.root + "/escapee"])
        tree.write(path + "/run", """
            #!/bin/sh
            ( setsid env -i \(tree.root)/escapee 3601 & )
            exec sleep 3600
            """, executable: true)
    }

    private func escapees(_ tree: TreeFixture) -> [Int32] {
        let command = Array((tree.root + "/escapee\u{0}3601\u{0}").utf8)
        return ProcessTable.scan().entries.values.filter { entry in
            !entry.isZombie && (try? FileSystem.readBytes("/proc/\(entry.pid)/cmdline")) ?? [] == command
        }.map(\.pid)
    }

    @Test func cgroupModeKillsWhatEscapedSessionAndEnvironment() throws {
        guard CgroupTree.cgroup2Mount() != nil else {
            Issue.record("no cgroup v2 hierarchy on this machine: cgroup mode cannot be tested here")
            return
        }
        let tree = try TreeFixture("cgroup")
        escapingService(tree, "dir/escaper")
        let root = try tree.startSvtree("dir")
        try tree.waitFor("the escapee running") { tree.isRunning("dir/escaper") && escapees(tree).count == 1 }
        // The unit's cgroup as svtree records it: the place to look once svtree is gone
        // (its base is `svtree-PID` under the mount's root, or its own cgroup when delegated;
        // the line holds the whole path).
        let unit = try #require(tree.read("dir/escaper/supervise/svtree").lines().first { $0.hasPrefix("cgroup /") }
            .map { String($0.dropFirst("cgroup ".count)) }, "not in cgroup mode")
        let mount = try #require(CgroupTree.cgroup2Mount())
        let entryCgroup = FileSystem.parentDirectory(unit)
        #expect(FileSystem.exists(entryCgroup), "\(entryCgroup) is not where svtree said")
        let escapee = try #require(escapees(tree).first)
        // The escapee's marker is gone and its session is its own: only the cgroup knows it.
        #expect(ProcessTable.environmentValue(escapee, "SVTREE_SERVICE") == nil)
        // Down: the service's cgroup is killed, escapee included.
        let (code, _) = tree.run("/usr/bin/sv", ["-w", "5", "down", tree.root + "/dir/escaper"])
        #expect(code == 0)
        try tree.waitFor("the escapee killed with its service") { kill(escapee, 0) != 0 }
        _ = tree.run("/usr/bin/sv", ["up", tree.root + "/dir/escaper"])
        try tree.waitFor("a new escapee") { escapees(tree).count == 1 }
        kill(root, SIGTERM)
        #expect(try tree.waitExit(root) == 0)
        #expect(escapees(tree).isEmpty, "escapees left: \(escapees(tree))")
        #expect(!FileSystem.exists(entryCgroup), "the entry's cgroup \(entryCgroup) left behind")
        let created = mount + "/svtree-\(root)"
        if unit.hasPrefix(created + "/") { #expect(!FileSystem.exists(created), "svtree's cgroup \(created) left behind") }
    }

    /// Session mode: an escapee with no marker and a session of its own comes back to svtree
    /// (a subreaper) when its parent exits; only svtree's sweep at exit can find it then.
    @Test func sessionModeExitEndsUnmarkedEscapees() throws {
        let tree = try TreeFixture("session-sweep")
        escapingService(tree, "dir/escaper")
        let root = try tree.startSvtree("dir", environment: ["SVTREE_CGROUPS": "off"])
        try tree.waitFor("the escapee running") { tree.isRunning("dir/escaper") && escapees(tree).count == 1 }
        #expect(!tree.read("dir/escaper/supervise/svtree").contains("cgroup"), "not in session mode")
        let escapee = try #require(escapees(tree).first)
        #expect(ProcessTable.environmentValue(escapee, "SVTREE_SERVICE") == nil)
        kill(root, SIGTERM)
        #expect(try tree.waitExit(root) == 0)
        #expect(escapees(tree).isEmpty, "left by svtree's exit: \(escapees(tree))")
    }

    @Test func sessionModeStillKillsMarkedEscapeesOfANestedTree() throws {
        let tree = try TreeFixture("session")
        tree.client("alice", escape: true)
        let root = try tree.startSvtree("enabled", environment: ["SVTREE_CGROUPS": "off"])
        tree.symlink(tree.root + "/clients/alice", "enabled/alice")
        try tree.waitFor("seven processes of alice") { tree.processes(under: "clients/alice").count == 7 }
        #expect(!tree.read("clients/alice/services/storage/supervise/svtree").contains("cgroup"))
        let client = try #require(tree.supervisedPid("clients/alice"))
        kill(client, SIGKILL)
        try tree.waitFor("a new client with one copy of everything") {
            tree.supervisedPid("clients/alice").map { $0 != client } ?? false
                && tree.processes(under: "clients/alice").count == 7
                && tree.isRunning("clients/alice/services/storage")
        }
        tree.remove("enabled/alice")
        try tree.waitFor("alice gone") { tree.processes(under: "clients/alice").isEmpty }
        kill(root, SIGTERM)
        #expect(try tree.waitExit(root) == 0)
    }
}
