import Glibc
import SvSystem
import Testing

/// snapwatch on a directory laid out like a restic repository, with shell hooks that log
/// their arguments: delivery, restarts, retries, overflow and SIGTERM.
@Suite(.timeLimit(.minutes(10))) struct SnapwatchTests {
    static var binary: String { TreeFixture.buildDirectory + "/snapwatch" }

    static func id(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        return String(repeating: "0", count: 64 - hex.count) + hex
    }

    /// A hook appending "ARGS|$SNAPWATCH_REPO" to delivered.log, exiting with `exitScript`'s code.
    static func hook(_ tree: TreeFixture, _ body: String = "exit 0") {
        tree.write("hook", """
            #!/bin/sh
            echo "$*|$SNAPWATCH_REPO" >> "\(tree.root)/delivered.log"
            \(body)
            """, executable: true)
    }

    static func start(_ tree: TreeFixture, _ extra: [String] = []) throws -> Int32 {
        try tree.start([binary, "--repo", tree.root + "/repo", "--hook", tree.root + "/hook", "--state", tree.root + "/state",
                        "--status", tree.root + "/backup-status"] + extra,
                       stdoutFile: "snapwatch.err", stderrFile: "snapwatch.err")
    }

    /// Every id the hook got, in order, one entry per delivery.
    static func delivered(_ tree: TreeFixture) -> [String] {
        tree.read("delivered.log").lines().flatMap { $0.split(separator: "|")[0].split(separator: " ").map(String.init) }
    }

    /// Writes a snapshot file in place, as rclone does.
    static func snapshot(_ tree: TreeFixture, _ n: Int) {
        let fd = open(tree.root + "/repo/snapshots/" + id(n), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try? FileSystem.writeAll(fd, Array("{\"n\": \(n)}".utf8))
        close(fd)
    }

    @Test func waitsForTheRepositoryThenDeliversEachNewSnapshot() throws {
        let tree = try TreeFixture("snapwatch-new")
        Self.hook(tree)
        _ = try Self.start(tree)
        try tree.waitFor("snapwatch to say it waits") { tree.read("snapwatch.err").contains("waiting for") }
        tree.makeDirectories(tree.root + "/repo/snapshots")
        try tree.waitFor("snapwatch to watch snapshots/") { tree.read("snapwatch.err").contains("watching \(tree.root)/repo/snapshots") }
        Self.snapshot(tree, 1)
        try tree.waitFor("the first delivery") { Self.delivered(tree) == [Self.id(1)] }
        // restic's local backend: a temporary name renamed into place; temporary names are ignored.
        tree.write("repo/snapshots/\(Self.id(2))-tmp-123", "{}")  // itself written as .new, renamed
        tree.write("repo/snapshots/\(Self.id(3)).rest-server-temp99", "{}")
        rename(tree.root + "/repo/snapshots/\(Self.id(2))-tmp-123", tree.root + "/repo/snapshots/\(Self.id(2))")
        try tree.waitFor("the renamed one") { Self.delivered(tree) == [Self.id(1), Self.id(2)] }
        #expect(tree.read("delivered.log").contains("|" + (FileSystem.realPath(tree.root + "/repo") ?? "")))
        // The state is saved when the hook has exited 0, then the status.
        try tree.waitFor("the state file") { tree.read("state").contains("delivered \(Self.id(2))") }
        try tree.waitFor("nothing waiting") { tree.read("backup-status").contains("waiting 0") }
        #expect(tree.read("backup-status").contains("last_snapshot \(Self.id(2))"))
    }

    @Test func whatAppearedWhileDownIsDeliveredOnceOnStart() throws {
        let tree = try TreeFixture("snapwatch-restart")
        Self.hook(tree)
        tree.makeDirectories(tree.root + "/repo/snapshots")
        Self.snapshot(tree, 1)
        let first = try Self.start(tree)
        try tree.waitFor("the first delivery") { Self.delivered(tree) == [Self.id(1)] }
        try tree.waitFor("the state file") { tree.read("state").contains(Self.id(1)) }
        kill(first, SIGKILL)
        _ = try tree.waitExit(first)
        Self.snapshot(tree, 2)
        _ = try Self.start(tree)
        try tree.waitFor("the snapshot made while down") { Self.delivered(tree).count == 2 }
        try tree.waitFor("the status file") { tree.read("backup-status").contains("last_snapshot") }
        #expect(Self.delivered(tree) == [Self.id(1), Self.id(2)], "each once")
    }

    @Test func aFailingHookIsRetriedUntilItSucceeds() throws {
        let tree = try TreeFixture("snapwatch-retry")
        // Fails twice, then succeeds.
        Self.hook(tree, "n=$(wc -l < \"\(tree.root)/delivered.log\"); [ \"$n\" -ge 3 ]")
        tree.makeDirectories(tree.root + "/repo/snapshots")
        _ = try Self.start(tree, ["--retry", "0.1"])
        Self.snapshot(tree, 7)
        try tree.waitFor("three attempts and a delivery") { tree.read("state").contains("delivered \(Self.id(7))") }
        #expect(Self.delivered(tree) == [Self.id(7), Self.id(7), Self.id(7)])
        let log = tree.read("snapwatch.err")
        #expect(log.contains("failed (exit code 1)") && log.contains("retry in 100 ms") && log.contains("retry in 200 ms"), "\(log)")
        try tree.waitFor("the status") { tree.read("backup-status").contains("failures 0") }
        #expect(tree.read("backup-status").contains("code 0"))
    }

    @Test func overflowIsFollowedByAFullListing() throws {
        let tree = try TreeFixture("snapwatch-overflow")
        Self.hook(tree)
        tree.makeDirectories(tree.root + "/repo/snapshots")
        let pid = try Self.start(tree)
        try tree.waitFor("snapwatch to watch") { tree.read("backup-status").contains("waiting 0") }
        // Stopped, it reads nothing: more events than the queue holds (16384 by default) are lost.
        kill(pid, SIGSTOP)
        let limit = Int(FileSystem.readLine("/proc/sys/fs/inotify/max_queued_events") ?? "16384") ?? 16384
        let count = limit + 500
        for n in 1...count {
            let fd = open(tree.root + "/repo/snapshots/" + Self.id(n), O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            close(fd)
        }
        kill(pid, SIGCONT)
        func state() -> String { String(decoding: (try? FileSystem.readBytes(tree.root + "/state", limit: 64 << 20)) ?? [], as: UTF8.self) }
        try tree.waitFor("every snapshot", seconds: 60) { state().components("delivered ") >= count }
        let log = String(decoding: (try? FileSystem.readBytes(tree.root + "/delivered.log", limit: 64 << 20)) ?? [], as: UTF8.self)
        #expect(tree.read("snapwatch.err").contains("inotify queue overflowed"), "no overflow happened")
        #expect(Set(log.lines().flatMap { $0.split(separator: "|")[0].split(separator: " ") }).count == count)
    }

    @Test func sigtermLetsTheHookFinishOrEndsItsGroup() throws {
        let tree = try TreeFixture("snapwatch-term")
        tree.makeDirectories(tree.root + "/repo/snapshots")
        // A hook that ignores TERM and leaves a child in its group.
        Self.hook(tree, "trap '' TERM; sleep 31.5 & exec sleep 31.5")
        let pid = try Self.start(tree, ["--grace", "0.3"])
        Self.snapshot(tree, 1)
        var hookGroup: [Int32] = []
        try tree.waitFor("the hook and its child to run") {
            // snapwatch's child (the hook, now sleep) and its child: not every "sleep 31.5" on
            // the machine, where another checkout may run this very test.
            let table = ProcessTable.scan().entries.values.filter { !$0.isZombie }
            let hooks = table.filter { $0.parent == pid && tree.commandLine($0.pid) == "sleep 31.5" }.map(\.pid)
            hookGroup = hooks + table.filter { hooks.contains($0.parent) && tree.commandLine($0.pid) == "sleep 31.5" }.map(\.pid)
            return hookGroup.count == 2
        }
        kill(pid, SIGTERM)
        let status = try tree.waitExit(pid)
        #expect(status == 0, "exit status \(status)")
        try tree.waitFor("the hook's group to die") { hookGroup.allSatisfy { kill($0, 0) != 0 } }
        #expect(!tree.read("state").contains("delivered"), "an unfinished hook delivers nothing")
        #expect(tree.read("snapwatch.err").contains("sending TERM"))
    }

    @Test func badOptionsAndAMissingHookSayWhat() throws {
        let tree = try TreeFixture("snapwatch-bad")
        let (code, output) = tree.run(Self.binary, ["--repo", tree.root])
        #expect(code == 100 && output.contains("--hook CMD is required"), "\(output)")
        let (missing, missingOutput) = tree.run(Self.binary, ["--repo", tree.root, "--hook", tree.root + "/nope"])
        #expect(missing == 111 && missingOutput.contains("hook \(tree.root)/nope is not an executable file"), "\(missingOutput)")
    }
}

extension String {
    func components(_ separator: String) -> Int {
        var count = 0
        var rest = self[...]
        while let range = rest.firstRange(of: separator) {
            count += 1
            rest = rest[range.upperBound...]
        }
        return count
    }
}
