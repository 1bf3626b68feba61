import Glibc
import SvFormats
import SvSystem
import Testing

/// A root svtree SIGKILLed outside systemd leaves its client svtrees and their services
/// running. A new root over the same directory ends them before it starts its own copies.
@Suite(.serialized, .timeLimit(.minutes(10))) struct RecoveryTests {
    static let clients = ["a", "b", "c"]

    func services(_ client: String) -> [String] { ["storage", "snapwatch"].map { "clients/\(client)/services/\($0)" } }

    @Test(arguments: ["cgroup", "session"])
    func aNewRootEndsWhatAKilledOneLeft(mode: String) throws {
        let tree = try TreeFixture("recovery-\(mode)")
        for client in Self.clients {
            tree.client(client, escape: true)  // every service double-forks a sleeper too
            tree.symlink(tree.root + "/clients/\(client)", "enabled/\(client)")
        }
        let environment = mode == "session" ? ["SVTREE_CGROUPS": "off"] : [:]
        let first = try tree.startSvtree("enabled", stderrFile: "first.err", environment: environment)
        // Exactly one copy of each service: its run, the sleeper it double-forked, its logger
        // (waited for: a run is up before it has forked its sleeper).
        func programs(_ service: String) -> [String] {
            tree.processes(markedUnder: FileSystem.realPath(tree.root + "/" + service) ?? "").map(tree.commandLine).sorted()
        }
        let all = Self.clients.flatMap(services)
        // Settled before the snapshot: the shell that double-forks a sleeper exits on its own,
        // and would read as an orphan that did not run on.
        try tree.waitFor("every service of the first tree, its sleeper forked") {
            all.allSatisfy { programs($0) == ["cat", "sleep 3600", "sleep 3600"] }
        }
        let oldProcesses = tree.processes(under: "clients")
        let oldCgroups = Self.clients.compactMap {
            SupervisorRecord(parsing: tree.read("clients/\($0)/supervise/svtree")).cgroup
        }
        if mode == "cgroup", oldCgroups.isEmpty {
            // This host gives no writable cgroup v2: the cgroup case cannot be shown here.
            Issue.record("no cgroup in cgroup mode: \(tree.read("first.err"))")
        }
        kill(first, SIGKILL)
        _ = try tree.waitExit(first)
        #expect(oldProcesses.allSatisfy(TreeFixture.isLiving), "the orphans run on, as they would")

        try tree.startSvtree("enabled", stderrFile: "second.err", environment: environment)
        try tree.waitFor("the one line about what was ended") { tree.read("second.err").contains("ended what a previous svtree left running") }
        try tree.waitFor("the old processes gone") { oldProcesses.allSatisfy { !TreeFixture.isLiving($0) } }
        try tree.waitFor("every service of the new tree") {
            Self.clients.allSatisfy { c in services(c).allSatisfy { tree.isRunning($0) } }
        }
        let line = tree.read("second.err").lines().filter { $0.contains("ended what") }
        #expect(line.count == 1 && Self.clients.allSatisfy { c in line[0].contains(" \(c) (") }, "\(line)")
        #expect(!tree.read("second.err").contains("locked"), "\(tree.read("second.err"))")
        do {
            try tree.waitFor("one copy of each service") { all.allSatisfy { programs($0) == ["cat", "sleep 3600", "sleep 3600"] } }
        } catch {
            Issue.record("\(error): \(all.map { "\($0): \(programs($0))" })")
        }
        for cgroup in oldCgroups { #expect(!FileSystem.exists(cgroup), "\(cgroup) is still there") }
        // rm of a link ends all of that client, nothing of the old tree survives it.
        tree.remove("enabled/b")
        try tree.waitFor("client b gone") { tree.processes(under: "clients/b").isEmpty }
    }
}

/// supervise/ files on a disk that fills up: what svtree could not write it writes again
/// once it can, with no further event needed.
@Suite(.serialized, .timeLimit(.minutes(10))) struct FullDiskStatusTests {
    @Test func statusCatchesUpOnceTheDiskTakesWritesAgain() throws {
        let tree = try TreeFixture("full-status")
        _ = try tree.mountTmpfs("disk", kilobytes: 512)
        tree.service("disk/dir/a", logger: nil)
        tree.service("disk/dir/b", logger: nil)
        try tree.startSvtree("disk/dir", environment: ["SVTREE_CGROUPS": "off"])
        try tree.waitFor("a and b up") { tree.isRunning("disk/dir/a") && tree.isRunning("disk/dir/b") }
        let oldA = try #require(tree.supervisedPid("disk/dir/a"))
        let (filled, fillOutput) = tree.run("/bin/sh", ["-c", "dd if=/dev/zero of=\(tree.root)/disk/filler bs=4k 2>&1; true"])
        #expect(filled == 0 && fillOutput.contains("No space left"), "\(fillOutput)")

        kill(oldA, SIGKILL)
        let aPath = FileSystem.realPath(tree.root + "/disk/dir/a") ?? ""
        var newA: Int32?
        try tree.waitFor("a restarted (seen in /proc, not in its files)") {
            newA = tree.processes(markedUnder: aPath).first { $0 != oldA && tree.commandLine($0) == "sleep 3600" }
            return newA != nil
        }
        let (down, downOutput) = tree.run(RunitCompatibilityTests.sv, ["down", tree.root + "/disk/dir/b"])
        #expect(down == 0, "\(downOutput)")
        try tree.waitFor("the write failure said") { tree.read("svtree.err").contains("trying again until it can") }
        #expect(tree.read("disk/dir/a/supervise/pid").trimmingCharacters() == String(oldA), "the files were written after all: not a full disk")

        tree.remove("disk/filler")
        try tree.waitFor("supervise/pid and status of a true again", seconds: 5) {
            tree.read("disk/dir/a/supervise/pid").trimmingCharacters() == String(newA!) && tree.supervisedPid("disk/dir/a") == newA
        }
        try tree.waitFor("sv status of b down", seconds: 5) {
            tree.run(RunitCompatibilityTests.sv, ["status", tree.root + "/disk/dir/b"]).1.hasPrefix("down: ")
        }
        let (_, aStatus) = tree.run(RunitCompatibilityTests.sv, ["status", tree.root + "/disk/dir/a"])
        #expect(aStatus.hasPrefix("run: \(tree.root)/disk/dir/a: (pid \(newA!))"), "\(aStatus)")
        try tree.waitFor("the recovery said") { tree.read("svtree.err").contains("written again") }
        #expect(tree.read("svtree.err").lines().filter { $0.contains("trying again until it can") }.count <= 2,
                "one line per directory: \(tree.read("svtree.err"))")
    }
}

