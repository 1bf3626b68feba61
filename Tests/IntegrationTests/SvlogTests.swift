import Glibc
import CSupport
@testable import SvSystem
import SvctlKit
import Testing

/// svlog against Debian's svlogd on the same input, and svlog's own guarantees.
@Suite(.serialized, .timeLimit(.minutes(10))) struct SvlogTests {
    static let svlogd = "/usr/bin/svlogd"

    /// Timestamps removed: `-tt` stamps are the first 26 characters of a line.
    private func unstamped(_ lines: [String]) -> [String] { lines.map { String($0.dropFirst(26)) } }

    @Test func sameLinesAndNamingAsSvlogd() throws {
        let tree = try TreeFixture("svlog-compare")
        var input: [UInt8] = []
        for i in 1...3000 {
            input += Array("line \(i) \(i % 7 == 0 ? "debug" : "info") \(String(repeating: "x", count: i % 50))\n".utf8)
            if i % 500 == 0 { input += [0x01, 0x7f, 0xc3, 0xa9, 0x0a] }
        }
        let config = "s20000\nn4\n-*debug*\np> \n"
        for name in ["svlogd", "svlog"] {
            tree.write("\(name)/config", config)
        }
        let (a, aErr) = tree.runLogger(SvlogTests.svlogd, ["-tt", "-r", "_", "-l", "200", "svlogd"], input: input)
        let (b, bErr) = tree.runLogger(TreeFixture.svlogBinary, ["-tt", "-r", "_", "-l", "200", "svlog"], input: input)
        #expect(a == 0 && b == 0, "\(aErr) \(bErr)")
        #expect(bErr.isEmpty, "\(bErr)")
        let theirs = tree.logFiles("svlogd"), ours = tree.logFiles("svlog")
        #expect(ours.count == theirs.count, "svlogd: \(theirs) svlog: \(ours)")
        #expect(ours.dropLast().allSatisfy { $0.utf8.count == 27 && $0.hasSuffix(".s") })
        for (mine, reference) in zip(ours, theirs) {
            #expect(unstamped(tree.read("svlog/" + mine).lines()) == unstamped(tree.read("svlogd/" + reference).lines()))
        }
        #expect(unstamped(tree.logLines("svlog")).allSatisfy { $0.hasPrefix("> line ") || $0 == "> ____" })
        // Finished files carry the owner execute bit, as svlogd leaves them.
        for file in ours {
            guard let info = try? FileSystem.info(tree.root + "/svlog/" + file) else { continue }
            #expect(info.mode & 0o100 != 0, "\(file)")
        }
    }

    @Test func tai64nlocalReadsTheStamps() throws {
        let tree = try TreeFixture("svlog-tai")
        tree.makeDirectories(tree.root + "/log")
        let (code, _) = tree.runLogger(TreeFixture.svlogBinary, ["-t", "log"], input: Array("one\ntwo\n".utf8))
        #expect(code == 0)
        let (_, local) = tree.run("/bin/sh", ["-c", "tai64nlocal < \(tree.root)/log/current"])
        let lines = local.lines()
        #expect(lines.count == 2)
        // tai64nlocal turned each label into a local date: 2026-11-22 04:41:06.582650000 one
        #expect(lines.allSatisfy { $0.count > 30 && $0.dropFirst(4).hasPrefix("-") && !$0.hasPrefix("@") }, "\(local)")
        #expect(lines.first?.hasSuffix(" one") == true)
    }

    @Test func longLinesAndGarbageAreWrittenWhole() throws {
        let tree = try TreeFixture("svlog-long")
        tree.makeDirectories(tree.root + "/log")
        tree.write("log/config", "s0\n")
        let long = [UInt8](repeating: UInt8(ascii: "L"), count: 300_000)
        let garbage: [UInt8] = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }.filter { $0 != 0x0a }
        let input = Array("before\n".utf8) + long + [0x0a] + garbage + [0x0a] + Array("after\n".utf8)
        let (code, err) = tree.runLogger(TreeFixture.svlogBinary, ["-b", "1024", "log"], input: input)
        #expect(code == 0, "\(err)")
        #expect((try? FileSystem.readBytes(tree.root + "/log/current", limit: 1 << 22)) == input)
    }

    /// A writer that writes more than svlog's buffer and closes at once: svlog wakes to the
    /// data and the hang-up together. The hang-up is not the end of the input while the pipe
    /// still holds more than the buffer: taken as the end, the buffer's last piece of a long
    /// line was written as a whole line (a newline in the middle of it) and the lines after a
    /// buffer's end were cut in two.
    @Test func aHangUpWithMoreThanABufferInThePipeLosesNoLineEnd() throws {
        let tree = try TreeFixture("svlog-hangup")
        tree.makeDirectories(tree.root + "/log")
        tree.write("log/config", "s0\n")
        let logger = try tree.startLoggerService("log")
        // One write must hold all of it, so that it lands while svlog is stopped.
        #expect(sv_set_pipe_size(logger.input, 1 << 20) >= 1 << 20)
        logger.send("first\n")
        try tree.waitFor("svlog to write the first line and wait for input") {
            tree.read("log/current") == "first\n"
                && FileSystem.readLine("/proc/\(logger.pid)/wchan") == "do_epoll_wait"
        }
        kill(logger.pid, SIGSTOP)
        var rest = [UInt8](repeating: UInt8(ascii: "x"), count: 300_000) + [0x0a]
        for i in 1...20_000 { rest += Array("line \(i)\n".utf8) }
        #expect((try? FileSystem.writeAll(logger.input, rest)) != nil)
        close(logger.input)
        kill(logger.pid, SIGCONT)
        #expect(try tree.waitExit(logger.pid) == 0)
        let logged = (try? FileSystem.readBytes(tree.root + "/log/current", limit: 1 << 22)) ?? []
        let sent = Array("first\n".utf8) + rest
        let firstDifference = zip(logged, sent).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(logged.count == sent.count && firstDifference == nil,
                "\(logged.count) bytes logged, \(sent.count) sent; first difference at \(firstDifference.map(String.init) ?? "none")")
    }

    /// A logger killed after writing the start of a line (a piece) leaves `current` ending
    /// inside it; the rest is still in the pipe. The next logger goes on in that file, with no
    /// stamp in the middle, instead of setting it aside as `.u` and cutting the line in two.
    @Test func aLineBegunByAKilledLoggerGoesOnInTheSameFile() throws {
        let tree = try TreeFixture("svlog-midline")
        tree.makeDirectories(tree.root + "/log")
        tree.write("log/current", "whole line\nthe start of a li")
        let (code, err) = tree.runLogger(TreeFixture.svlogBinary, ["-t", "log"], input: Array("ne\nnext\n".utf8))
        #expect(code == 0, "\(err)")
        let lines = tree.read("log/current").lines()
        #expect(lines.count == 3 && lines[0] == "whole line" && lines[1] == "the start of a line", "\(lines)")
        #expect(lines[2].hasPrefix("@") && lines[2].hasSuffix(" next"), "the next line is stamped: \(lines)")
        #expect(!TreeLayout.entries(tree.root + "/log").contains { $0.hasSuffix(".u") })
        // A crash-left current that ends with a newline is set aside, as svlogd does.
        tree.write("log/current", "complete\n")
        chmod(tree.root + "/log/current", 0o644)
        #expect(tree.runLogger(TreeFixture.svlogBinary, ["log"], input: Array("new\n".utf8)).0 == 0)
        #expect(TreeLayout.entries(tree.root + "/log").contains { $0.hasSuffix(".u") })
        #expect(tree.read("log/current") == "new\n")
    }

    /// A line cut by a logger that read another pipe (its client svtree was killed, and the
    /// new one made new pipes): the line's rest went with that pipe, and what this pipe brings
    /// must not be glued to it. `current` is set aside as `.u`, as svlogd does with any
    /// `current` left by a crash; the lock names the pipe read now.
    @Test func aLineCutOnAnotherPipeIsSetAsideNotGlued() throws {
        let tree = try TreeFixture("svlog-otherpipe")
        tree.makeDirectories(tree.root + "/log")
        tree.write("log/current", "whole line\n12613-179666")
        tree.write("log/lock", "pipe:12:34\n")
        let next = "12867-1796668465108543791 1\n"
        let (code, err) = tree.runLogger(TreeFixture.svlogBinary, ["log"], input: Array(next.utf8))
        #expect(code == 0, "\(err)")
        #expect(tree.read("log/current") == next)
        let setAside = TreeLayout.entries(tree.root + "/log").filter { $0.hasSuffix(".u") }
        #expect(setAside.map { tree.read("log/" + $0) } == ["whole line\n12613-179666"])
        let lock = tree.read("log/lock")
        #expect(lock.hasPrefix("pipe:") && lock != "pipe:12:34\n", "\(lock)")
    }

    /// A logger killed in the middle of a write of whole lines leaves `current` cut inside
    /// one, and every byte of that write still in the pipe: the next logger takes them off the
    /// file and writes them again, so nothing is glued to the cut line and nothing repeats.
    @Test func aCutWriteStillInThePipeIsWrittenAgainNotGlued() throws {
        let tree = try TreeFixture("svlog-cutwrite")
        tree.makeDirectories(tree.root + "/log")
        tree.write("log/current", "181556\n181557\n181558\n1815")
        // The bytes are there when the logger starts, as in a pipe whose logger was killed.
        tree.write("input", "181557\n181558\n181559\n181560\n")
        let (code, err) = tree.run("/bin/sh", ["-c", "cd \(tree.root) && exec \(TreeFixture.svlogBinary) -v log < input"])
        #expect(code == 0, "\(err)")
        #expect(tree.read("log/current") == "181556\n181557\n181558\n181559\n181560\n")
        #expect(err.contains("its last 18 bytes are written again from there"), "\(err)")
    }

    @Test func selectionPatternsStderrAndPrefix() throws {
        let tree = try TreeFixture("svlog-select")
        tree.makeDirectories(tree.root + "/all")
        tree.write("errors/config", "-*\n+*error*\ne*fatal*\npERR \n")
        let input = Array("ok 1\nan error here\nfatal error\nok 2\n".utf8)
        let (code, err) = tree.runLogger(TreeFixture.svlogBinary, ["all", "errors"], input: input)
        #expect(code == 0)
        #expect(tree.read("all/current") == "ok 1\nan error here\nfatal error\nok 2\n")
        #expect(tree.read("errors/current") == "ERR an error here\nERR fatal error\n")
        #expect(err == "ERR fatal error\n")
    }

    /// Without rules svlog writes a chunk's whole lines at once per directory (straight from
    /// the input, or by writev with stamp and prefix): the files must still end on the line
    /// svlogd's size rule ends them on, many times within one pipeful, in every directory.
    @Test(arguments: [[String](), ["-tt"]]) func wholeLinesRotateWhereSvlogdDoes(stamps: [String]) throws {
        let tree = try TreeFixture("svlog-whole")
        var input: [UInt8] = []
        for i in 1...4000 {
            input += Array("\(i) \(String(repeating: "w", count: i * 37 % 150))\n".utf8)
        }
        for name in ["svlogd", "svlog"] {
            tree.write("\(name)/plain/config", "s5000\nn200\n")
            tree.write("\(name)/prefixed/config", "s3333\nn200\npx \n")
        }
        let arguments = stamps + ["-l", "200", "plain", "prefixed"]
        let (a, aErr) = tree.runLogger(SvlogTests.svlogd, arguments, input: input, in: "svlogd")
        let (b, bErr) = tree.runLogger(TreeFixture.svlogBinary, arguments, input: input, in: "svlog")
        #expect(a == 0 && b == 0 && bErr.isEmpty, "\(aErr) \(bErr)")
        for directory in ["plain", "prefixed"] {
            let theirs = tree.logFiles("svlogd/" + directory), ours = tree.logFiles("svlog/" + directory)
            #expect(ours.count == theirs.count && ours.count > 40, "\(directory): svlogd \(theirs.count) files, svlog \(ours.count)")
            for (mine, reference) in zip(ours, theirs) {
                let mineLines = tree.read("svlog/\(directory)/" + mine).lines()
                let referenceLines = tree.read("svlogd/\(directory)/" + reference).lines()
                let same = stamps.isEmpty ? mineLines == referenceLines : unstamped(mineLines) == unstamped(referenceLines)
                #expect(same, "\(directory)/\(mine): \(mineLines.count) lines, svlogd's \(reference): \(referenceLines.count)")
            }
        }
    }

    @Test func rotationByAgeAndProcessorWithState() throws {
        let tree = try TreeFixture("svlog-age")
        tree.write("log/config", "t1\n!tr a-z A-Z; echo processed >&5\n")
        let logger = try tree.startLoggerService("log")
        logger.send("first line\n")
        try tree.waitFor("a rotation by age, its processed file and the new state", seconds: 10) {
            tree.logFiles("log").contains { $0.hasSuffix(".s") } && tree.read("log/state") == "processed\n"
        }
        let processed = try #require(tree.logFiles("log").first { $0.hasSuffix(".s") })
        #expect(tree.read("log/" + processed) == "FIRST LINE\n")
        #expect(tree.read("log/state") == "processed\n")
        #expect(!tree.logFiles("log").contains { $0.hasSuffix(".u") || $0.hasSuffix(".t") })
        try tree.stopLogger(logger)
    }

    @Test func signalsReopenRotateAndTerminate() throws {
        let tree = try TreeFixture("svlog-signals")
        tree.makeDirectories(tree.root + "/log")
        let logger = try tree.startLoggerService("log")
        logger.send("one\n")
        try tree.waitFor("one") { tree.read("log/current") == "one\n" }
        tree.write("log/config", "pnew: \n")
        kill(logger.pid, SIGHUP)
        try tree.waitFor("the prefix re-read", seconds: 5) {
            logger.send("two\n")
            return tree.read("log/current").contains("new: two\n")
        }
        kill(logger.pid, SIGALRM)
        do {
            try tree.waitFor("a rotation on ALRM") { tree.logFiles("log").count == 2 }
        } catch {
            Issue.record("files: \(tree.logFiles("log")) current: \(tree.read("log/current").prefix(200))")
            throw error
        }
        // TERM in the middle of a line longer than the pipe: that line is finished first.
        let long = [UInt8](repeating: UInt8(ascii: "L"), count: 200_000)
        try? FileSystem.writeAll(logger.input, long)
        try tree.waitFor("pieces of the long line written") { tree.read("log/current").count >= 100_000 }
        kill(logger.pid, SIGTERM)
        logger.send("end\nnot read\n")
        #expect(try tree.waitExit(logger.pid) == 0)
        #expect(tree.read("log/current").hasSuffix("new: " + String(decoding: long, as: UTF8.self) + "end\n"))
        #expect(!tree.read("log/current").contains("not read"))
        close(logger.input)
    }

    /// TERM with half a line read: svlog waits for the rest, and the rules see the whole line
    /// (here it is deselected once complete).
    @Test func termFinishesAHalfLineReadAndItsRulesSeeAllOfIt() throws {
        let tree = try TreeFixture("svlog-term")
        tree.write("log/config", "-*debug*\n")
        let logger = try tree.startLoggerService("log")
        logger.send("whole\nhalf a ")
        try tree.waitFor("the whole line, svlog waiting") {
            tree.read("log/current") == "whole\n" && LoggerUnderTreeTests.waitsInEpoll(logger.pid)
        }
        try SharpEdgeTests.terminate(logger, tree)
        #expect(tree.stillRunning(logger.pid), "svlog exited with half a line read")
        logger.send("debug line\nnot read\n")
        #expect(try tree.waitExit(logger.pid) == 0)
        #expect(tree.read("log/current") == "whole\n")
        close(logger.input)
    }

    @Test func partialLinesWaitForTheirRestWhenPatternsNeedIt() throws {
        let tree = try TreeFixture("svlog-partial")
        tree.write("log/config", "-*debug*\n")
        let logger = try tree.startLoggerService("log")
        logger.send("a debug")
        // The rest comes within the wait: the line is matched whole and deselected.
        usleep(50_000)
        logger.send(" line\nkept\n")
        try tree.waitFor("kept") { tree.read("log/current") == "kept\n" }
        // A piece that never ends is written after about 2 s, not held forever.
        logger.send("Password: ")
        try tree.waitFor("the lone piece written", seconds: 6) { tree.read("log/current") == "kept\nPassword: " }
        try tree.stopLogger(logger)
        #expect(tree.read("log/current") == "kept\nPassword: \n")
    }

    @Test func currentLeftByACrashBecomesUnprocessed() throws {
        let tree = try TreeFixture("svlog-crash")
        tree.write("log/current", "written before a crash\n")  // mode 0644: no execute bit, not finished
        let (code, err) = tree.runLogger(TreeFixture.svlogBinary, ["-v", "log"], input: Array("after\n".utf8))
        #expect(code == 0)
        let saved = tree.logFiles("log").filter { $0.hasSuffix(".u") }
        #expect(saved.count == 1 && tree.read("log/" + (saved.first ?? "")) == "written before a crash\n")
        #expect(tree.read("log/current") == "after\n")
        #expect(err.contains("not closed cleanly"), "\(err)")
        // A current closed cleanly (execute bit set) is continued instead.
        let (again, _) = tree.runLogger(TreeFixture.svlogBinary, ["log"], input: Array("more\n".utf8))
        #expect(again == 0 && tree.read("log/current") == "after\nmore\n")
    }

    /// A regular file as stdin (epoll refuses those): read to its end, the last line without a
    /// newline given one, at once.
    @Test func aFileAsInput() throws {
        let tree = try TreeFixture("svlog-file")
        tree.write("input", "one\ntwo\nno newline")
        tree.makeDirectories(tree.root + "/log")
        let (code, output) = tree.run("/bin/sh", ["-c", "exec \(TreeFixture.svlogBinary) \(tree.root)/log < \(tree.root)/input"])
        #expect(code == 0, "\(output)")
        #expect(tree.read("log/current") == "one\ntwo\nno newline\n")
    }

    /// A socket or a terminal as stdin (svlog run by hand, or fed by a socket): svlog takes
    /// TERM through its loop, so it must never sit blocked in a read of one. TERM with nothing
    /// to read, and after a line, ends it at once with every line written.
    @Test(arguments: ["socket", "terminal"]) func aSocketOrATerminalAsInputStillTakesTerm(kind: String) throws {
        let tree = try TreeFixture("svlog-\(kind)")
        tree.makeDirectories(tree.root + "/log")
        for lines in [[String](), ["one", "two"]] {
            var readEnd: Int32 = -1, writeEnd: Int32 = -1
            if kind == "socket" {
                var fds: [Int32] = [-1, -1]
                #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0)
                (readEnd, writeEnd) = (fds[0], fds[1])
            } else {
                // posix_openpt by hand (the Glibc module hides it): unlock, then the pts number.
                writeEnd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
                var unlock: Int32 = 0, number: UInt32 = 0
                #expect(ioctl(writeEnd, 0x4004_5431 /* TIOCSPTLCK */, &unlock) == 0)
                #expect(ioctl(writeEnd, 0x8004_5430 /* TIOCGPTN */, &number) == 0)
                readEnd = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY | O_CLOEXEC)
            }
            try #require(readEnd >= 0 && writeEnd >= 0)
            let logger = try tree.startLogger("log", stdin: readEnd, writeEnd: writeEnd)
            for line in lines { logger.send(line + "\n") }
            let expected = lines.map { $0 + "\n" }.joined()
            try tree.waitFor("the lines logged") { tree.read("log/current") == expected }
            kill(logger.pid, SIGTERM)
            let status = try tree.waitExit(logger.pid, seconds: 5)
            #expect(status == 0, "\(kind), \(lines.count) lines: wait status \(status)")
            close(writeEnd)
            tree.remove("log/current")
        }
    }

    @Test func unusableDirectoriesAreNamed() throws {
        let tree = try TreeFixture("svlog-bad")
        tree.write("afile", "x")
        let (code, err) = tree.runLogger(TreeFixture.svlogBinary, ["afile/sub"], input: Array("x\n".utf8))
        #expect(code == 111)
        #expect(err.contains("afile/sub") && err.contains("no usable log directory"), "\(err)")
        tree.makeDirectories(tree.root + "/good")
        tree.write("good/config", "uhost:514\n")
        let (code2, err2) = tree.runLogger(TreeFixture.svlogBinary, ["afile/sub", "good"], input: Array("x\n".utf8))
        #expect(code2 == 0)
        #expect(err2.contains("afile/sub") && err2.contains("UDP forwarding"), "\(err2)")
        #expect(tree.read("good/current") == "x\n")
        let (_, usage) = tree.runLogger(TreeFixture.svlogBinary, ["-l"], input: [])
        #expect(usage.contains("usage: svlog"))
    }

    @Test func secondLoggerOnALockedDirectoryIsRefused() throws {
        let tree = try TreeFixture("svlog-lock")
        tree.makeDirectories(tree.root + "/log")
        let first = try tree.startLoggerService("log")
        try tree.waitFor("the lock taken") { FileSystem.exists(tree.root + "/log/lock") }
        try tree.waitFor("the first logger to hold it") {
            tree.runLogger(TreeFixture.svlogBinary, ["log"], input: []).1.contains("cannot lock")
        }
        try tree.stopLogger(first)
    }
}
