import Glibc
import SvSystem
import SvctlKit
import Testing

/// svctl against a running root svtree: add (real rclone storage, real htpasswd), enable,
/// control, status exit codes, disable with nothing left, and refusals.
@Suite(.serialized, .timeLimit(.minutes(10))) struct SvctlTreeTests {
    static let repository = FileSystem.parentDirectory(FileSystem.parentDirectory(FileSystem.parentDirectory(#filePath)))

    /// A tree with enabled/ and clients/; `svctl add` uses the repository's templates.
    static func tree(_ name: String) throws -> TreeFixture {
        let tree = try TreeFixture(name)
        tree.makeDirectories(tree.root + "/enabled")
        tree.makeDirectories(tree.root + "/clients")
        return tree
    }

    static func environment(_ tree: TreeFixture) -> [String: String] {
        ["SVTREE_ROOT": tree.root + "/enabled", "SVTREE_TEMPLATES": repository + "/service-templates",
         "PATH": TreeFixture.buildDirectory + ":/usr/local/bin:/usr/bin:/bin", "HOME": tree.root]
    }

    static func svctl(_ tree: TreeFixture, _ arguments: String...) -> (Int32, String) {
        tree.run(TreeFixture.buildDirectory + "/svctl", arguments, environment: environment(tree))
    }

    @Test func addWritesTheClientsLimits() throws {
        let tree = try Self.tree("svctl-limits")
        let (added, output) = Self.svctl(tree, "add", "--no-user", "bob", "--memory-max", "1G", "--pids-max", "256")
        #expect(added == 0, "\(output)")
        #expect(tree.read("clients/bob/limits").lines().filter { !$0.hasPrefix("#") } == ["memory.max 1G", "pids.max 256"])
        let (bad, badOutput) = Self.svctl(tree, "add", "--no-user", "carol", "--memory-max", "lots")
        #expect(bad == 1 && badOutput.contains("bad --memory-max \"lots\""), "\(badOutput)")
        #expect(!FileSystem.exists(tree.root + "/clients/carol"))
    }

    @Test func addEnableControlDisable() throws {
        let tree = try Self.tree("svctl")
        try tree.startSvtree("enabled", environment: Self.environment(tree))

        let (added, addOutput) = Self.svctl(tree, "add", "--no-user", "alice", "--replica", tree.root + "/replica")
        #expect(added == 0, "\(addOutput)")
        let export = addOutput.lines().first { $0.contains("RESTIC_REPOSITORY=rest:http://alice:") }
        #expect(export != nil, "\(addOutput)")
        var htpasswd = stat()
        stat(tree.root + "/clients/alice/services/storage/htpasswd", &htpasswd)
        #expect(htpasswd.st_mode & 0o777 == 0o600)
        let port = tree.read("clients/alice/port").trimmingCharacters()
        #expect(Int(port) != nil)
        #expect(tree.read("clients/alice/services/storage/run").contains("--addr 127.0.0.1:\(port)"))
        #expect(!tree.read("clients/alice/services/storage/htpasswd").contains(
            String(export?.split(separator: ":")[3].split(separator: "@")[0] ?? "none")), "password stored in clear")

        let (again, againOutput) = Self.svctl(tree, "add", "--no-user", "alice")
        #expect(again == 1 && againOutput.contains("client alice already exists"), "\(againOutput)")
        let (clash, clashOutput) = Self.svctl(tree, "add", "--no-user", "bob", "--port", port)
        #expect(clash == 1 && clashOutput.contains("port \(port) is already used by client alice"), "\(clashOutput)")
        #expect(!FileSystem.exists(tree.root + "/clients/bob"))

        let (enabled, enableOutput) = Self.svctl(tree, "enable", "alice", "-w", "10")
        #expect(enabled == 0, "\(enableOutput)")
        let (ok, okOutput) = Self.svctl(tree, "status")
        #expect(ok == 0 && okOutput.hasPrefix("alice  ok"), "\(okOutput)")

        // The storage server answers with the printed credentials: restic init through it.
        if let export {
            let url = String(export.split(separator: "=", maxSplits: 1)[1])
            let (initCode, initOutput) = tree.run("/usr/bin/restic", ["init"], environment: [
                "RESTIC_REPOSITORY": url, "RESTIC_PASSWORD": "repository password", "HOME": tree.root])
            #expect(initCode == 0, "\(initOutput)")
            #expect(FileSystem.exists(tree.root + "/data/alice/config"))
        }

        let (down, downOutput) = Self.svctl(tree, "down", "alice/storage", "-w", "10")
        #expect(down == 0, "\(downOutput)")
        let (critical, criticalOutput) = Self.svctl(tree, "status", "alice")
        #expect(critical == 2 && criticalOutput.contains("storage: down (normally up)"), "\(criticalOutput)")
        let (json, jsonOutput) = Self.svctl(tree, "status", "--json", "alice")
        #expect(json == 2 && jsonOutput.contains("\"health\": \"critical\""), "\(jsonOutput)")

        let (up, upOutput) = Self.svctl(tree, "up", "alice", "-w", "10")
        #expect(up == 0, "\(upOutput)")
        let oldPid = tree.supervisedPid("clients/alice/services/storage")
        let (restarted, restartOutput) = Self.svctl(tree, "restart", "alice/storage", "-w", "10")
        #expect(restarted == 0, "\(restartOutput)")
        #expect(tree.supervisedPid("clients/alice/services/storage") != oldPid)
        let (detailed, detail) = Self.svctl(tree, "status", "alice")
        #expect(detailed == 0 && detail.contains("), ready; log up"), "storage's ./check passes: \(detail)")
        // The template's audit job: scheduled from day one, not run yet (a cron-style job never
        // run waits for its first due time), no problem.
        #expect(detail.contains("job @daily: never run, next in "), "\(detail)")

        let (listed, listOutput) = Self.svctl(tree, "list")
        #expect(listed == 0 && listOutput.contains("alice  enabled  port \(port)"), "\(listOutput)")
        let (logs, logsOutput) = Self.svctl(tree, "logs", "alice/snapwatch")
        #expect(logs == 0 && logsOutput.contains("snapwatch: watching \(tree.root)/data/alice/snapshots"), "\(logsOutput)")

        let (refused, refusedOutput) = Self.svctl(tree, "remove", "alice")
        #expect(refused == 1 && refusedOutput.contains("svctl disable alice first"), "\(refusedOutput)")
        let (disabled, disableOutput) = Self.svctl(tree, "disable", "alice", "--wait", "--timeout", "20")
        #expect(disabled == 0, "\(disableOutput)")
        #expect(tree.processes(under: "clients").isEmpty)
        let (removed, removeOutput) = Self.svctl(tree, "remove", "alice")
        #expect(removed == 0 && removeOutput.contains("kept its repository"), "\(removeOutput)")
        #expect(FileSystem.exists(tree.root + "/data/alice/config"))
        #expect(!FileSystem.exists(tree.root + "/clients/alice"))
    }

    @Test func unknownClientsAndBadNames() throws {
        let tree = try Self.tree("svctl-bad")
        #expect(Self.svctl(tree, "status", "nobody").0 == 3)
        #expect(Self.svctl(tree, "up", "nobody").0 == 3)
        #expect(Self.svctl(tree, "enable", "nobody").0 == 3)
        for bad in ["../x", "/abs", "", ".hidden", "a b", "x/../../etc"] {
            for command in ["status", "add", "enable", "disable", "logs", "up", "remove"] {
                let (code, output) = Self.svctl(tree, command, bad)
                #expect(code != 0, "svctl \(command) \(bad) accepted")
                #expect(output.contains(Names.rule), "svctl \(command) \(bad): \(output)")
            }
        }
        #expect(TreeLayout.entries(tree.root + "/clients").isEmpty)
    }

    @Test func busyPortIsNotChosenAndNotAccepted() throws {
        let tree = try Self.tree("svctl-port")
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var busy = 0
        for candidate in ClientPorts.firstPort..<ClientPorts.firstPort + 50 {
            sin.sin_port = in_port_t(UInt16(candidate).bigEndian)
            let bound = withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0 { busy = candidate; break }
        }
        try #require(busy != 0 && listen(fd, 1) == 0)
        let (code, output) = Self.svctl(tree, "add", "--no-user", "carol", "--port", String(busy))
        #expect(code == 1 && output.contains("port \(busy) is busy"), "\(output)")
        let (added, addOutput) = Self.svctl(tree, "add", "--no-user", "carol")
        #expect(added == 0, "\(addOutput)")
        #expect(tree.read("clients/carol/port").trimmingCharacters() != String(busy))
    }
}
