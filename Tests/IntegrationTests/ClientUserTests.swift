import Glibc
import SvSystem
import SvctlKit
import Testing

/// A user per client: `svctl add` as root makes `svtree-NAME`, gives it the client's directory
/// and repository, and svtree runs everything of the client as that user; another client's
/// user cannot read the repository; `svctl remove --purge` deletes the user. Run by an
/// ordinary user, svctl says so once and the tree runs as that user.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ClientUserTests {
    static let isRoot = geteuid() == 0

    /// The uid and the groups of a process, from /proc/PID/status.
    static func credentials(_ pid: Int32) -> (uid: String, groups: String) {
        let text = String(decoding: (try? FileSystem.readBytes("/proc/\(pid)/status", limit: 16384)) ?? [], as: UTF8.self)
        func field(_ name: String) -> String {
            let value = text.lines().first { $0.hasPrefix(name + ":") }.map { $0.dropFirst(name.count + 1) } ?? "?"
            return value.split(whereSeparator: { $0 == "\t" || $0 == " " }).joined(separator: " ")
        }
        return (field("Uid"), field("Groups"))
    }

    static func owner(_ path: String) -> (uid: uid_t, mode: mode_t) {
        var st = stat()
        guard stat(path, &st) == 0 else { return (uid_t.max, 0) }
        return (st.st_uid, st.st_mode & 0o7777)
    }

    /// Users are global to the machine: names of this run only, deleted however the test ends.
    /// The tree's processes go first (userdel refuses a user that still runs), and a user that
    /// is still there afterwards is a failure, not a leak.
    static func removeUsers(_ clients: [String], of tree: TreeFixture) {
        tree.killEverything()
        for client in clients {
            guard let account = ClientUser.lookup(ClientUser.name(ofClient: client)), account.comment.hasPrefix("svtree client") else { continue }
            let (code, output) = TreeFixture.run("/usr/sbin/userdel", [account.name])
            if ClientUser.lookup(account.name) != nil { Issue.record("user \(account.name) left behind: userdel exited \(code): \(output)") }
        }
    }

    @Test(.enabled(if: isRoot, "not run: making users (useradd) needs root; run the suite as root to check per-client users"))
    func eachClientRunsAsItsOwnUser() throws {
        let tree = try SvctlTreeTests.tree("users")
        chmod(tree.root, 0o755)  // the clients' users must reach their own directories
        let suffix = String(getpid() % 100_000)
        let clients = ["ua" + suffix, "ub" + suffix]
        defer { Self.removeUsers(clients, of: tree) }
        try tree.startSvtree("enabled", environment: SvctlTreeTests.environment(tree))
        let ports = (18600..<18700).filter { ClientPorts.isFree($0, address: "127.0.0.1") }
        try #require(ports.count >= 2)
        var urls: [String] = []
        for (client, port) in zip(clients, ports) {
            let (added, output) = SvctlTreeTests.svctl(tree, "add", client, "--port", String(port))
            try #require(added == 0, "\(output)")
            #expect(output.contains("runs as its own user svtree-\(client) (uid "), "\(output)")
            urls.append(try #require(output.lines().first { $0.contains("RESTIC_REPOSITORY=") }?
                .split(separator: "=", maxSplits: 1).last.map(String.init)))
        }
        let accounts = try clients.map { try #require(ClientUser.lookup("svtree-" + $0)) }
        for (client, account) in zip(clients, accounts) {
            #expect(Self.owner(tree.root + "/data/" + client) == (account.user, 0o700))
            #expect(Self.owner(tree.root + "/clients/\(client)/services/storage/htpasswd") == (account.user, 0o600))
            // The directory and its policy stay the tree's; sticky, group the client's, others out.
            #expect(Self.owner(tree.root + "/clients/" + client) == (0, 0o1770))
            #expect(Self.owner(tree.root + "/clients/\(client)/user") == (0, 0o644))
            #expect(tree.read("clients/\(client)/user") == "svtree-\(client)\n")
            #expect(Self.owner(tree.root + "/clients/\(client)/services/storage").uid == account.user)
            #expect(Self.owner(tree.root + "/clients/\(client)/log").uid == 0, "log/ is root's, log/main the client's")
            #expect(Self.owner(tree.root + "/clients/\(client)/log/main").uid == account.user)
            let (enabled, output) = SvctlTreeTests.svctl(tree, "enable", client, "-w", "10")
            try #require(enabled == 0, "\(output) \(tree.read("svtree.err"))")
        }

        // Everything of each client runs as its user, with its group alone.
        for (client, account) in zip(clients, accounts) {
            let units = ["clients/\(client)", "clients/\(client)/log"]
                + ["storage", "snapwatch", "storage/log", "snapwatch/log"].map { "clients/\(client)/services/\($0)" }
            for unit in units {
                let pid = try #require(tree.supervisedPid(unit), "\(unit) runs")
                let (uid, groups) = Self.credentials(pid)
                #expect(uid == Array(repeating: "\(account.user)", count: 4).joined(separator: " "), "\(unit): Uid \(uid)")
                #expect(groups == "\(account.group)", "\(unit): Groups \(groups)")
            }
        }

        // The storage server, running as alice's user, takes a real backup.
        let (initCode, initOutput) = BackupEndToEndTests.restic(tree, ["-r", urls[0], "init"])
        #expect(initCode == 0, "\(initOutput)")
        tree.write("source/file", "alice's data\n")
        let (backup, backupOutput) = BackupEndToEndTests.restic(tree, ["-r", urls[0], "backup", tree.root + "/source"])
        #expect(backup == 0, "\(backupOutput)")
        // Bob's user cannot read alice's repository, nor her client directory.
        let asBob = ["--reuid=\(accounts[1].user)", "--regid=\(accounts[1].group)", "--clear-groups"]
        let (read, readOutput) = tree.run("/usr/bin/setpriv", asBob + ["/bin/cat", tree.root + "/data/\(clients[0])/config"])
        #expect(read != 0 && readOutput.contains("Permission denied"), "\(readOutput)")
        let (list, listOutput) = tree.run("/usr/bin/setpriv", asBob + ["/bin/ls", tree.root + "/clients/\(clients[0])"])
        #expect(list != 0 && listOutput.contains("Permission denied"), "\(listOutput)")
        // Alice's own user cannot change her policy: no removing, replacing or rewriting.
        let asAlice = ["--reuid=\(accounts[0].user)", "--regid=\(accounts[0].group)", "--clear-groups"]
        let alicePort = tree.root + "/clients/\(clients[0])/port"
        let (removed, removedOutput) = tree.run("/usr/bin/setpriv", asAlice + ["/bin/rm", "-f", tree.root + "/clients/\(clients[0])/user"])
        #expect(removed != 0 && removedOutput.contains("Operation not permitted"), "\(removedOutput)")
        let (rewritten, rewriteOutput) = tree.run("/usr/bin/setpriv", asAlice + ["/bin/sh", "-c", "echo 1 > \(alicePort)"])
        #expect(rewritten != 0 && rewriteOutput.contains("Permission denied"), "\(rewriteOutput)")
        #expect(tree.read("clients/\(clients[0])/user") == "svtree-\(clients[0])\n")
        // A `user` file that an entry's own user could have written is not followed.
        // Made aside and linked in whole: svtree must not see it before its user file.
        tree.service("rogue", logger: nil)
        tree.write("rogue/user", "root\n")
        lchown(tree.root + "/rogue/user", accounts[1].user, accounts[1].group)
        tree.symlink(tree.root + "/rogue", "enabled/rogue")
        do {
            try tree.waitFor("the line refusing rogue's user file") {
                tree.read("svtree.err").contains("rogue: cannot start run (Permission denied): \(tree.root)/rogue/user: owned by uid \(accounts[1].user), not by root")
            }
        } catch {
            Issue.record("svtree's stderr: \(tree.read("svtree.err"))")
            throw error
        }
        #expect(!tree.isRunning("enabled/rogue"))
        try tree.waitFor("svctl status to say why rogue does not run") {
            SvctlTreeTests.svctl(tree, "status", "rogue").1.contains("cannot start run (Permission denied): \(tree.root)/rogue/user: owned by uid")
        }
        tree.remove("enabled/rogue")
        // Run as root, svctl does in a client's services what the client's user could: its
        // check script runs as that user, and a control FIFO it swapped for a symlink to a
        // root-only file is refused, the file untouched.
        let aliceServices = tree.root + "/clients/\(clients[0])/services"
        let (wrote, wroteOutput) = tree.run("/usr/bin/setpriv", asAlice + ["/bin/sh", "-c",
            "printf '#!/bin/sh\\nid -u > \(aliceServices)/storage/checked-by\\nexit 0\\n' > \(aliceServices)/storage/check && chmod 755 \(aliceServices)/storage/check"])
        #expect(wrote == 0, "\(wroteOutput)")
        _ = SvctlTreeTests.svctl(tree, "status", clients[0])
        #expect(tree.read("clients/\(clients[0])/services/storage/checked-by") == "\(accounts[0].user)\n")
        tree.write("root-only", "precious\n")
        chmod(tree.root + "/root-only", 0o600)
        let (swapped, swapOutput) = tree.run("/usr/bin/setpriv", asAlice + ["/bin/sh", "-c",
            "cd \(aliceServices)/verify && mv supervise supervise.real && mkdir supervise && ln -s \(tree.root)/root-only supervise/control"])
        #expect(swapped == 0, "\(swapOutput)")
        let (sent, sentOutput) = SvctlTreeTests.svctl(tree, "up", clients[0] + "/verify")
        #expect(sent != 0 && sentOutput.contains("Permission denied"), "\(sentOutput)")
        #expect(tree.read("root-only") == "precious\n")

        // A job runs as the user too and writes its record in the client's directory.
        let (once, onceOutput) = SvctlTreeTests.svctl(tree, "once", clients[0] + "/audit")
        #expect(once == 0, "\(onceOutput)")
        try tree.waitFor("alice's audit record") { FileSystem.exists(tree.root + "/clients/\(clients[0])/audit-status") }
        #expect(Self.owner(tree.root + "/clients/\(clients[0])/audit-status").uid == accounts[0].user)

        for client in clients {
            let (disabled, output) = SvctlTreeTests.svctl(tree, "disable", client, "--wait", "--timeout", "20")
            #expect(disabled == 0, "\(output)")
            let (removed, removeOutput) = SvctlTreeTests.svctl(tree, "remove", "--purge", client)
            #expect(removed == 0 && removeOutput.contains("removed its user svtree-\(client)"), "\(removeOutput)")
            #expect(ClientUser.lookup("svtree-" + client) == nil, "no user left behind")
        }
        #expect(tree.processes(under: "clients").isEmpty)
    }

    /// Whoever owns the supervised directory may add entries there: what it adds without a
    /// user file runs as it, and a user file naming root is refused, so a tree user that is
    /// not root cannot start anything as root through a root svtree.
    @Test(.enabled(if: isRoot, "not run: a root svtree over another user's directory needs root"))
    func aTreeOwnedByAUserRunsItsEntriesAsThatUser() throws {
        let tree = try TreeFixture("treeowner")
        let nobody = try #require(ClientUser.lookup("nobody"))
        tree.service("enabled/plain", logger: nil)
        tree.service("enabled/asroot", logger: nil)
        tree.write("enabled/asroot/user", "root\n")
        lchown(tree.root + "/enabled", nobody.user, nobody.group)
        chmod(tree.root, 0o755)
        try tree.startSvtree("enabled")
        try tree.waitFor("plain running") { tree.isRunning("enabled/plain") }
        #expect(Self.credentials(try #require(tree.supervisedPid("enabled/plain"))).uid.hasPrefix("\(nobody.user) "))
        try tree.waitFor("the line refusing asroot's user file") {
            tree.read("svtree.err").contains("asroot/user: names root, but the tree's directory belongs to uid \(nobody.user)")
        }
        #expect(!tree.isRunning("enabled/asroot"))
    }

    /// svctl as root gives a client's key to the user its `user` file names only when svtree
    /// would trust that file: one the client's group wrote into its (group-writable) directory
    /// must not get it the key, for itself or for another client's user.
    @Test(.enabled(if: isRoot, "not run: files owned by another user need root"))
    func theKeyGoesOnlyToTheUserOfATrustedUserFile() throws {
        let tree = try SvctlTreeTests.tree("keyowner")
        let nobody = try #require(ClientUser.lookup("nobody"))
        let (added, output) = SvctlTreeTests.svctl(tree, "add", "--no-user", "erin")
        try #require(added == 0, "\(output)")
        tree.write("password", BackupEndToEndTests.password + "\n")
        let key = tree.root + "/clients/erin/repository-password"
        for trusted in [false, true] {
            tree.write("clients/erin/user", "nobody\n")
            lchown(tree.root + "/clients/erin/user", trusted ? 0 : nobody.user, nobody.group)
            let (stored, storedOutput) = SvctlTreeTests.svctl(tree, "key", "erin", "--password-file", tree.root + "/password")
            #expect(stored == 0, "\(storedOutput)")
            let (owner, mode) = Self.owner(key)
            #expect(owner == (trusted ? nobody.user : 0) && mode == 0o600,
                    "user file owned by \(trusted ? "root" : "nobody"): key owned by uid \(owner), mode \(String(mode, radix: 8))")
            tree.remove("clients/erin/user")
        }
    }

    @Test(.enabled(if: isRoot, "not run: becoming an ordinary user (setpriv) needs root"))
    func anOrdinaryUserGetsOneLineAndATreeOfItsOwn() throws {
        let tree = try SvctlTreeTests.tree("nouser")
        let nobody = try #require(ClientUser.lookup("nobody"))
        tree.client("alice")
        // A service whose user file names a third user: this svtree cannot become it, and says so.
        tree.service("enabled/other", logger: nil)
        _ = TreeFixture.run("/bin/chown", ["-R", "\(nobody.user):\(nobody.group)", tree.root])
        tree.write("enabled/other/user", "daemon\n")
        chmod(tree.root, 0o755)
        let asNobody = ["/usr/bin/setpriv", "--reuid=\(nobody.user)", "--regid=\(nobody.group)", "--clear-groups"]
        let (added, output) = tree.run(asNobody[0], Array(asNobody.dropFirst()) + [TreeFixture.buildDirectory + "/svctl", "add", "carol"],
                                       environment: SvctlTreeTests.environment(tree))
        #expect(added == 0, "\(output)")
        #expect(output.lines().filter { $0.contains("no user of its own") }
            == ["not run as root: no user of its own for carol; it runs as uid \(nobody.user), as the tree does"], "\(output)")
        #expect(Self.owner(tree.root + "/clients/carol").uid == nobody.user)

        tree.symlink(tree.root + "/clients/alice", "enabled/alice")
        try tree.startSvtree("enabled", wrapper: asNobody)
        do {
            try tree.waitFor("alice's services") { tree.isRunning("clients/alice/services/storage") }
        } catch {
            Issue.record("svtree's stderr: \(tree.read("svtree.err"))")
            throw error
        }
        for unit in ["clients/alice", "clients/alice/services/storage"] {
            let pid = try #require(tree.supervisedPid(unit))
            #expect(Self.credentials(pid).uid.hasPrefix("\(nobody.user) "), "\(unit) runs as the tree's user")
        }
        try tree.waitFor("the line about the third user's service") {
            tree.read("svtree.err").contains("other: cannot start run (Permission denied): \(tree.root)/enabled/other/user: svtree (uid \(nobody.user)) cannot run it as daemon")
        }
        #expect(!tree.isRunning("enabled/other"))
        #expect(tree.read("svtree.err").components("cannot run it as daemon") == 1, "said once: \(tree.read("svtree.err"))")
    }
}
