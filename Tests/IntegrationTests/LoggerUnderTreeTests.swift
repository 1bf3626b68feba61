import Glibc
@testable import SvSystem
import Testing

/// svlog as the logger of an svtree service: killed again and again, it loses no line.
@Suite(.serialized, .timeLimit(.minutes(10))) struct LoggerUnderTreeTests {
    @Test func loggerKilledTwentyTimesLosesNoLine() throws {
        let tree = try TreeFixture("svlog-kills")
        tree.write("dir/numbers/run", """
            #!/bin/sh
            i=0
            last=0
            trap 'echo $last > ../last; exit 0' TERM
            while :; do i=$((i+1)); echo $i; last=$i; done
            """, executable: true)
        tree.write("dir/numbers/log/run", "#!/bin/sh\nexec \(TreeFixture.svlogBinary) ./main\n", executable: true)
        tree.write("dir/numbers/log/main/config", "s200000\nn0\n")
        let root = try tree.startSvtree("dir")
        try tree.waitFor("lines in the log") { tree.read("dir/numbers/log/main/current").count > 1000 }
        for round in 0..<20 {
            try tree.waitFor("logger running before round \(round + 1)") { tree.isRunning("dir/numbers/log") }
            let logger = try #require(tree.supervisedPid("dir/numbers/log"),
                                      "round \(round): \(tree.read("dir/numbers/log/supervise/stat")) \(tree.read("dir/numbers/log/supervise/svtree")) \(tree.read("svtree.err"))")
            // SIGKILL to the logger's group, through svtree's control FIFO so it restarts at once.
            let fd = open(tree.root + "/dir/numbers/log/supervise/control", O_WRONLY | O_NONBLOCK)
            try? FileSystem.writeAll(fd, Array("k".utf8))
            close(fd)
            try tree.waitFor("logger \(round + 1) restarted") {
                tree.supervisedPid("dir/numbers/log").map { $0 != logger } ?? false
            }
            // Only the kills asked for: no logger died on its own meanwhile.
            #expect(tree.read("dir/numbers/log/supervise/svtree").hasPrefix("quick_deaths 0\n"),
                    "round \(round): \(tree.read("dir/numbers/log/supervise/svtree"))")
            let size = tree.logBytes("dir/numbers/log/main")
            try tree.waitFor("logger \(round + 1) writing") { tree.logBytes("dir/numbers/log/main") > size + 1000 }
        }
        // Stop the writer (TERM to its group: each echo is one whole write), then the tree:
        // svtree closes the pipe and svlog writes what is left before it exits on EOF.
        let (down, _) = tree.run("/usr/bin/sv", ["-w", "10", "down", tree.root + "/dir/numbers"])
        #expect(down == 0)
        kill(root, SIGTERM)
        #expect(try tree.waitExit(root, seconds: 60) == 0)
        // Every line is a whole number: a torn or mangled line is a failure, not skipped.
        let lines = tree.logLines("dir/numbers/log/main")
        let malformed = lines.filter { Int($0) == nil }
        #expect(malformed.isEmpty, "\(malformed.count) malformed lines: \(malformed.prefix(5))")
        let numbers = lines.compactMap { Int($0) }
        // The writer said on TERM the last number it wrote: nothing may be missing at the tail.
        let written = try #require(Int(tree.read("dir/last").trimmingCharacters()), "the writer's last number: \(tree.read("dir/last"))")
        var seen = Set<Int>()
        var firsts: [Int] = []
        for number in numbers where seen.insert(number).inserted { firsts.append(number) }
        let last = try #require(firsts.last)
        // A Bool, not the arrays: on failure Swift Testing would print every number of both.
        let complete = firsts.elementsEqual(1...last)
        #expect(complete, "lost or out of order: \(firsts.count) distinct of \(last); missing: \(complete ? [] : Array(Set(1...last).subtracting(seen).sorted().prefix(10)))")
        #expect(last >= written, "lost at the tail: the writer wrote up to \(written), the log ends at \(last)")
        #expect(last > 1000)
        // A kill may make the next logger write again what its predecessor wrote and had not
        // taken from the pipe: one repeated run per kill at most, never more.
        let repeats = zip(numbers, numbers.dropFirst()).filter { $1 != $0 + 1 }.count
        #expect(repeats <= 20, "\(repeats) breaks in the sequence for 20 kills")
        print("svlog under 20 SIGKILLs: \(last) lines, \(numbers.count - firsts.count) repeated in \(repeats) runs, none lost")
    }

    /// A line whose end has not come yet stays in the pipe, even without patterns: a logger
    /// killed meanwhile leaves it whole for the next one, not split across two files.
    @Test func aLineStaysWholeWhenItsLoggerIsKilledMidLine() throws {
        let tree = try TreeFixture("svlog-midline")
        tree.write("dir/talker/run", """
            #!/bin/sh
            printf 'first\nabc'
            read go < ./gate
            echo def
            exec sleep 3600
            """, executable: true)
        #expect(mkfifo(tree.root + "/dir/talker/gate", 0o600) == 0)
        tree.write("dir/talker/log/run", "#!/bin/sh\nexec \(TreeFixture.svlogBinary) ./main\n", executable: true)
        tree.makeDirectories(tree.root + "/dir/talker/log/main")
        try tree.startSvtree("dir")
        // "first" and "abc" came in one write, so the logger has looked at "abc" by now.
        // (and svtree has written the logger's status: it may lag the logger's first write).
        // Killed once it is back in epoll_wait: it has then taken "first" from the pipe (a
        // kill between the write and that would rightly have the next logger write it again).
        var found: Int32?
        try tree.waitFor("the first line logged and the logger waiting") {
            found = tree.supervisedPid("dir/talker/log")
            return found != nil && tree.read("dir/talker/log/main/current").contains("first\n")
                && Self.waitsInEpoll(found!)
        }
        let logger = try #require(found)
        kill(logger, SIGKILL)
        _ = try tree.waitForNewPid("dir/talker/log", other: logger, "the logger restarted")
        try tree.start(["/bin/sh", "-c", "echo go > " + tree.root + "/dir/talker/gate"],
                       stdoutFile: "gate.out", stderrFile: "gate.err")
        try tree.waitFor("the rest of the line logged") { tree.logLines("dir/talker/log/main").contains("abcdef") }
        #expect(tree.logLines("dir/talker/log/main") == ["first", "abcdef"])
    }

    /// Whether `pid` is blocked in epoll_wait, epoll_pwait or epoll_pwait2.
    static func waitsInEpoll(_ pid: Int32) -> Bool {
        #if arch(x86_64)
        return [232, 281, 441].contains(currentSyscall(pid))
        #else
        return [22, 441].contains(currentSyscall(pid))
        #endif
    }

    /// The number of the system call `pid` is blocked in (/proc/PID/syscall; root may read it).
    static func currentSyscall(_ pid: Int32) -> Int {
        let text = String(decoding: (try? FileSystem.readBytes("/proc/\(pid)/syscall", limit: 256)) ?? [], as: UTF8.self)
        return Int(text.split(separator: " ").first ?? "") ?? -1
    }

    /// A paused logger (full disk, here a write error it cannot get past) must not spin on
    /// the unread input: its CPU time over a second is next to nothing.
    @Test func aPausedLoggerDoesNotSpin() throws {
        let tree = try TreeFixture("svlog-paused")
        _ = try tree.mountTmpfs("disk", kilobytes: 64)
        tree.write("disk/filler", String(repeating: "f", count: 60_000))
        let logger = try tree.startLoggerService("disk")
        logger.send(String(repeating: "a line to keep\n", count: 2000))
        try tree.waitFor("the pause warning") { tree.read("svlog.err").contains("pausing") }
        func cpuTicks() -> Int {
            let stat = String(decoding: (try? FileSystem.readBytes("/proc/\(logger.pid)/stat")) ?? [], as: UTF8.self)
            let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
            return fields.count > 13 ? (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0) : -1
        }
        let before = cpuTicks()
        usleep(1_000_000)  // the observation window, not a wait for a condition
        let used = cpuTicks() - before
        #expect(before >= 0 && used <= 10, "\(used) ticks of CPU in 1 s while paused")
        tree.remove("disk/filler")
        try tree.stopLogger(logger)
        #expect(tree.logLines("disk").count == 2000)
    }
}
