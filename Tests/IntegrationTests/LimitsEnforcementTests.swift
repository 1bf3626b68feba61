import Glibc
import SvFormats
import SvSystem
@testable import SvtreeDaemon
import Testing

/// A client's limits enforced by the kernel: an allocation past `memory.max` is OOM-killed in
/// that client only, a fork bomb stops at `pids.max`, and the other client runs on. They need
/// the memory and pids controllers in the cgroup v2 hierarchy svtree runs in (`Delegate=yes`
/// on a full cgroup v2 host); where they are missing (a hybrid host: this one has only hugetlb
/// there) each test says in the output that it did not run, and why.
@Suite(.serialized, .timeLimit(.minutes(10))) struct LimitsEnforcementTests {
    /// The controllers of the cgroup this process runs in.
    static let controllers: Set<String> = {
        guard let mount = CgroupTree.cgroup2Mount(), let own = CgroupTree.ownPath() else { return [] }
        let text = FileSystem.readLine(mount + (own == "/" ? "" : own) + "/cgroup.controllers") ?? ""
        return Set(text.split(separator: " ").map(String.init))
    }()
    static let why = "not run: the cgroup v2 hierarchy here has no memory and pids controllers "
        + "(controllers: \(controllers.isEmpty ? "none" : controllers.sorted().joined(separator: " "))); run on a full cgroup v2 host"

    /// Two clients; alice also runs `hog` with `limits`, bob nothing special.
    static func tree(_ name: String, limits: String, hog: String) throws -> TreeFixture {
        let tree = try TreeFixture(name)
        tree.client("alice")
        tree.client("bob")
        tree.write("clients/alice/limits", limits)
        tree.write("clients/alice/services/hog/run", "#!/bin/sh\nexec 2>&1\n\(hog)\n", executable: true)
        tree.symlink(tree.root + "/clients/alice", "enabled/alice")
        tree.symlink(tree.root + "/clients/bob", "enabled/bob")
        try tree.startSvtree("enabled")
        try tree.waitFor("both clients' services") {
            ["alice", "bob"].allSatisfy { tree.isRunning("clients/\($0)/services/storage") }
        }
        return tree
    }

    @Test(.enabled(if: controllers.isSuperset(of: ["memory", "pids"]), Comment(rawValue: why)))
    func anAllocationPastMemoryMaxIsKilledInItsClientOnly() throws {
        let tree = try Self.tree("oom", limits: "memory.max 64M\n",
                                 hog: "exec python3 -c 'import time; x = bytearray(256 << 20); time.sleep(600)'")
        let bobStorage = try #require(tree.supervisedPid("clients/bob/services/storage"))
        try tree.waitFor("the OOM kill in svctl status", seconds: 30) {
            SvctlTreeTests.svctl(tree, "status", "alice").1.contains("problem    OOM kill in the client's cgroup")
        }
        #expect(tree.read("svtree.err").contains("alice: OOM kill in its cgroup"))
        #expect(tree.supervisedPid("clients/bob/services/storage") == bobStorage, "bob untouched")
        let (code, bob) = SvctlTreeTests.svctl(tree, "status", "bob")
        #expect(!bob.contains("OOM"), "\(code) \(bob)")
    }

    @Test(.enabled(if: controllers.isSuperset(of: ["memory", "pids"]), Comment(rawValue: why)))
    func aForkBombStopsAtPidsMaxAndTheOthersRunOn() throws {
        let tree = try Self.tree("forkbomb", limits: "pids.max 200\n",
                                 hog: "while :; do sleep 600 & done")
        let record = SupervisorRecord(parsing: tree.read("clients/alice/supervise/svtree"))
        let entry = FileSystem.parentDirectory(try #require(record.cgroup))
        try tree.waitFor("alice at her pids.max") { FileSystem.readLine(entry + "/pids.current") == "200" }
        // Bob can still fork: his storage, killed, is started again.
        let bobStorage = try #require(tree.supervisedPid("clients/bob/services/storage"))
        kill(bobStorage, SIGKILL)
        _ = try tree.waitForNewPid("clients/bob/services/storage", other: bobStorage, "bob's storage started again")
        #expect(Int(FileSystem.readLine(entry + "/pids.current") ?? "") ?? 999 <= 200)
    }
}