extension FullDiskStatusTests {
    /// snapwatch's state and backup-status on a full disk: a delivery is recorded once the
    /// disk takes writes again, without a further snapshot.
    @Test func snapwatchFilesCatchUpToo() throws {
        let tree = try TreeFixture("full-snapwatch")
        _ = try tree.mountTmpfs("disk", kilobytes: 256)
        tree.makeDirectories(tree.root + "/repo/snapshots")
        SnapwatchTests.hook(tree)
        try tree.start([SnapwatchTests.binary, "--repo", tree.root + "/repo", "--hook", tree.root + "/hook",
                        "--state", tree.root + "/disk/state", "--status", tree.root + "/disk/backup-status"],
                       stdoutFile: "snapwatch.err", stderrFile: "snapwatch.err")
        try tree.waitFor("the first backup-status") { FileSystem.exists(tree.root + "/disk/backup-status") }
        let (filled, fillOutput) = tree.run("/bin/sh", ["-c", "dd if=/dev/zero of=\(tree.root)/disk/filler bs=4k 2>&1; true"])
        #expect(filled == 0 && fillOutput.contains("No space left"), "\(fillOutput)")
        SnapwatchTests.snapshot(tree, 1)
        try tree.waitFor("the delivery") { SnapwatchTests.delivered(tree) == [SnapwatchTests.id(1)] }
        try tree.waitFor("the write failure said") { tree.read("snapwatch.err").contains("trying again until it can") }
        #expect(!tree.read("disk/state").contains("delivered"))
        tree.remove("disk/filler")
        try tree.waitFor("state and status true again", seconds: 5) {
            tree.read("disk/state").contains("delivered \(SnapwatchTests.id(1))")
                && tree.read("disk/backup-status").contains("last_snapshot \(SnapwatchTests.id(1))")
        }
        try tree.waitFor("the recovery said") { tree.read("snapwatch.err").contains("written again") }
        #expect(tree.read("snapwatch.err").components("trying again until it can") == 1, "\(tree.read("snapwatch.err"))")
    }
}

