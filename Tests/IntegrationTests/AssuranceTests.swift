import Glibc
import SvFormats
import SvSystem
import SvctlKit
import Testing

/// Backup assurance with the real peers: clients added by svctl under a root svtree, real
/// restic backups through their rclone servers, snapwatch replicating to a local directory
/// and to an rclone remote served by `rclone serve webdav` on loopback (the remote host);
/// audits, verifies and a forget racing a backup, each fault planted and found by name.
@Suite(.serialized, .timeLimit(.minutes(10))) struct AssuranceTests {
    static let password = BackupEndToEndTests.password

    static func restic(_ tree: TreeFixture, _ arguments: [String]) -> (Int32, String) {
        BackupEndToEndTests.restic(tree, arguments)
    }

    /// `rclone serve webdav` over `directory` on a free loopback port: the remote host.
    static func remoteHost(_ tree: TreeFixture, _ directory: String, ports: Range<Int>) throws -> Int {
        tree.makeDirectories(tree.root + "/" + directory)
        let port = try #require(ports.first { ClientPorts.isFree($0, address: "127.0.0.1") })
        // No directory cache: a file deleted on the host is gone from the next listing.
        try tree.start(["/usr/bin/rclone", "serve", "webdav", "--config", "/dev/null", "--addr", "127.0.0.1:\(port)",
                        "--dir-cache-time", "0s", tree.root + "/" + directory],
                       stdoutFile: "webdav.out", stderrFile: "webdav.err")
        try tree.waitFor("the webdav server to listen") { !ClientPorts.isFree(port, address: "127.0.0.1") }
        return port
    }

    /// A client with a local replica and one on the remote host, enabled, its repository made.
    static func client(_ tree: TreeFixture, _ name: String, port: Int, remotePort: Int) throws -> String {
        let (added, output) = SvctlTreeTests.svctl(tree, "add", "--no-user", name, "--port", String(port),
                                                   "--replica", tree.root + "/replica/" + name, "--replica", "far:" + name)
        try #require(added == 0, "\(output)")
        // The daily audit job stays down here: the test runs each audit itself.
        tree.write("clients/\(name)/services/audit/down", "")
        tree.write("clients/\(name)/services/snapwatch/rclone.conf",
                   "[far]\ntype = webdav\nurl = http://127.0.0.1:\(remotePort)\nvendor = other\n")
        let url = try #require(output.lines().first { $0.contains("RESTIC_REPOSITORY=") }?
            .split(separator: "=", maxSplits: 1).last.map(String.init))
        let (enabled, enableOutput) = SvctlTreeTests.svctl(tree, "enable", name, "-w", "10")
        try #require(enabled == 0, "\(enableOutput)")
        let (initCode, initOutput) = restic(tree, ["-r", url, "init"])
        try #require(initCode == 0, "\(initOutput)")
        return url
    }

    /// A backup of new content; returns once both replicas list its snapshot.
    static func backup(_ tree: TreeFixture, _ name: String, url: String, content: String) throws {
        tree.write("source-\(name)/file", content)
        let (code, output) = restic(tree, ["-r", url, "backup", tree.root + "/source-\(name)"])
        try #require(code == 0, "\(output)")
        try waitReplicated(tree, name)
    }

    static func snapshots(_ tree: TreeFixture, _ directory: String) -> Set<String> {
        Set(TreeLayout.entries(tree.root + "/" + directory + "/snapshots"))
    }

    static func waitReplicated(_ tree: TreeFixture, _ name: String) throws {
        try tree.waitFor("\(name)'s snapshots on both replicas", seconds: 30) {
            let primary = snapshots(tree, "data/" + name)
            return primary.isSubset(of: snapshots(tree, "replica/" + name)) && primary.isSubset(of: snapshots(tree, "far/" + name))
        }
    }

    static func auditRecord(_ tree: TreeFixture, _ name: String) -> AuditRecord? {
        AuditRecord(parsing: tree.read("clients/\(name)/audit-status"))
    }

    static func hashNamedFiles(_ tree: TreeFixture, _ name: String) -> Int {
        BackupEndToEndTests.files(tree.root + "/data/" + name).filter { !$0.hasSuffix("/config") && !$0.contains("/locks/") }.count
    }

    @Test func everyBackendIsAuditedRestoredAndPrunedAndEachFaultIsNamed() throws {
        let tree = try SvctlTreeTests.tree("assurance")
        try tree.startSvtree("enabled", environment: SvctlTreeTests.environment(tree))
        let remotePort = try Self.remoteHost(tree, "far", ports: 18700..<18750)
        let alicePort = try #require((18750..<18800).first { ClientPorts.isFree($0, address: "127.0.0.1") })
        let alice = try Self.client(tree, "alice", port: alicePort, remotePort: remotePort)
        let bobPort = try #require((alicePort + 1..<18800).first { ClientPorts.isFree($0, address: "127.0.0.1") })
        let bob = try Self.client(tree, "bob", port: bobPort, remotePort: remotePort)
        for round in 1...3 { try Self.backup(tree, "alice", url: alice, content: "alice \(round)\n") }
        try Self.backup(tree, "bob", url: bob, content: "bob 1\n")

        // A cycle of three days, compressed: each file is hashed once on each backend, and
        // nothing is found on a healthy client.
        for name in ["alice", "bob"] {
            var hashed = [Int](repeating: 0, count: 3)
            for day in 600...602 {
                let (code, output) = SvctlTreeTests.svctl(tree, "audit", name, "--cycle", "3", "--day", String(day))
                #expect(code == 0 && output.contains("audit \(name): no problem"), "\(output)")
                let record = try #require(Self.auditRecord(tree, name))
                #expect(record.backends.map(\.location) == [tree.root + "/data/" + name, tree.root + "/replica/" + name, "far:" + name])
                for (index, backend) in record.backends.enumerated() { hashed[index] += backend.hashed }
            }
            let expected = Self.hashNamedFiles(tree, name)
            #expect(hashed == [expected, expected, expected], "\(name): hashed \(hashed) of \(expected) on each backend")
            let record = try #require(Self.auditRecord(tree, name))
            #expect(record.backends.allSatisfy { $0.coveredSlots(day: 602) == 3 && $0.fullCycleAt != nil })
        }
        let (healthy, healthyOutput) = SvctlTreeTests.svctl(tree, "status", "alice")
        #expect(healthyOutput.contains("  replica    far:alice: ") && healthyOutput.contains("0 missing, 0 corrupt; cycle 3/3"),
                "\(healthyOutput)")
        #expect(!healthyOutput.contains("problem    audit"), "\(healthy): \(healthyOutput)")

        // The restore test, from the primary and both replicas, with the key stored by svctl key.
        tree.write("password", Self.password + "\n")
        let (keyed, keyOutput) = SvctlTreeTests.svctl(tree, "key", "alice", "--password-file", tree.root + "/password")
        #expect(keyed == 0 && keyOutput.contains("alice/verify: up"), "\(keyOutput)")
        var st = stat()
        #expect(stat(tree.root + "/clients/alice/repository-password", &st) == 0 && st.st_mode & 0o777 == 0o600)
        let (verified, verifyOutput) = SvctlTreeTests.svctl(tree, "verify", "alice", "--files", "5")
        #expect(verified == 0, "\(verifyOutput)")
        for location in [tree.root + "/data/alice", tree.root + "/replica/alice", "far:alice"] {
            #expect(verifyOutput.contains("restored from \(location): size, permissions and mtime match"), "\(verifyOutput)")
        }
        #expect(SvctlTreeTests.svctl(tree, "status", "alice").1.contains("verified   check of data subset 1/12 ok; restored from snapshot"))
        tree.write("wrong", "not the password\n")
        #expect(SvctlTreeTests.svctl(tree, "key", "alice", "--password-file", tree.root + "/wrong").0 == 0)
        let (wrong, wrongOutput) = SvctlTreeTests.svctl(tree, "verify", "alice")
        #expect(wrong == 2 && wrongOutput.contains("wrong password"), "\(wrongOutput)")
        #expect(!wrongOutput.contains("not the password"), "the password never reaches a log")

        // Faults, planted on each backend, each found by name; bob's backends are not touched.
        let index = try #require(TreeLayout.entries(tree.root + "/far/alice/index").first)
        Self.flipByte(tree.root + "/far/alice/index/" + index)
        let packs = BackupEndToEndTests.files(tree.root + "/far/alice/data").sorted()
        let deleted = String(try #require(packs.first).dropFirst((tree.root + "/far/alice/").count))
        unlink(tree.root + "/far/alice/" + deleted)
        let localPacks = BackupEndToEndTests.files(tree.root + "/replica/alice/data").sorted()
        let truncated = String(try #require(localPacks.last).dropFirst((tree.root + "/replica/alice/").count))
        truncate(tree.root + "/replica/alice/" + truncated, 10)
        let snapshot = try #require(Self.snapshots(tree, "replica/alice").sorted().first)
        unlink(tree.root + "/replica/alice/snapshots/" + snapshot)
        tree.write("data/alice/data/00/leftover.tmp", "not restic's\n")
        tree.write("clients/alice/services/snapwatch/replicas",
                   tree.read("clients/alice/services/snapwatch/replicas") + "nowhere:alice\ngone:alice\n")
        tree.write("clients/alice/services/snapwatch/rclone.conf", tree.read("clients/alice/services/snapwatch/rclone.conf")
            + "[gone]\ntype = webdav\nurl = http://127.0.0.1:9\n")
        // Files this young that a replica lacks may be a replication under way: pending.
        let (young, youngOutput) = SvctlTreeTests.svctl(tree, "audit", "alice", "--cycle", "1")
        #expect(young == 2 && youngOutput.contains("PENDING far:alice: 1 file of the last 1h00m not there yet"), "\(youngOutput)")
        let (found, output) = SvctlTreeTests.svctl(tree, "audit", "alice", "--cycle", "1", "--grace", "0")
        #expect(found == 2, "\(output)")
        for expected in [
            "CORRUPT far:alice: index/\(index): its content hashes to",
            "MISSING far:alice: \(deleted)",
            "CORRUPT \(tree.root)/replica/alice: \(truncated): 10 bytes, the primary's has",
            "MISSING \(tree.root)/replica/alice: snapshots/\(snapshot)",
            "UNEXPECTED \(tree.root)/data/alice: data/00/leftover.tmp: not named by the sha256 of its content",
            "UNREACHABLE nowhere:alice: remote \"nowhere\" is not configured in",
            "UNREACHABLE gone:alice: cannot list:",
        ] {
            #expect(output.contains(expected), "\(expected) in: \(output)")
        }
        #expect(!output.contains("MISSING far:alice: data/00/leftover.tmp"), "a stray file is the primary's problem only")
        let (critical, statusOutput) = SvctlTreeTests.svctl(tree, "status", "alice")
        #expect(critical == 2 && statusOutput.contains("problem    audit: far:alice: 1 missing, 1 corrupt"), "\(statusOutput)")
        #expect(SvctlTreeTests.svctl(tree, "audit", "bob", "--cycle", "1").0 == 0)
        #expect(SvctlTreeTests.svctl(tree, "status", "bob").0 == 0)

        try forgetRacingABackup(tree, "bob", url: bob)
    }

    /// bob with three snapshots and `keep-last 2`: a backup holds restic's lock (its stdin is
    /// held open), forget waits for it, never breaking it; the backup's snapshot, arriving
    /// during the prune, is replicated after it.
    func forgetRacingABackup(_ tree: TreeFixture, _ name: String, url: String) throws {
        try Self.backup(tree, name, url: url, content: "bob 2\n")
        try Self.backup(tree, name, url: url, content: "bob 3\n")
        tree.write("password", Self.password + "\n")
        #expect(SvctlTreeTests.svctl(tree, "key", name, "--password-file", tree.root + "/password").0 == 0)
        // The racing backup (stdin) has paths of its own; grouped by host, the last two of all stay.
        tree.write("clients/\(name)/retention", "# restic's keep options\nkeep-last 2\ngroup-by host\n")
        // The backup reads a FIFO this test holds open: it keeps restic's lock until the close.
        try #require(mkfifo(tree.root + "/release", 0o600) == 0)
        let racing = try tree.start(["/bin/sh", "-c", "{ echo racing; cat release; } | "
                                        + "/usr/bin/restic -r '\(url)' backup --stdin --stdin-filename racing.txt"],
                                    stdoutFile: "racing.out", stderrFile: "racing.err",
                                    environment: ["RESTIC_PASSWORD": Self.password, "HOME": tree.root])
        var release: Int32 = -1
        try tree.waitFor("the racing backup to open its FIFO") {
            release = open(tree.root + "/release", O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            return release >= 0
        }
        defer { if release >= 0 { close(release) } }
        try tree.waitFor("the racing backup's lock", seconds: 20) { !TreeLayout.entries(tree.root + "/data/\(name)/locks").isEmpty }
        let (refused, refusedOutput) = SvctlTreeTests.svctl(tree, "forget", name, "--lock-wait", "0")
        #expect(refused == 3 && refusedOutput.contains("repository locked by another restic (not unlocked)"), "\(refusedOutput)")
        let forget = try tree.start([TreeFixture.buildDirectory + "/svctl", "forget", name, "--lock-wait", "120"],
                                    stdoutFile: "forget.out", stderrFile: "forget.err",
                                    environment: SvctlTreeTests.environment(tree))
        try tree.waitFor("forget to hold the repository lock") {
            let fd = open(tree.root + "/clients/\(name)/repository.lock", O_RDONLY | O_CLOEXEC)
            defer { if fd >= 0 { close(fd) } }
            return fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0
        }
        close(release)
        release = -1
        #expect(TreeFixture.exitCode(try tree.waitExit(racing, seconds: 60)) == 0, "\(tree.read("racing.err"))")
        let forgotten = TreeFixture.exitCode(try tree.waitExit(forget, seconds: 120))
        #expect(forgotten == 0 && tree.read("forget.out").contains("2 snapshots kept"), "\(tree.read("forget.out"))\(tree.read("forget.err"))")
        #expect(Self.snapshots(tree, "data/" + name).count == 2)
        let (check, checkOutput) = Self.restic(tree, ["-r", tree.root + "/data/" + name, "check"])
        #expect(check == 0, "\(checkOutput)")
        // Replicas keep everything: all four snapshots, the racing one replicated after the prune.
        try tree.waitFor("the racing snapshot on both replicas", seconds: 30) {
            Self.snapshots(tree, "replica/" + name).count == 4 && Self.snapshots(tree, "far/" + name).count == 4
        }
        let (replicaCheck, replicaOutput) = Self.restic(tree, ["-r", tree.root + "/replica/" + name, "check"])
        #expect(replicaCheck == 0, "\(replicaOutput)")
    }

    static func flipByte(_ path: String) {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        defer { close(fd) }
        var byte: UInt8 = 0
        pread(fd, &byte, 1, 10)
        byte ^= 0xff
        pwrite(fd, &byte, 1, 10)
    }
}
