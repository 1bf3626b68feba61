import Glibc
@testable import SvSystem
import Testing

/// svlog on a full disk (a small tmpfs: the tests run as root, as CI does) and its memory.
@Suite(.serialized, .timeLimit(.minutes(10))) struct SvlogDiskTests {
    /// Spawns `seq 1 count` writing into the logger's stdin.
    private func feed(_ tree: TreeFixture, _ logger: TreeFixture.RunningLogger, count: Int) -> Int32 {
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, logger.input, 1)
        let words: [String] = ["/usr/bin/seq", "1", String(count)]
        let args: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        posix_spawn(&pid, "/usr/bin/seq", &actions, nil, args, environ)
        args.forEach { free($0) }
        posix_spawn_file_actions_destroy(&actions)
        tree.adopt(pid)
        return pid
    }

    @Test func fullDiskPausesWithOneWarningAndLosesNothing() throws {
        let tree = try TreeFixture("svlog-full")
        _ = try tree.mountTmpfs("disk", kilobytes: 512)
        tree.write("disk/log/config", "s40000\nn0\n")
        tree.write("disk/filler", String(repeating: "f", count: 400_000))
        let logger = try tree.startLoggerService("disk/log")
        // About 420 kB: more than the disk has left and the pipe (256 kB) hold together.
        let writer = feed(tree, logger, count: 70_000)
        try tree.waitFor("one pause warning", seconds: 15) { tree.read("svlog.err").contains("pausing") }
        #expect(tree.stillRunning(writer), "the writer should be blocked on the full pipe, not finished")
        tree.remove("disk/filler")
        #expect(try tree.waitExit(writer, seconds: 20) == 0)
        try tree.stopLogger(logger)
        let numbers = tree.logLines("disk/log").compactMap { Int($0) }
        let complete = numbers.elementsEqual(1...70_000)  // a Bool: a failure would print both arrays whole
        #expect(complete, "\(numbers.count) lines, last \(numbers.last ?? 0), first break after \(zip(numbers, numbers.dropFirst()).first { $1 != $0 + 1 }.map { "\($0.0)" } ?? "none")")
        #expect(tree.read("svlog.err").lines().filter { $0.contains("pausing") }.count == 1)
    }

    /// One directory on a full disk, one beside it with room: the pause and its retry write
    /// the chunk again from where each directory stopped, so the one with room gets no line
    /// twice and the full one loses none (stamped: the writev path and its partial writes).
    @Test func aFullDirectoryPausesWithoutDoublingItsNeighbour() throws {
        let tree = try TreeFixture("svlog-full-two")
        _ = try tree.mountTmpfs("disk", kilobytes: 512)
        tree.write("disk/log/config", "s40000\nn0\n")
        tree.write("roomy/log/config", "s40000\nn0\n")
        tree.write("disk/filler", String(repeating: "f", count: 400_000))
        let logger = try tree.startLoggerService("disk/log", options: ["-tt", "roomy/log"])
        // About 310 kB in each directory; the disk has 112 kB left.
        let writer = feed(tree, logger, count: 10_000)
        try tree.waitFor("one pause warning", seconds: 15) { tree.read("svlog.err").contains("pausing") }
        tree.remove("disk/filler")
        #expect(try tree.waitExit(writer, seconds: 20) == 0)
        try tree.stopLogger(logger)
        for directory in ["roomy/log", "disk/log"] {
            let lines = tree.logLines(directory)
            let numbers = lines.compactMap { $0.count > 26 ? Int($0.dropFirst(26)) : nil }
            let complete = numbers.count == lines.count && numbers.elementsEqual(1...10_000)
            #expect(complete, "\(directory): \(lines.count) lines, \(numbers.count) numbered, last \(numbers.last ?? 0), first break after \(zip(numbers, numbers.dropFirst()).first { $1 != $0 + 1 }.map { "\($0.0)" } ?? "none")")
        }
    }

    /// svlog run with writes past `bytes` refused (EFBIG under a file-size limit, SIGXFSZ
    /// ignored: a write cut short and then refused, as on a full disk), on `input`.
    private func startLimited(_ tree: TreeFixture, bytes: Int, _ arguments: String, input: String) throws -> Int32 {
        try tree.start(["/bin/sh", "-c", "trap '' XFSZ; exec /usr/bin/prlimit --fsize=\(bytes):unlimited \(TreeFixture.svlogBinary) \(arguments) < \(input)"],
                       stdoutFile: "svlog.out", stderrFile: "svlog.err")
    }

    /// A write refused at the very line after which the size rule rotates: once writing works
    /// again the file still ends on that line (svlogd's, here without any failure), not one
    /// line later, with and without stamps.
    @Test(arguments: ["", "-tt"]) func aWriteRefusedAtTheRotationLineStillRotatesThere(stamps: String) throws {
        let tree = try TreeFixture("svlog-fsize")
        var input = ""
        for i in 1...30 { input += "line \(i) " + String(repeating: "r", count: 90 - String(i).count) + "\n" }
        tree.write("input", input)
        for name in ["svlogd", "svlog"] { tree.write("\(name)/config", "s1000\nn20\n") }
        let options = (stamps.isEmpty ? [] : [stamps]) + ["-l", "100"]
        let (reference, referenceErr) = tree.runLogger(SvlogTests.svlogd, options + ["svlogd"], input: Array(input.utf8))
        #expect(reference == 0, "\(referenceErr)")
        let pid = try startLimited(tree, bytes: stamps.isEmpty ? 850 : 800, options.joined(separator: " ") + " svlog", input: "input")
        try tree.waitFor("the pause") { tree.read("svlog.err").contains("pausing") }
        tree.run("/usr/bin/prlimit", ["--pid", String(pid), "--fsize=unlimited:unlimited"])
        #expect(try tree.waitExit(pid, seconds: 15) == 0, "\(tree.read("svlog.err"))")
        let theirs = tree.logFiles("svlogd"), ours = tree.logFiles("svlog")
        #expect(ours.count == theirs.count, "svlogd \(theirs), svlog \(ours)")
        for (mine, reference) in zip(ours, theirs) {
            let cut = stamps.isEmpty ? 0 : 26
            #expect(tree.read("svlog/" + mine).lines().map { $0.dropFirst(cut) } == tree.read("svlogd/" + reference).lines().map { $0.dropFirst(cut) },
                    "svlog's \(mine): \(tree.read("svlog/" + mine).lines().count) lines, svlogd's: \(tree.read("svlogd/" + reference).lines().count)")
        }
    }

    /// The age limit counts from the first byte in `current`, also when the write that put it
    /// there was cut short and then refused.
    @Test func theAgeLimitCountsFromAWriteCutShort() throws {
        let tree = try TreeFixture("svlog-fsize-age")
        tree.write("log/config", "t2\n")
        #expect(mkfifo(tree.root + "/input", 0o600) == 0)
        // Held open for reading and writing here: svlog's open of the FIFO does not wait.
        let writer = open(tree.root + "/input", O_RDWR | O_CLOEXEC)
        defer { close(writer) }
        let pid = try startLimited(tree, bytes: 50, "log", input: "input")
        try? FileSystem.writeAll(writer, Array("first line of three\nsecond line of three\nthird line of three\n".utf8))
        try tree.waitFor("the pause") { tree.read("svlog.err").contains("pausing") }
        tree.run("/usr/bin/prlimit", ["--pid", String(pid), "--fsize=unlimited:unlimited"])
        try tree.waitFor("the rotation by age", seconds: 10) { tree.logFiles("log").contains { $0.hasPrefix("@") } }
        kill(pid, SIGTERM)
        #expect(try tree.waitExit(pid) == 0)
        #expect(tree.logLines("log") == ["first line of three", "second line of three", "third line of three"])
    }

    /// A piece of a line written after its wait and refused half-way: the line's rest, come
    /// while writing paused, goes on after the piece: no second stamp inside the line, no part
    /// of it twice. With a rule (`+*`) the lines go one by one, without through the
    /// whole-lines path: both continue the piece.
    @Test(arguments: ["", "+*\n"]) func aPieceRefusedHalfWayIsContinuedNotStampedAgain(config: String) throws {
        let tree = try TreeFixture("svlog-fsize-piece")
        tree.write("log/config", config)
        #expect(mkfifo(tree.root + "/input", 0o600) == 0)
        let writer = open(tree.root + "/input", O_RDWR | O_CLOEXEC)
        defer { close(writer) }
        let pid = try startLimited(tree, bytes: 100, "-tt log", input: "input")
        let piece = String(repeating: "A", count: 200)
        try? FileSystem.writeAll(writer, Array(piece.utf8))
        try tree.waitFor("the piece written and refused") { tree.read("svlog.err").contains("pausing") }
        try? FileSystem.writeAll(writer, Array("BBB\nCCC\n".utf8))
        tree.run("/usr/bin/prlimit", ["--pid", String(pid), "--fsize=unlimited:unlimited"])
        try tree.waitFor("the rest", seconds: 10) { tree.read("log/current").hasSuffix("CCC\n") }
        kill(pid, SIGTERM)
        #expect(try tree.waitExit(pid) == 0)
        let lines = tree.read("log/current").lines()
        #expect(lines.map { String($0.dropFirst(26)) } == [piece + "BBB", "CCC"], "\(lines)")
    }

    @Test func fullDiskDeletesDownToTheMinimumKept() throws {
        let tree = try TreeFixture("svlog-minimum")
        _ = try tree.mountTmpfs("disk", kilobytes: 128)
        tree.write("disk/log/config", "s10000\nn20\nN2\n")
        let logger = try tree.startLoggerService("disk/log")
        let writer = feed(tree, logger, count: 40_000)
        #expect(try tree.waitExit(writer, seconds: 20) == 0)
        // The writer may be done before the logger fills the disk (the pipe holds 256 kB).
        try tree.waitFor("the deletions") { tree.read("svlog.err").contains("out of disk space: deleting") }
        try tree.stopLogger(logger)
        let lines = tree.logLines("disk/log")
        let numbers = lines.compactMap { Int($0) }
        #expect(numbers.count == lines.count, "malformed lines: \(lines.filter { Int($0) == nil }.prefix(5))")
        // What is left is the newest part, unbroken, up to the last line written...
        let breaks = zip(numbers, numbers.dropFirst()).filter { $1 != $0 + 1 }
        #expect(numbers.last == 40_000 && breaks.isEmpty,
                "\(numbers.count) lines, last \(numbers.last ?? 0), breaks: \(breaks.prefix(5)); files: \(tree.logFiles("disk/log"))")
        // ...and deleting stopped at the minimum: N2 keeps at least two old files beside current.
        let rotated = tree.logFiles("disk/log").filter { $0.hasPrefix("@") }
        #expect(rotated.count >= 2, "old files kept: \(rotated)")
    }

    @Test func memoryStaysFlatWhateverTheInput() throws {
        let tree = try TreeFixture("svlog-memory")
        tree.makeDirectories(tree.root + "/log")
        tree.write("log/config", "s1000000\nn2\n")
        let logger = try tree.startLoggerService("log", options: ["-tt"])
        let line = [UInt8](repeating: UInt8(ascii: "m"), count: 20_000_000) + [0x0a]
        try? FileSystem.writeAll(logger.input, line)
        let chunk = Array(String(repeating: "a short line of text\n", count: 50_000).utf8)
        for _ in 0..<20 { try? FileSystem.writeAll(logger.input, chunk) }
        logger.send("END\n")
        try tree.waitFor("everything logged") { tree.read("log/current").hasSuffix("END\n") }
        let status = String(decoding: (try? FileSystem.readBytes("/proc/\(logger.pid)/status")) ?? [], as: UTF8.self)
        let peak = status.lines().first { $0.hasPrefix("VmHWM:") }.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") }
        try tree.stopLogger(logger)
        // A 20 MB line and 20 MB of short lines through a logger that never holds more than a pipeful.
        let kilobytes = try #require(peak)
        #expect(kilobytes < 16_000, "peak RSS \(kilobytes) kB")
    }
}
