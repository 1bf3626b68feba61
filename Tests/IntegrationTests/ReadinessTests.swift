import Glibc
import SvBase
import SvSystem
import Testing

/// s6's readiness protocol under svtree: `notification-fd`, the newline, what `supervise/svtree`
/// and svctl make of it, and snapwatch's `--ready-fd`.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ReadinessTests {
    let web = "clients/alice/services/web"

    /// A client whose `web` service says it is ready only after a line arrives on its `gate` FIFO.
    private func gatedClient() throws -> TreeFixture {
        let tree = try SvctlTreeTests.tree("ready")
        tree.write("clients/alice/run", "#!/bin/sh\nexec \(TreeFixture.svtreeBinary) services\n", executable: true)
        tree.write(web + "/run", """
            #!/bin/sh
            exec 2>&1
            echo "starting $$"
            read line < ./gate
            echo >&3
            exec sleep 3600
            """, executable: true)
        tree.write(web + "/notification-fd", "3\n")
        tree.write(web + "/log/run", "#!/bin/sh\nexec cat >> ./current\n", executable: true)
        #expect(mkfifo(tree.root + "/" + web + "/gate", 0o600) == 0)
        // A service without the file: nothing appears at its descriptor 3.
        tree.service("clients/alice/services/plain")
        try tree.startSvtree("enabled", environment: SvctlTreeTests.environment(tree))
        tree.symlink(tree.root + "/clients/alice", "enabled/alice")
        try tree.waitFor("web and plain running") { tree.isRunning(web) && tree.isRunning("clients/alice/services/plain") }
        return tree
    }

    /// Opens the gate for one run: a writer that blocks until the run reads.
    private func openGate(_ tree: TreeFixture) throws {
        try tree.start(["/bin/sh", "-c", "echo go > " + tree.root + "/" + web + "/gate"],
                       stdoutFile: "gate.out", stderrFile: "gate.err")
    }

    @Test func newlineOnTheDescriptorMakesTheRunReady() throws {
        let tree = try gatedClient()
        #expect(tree.read(web + "/supervise/svtree").contains("notification_fd 3\n"))
        #expect(!tree.read(web + "/supervise/svtree").contains("ready_since_ns"))
        let (waiting, waitingOutput) = SvctlTreeTests.svctl(tree, "status", "alice")
        #expect(waiting == 1, "\(waitingOutput)")
        #expect(waitingOutput.contains("not ready")
                && waitingOutput.contains("web: up but not ready (nothing written to notification-fd 3 yet)"),
                "\(waitingOutput)")
        // -w waits for readiness, not just for the process.
        let (timedOut, timedOutput) = SvctlTreeTests.svctl(tree, "up", "alice/web", "-w", "0.5")
        #expect(timedOut == 1 && timedOutput.contains("timed out"), "\(timedOutput)")

        let before = EventLoop.wallNow
        try openGate(tree)
        try tree.waitFor("ready_since_ns in supervise/svtree") {
            tree.read(web + "/supervise/svtree").contains("ready_since_ns ")
        }
        let readyLine = tree.read(web + "/supervise/svtree").lines().first { $0.hasPrefix("ready_since_ns ") } ?? ""
        let readySince = Int64(readyLine.split(separator: " ").last ?? "") ?? 0
        #expect(readySince >= before.unixNanos - nanosPerSecond && readySince <= EventLoop.wallNow.unixNanos, "\(readyLine)")
        let (ready, readyOutput) = SvctlTreeTests.svctl(tree, "status", "alice")
        #expect(ready == 0 && readyOutput.contains(", ready"), "\(readyOutput)")
        let (json, jsonOutput) = SvctlTreeTests.svctl(tree, "status", "alice", "--json")
        #expect(json == 0 && jsonOutput.contains("\"ready\": true") && jsonOutput.contains("\"ready_since\": "),
                "\(jsonOutput)")

        // The descriptor is the run's alone: not the logger's, not another service's.
        let plain = try #require(tree.supervisedPid("clients/alice/services/plain"))
        let logger = try #require(tree.supervisedPid(web + "/log"))
        #expect(FileSystem.readLink("/proc/\(plain)/fd/3") == nil)
        #expect(FileSystem.readLink("/proc/\(logger)/fd/3") == nil)
        let service = try #require(tree.supervisedPid(web))
        #expect(FileSystem.readLink("/proc/\(service)/fd/3")?.hasPrefix("pipe:") == true)

        // A new run starts not ready; restart -w returns once it has said so.
        try openGate(tree)
        let (restarted, restartOutput) = SvctlTreeTests.svctl(tree, "restart", "alice/web", "-w", "10")
        #expect(restarted == 0 && restartOutput.contains("ready"), "\(restartOutput)")
        #expect(tree.supervisedPid(web) != service)
        #expect(tree.read(web + "/supervise/svtree").contains("ready_since_ns "))
        // A run killed before its newline: the next one is not ready.
        let readyRun = try #require(tree.supervisedPid(web))
        kill(readyRun, SIGKILL)
        _ = try tree.waitForNewPid(web, other: readyRun, "web restarted after SIGKILL")
        try tree.waitFor("the new run not ready") { !tree.read(web + "/supervise/svtree").contains("ready_since_ns") }
        let (again, againOutput) = SvctlTreeTests.svctl(tree, "status", "alice")
        #expect(again == 1 && againOutput.contains("not ready"), "\(againOutput)")
    }

    /// Both spawn paths (clone3 into a cgroup, posix_spawn in session mode) map the descriptor;
    /// a high number, and the newline written after other bytes, count too.
    @Test(arguments: ["cgroup", "session"]) func descriptorReachesTheRunInEitherMode(_ mode: String) throws {
        let tree = try TreeFixture("readymode")
        tree.write("services/a/run", """
            #!/bin/sh
            printf 'starting, ' >&9
            echo ready >&9
            exec sleep 3600
            """, executable: true)
        tree.write("services/a/notification-fd", "9\n")
        try tree.startSvtree("services", environment: mode == "session" ? ["SVTREE_CGROUPS": "off"] : [:])
        try tree.waitFor("a ready in \(mode) mode") { tree.read("services/a/supervise/svtree").contains("ready_since_ns ") }
        // The mode is the one asked for (this machine's unified hierarchy is writable).
        #expect(tree.read("services/a/supervise/svtree").contains("\ncgroup ") == (mode == "cgroup"))
    }

    @Test func badNumberIsNamedAndTheServiceRunsWithoutReadiness() throws {
        let tree = try TreeFixture("badready")
        tree.service("services/a")
        tree.write("services/a/notification-fd", "1\n")
        tree.service("services/b")
        tree.write("services/b/notification-fd", "three\n")
        try tree.startSvtree("services")
        try tree.waitFor("both running") { tree.isRunning("services/a") && tree.isRunning("services/b") }
        let errors = tree.read("svtree.err")
        #expect(errors.contains("services/a/notification-fd: not a descriptor number from 3 to 1023: \"1\": readiness not tracked"),
                "\(errors)")
        #expect(errors.contains("services/b/notification-fd: not a descriptor number from 3 to 1023: \"three\""), "\(errors)")
        #expect(!tree.read("services/a/supervise/svtree").contains("notification_fd"))
    }

    @Test func snapwatchSaysItIsWatchingEvenBeforeResticInit() throws {
        let tree = try TreeFixture("snapready")
        tree.write("services/snapwatch/run", """
            #!/bin/sh
            exec 2>&1
            exec \(TreeFixture.buildDirectory)/snapwatch --repo \(tree.root)/repo --hook /bin/true --state ./state --ready-fd 3
            """, executable: true)
        tree.write("services/snapwatch/notification-fd", "3\n")
        tree.write("services/late/run", """
            #!/bin/sh
            exec 2>&1
            exec \(TreeFixture.buildDirectory)/snapwatch --repo \(tree.root)/repo --hook /bin/true --state ./state --ready-fd 4
            """, executable: true)
        try tree.startSvtree("services")
        try tree.waitFor("snapwatch ready") { tree.read("services/snapwatch/supervise/svtree").contains("ready_since_ns ") }
        // Without notification-fd in its directory the descriptor is not there: one clear line.
        try tree.waitFor("the warning about descriptor 4") {
            tree.read("svtree.out").contains(
                "--ready-fd 4: no such descriptor (Bad file descriptor): is notification-fd 4 in the service directory?"
                    + " Not announcing readiness")
        }
        #expect(tree.isRunning("services/late"))
    }
}
