import Glibc
@testable import SvSystem
import Testing

/// Broken entries get one clear line naming them, are retried when they change (not in a
/// loop), and never stop the rest of the tree.
@Suite(.serialized, .timeLimit(.minutes(10))) struct BadEntryTests {
    private func warnings(_ tree: TreeFixture, mentioning name: String) -> [String] {
        tree.read("svtree.err").lines().filter { $0.contains(name) }
    }

    @Test func brokenEntriesAreReportedOnceAndStartedWhenFixed() throws {
        let tree = try TreeFixture("bad")
        tree.makeDirectories(tree.root + "/dir")
        tree.service("dir/good", logger: nil)
        tree.symlink(tree.root + "/nowhere/target", "dir/dangling")
        tree.makeDirectories(tree.root + "/dir/norun")
        tree.write("dir/notexec/run", "#!/bin/sh\nexec sleep 3600\n", executable: false)
        tree.makeDirectories(tree.root + "/dir/rundir/run")
        tree.write("dir/notadir", "just a file\n")
        tree.service("dir/.hidden", logger: nil)
        tree.service("dir/badlog", logger: nil)
        tree.makeDirectories(tree.root + "/dir/badlog/log")
        try tree.startSvtree("dir")
        try tree.waitFor("good to run and every broken entry reported") {
            tree.isRunning("dir/good") && ["dangling", "norun", "notexec", "rundir", "notadir", "badlog/log"]
                .allSatisfy { !warnings(tree, mentioning: "/dir/\($0):").isEmpty }
        }
        #expect(warnings(tree, mentioning: "dangling symlink").count == 1)
        #expect(warnings(tree, mentioning: "/dir/norun: no run file").count == 1)
        #expect(warnings(tree, mentioning: "/dir/notexec: run is not executable").count == 1)
        #expect(warnings(tree, mentioning: "/dir/rundir: run is a directory").count == 1)
        #expect(warnings(tree, mentioning: "/dir/notadir: not a directory").count == 1)
        #expect(warnings(tree, mentioning: ".hidden").isEmpty)
        #expect(!FileSystem.exists(tree.root + "/dir/.hidden/supervise"))

        // Unrelated changes to the directory cause rescans; nothing is said again.
        for i in 0..<5 { tree.write("dir/.noise\(i)", "x") }
        tree.service("dir/other", logger: nil)
        try tree.waitFor("other to run") { tree.isRunning("dir/other") }
        #expect(warnings(tree, mentioning: "/dir/norun:").count == 1)

        // Fixes are noticed through inotify on the broken entries themselves.
        tree.write("dir/norun/run", "#!/bin/sh\nexec sleep 3600\n", executable: true)
        _ = chmod(tree.root + "/dir/notexec/run", 0o755)
        tree.write("dir/badlog/log/run", "#!/bin/sh\nexec cat > /dev/null\n", executable: true)
        tree.service("nowhere/target", logger: nil)
        try tree.waitFor("every fixed entry to run") {
            ["norun", "notexec", "badlog", "badlog/log", "dangling"].allSatisfy { tree.isRunning("dir/\($0)") }
        }
        #expect(tree.isRunning("dir/good"))
    }

    @Test func namesWithSpacesAndTwoHundredEntriesAtOnce() throws {
        let tree = try TreeFixture("many")
        tree.makeDirectories(tree.root + "/dir")
        try tree.startSvtree("dir")
        // Entries are built aside and moved in whole, so that svtree never sees one half made.
        tree.service("staging/a name with spaces", logger: "exec cat >> ./current")
        rename(tree.root + "/staging/a name with spaces", tree.root + "/dir/a name with spaces")
        try tree.waitFor("the spaced name to run") { tree.isRunning("dir/a name with spaces") }
        // 200 entries appear in one burst of events.
        for i in 0..<200 { tree.service("staging/s\(i)", logger: nil) }
        for i in 0..<200 { rename(tree.root + "/staging/s\(i)", tree.root + "/dir/s\(i)") }
        try tree.waitFor("200 services to run", seconds: 30) {
            (0..<200).allSatisfy { tree.isRunning("dir/s\($0)") }
        }
        #expect(tree.processes(under: "dir").count == 202)
        for i in 0..<200 { _ = tree.run("/bin/rm", ["-rf", tree.root + "/dir/s\(i)"]) }
        try tree.waitFor("only the spaced entry left", seconds: 30) {
            tree.processes(under: "dir").count == 2
        }
        #expect(tree.read("svtree.err").isEmpty, "stderr: \(tree.read("svtree.err"))")
    }

    @Test func garbageOnControlHarmsNothing() throws {
        let tree = try TreeFixture("garbage")
        tree.service("dir/svc")
        try tree.startSvtree("dir")
        try tree.waitFor("svc to run") { tree.isRunning("dir/svc") && tree.isRunning("dir/svc/log") }
        let pid = tree.supervisedPid("dir/svc")
        let logPid = tree.supervisedPid("dir/svc/log")
        for control in ["dir/svc/supervise/control", "dir/svc/log/supervise/control"] {
            let fd = open(tree.root + "/" + control, O_WRONLY | O_NONBLOCK)
            #expect(fd >= 0)
            var garbage: [UInt8] = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) }
            garbage.removeAll { "udoxtkpchaiq12".utf8.contains($0) }
            try? FileSystem.writeAll(fd, garbage)
            close(fd)
        }
        // Compared once svtree has read the garbage, not before.
        try tree.waitControlRead("dir/svc", "svtree to read the garbage")
        try tree.waitControlRead("dir/svc/log", "svtree to read the logger's garbage")
        #expect(tree.supervisedPid("dir/svc") == pid)
        #expect(tree.supervisedPid("dir/svc/log") == logPid)
        // Letters after the garbage are still obeyed; the logger was never touched.
        let (down, _) = tree.run("/usr/bin/sv", ["-w", "5", "down", tree.root + "/dir/svc"])
        #expect(down == 0)
        // stat is written after status (which sv reads): wait for it rather than race it.
        try tree.waitFor("stat to say down") { tree.read("dir/svc/supervise/stat") == "down\n" }
        let (up, _) = tree.run("/usr/bin/sv", ["-w", "5", "up", tree.root + "/dir/svc"])
        #expect(up == 0)
        #expect(tree.isRunning("dir/svc"))
        #expect(tree.supervisedPid("dir/svc/log") == logPid)
    }

    @Test func lockedByAnotherSupervisorIsReportedAndTakenOverWhenFreed() throws {
        let tree = try TreeFixture("locked")
        tree.service("dir/svc", logger: nil)
        let first = try tree.startSvtree("dir", stderrFile: "first.err")
        try tree.waitFor("svc to run") { tree.isRunning("dir/svc") }
        tree.makeDirectories(tree.root + "/dir2")
        tree.symlink(tree.root + "/dir/svc", "dir2/svc")
        try tree.startSvtree("dir2")
        try tree.waitFor("the lock conflict reported") {
            tree.read("svtree.err").contains("dir2/svc: ") && tree.read("svtree.err").contains("is locked")
        }
        let pid = tree.supervisedPid("dir/svc")
        kill(first, SIGTERM)
        #expect(try tree.waitExit(first) == 0)
        try tree.waitFor("the second svtree to take the service over") {
            tree.isRunning("dir/svc") && tree.supervisedPid("dir/svc") != pid
        }
        #expect(tree.read("svtree.err").lines().count == 1)
    }
}
