import Glibc
@testable import SvSystem
import Testing

/// Restarts with backoff, stop timeouts, finish bounds and descriptors, on real processes.
@Suite(.serialized, .timeLimit(.minutes(10))) struct LifecycleTests {
    private func descriptorCount(_ pid: Int32) -> Int {
        (try? FileSystem.list("/proc/\(pid)/fd"))?.count ?? -1
    }

    private func descriptors(_ pid: Int32) -> [String] {
        ((try? FileSystem.list("/proc/\(pid)/fd")) ?? []).compactMap { fd in
            FileSystem.readLink("/proc/\(pid)/fd/\(fd)").map { "\(fd) \($0)" }
        }.sorted()
    }

    @Test func serviceThatExitsAtOnceBacksOffAndShowsItInStatus() throws {
        let tree = try TreeFixture("backoff")
        tree.write("dir/crash/run", "#!/bin/sh\necho crash >> ../crashes\nexit 3\n", executable: true)
        try tree.startSvtree("dir")
        try tree.waitFor("a restart delay of at least 400 ms") {
            let extra = tree.read("dir/crash/supervise/svtree")
            guard let line = extra.lines().first(where: { $0.hasPrefix("restart_delay_ms ") }),
                  let delay = Int(line.dropFirst("restart_delay_ms ".count)) else { return false }
            return delay >= 400
        }
        let extra = tree.read("dir/crash/supervise/svtree")
        #expect(extra.contains("last_exit code 3"))
        let deaths = Int(extra.lines().first { $0.hasPrefix("quick_deaths ") }!.dropFirst("quick_deaths ".count))!
        #expect(deaths >= 4)
        // Backoff, not a loop: the deaths so far fit 0+100+200+400 ms of delays, a handful of runs.
        #expect(tree.read("dir/crashes").lines().count <= deaths + 1)
        // Between attempts, sv sees it down but wanted up.
        try tree.waitFor("sv to report down, want up") {
            tree.run("/usr/bin/sv", ["status", tree.root + "/dir/crash"]).1.contains("normally up, want up")
        }
        // u starts it again at once, whatever the delay.
        let before = tree.read("dir/crashes").lines().count
        _ = tree.run("/usr/bin/sv", ["up", tree.root + "/dir/crash"])
        try tree.waitFor("an immediate start on u") { tree.read("dir/crashes").lines().count > before }
    }

    @Test func serviceIgnoringTermIsKilledWithItsGroupAfterTimeoutKill() throws {
        let tree = try TreeFixture("stubborn")
        // The run script keeps a child in its process group; both ignore TERM.
        tree.write("dir/stubborn/run", """
            #!/bin/sh
            trap '' TERM
            sh -c 'trap "" TERM; exec sleep 3600' &
            echo $! > ../child
            while :; do sleep 1; done
            """, executable: true)
        tree.write("dir/stubborn/timeout-kill", "300\n")
        tree.write("dir/stubborn/finish", "#!/bin/sh\necho \"$1 $2\" > ../finished\nexec sleep 3600\n", executable: true)
        tree.write("dir/stubborn/timeout-finish", "200\n")
        let root = try tree.startSvtree("dir")
        try tree.waitFor("the child to start") { !tree.read("dir/child").isEmpty && tree.isRunning("dir/stubborn") }
        let start = EventLoop.now
        kill(root, SIGTERM)
        #expect(try tree.waitExit(root) == 0)
        let elapsed = Double(EventLoop.now - start) / 1e9
        // 300 ms of timeout-kill, then 200 ms of timeout-finish: about half a second, and
        // far less than the seconds a missing SIGKILL (or finish never killed) would take.
        #expect(elapsed >= 0.45 && elapsed < 2.5, "teardown took \(elapsed) s for 0.5 s of timeouts")
        #expect(tree.read("dir/finished") == "-1 9\n")
        #expect(tree.processes().isEmpty, "left: \(tree.commandLines())")
    }

    @Test func renamedLinkKeepsItsServiceAndDescriptorsDoNotLeak() throws {
        let tree = try TreeFixture("identity")
        tree.service("defs/svc")
        tree.makeDirectories(tree.root + "/dir")
        let root = try tree.startSvtree("dir")
        // inotify is the last descriptor svtree opens before its loop runs.
        try tree.waitFor("svtree's event loop to be set up") {
            self.descriptors(root).contains { $0.hasSuffix("anon_inode:inotify") }
        }
        let baseline = descriptorCount(root)
        let baselineList = descriptors(root)
        tree.symlink(tree.root + "/defs/svc", "dir/svc")
        try tree.waitFor("svc to run") { tree.isRunning("defs/svc") && tree.isRunning("defs/svc/log") }
        let pid = tree.supervisedPid("defs/svc")
        rename(tree.root + "/dir/svc", tree.root + "/dir/renamed")
        // A second link to the same directory is the same service, started once.
        tree.symlink(tree.root + "/defs/svc", "dir/again")
        tree.service("dir/witness", logger: nil)
        try tree.waitFor("the witness to run") { tree.isRunning("dir/witness") }
        #expect(tree.supervisedPid("defs/svc") == pid)
        #expect(tree.processes(under: "defs").count == 2)
        // Killed on request (k), so restarted at once each time: twenty starts of the service.
        for round in 0..<20 {
            let old = tree.supervisedPid("defs/svc")
            let fd = open(tree.root + "/defs/svc/supervise/control", O_WRONLY | O_NONBLOCK)
            try? FileSystem.writeAll(fd, Array("k".utf8))
            close(fd)
            try tree.waitFor("restart \(round)") { tree.supervisedPid("defs/svc").map { $0 != old } ?? false }
        }
        tree.remove("dir/renamed")
        tree.remove("dir/again")
        _ = tree.run("/bin/rm", ["-rf", tree.root + "/dir/witness"])
        try tree.waitFor("everything stopped") { tree.processes().isEmpty }
        do {
            try tree.waitFor("descriptors back to the baseline") { self.descriptorCount(root) == baseline }
        } catch {
            Issue.record("descriptors before: \(baselineList) after: \(descriptors(root))")
            throw error
        }
    }

    @Test func deletedDirectoryStopsEverythingAndItsReturnIsNoticed() throws {
        let tree = try TreeFixture("dirgone")
        tree.service("dir/svc", logger: nil)
        try tree.startSvtree("dir")
        try tree.waitFor("svc to run") { tree.isRunning("dir/svc") }
        _ = tree.run("/bin/mv", [tree.root + "/dir", tree.root + "/elsewhere"])
        try tree.waitFor("svc stopped") { tree.processes().isEmpty }
        try tree.waitFor("one error naming the directory") { tree.read("svtree.err").contains("/dir: cannot read") }
        _ = tree.run("/bin/mv", [tree.root + "/elsewhere", tree.root + "/dir"])
        try tree.waitFor("svc running again") { tree.isRunning("dir/svc") }
        #expect(tree.read("svtree.err").lines().count == 2)
    }
}
