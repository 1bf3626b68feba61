import Glibc
import Testing
@testable import SvtreeCore

/// svlog as the logger of an svtree service: killed again and again, it loses no line.
@Suite(.serialized) struct LoggerUnderTreeTests {
    @Test func loggerKilledTwentyTimesLosesNoLine() throws {
        let tree = try TreeFixture("svlog-kills")
        tree.write("dir/numbers/run", """
            #!/bin/sh
            i=0
            while :; do i=$((i+1)); echo $i; done
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
            _ = FileSystem.writeAll(fd, Array("k".utf8))
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
        let numbers = tree.logLines("dir/numbers/log/main").compactMap { Int($0) }
        var seen = Set<Int>()
        var firsts: [Int] = []
        for number in numbers where seen.insert(number).inserted { firsts.append(number) }
        let last = try #require(firsts.last)
        #expect(firsts == Array(1...last), "lost or out of order: \(Set(1...last).subtracting(seen).sorted().prefix(10))")
        #expect(last > 1000)
        // At worst a line is repeated after a kill; report how many were.
        print("svlog under 20 SIGKILLs: \(last) lines, \(numbers.count - firsts.count) repeated, none lost")
    }
}
