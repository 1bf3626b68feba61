import Glibc
import SvSystem
import SvctlKit
import Testing

/// A client's quota with real restic backups through its real rclone server: past soft a
/// warning, past hard critical and the next backup refused with the storage's log saying why;
/// a raised quota, or a server-side forget --prune, lets backups in again.
@Suite(.serialized, .timeLimit(.minutes(10))) struct QuotaTests {
    @Test func softWarnsHardRefusesAndAPruneLetsBackupsInAgain() throws {
        let tree = try SvctlTreeTests.tree("quota")
        chmod(tree.root, 0o755)  // run as root, svctl add gives the client a user of its own
        let client = "q" + String(getpid() % 100_000)
        defer { ClientUserTests.removeUsers([client], of: tree) }
        try tree.startSvtree("enabled", environment: SvctlTreeTests.environment(tree))
        let port = try #require((18700..<18800).first { ClientPorts.isFree($0, address: "127.0.0.1") })
        let (added, output) = SvctlTreeTests.svctl(tree, "add", client, "--port", String(port))
        try #require(added == 0, "\(output)")
        let url = try #require(output.lines().first { $0.contains("RESTIC_REPOSITORY=") }?
            .split(separator: "=", maxSplits: 1).last.map(String.init))
        let definition = "clients/\(client)"
        tree.write(definition + "/quota", "soft 1M\nhard 3M\n")
        let (enabled, enableOutput) = SvctlTreeTests.svctl(tree, "enable", client, "-w", "10")
        try #require(enabled == 0, "\(enableOutput)")
        let restic = { (arguments: [String]) in BackupEndToEndTests.restic(tree, ["-r", url] + arguments) }
        /// Backs up `megabytes` of fresh random bytes (the same path each time: one snapshot group).
        func backup(_ megabytes: Int) -> (Int32, String) {
            _ = tree.run("/bin/sh", ["-c", "head -c \(megabytes << 20) /dev/urandom > '\(tree.root)/source/data'"])
            return restic(["backup", tree.root + "/source"])
        }
        tree.makeDirectories(tree.root + "/source")
        try #require(restic(["init"]).0 == 0)

        var (code, text) = backup(2)
        #expect(code == 0, "\(text)")
        try tree.waitFor("a warning for the soft quota") {
            SvctlTreeTests.svctl(tree, "status", client).1.contains("problem    quota: repository 2")
        }
        (code, text) = SvctlTreeTests.svctl(tree, "status", client)
        #expect(code == 1 && text.contains("over its soft quota of 1M"), "\(text)")

        (code, text) = backup(2)
        #expect(code == 0, "the backup that crosses hard is taken: \(text)")
        let storageLog = "\(definition)/services/storage/log/main/current"
        try tree.waitFor("the storage restarted read-only, serving") {
            tree.read(storageLog).contains("storage takes no new data: repository ")
                && tree.read(storageLog).lines().last?.contains("union root") == true
        }
        (code, text) = SvctlTreeTests.svctl(tree, "status", client)
        #expect(code == 2 && text.contains("over its hard quota of 3M: the storage takes no new data"), "\(text)")
        #expect(tree.read("\(definition)/over-quota").contains("over its hard quota of 3M"))
        // Reading still works; a backup's packs are refused. (restic retries for about 50 s
        // before its "Fatal: unable to save snapshot"; the first refusal is what counts here,
        // and a test that blocks that long starves the others of the pool's threads.)
        #expect(restic(["snapshots"]).0 == 0)
        _ = tree.run("/bin/sh", ["-c", "head -c 1048576 /dev/urandom > '\(tree.root)/source/data'"])
        (code, text) = tree.run("/usr/bin/timeout", ["15", "/usr/bin/restic", "-r", url, "backup", tree.root + "/source"],
                                environment: ["RESTIC_PASSWORD": BackupEndToEndTests.password, "HOME": tree.root])
        #expect(code != 0 && text.contains("Save(<data/") && text.contains("500 Internal Server Error"), "\(text)")
        #expect(restic(["snapshots", "--json"]).1.components("\"time\"") == 2, "no third snapshot")

        // A raised quota: the storage takes data again, at once.
        tree.write(definition + "/quota", "soft 1M\nhard 100M\n")
        try tree.waitFor("the marker gone") { !FileSystem.exists(tree.root + "/\(definition)/over-quota") }
        try tree.waitFor("the storage serving normally") { tree.read(storageLog).lines().last?.contains("Local file system") == true }
        (code, text) = backup(1)
        #expect(code == 0, "\(text)")

        // Lowered again, then a server-side forget --prune (svctl forget, as the client's user)
        // brings the repository under it.
        tree.write(definition + "/quota", "soft 1M\nhard 3M\n")
        try tree.waitFor("over hard again") { FileSystem.exists(tree.root + "/\(definition)/over-quota") }
        tree.write("password", BackupEndToEndTests.password + "\n")
        #expect(SvctlTreeTests.svctl(tree, "key", client, "--password-file", tree.root + "/password").0 == 0)
        tree.write(definition + "/retention", "keep-last 1\n")
        (code, text) = SvctlTreeTests.svctl(tree, "forget", client)
        #expect(code == 0, "\(text)")
        try tree.waitFor("the marker gone after the prune") { !FileSystem.exists(tree.root + "/\(definition)/over-quota") }
        try tree.waitFor("the storage serving normally again") { tree.read(storageLog).lines().last?.contains("Local file system") == true }
        (code, text) = backup(1)
        #expect(code == 0, "\(text)")
        (code, text) = SvctlTreeTests.svctl(tree, "metrics", client)
        #expect(text.contains("svtree_quota_hard_bytes{client=\"\(client)\"} 3145728"), "\(text)")

        #expect(SvctlTreeTests.svctl(tree, "disable", client, "--wait", "--timeout", "20").0 == 0)
        #expect(SvctlTreeTests.svctl(tree, "remove", "--purge", client).0 == 0)
    }
}
