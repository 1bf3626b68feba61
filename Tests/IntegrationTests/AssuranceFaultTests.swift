import Glibc
import SvFormats
import SvSystem
import SvctlKit
import Testing

/// The assurance commands on bad input and faults: each a clear line, nothing left behind.
@Suite(.serialized, .timeLimit(.minutes(10))) struct AssuranceFaultTests {
    /// A client defined by svctl add with a real local repository of one 1 MB file.
    static func clientWithRepository(_ tree: TreeFixture, _ name: String) throws {
        let (added, output) = SvctlTreeTests.svctl(tree, "add", "--no-user", name, "--replica", tree.root + "/replica/" + name)
        try #require(added == 0, "\(output)")
        tree.write("clients/\(name)/services/audit/down", "")
        let (made, madeOutput) = BackupEndToEndTests.restic(tree, ["-r", tree.root + "/data/" + name, "init"])
        try #require(made == 0, "\(madeOutput)")
        tree.write("source/big", String(repeating: "0123456789abcdef", count: 65536))
        let (backedUp, backupOutput) = BackupEndToEndTests.restic(tree, ["-r", tree.root + "/data/" + name, "backup", tree.root + "/source"])
        try #require(backedUp == 0, "\(backupOutput)")
    }

    static func temporaries(_ directory: String) -> [String] {
        TreeLayout.entries(directory).filter { $0.hasPrefix("svctl-") }
    }

    @Test func keyedCommandsSayWhatIsMissingAndKeyBringsTheJobsUpAndDown() throws {
        let tree = try SvctlTreeTests.tree("assurance-input")
        try Self.clientWithRepository(tree, "carol")
        let (verify, verifyOutput) = SvctlTreeTests.svctl(tree, "verify", "carol")
        #expect(verify == 3 && verifyOutput.contains("no repository password for carol: store it with svctl key carol"), "\(verifyOutput)")
        #expect(SvctlTreeTests.svctl(tree, "forget", "carol").0 == 3)
        tree.write("empty", "")
        let (empty, emptyOutput) = SvctlTreeTests.svctl(tree, "key", "carol", "--password-file", tree.root + "/empty")
        #expect(empty == 1 && emptyOutput.contains("is empty"), "\(emptyOutput)")
        let (unreadable, unreadableOutput) = SvctlTreeTests.svctl(tree, "key", "carol", "--password-file", tree.root + "/none")
        #expect(unreadable == 1 && unreadableOutput.contains("cannot read the password file \(tree.root)/none"), "\(unreadableOutput)")
        #expect(SvctlTreeTests.svctl(tree, "key", "carol").0 == 1, "neither --password-file nor --remove")
        #expect(!FileSystem.exists(tree.root + "/clients/carol/repository-password"))
        for job in RepositoryKey.keyedJobs { #expect(FileSystem.exists(tree.root + "/clients/carol/services/\(job)/down")) }

        tree.write("password", BackupEndToEndTests.password + "\n")
        let (stored, storedOutput) = SvctlTreeTests.svctl(tree, "key", "carol", "--password-file", tree.root + "/password")
        #expect(stored == 0 && storedOutput.contains("carol/forget: up when the client is enabled"), "\(storedOutput)")
        for job in RepositoryKey.keyedJobs { #expect(!FileSystem.exists(tree.root + "/clients/carol/services/\(job)/down")) }

        tree.write("clients/carol/retention", "keep-daily 7\nkeep-forever 1\n")
        let (retention, retentionOutput) = SvctlTreeTests.svctl(tree, "forget", "carol")
        #expect(retention == 2 && retentionOutput.contains("clients/carol/retention:2: unknown option \"keep-forever\""),
                "\(retentionOutput)")
        tree.write("clients/carol/retention", "keep-daily seven\n")
        #expect(SvctlTreeTests.svctl(tree, "forget", "carol").1.contains("retention:1: keep-daily needs a count"))

        let (removed, removedOutput) = SvctlTreeTests.svctl(tree, "key", "carol", "--remove")
        #expect(removed == 0 && removedOutput.contains("repository password removed"), "\(removedOutput)")
        #expect(!FileSystem.exists(tree.root + "/clients/carol/repository-password"))
        for job in RepositoryKey.keyedJobs { #expect(FileSystem.exists(tree.root + "/clients/carol/services/\(job)/down")) }

        // A minio client's data directory is minio's own format: the keyless audit refuses it.
        let (minio, minioOutput) = SvctlTreeTests.svctl(tree, "add", "--no-user", "dave", "--template", "minio")
        try #require(minio == 0, "\(minioOutput)")
        #expect(minioOutput.contains("no audit, verify or forget job: minio's on-disk format is not restic's files"))
        #expect(!FileSystem.exists(tree.root + "/clients/dave/services/audit"))
        let (audit, auditOutput) = SvctlTreeTests.svctl(tree, "audit", "dave")
        #expect(audit == 2 && auditOutput.contains("dave keeps its repository in minio"), "\(auditOutput)")
        #expect(AuditRecord(parsing: tree.read("clients/dave/audit-status"))?.backends.first?.error?.contains("minio") == true,
                "the refusal is recorded, so svctl status shows it")
        let (future, futureOutput) = SvctlTreeTests.svctl(tree, "audit", "carol", "--day", "99999")
        #expect(future == 1 && futureOutput.contains("--day 99999 is in the future"), "\(futureOutput)")
    }

    @Test func anAuditStoppedByDisablingTheClientLeavesNothing() throws {
        let tree = try SvctlTreeTests.tree("assurance-stop")
        try Self.clientWithRepository(tree, "erin")
        let scratch = tree.root + "/tmp"
        tree.makeDirectories(scratch)
        // One byte a millisecond: the first batch is hashed, then the pacing waits for minutes.
        tree.write("clients/erin/services/audit/run", """
            #!/bin/sh
            exec 2>&1
            TMPDIR=\(scratch) exec svctl audit erin --cycle 1 --max-rate 0.001
            """, executable: true)
        try tree.startSvtree("enabled", environment: SvctlTreeTests.environment(tree))
        let (enabled, enableOutput) = SvctlTreeTests.svctl(tree, "enable", "erin", "-w", "10")
        try #require(enabled == 0, "\(enableOutput)")
        #expect(SvctlTreeTests.svctl(tree, "run", "erin/audit").0 == 0)
        try tree.waitFor("the audit's temporary directory") { !Self.temporaries(scratch).isEmpty }
        let (disabled, disableOutput) = SvctlTreeTests.svctl(tree, "disable", "erin", "--wait", "--timeout", "20")
        #expect(disabled == 0, "\(disableOutput)")
        #expect(tree.processes(under: "clients").isEmpty)
        #expect(Self.temporaries(scratch).isEmpty, "\(Self.temporaries(scratch))")
        #expect(!FileSystem.exists(tree.root + "/clients/erin/audit-status"), "no half-made status")
        #expect(tree.read("clients/erin/services/audit/log/main/current").contains("stopped by signal 15"))
    }

    @Test func aFullDiskDuringARestoreIsReportedAndTheTemporaryDirectoryRemoved() throws {
        let tree = try SvctlTreeTests.tree("assurance-full")
        try Self.clientWithRepository(tree, "frank")
        tree.makeDirectories(tree.root + "/replica")
        _ = tree.run("/bin/cp", ["-a", tree.root + "/data/frank", tree.root + "/replica/frank"])
        tree.write("password", BackupEndToEndTests.password + "\n")
        #expect(SvctlTreeTests.svctl(tree, "key", "frank", "--password-file", tree.root + "/password").0 == 0)
        let small = try tree.mountTmpfs("small", kilobytes: 256)
        var environment = SvctlTreeTests.environment(tree)
        environment["TMPDIR"] = small
        let (code, output) = tree.run(TreeFixture.buildDirectory + "/svctl", ["verify", "frank"], environment: environment)
        #expect(code == 2 && output.contains("restored from") == false, "\(output)")
        #expect(output.contains("restore of snapshot") && output.contains("FAILED: restore failed:"), "\(output)")
        #expect(Self.temporaries(small).isEmpty, "\(Self.temporaries(small))")
        let record = try #require(VerifyRecord(parsing: tree.read("clients/frank/verify-status")))
        #expect(record.check == .ok && record.backends.count == 2 && record.backends.allSatisfy { $0.error != nil })
    }
}
