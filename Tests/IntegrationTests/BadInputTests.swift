import Glibc
import SvSystem
import SvctlKit
import Testing

/// The bad-input corpus: each broken thing gets one clear line naming it, and the tree keeps
/// running (a canary service keeps its pid). Counted in the closing note of the reliability issue.
@Suite(.serialized, .timeLimit(.minutes(10))) struct BadInputTests {
    struct Case: Sendable {
        var name: String
        var expected: String
        var make: @Sendable (TreeFixture, String) -> Void
    }

    static let longName = String(repeating: "n", count: 250)

    /// Broken service directories, each under `dir/<name>`; `expected` is in its one warning line.
    static let entries: [Case] = [
        Case(name: "dangling", expected: "dangling symlink to") { t, p in t.symlink(t.root + "/nowhere", p) },
        Case(name: "looped", expected: "symlink loop through") { t, p in
            t.symlink(t.root + "/dir/looped2", p)
            t.symlink(t.root + "/dir/looped", "dir/looped2")
        },
        Case(name: "selfloop", expected: "symlink loop through") { t, p in t.symlink(t.root + "/dir/selfloop", p) },
        Case(name: "norun", expected: "no run file") { t, p in t.makeDirectories(t.root + "/" + p) },
        Case(name: "notexec", expected: "run is not executable") { t, p in t.write(p + "/run", "#!/bin/sh\n") },
        Case(name: "rundir", expected: "run is a directory") { t, p in t.makeDirectories(t.root + "/" + p + "/run") },
        Case(name: "plainfile", expected: "not a directory") { t, p in t.write(p, "x") },
        Case(name: "fifo", expected: "not a directory") { t, p in mkfifo(t.root + "/" + p, 0o600) },
        Case(name: "devnull", expected: "not a directory") { t, p in t.symlink("/dev/null", p) },
        Case(name: "rundangling", expected: "no run file") { t, p in
            t.makeDirectories(t.root + "/" + p)
            t.symlink(t.root + "/nowhere/run", p + "/run")
        },
        Case(name: "runtodir", expected: "run is a directory") { t, p in
            t.makeDirectories(t.root + "/" + p)
            t.symlink("/tmp", p + "/run")
        },
        Case(name: "lognorun", expected: "/log: no run file") { t, p in
            t.service(p, logger: nil)
            t.makeDirectories(t.root + "/" + p + "/log")
        },
        Case(name: "lognotexec", expected: "/log: run is not executable") { t, p in
            t.service(p, logger: nil)
            t.write(p + "/log/run", "#!/bin/sh\nexec cat\n")
        },
        Case(name: "logrundir", expected: "/log: run is a directory") { t, p in
            t.service(p, logger: nil)
            t.makeDirectories(t.root + "/" + p + "/log/run")
        },
        Case(name: "badshebang", expected: "cannot start run (No such file or directory): check its #! line") { t, p in
            t.write(p + "/run", "#!/nonexistent/interpreter\n", executable: true)
        },
        Case(name: "emptyrun", expected: "check its #! line") { t, p in t.write(p + "/run", "", executable: true) },
        Case(name: "binaryrun", expected: "check its #! line") { t, p in
            t.write(p + "/run", String(decoding: [0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3], as: UTF8.self), executable: true)
        },
        Case(name: "supervisefile", expected: "supervise is not a directory: remove it") { t, p in
            t.service(p, logger: nil)
            t.write(p + "/supervise", "not a directory")
        },
        Case(name: "supervisedangling", expected: "supervise") { t, p in
            t.service(p, logger: nil)
            t.symlink(t.root + "/nowhere/at/all/supervise", p + "/supervise")
        },
        Case(name: "controlfile", expected: "supervise/control exists and is not a FIFO: remove it") { t, p in
            t.service(p, logger: nil)
            t.write(p + "/supervise/control", "a regular file")
        },
        Case(name: "lockdir", expected: "supervise/lock") { t, p in
            t.service(p, logger: nil)
            t.makeDirectories(t.root + "/" + p + "/supervise/lock")
        },
        Case(name: "okdir", expected: "supervise/ok exists and is not a FIFO: remove it") { t, p in
            t.service(p, logger: nil)
            t.makeDirectories(t.root + "/" + p + "/supervise/ok")
        },
        Case(name: "logsupervisefile", expected: "log/supervise is not a directory: remove it") { t, p in
            t.service(p)
            t.write(p + "/log/supervise", "not a directory")
        },
        Case(name: "downsignal", expected: "down-signal: unknown signal \"SIGNOPE\"") { t, p in
            t.service(p, logger: nil)
            t.write(p + "/down-signal", "SIGNOPE\n")
        },
        Case(name: "timeoutkill", expected: "timeout-kill: not a number of milliseconds") { t, p in
            t.service(p, logger: nil)
            t.write(p + "/timeout-kill", "soon\n")
        },
        Case(name: "timeoutfinish", expected: "timeout-finish: not a number of milliseconds") { t, p in
            t.service(p, logger: nil)
            t.write(p + "/timeout-finish", "-5\n")
        },
        Case(name: "newline\nname", expected: "newline\\x0aname: no run file") { t, p in t.makeDirectories(t.root + "/" + p) },
        Case(name: "tab\tname", expected: "tab\\x09name: no run file") { t, p in t.makeDirectories(t.root + "/" + p) },
        Case(name: "escape\u{1b}[31mred", expected: "escape\\x1b[31mred: no run file") { t, p in t.makeDirectories(t.root + "/" + p) },
        Case(name: longName, expected: longName + ": no run file") { t, p in t.makeDirectories(t.root + "/" + p) },
    ]

    /// One svtree over every broken entry at once, plus a canary; then garbage on the canary's
    /// control FIFO. Each warning is one line and appears once; the canary keeps its pid.
    @Test func brokenEntriesAndControlGarbage() throws {
        let tree = try TreeFixture("corpus")
        tree.makeDirectories(tree.root + "/dir")
        tree.service("dir/canary", logger: nil)
        for entry in Self.entries { entry.make(tree, "dir/" + entry.name) }
        let root = try tree.startSvtree("dir")
        try tree.waitFor("the canary") { tree.isRunning("dir/canary") }
        let canary = tree.supervisedPid("dir/canary")
        for entry in Self.entries {
            let label = entry.name.replacingAll("\n", with: "\\x0a").replacingAll("\t", with: "\\x09")
                .replacingAll("\u{1b}", with: "\\x1b")
            do {
                try tree.waitFor("the warning about \(label)", seconds: 5) {
                    tree.read("svtree.err").lines().contains { $0.contains("/dir/" + label) && $0.contains(entry.expected) }
                }
            } catch {
                Issue.record("\(label): no line with \(entry.expected): \(tree.read("svtree.err").lines().filter { $0.contains(label) })")
            }
        }
        // Every line starts with the program's name: nothing spilled over a line break; and a
        // run that cannot start is said once, not at every retry.
        #expect(tree.read("svtree.err").lines().allSatisfy { $0.hasPrefix("svtree: ") })
        #expect(tree.read("svtree.err").lines().filter { $0.contains("/dir/badshebang:") }.count == 1)

        // Control FIFO garbage: every byte value, then a megabyte of noise; then a real 'd'.
        let control = tree.root + "/dir/canary/supervise/control"
        let fd = open(control, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        try #require(fd >= 0)
        let harmless = (0...255).map(UInt8.init).filter { !"udoxtkpchaiq12".utf8.contains($0) }
        try? FileSystem.writeAll(fd, harmless)
        var noise = [UInt8](repeating: 0, count: 1 << 20)
        for i in noise.indices { noise[i] = harmless[(i * 7919) % harmless.count] }
        var offset = 0
        try tree.waitFor("svtree to read a megabyte of noise from control") {
            let n = noise[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 { offset += n }
            return offset == noise.count
        }
        close(fd)
        try tree.waitFor("the FIFO to be drained") {
            let probe = open(control, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            defer { close(probe) }
            var available: Int32 = 0
            _ = ioctl(probe, UInt(FIONREAD), &available)
            return available == 0
        }
        #expect(tree.supervisedPid("dir/canary") == canary, "garbage on control did something")
        _ = tree.run("/usr/bin/sv", ["down", tree.root + "/dir/canary"])
        try tree.waitFor("the canary to stop on a real d") { tree.status("dir/canary")?.state == .down }
        #expect(tree.stillRunning(root), "svtree died")
    }

    /// svctl: each bad argument refused with a line saying why, and a non-zero exit.
    @Test func svctlRefusesBadArguments() throws {
        let tree = try SvctlTreeTests.tree("corpus-svctl")
        tree.makeDirectories(tree.root + "/enabled/realdir")
        tree.write("enabled/realdir/run", "#!/bin/sh\n", executable: true)
        tree.makeDirectories(tree.root + "/elsewhere/outsider/services/s")
        tree.symlink(tree.root + "/elsewhere/outsider", "enabled/outsider")
        let cases: [([String], Int32, String)] = [
            (["status", "../x"], 3, Names.rule),
            (["status", ""], 3, Names.rule),
            (["status", "nobody"], 3, "no such client"),
            (["status", "--root", "/nonexistent/enabled"], 3, "cannot read the enabled directory /nonexistent/enabled"),
            (["add", "a b"], 1, Names.rule),
            (["add", String(repeating: "x", count: 65)], 1, Names.rule),
            (["add", "new\nline"], 1, Names.rule),
            (["add", "--", "-dash"], 1, Names.rule),
            (["add", "alice", "--port", "0"], 1, "bad port 0"),
            (["add", "alice", "--port", "70000"], 1, "bad port 70000"),
            (["add", "alice", "--port", "abc"], 64, "abc"),
            (["add", "alice", "--template", "nope"], 1, "unknown template \"nope\""),
            (["add", "alice", "--templates", "/nonexistent"], 1, "template /nonexistent/client missing"),
            (["add", "alice", "--clients", "/nonexistent/clients"], 1, "clients directory /nonexistent/clients does not exist"),
            (["up", "alice/../x"], 1, Names.rule),
            (["up", "/abs"], 1, Names.rule),
            (["up", "nobody"], 3, "no such client"),
            (["up", "outsider/s"], 1, "outside the tree"),
            (["up"], 64, "Missing expected argument"),
            (["down", "nobody/storage", "-w", "abc"], 64, "abc"),
            (["enable", "nobody"], 3, "no such client"),
            (["enable", "x", "--root", "/nonexistent/enabled"], 3, "no such client"),
            (["disable", "realdir"], 1, "not a symlink"),
            (["disable", "."], 1, Names.rule),
            (["logs", "nobody"], 3, "no such client"),
            (["logs", "a/b/c"], 1, Names.rule),
            (["audit", "nobody"], 3, "no such client"),
            (["audit", "x", "--cycle", "0"], 1, "bad cycle"),
            (["remove", "nobody"], 3, "no such client"),
            (["frobnicate"], 64, "Unexpected argument"),
        ]
        for (arguments, code, expected) in cases {
            let (got, output) = tree.run(TreeFixture.buildDirectory + "/svctl", arguments,
                                         environment: SvctlTreeTests.environment(tree))
            #expect(got == code && output.contains(expected), "svctl \(arguments): exit \(got): \(output)")
        }
        #expect(TreeLayout.entries(tree.root + "/clients").isEmpty, "nothing was made")
    }
}

/// The tree itself broken: missing, deleted under a running entry, read-only; a logger's
/// config full of garbage.
@Suite(.serialized, .timeLimit(.minutes(10))) struct BrokenTreeTests {
    @Test func missingDirectoryThenCreated() throws {
        let tree = try TreeFixture("missing-dir")
        let root = try tree.startSvtree("enabled")
        try tree.waitFor("the error naming the directory") {
            tree.read("svtree.err").contains("\(tree.root)/enabled: cannot read the directory (No such file or directory)")
        }
        tree.service("staging/svc", logger: nil)
        tree.makeDirectories(tree.root + "/enabled")
        rename(tree.root + "/staging/svc", tree.root + "/enabled/svc")
        try tree.waitFor("the service once the directory exists") { tree.isRunning("enabled/svc") }
        #expect(tree.stillRunning(root))
    }

    @Test func entryDeletedWhileRunning() throws {
        let tree = try TreeFixture("deleted")
        tree.service("dir/doomed")
        tree.service("dir/canary", logger: nil)
        try tree.startSvtree("dir")
        try tree.waitFor("both up") { tree.isRunning("dir/doomed") && tree.isRunning("dir/doomed/log") && tree.isRunning("dir/canary") }
        let canary = tree.supervisedPid("dir/canary")
        let doomed = try #require(FileSystem.realPath(tree.root + "/dir/doomed"))
        #expect(tree.processes(markedUnder: doomed).count == 2)
        tree.run("/bin/rm", ["-rf", doomed])
        try tree.waitFor("every process of the deleted entry gone") { tree.processes(markedUnder: doomed).isEmpty }
        #expect(tree.supervisedPid("dir/canary") == canary)
    }

    @Test func readOnlyTreeSaysSoAndASuperviseLinkFixesIt() throws {
        let tree = try TreeFixture("readonly")
        let disk = try tree.mountTmpfs("ro", kilobytes: 1024)
        tree.service("ro/plain", logger: nil)
        tree.service("ro/linked", logger: nil)
        tree.makeDirectories(tree.root + "/state")
        tree.symlink(tree.root + "/state/linked", "ro/linked/supervise")
        try #require(tree.run("/bin/mount", ["-o", "remount,ro", disk]).0 == 0)
        let root = try tree.startSvtree("ro")
        try tree.waitFor("the read-only error and the linked service up") {
            tree.read("svtree.err").contains("\(disk)/plain: supervise: Read-only file system") && tree.isRunning("ro/linked")
        }
        #expect(tree.stillRunning(root))
    }

    @Test func garbageLogConfigIsReportedLineByLine() throws {
        let tree = try TreeFixture("badconfig")
        tree.makeDirectories(tree.root + "/log")
        tree.write("log/config", "s1000x\nnope\n\u{1}\u{2}binary\nn3\nuroot@example\n")
        let (code, output) = tree.run("/bin/sh", ["-c", "printf 'one\\ntwo\\n' | \(TreeFixture.buildDirectory)/svlog \(tree.root)/log"])
        #expect(code == 0, "\(output)")
        #expect(tree.read("log/current") == "one\ntwo\n", "lines lost over a bad config")
        let warnings = output.lines()
        #expect(warnings.allSatisfy { $0.hasPrefix("svlog: ") }, "\(output)")
        #expect(warnings.contains { $0.contains("s1000x") } && warnings.contains { $0.contains("nope") }
                && warnings.contains { $0.contains("\\x01\\x02binary") }, "\(output)")
    }
}

/// Out of descriptors: svtree says which limit, keeps what runs, and retries on a timer
/// instead of looping (a tight loop of warnings was found here: fixed).
@Suite(.timeLimit(.minutes(10))) struct DescriptorLimitTests {
    @Test func exhaustionIsSaidOnceAndDoesNotSpin() throws {
        let tree = try TreeFixture("nofile")
        for i in 1...30 { tree.service("dir/s\(i)", logger: "exec cat > /dev/null") }
        // prlimit runs svtree under a 64-descriptor limit: about 13 entries fit.
        let pid = try tree.startSvtree("dir", options: [], environment: [:], wrapper: ["/usr/bin/prlimit", "--nofile=64:64"])
        try tree.waitFor("the limit to be named") { tree.read("svtree.err").contains("the descriptor limit (raise LimitNOFILE or ulimit -n)") }
        usleep(2_000_000)  // the scenario: time in which a spinning loop would write thousands of lines
        let lines = tree.read("svtree.err").lines()
        #expect(lines.count < 80, "\(lines.count) lines in 2 s: \(lines.suffix(3))")
        #expect(Set(lines).count == lines.count, "a line said twice: \(lines.count) lines, \(Set(lines).count) distinct")
        #expect(tree.stillRunning(pid), "svtree died")
        #expect((1...30).contains { tree.isRunning("dir/s\($0)") }, "nothing runs")
        kill(pid, SIGTERM)
        #expect(try tree.waitExit(pid) == 0)
        #expect(tree.processes().isEmpty)
    }
}

/// No inotify instance left for the user (fs.inotify.max_user_instances): svtree says so
/// once, names the sysctl, and finds new entries by rescanning every 5 s. Run as `nobody`,
/// whose instances a helper uses up, so no other test is touched.
@Suite(.timeLimit(.minutes(10))) struct InotifyLimitTests {
    @Test func withoutInotifySvtreeRescans() throws {
        let tree = try TreeFixture("noinotify")
        tree.makeDirectories(tree.root + "/dir")
        tree.run("/bin/chown", ["-R", "nobody:nogroup", tree.root])
        tree.run("/bin/chmod", ["755", tree.root])
        let helper = "import ctypes, time\nlibc = ctypes.CDLL(None)\nfds = [libc.inotify_init() for _ in range(100000)]\n"
            + "print(sum(1 for f in fds if f >= 0), flush=True)\ntime.sleep(120)\n"
        tree.write("hog.py", helper)
        let asNobody = ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        try tree.start(asNobody + ["/usr/bin/python3", tree.root + "/hog.py"], stdoutFile: "hog.out", stderrFile: "hog.err")
        try tree.waitFor("the helper to hold every instance") { !tree.read("hog.out").isEmpty }
        let root = try tree.startSvtree("dir", wrapper: asNobody)
        try tree.waitFor("the warning") {
            tree.read("svtree.err").contains("no inotify instance left (raise the sysctl fs.inotify.max_user_instances)")
        }
        tree.service("staging/late", logger: nil)
        tree.run("/bin/chown", ["-R", "nobody:nogroup", tree.root + "/staging"])
        rename(tree.root + "/staging/late", tree.root + "/dir/late")
        try tree.waitFor("the rescan to start it", seconds: 12) { tree.isRunning("dir/late") }
        #expect(tree.read("svtree.err").lines().count == 1, "\(tree.read("svtree.err"))")
        kill(root, SIGTERM)
        #expect(try tree.waitExit(root) == 0)

        // snapwatch the same: one warning, then a listing every 5 s.
        tree.makeDirectories(tree.root + "/repo/snapshots")
        tree.write("hook", "#!/bin/sh\necho \"$*\" >> \(tree.root)/delivered\n", executable: true)
        tree.run("/bin/chown", ["-R", "nobody:nogroup", tree.root])
        let snapwatch = try tree.start(asNobody + [TreeFixture.buildDirectory + "/snapwatch", "--hook", tree.root + "/hook",
                                                   "--state", tree.root + "/state", "--repo", tree.root + "/repo"],
                                       stdoutFile: "snapwatch.err", stderrFile: "snapwatch.err")
        try tree.waitFor("snapwatch's warning") {
            tree.read("snapwatch.err").contains("no inotify instance (Too many open files; raise the sysctl fs.inotify.max_user_instances)")
        }
        let id = String(repeating: "5", count: 64)
        tree.write("repo/snapshots/" + id, "{}")
        try tree.waitFor("the listing to deliver it", seconds: 12) { tree.read("delivered").contains(id) }
        kill(snapwatch, SIGTERM)
        #expect(try tree.waitExit(snapwatch) == 0)
    }
}

/// Files the supervisor's user may not read or run (svtree as nobody; root reads everything).
@Suite(.timeLimit(.minutes(10))) struct PermissionTests {
    @Test func unreadableAndUnrunnableAreSaidAsSuch() throws {
        let tree = try TreeFixture("perm")
        tree.service("dir/fine", logger: nil)
        tree.service("dir/closed", logger: nil)
        tree.service("dir/rootonly", logger: nil)
        tree.run("/bin/chown", ["-R", "nobody:nogroup", tree.root])
        tree.run("/bin/chmod", ["755", tree.root])
        // closed/: a directory nobody may not look into; rootonly/run: root's, mode 0700.
        tree.run("/bin/chown", ["root:root", tree.root + "/dir/closed"])
        tree.run("/bin/chmod", ["700", tree.root + "/dir/closed"])
        tree.run("/bin/chown", ["root:root", tree.root + "/dir/rootonly/run"])
        tree.run("/bin/chmod", ["700", tree.root + "/dir/rootonly/run"])
        let root = try tree.startSvtree("dir", wrapper: ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        try tree.waitFor("both said and fine running") {
            let text = tree.read("svtree.err")
            return text.contains("/dir/closed: cannot look at run (Permission denied) as uid 65534")
                && text.contains("/dir/rootonly: run may not be executed by uid 65534") && tree.isRunning("dir/fine")
        }
        kill(root, SIGTERM)
        #expect(try tree.waitExit(root) == 0)
    }
}