/// An operator's `rm -rf log/main` while svlog writes: every line from then on reaches a file
/// that has a name: svlog makes the directory again, or waits with the lines in the pipe.
@Suite(.serialized, .timeLimit(.minutes(10))) struct RemovedLogDirectoryTests {
    func numbers(_ tree: TreeFixture) -> [Int] {
        tree.logLines("dir/talker/log/main").compactMap { $0.hasPrefix("n ") ? Int($0.dropFirst(2)) : nil }
    }

    @Test func linesAfterTheRemovalReachANamedFile() throws {
        let tree = try TreeFixture("log-removed")
        let gate = tree.root + "/gate"
        tree.write("dir/talker/run", """
            #!/bin/sh
            i=0
            for phase in 1 2 3 4; do
                while [ $i -lt $((phase * 1000)) ]; do i=$((i + 1)); echo "n $i"; done
                while [ ! -e \(gate)$phase ]; do sleep 0.01; done
            done
            exec sleep 3600
            """, executable: true)
        tree.write("dir/talker/log/run", "#!/bin/sh\nexec \(TreeFixture.svlogBinary) ./main\n", executable: true)
        try tree.startSvtree("dir")
        // The logger may write before svtree has written its status (another turn of its loop).
        try tree.waitFor("the first thousand lines, the logger's status") {
            numbers(tree).last == 1000 && tree.supervisedPid("dir/talker/log") != nil
        }
        let logger = try #require(tree.supervisedPid("dir/talker/log"))

        // Only `current` removed: the lock svlog holds is still there, and its own lock must
        // not stand in the way of the new `current`.
        tree.remove("dir/talker/log/main/current")
        tree.write("gate1", "")
        try tree.waitFor("lines 1001-2000 in a new current") { numbers(tree).last == 2000 }
        #expect(numbers(tree) == Array(1001...2000))

        _ = tree.run("/bin/rm", ["-rf", tree.root + "/dir/talker/log/main"])
        tree.write("gate2", "")
        try tree.waitFor("lines 2001-3000 in a new directory") { numbers(tree).last == 3000 }
        #expect(numbers(tree) == Array(2001...3000))

        // Removed again, and a file where the directory was: svlog cannot make it, waits.
        _ = tree.run("/bin/rm", ["-rf", tree.root + "/dir/talker/log/main"])
        tree.write("dir/talker/log/main", "in the way\n")
        tree.write("gate3", "")
        let said = "current was removed: making it again"
        try tree.waitFor("svlog to say it waits, three times in all") {
            tree.read("svtree.err").components(said) >= 3
        }
        tree.remove("dir/talker/log/main")
        try tree.waitFor("lines 3001-4000 once it can", seconds: 10) { numbers(tree).last == 4000 }
        #expect(numbers(tree) == Array(3001...4000))
        #expect(tree.supervisedPid("dir/talker/log") == logger, "the same svlog did it all")
        tree.write("gate4", "")
    }
}

/// A client's `limits` under a real root in cgroup mode: written into the client's cgroup
/// where its controller is there, else one line naming the controller missing (this machine:
/// a hybrid host whose cgroup v2 has only hugetlb, so memory.max gets the line).
@Suite(.serialized, .timeLimit(.minutes(10))) struct LimitsTests {
    @Test func limitsAreWrittenOrTheMissingControllerNamed() throws {
        let tree = try TreeFixture("limits")
        tree.client("alice")
        tree.write("clients/alice/limits", "memory.max 512M\nbogus.key 1\n")
        tree.symlink(tree.root + "/clients/alice", "enabled/alice")
        try tree.startSvtree("enabled")
        try tree.waitFor("alice's services and loggers") {
            ["storage", "storage/log", "snapwatch", "snapwatch/log"].allSatisfy { tree.isRunning("clients/alice/services/\($0)") }
        }
        let record = SupervisorRecord(parsing: tree.read("clients/alice/supervise/svtree"))
        let unit = try #require(record.cgroup, "no cgroup mode here: \(tree.read("svtree.err"))")
        let entry = FileSystem.parentDirectory(unit)
        let base = FileSystem.parentDirectory(entry)
        let controllers = FileSystem.readLine(base + "/cgroup.controllers") ?? ""
        try tree.waitFor("the line about the unknown key") { tree.read("svtree.err").contains("limits: bogus.key: not a known cgroup v2 limit") }
        if controllers.split(separator: " ").contains("memory") {
            #expect(FileSystem.readLine(entry + "/memory.max") == "536870912", "\(tree.read("svtree.err"))")
        } else {
            #expect(tree.read("svtree.err").contains("limits: memory.max: the memory controller is not available here ("),
                    "\(tree.read("svtree.err"))")
        }
        // svctl status shows the limits (and the OOM kills where memory.events exists).
        let (code, detail) = SvctlTreeTests.svctl(tree, "status", "alice")
        #expect(code == 0 && detail.contains("  limits     memory.max 512M, bogus.key 1"), "\(detail)")
        #expect(detail.contains("OOM kill") == FileSystem.exists(entry + "/memory.events"), "\(detail)")
        // SIGHUP reads the file again: a fixed file, no new line about it.
        tree.write("clients/alice/limits", "# nothing to bound\n")
        let before = tree.read("svtree.err").components("limits:")
        kill(tree.started.first!, SIGHUP)
        try tree.roundTrip("clients/alice")
        #expect(tree.read("svtree.err").components("limits:") == before)
    }
}
