import Glibc
import SvSystem
import SvctlKit
import Testing

/// The real thing: a client added by svctl under a root svtree, real restic backups through
/// its rclone server, snapwatch replicating each snapshot, the replica checked by restic,
/// svctl status and audit reading the result.
@Suite(.serialized, .timeLimit(.minutes(10))) struct BackupEndToEndTests {
    static let password = "repository password"

    static func restic(_ tree: TreeFixture, _ arguments: [String]) -> (Int32, String) {
        tree.run("/usr/bin/restic", arguments, environment: ["RESTIC_PASSWORD": password, "HOME": tree.root])
    }

    /// Whether the replica's snapshots/ folder holds the snapshot (full or short id).
    static func replicaHas(_ tree: TreeFixture, _ id: String) -> Bool {
        TreeLayout.entries(tree.root + "/replica/alice/snapshots").contains { $0.hasPrefix(id) }
    }

    /// The full id of a snapshot in the client's repository.
    static func fullID(_ tree: TreeFixture, _ id: String) -> String {
        TreeLayout.entries(tree.root + "/data/alice/snapshots").first { $0.hasPrefix(id) } ?? id
    }

    /// How many times the hook reported replicating `id` (its log lines name the ids).
    static func replications(_ tree: TreeFixture, _ id: String) -> Int {
        let log = tree.read("clients/alice/services/snapwatch/log/main/current")
        return log.lines().filter { $0.contains("replicated to") && $0.contains(id) }.count
    }

    @Test func backupsAreReplicatedOnceAndAudited() throws {
        let tree = try SvctlTreeTests.tree("e2e")
        try tree.startSvtree("enabled", environment: SvctlTreeTests.environment(tree))
        // Other suites add clients from 18001 at the same time, in trees of their own: keep apart.
        let port = try #require((18500..<18600).first { ClientPorts.isFree($0, address: "127.0.0.1") })
        let (added, addOutput) = SvctlTreeTests.svctl(tree, "add", "--no-user", "alice", "--port", String(port),
                                                      "--replica", tree.root + "/replica/alice")
        try #require(added == 0, "\(addOutput)")
        let url = try #require(addOutput.lines().first { $0.contains("RESTIC_REPOSITORY=") }?
            .split(separator: "=", maxSplits: 1).last.map(String.init))
        let (enabled, enableOutput) = SvctlTreeTests.svctl(tree, "enable", "alice", "-w", "10")
        try #require(enabled == 0, "\(enableOutput)")

        tree.write("source/file", "first\n")
        let (initCode, initOutput) = Self.restic(tree, ["-r", url, "init"])
        try #require(initCode == 0, "\(initOutput)")
        let (backupCode, backupOutput) = Self.restic(tree, ["-r", url, "backup", "--json", tree.root + "/source"])
        try #require(backupCode == 0, "\(backupOutput)")
        let first = Self.fullID(tree, try #require(Self.snapshotID(backupOutput)))

        do {
            try tree.waitFor("the replica to hold the snapshot") { Self.replicaHas(tree, first) }
        } catch {
            Issue.record("snapwatch's log: \(tree.read("clients/alice/services/snapwatch/log/main/current"))")
            throw error
        }
        let (check, checkOutput) = Self.restic(tree, ["-r", tree.root + "/replica/alice", "check", "--read-data"])
        #expect(check == 0, "\(checkOutput)")
        try tree.waitFor("svctl status to show the replication") {
            SvctlTreeTests.svctl(tree, "status", "alice").1.contains("last snapshot \(first.prefix(8))")
        }
        let (status, statusOutput) = SvctlTreeTests.svctl(tree, "status", "alice", "--json")
        #expect(status == 0, "\(statusOutput)")
        #expect(statusOutput.contains("\"id\": \"\(first)\"") && statusOutput.contains("\"code\": 0"), "\(statusOutput)")

        // snapwatch frozen while a backup is made, then SIGKILLed: its successor finds the
        // snapshot in a listing and delivers it, once; the first is not delivered again.
        let snapwatch = try #require(tree.supervisedPid("clients/alice/services/snapwatch"))
        kill(snapwatch, SIGSTOP)
        tree.write("source/file", "second\n")
        let (secondCode, secondOutput) = Self.restic(tree, ["-r", url, "backup", "--json", tree.root + "/source"])
        try #require(secondCode == 0, "\(secondOutput)")
        let second = Self.fullID(tree, try #require(Self.snapshotID(secondOutput)))
        kill(snapwatch, SIGKILL)
        _ = try tree.waitForNewPid("clients/alice/services/snapwatch", other: snapwatch, "snapwatch to be restarted")
        try tree.waitFor("the second snapshot in the replica") { Self.replicaHas(tree, second) }
        try tree.waitFor("the hook's log line") { Self.replications(tree, second) == 1 }
        #expect(Self.replications(tree, first) == 1)
        #expect(Self.restic(tree, ["-r", tree.root + "/replica/alice", "check"]).0 == 0)

        // A flipped byte in the replica is found by the audit, by path.
        let (clean, cleanOutput) = SvctlTreeTests.svctl(tree, "audit", "alice", "--cycle", "1")
        #expect(clean == 0 && cleanOutput.contains("audit alice: no problem"), "\(cleanOutput)")
        let packs = Self.files(tree.root + "/replica/alice/data")
        let damaged = try #require(packs.first)
        chmod(damaged, 0o644)
        // XOR, not a fixed value: the byte may already be what a fixed value would write.
        AssuranceTests.flipByte(damaged)
        let (audit, auditOutput) = SvctlTreeTests.svctl(tree, "audit", "alice", "--cycle", "1")
        let replica = tree.root + "/replica/alice"
        let relative = String(damaged.dropFirst(replica.count + 1))
        #expect(audit == 2 && auditOutput.contains("CORRUPT \(replica): \(relative): its content hashes to"), "\(auditOutput)")

        let (disabled, disableOutput) = SvctlTreeTests.svctl(tree, "disable", "alice", "--wait", "--timeout", "20")
        #expect(disabled == 0, "\(disableOutput)")
        #expect(tree.processes(under: "clients").isEmpty)
    }

    /// The snapshot id from `restic backup --json`'s summary line.
    static func snapshotID(_ output: String) -> String? {
        for line in output.lines() where line.contains("\"message_type\":\"summary\"") {
            guard let range = line.firstRange(of: "\"snapshot_id\":\"") else { continue }
            // restic 0.14 prints the short id here: it is resolved in the repository below.
            return String(line[range.upperBound...].prefix { $0 != "\"" })
        }
        return nil
    }

    static func files(_ directory: String) -> [String] {
        var result: [String] = []
        for name in TreeLayout.entries(directory) {
            let path = directory + "/" + name
            if let info = try? FileSystem.info(path), info.kind == .directory {
                result += files(path)
            } else {
                result.append(path)
            }
        }
        return result
    }
}
