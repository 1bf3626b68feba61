import Glibc
import SvBase
import SvFormats
import SvSystem
import Testing

/// Jobs on real processes: `every 1s` and friends under a real svtree, read back through
/// each run's own stamp, `last-run`, `sv` and `svctl`.
@Suite(.timeLimit(.minutes(10))) struct JobTests {
    /// A job whose run appends its start time (ns) to `starts`, sleeps `seconds`, exits `code`.
    func job(_ tree: TreeFixture, _ relative: String, schedule: String, seconds: String = "0", code: Int = 0) {
        tree.write(relative + "/run", """
            #!/bin/sh
            date +%s%N >> ./starts
            sleep \(seconds)
            exit \(code)
            """, executable: true)
        tree.write(relative + "/schedule", schedule + "\n")
    }

    func starts(_ tree: TreeFixture, _ relative: String) -> [Int64] {
        tree.read(relative + "/starts").lines().compactMap { Int64($0) }
    }

    func record(_ tree: TreeFixture, _ relative: String) -> JobRecord {
        JobRecord(parsing: tree.read(relative + "/" + JobRecord.fileName))
    }

    @Test func runsAtItsDueTimesAndNeverKeepsItUp() throws {
        let tree = try TreeFixture("job-every")
        job(tree, "dir/tick", schedule: "every 1s")
        try tree.startSvtree("dir")
        try tree.waitFor("four runs", seconds: 15) { starts(tree, "dir/tick").count >= 4 }
        let times = starts(tree, "dir/tick")
        // Each due one second after the last start: the gaps are a second, give or take 100 ms.
        for (earlier, later) in zip(times, times.dropFirst()) {
            let gap = later - earlier
            #expect(abs(gap - nanosPerSecond) < 100_000_000, "gap of \(gap / 1_000_000) ms between starts")
        }
        // Between runs it is down, and sv says so (asked again if sv read it mid-run, as the
        // next run may start between two looks).
        var output = ""
        try tree.waitFor("sv status to read down between runs") {
            output = tree.run("/usr/bin/sv", ["status", tree.root + "/dir/tick"]).1
            return output.hasPrefix("down: ")
        }
        #expect(output.contains("normally up"), "\(output)")
        #expect(record(tree, "dir/tick").lastEnded?.exit == .exited(0))
    }

    @Test func aDueTimeThatFindsItRunningIsSkippedAndCounted() throws {
        let tree = try TreeFixture("job-overlap")
        job(tree, "dir/slow", schedule: "every 1s", seconds: "2.5")
        try tree.startSvtree("dir")
        try tree.waitFor("a skipped due time", seconds: 15) {
            tree.read("dir/slow/supervise/svtree").lines().contains { $0.hasPrefix("job_skipped ") && $0 != "job_skipped 0" }
        }
        try tree.waitFor("a second run", seconds: 15) { starts(tree, "dir/slow").count >= 2 }
        let times = starts(tree, "dir/slow")
        // Never two at once: the second started after the first had run its 2.5 s.
        #expect(times[1] - times[0] >= 2_500_000_000, "runs overlapped: \(times)")
    }

    @Test func aDueTimeMissedWhileSvtreeWasDownRunsOnceAtStart() throws {
        let tree = try TreeFixture("job-catchup")
        job(tree, "dir/daily", schedule: "@daily")
        // Its last run was two days ago: today's due time passed while nothing ran it.
        let twoDaysAgo = EventLoop.wallNow - 2 * 86_400 * nanosPerSecond
        tree.write("dir/daily/" + JobRecord.fileName, JobRecord(lastStart: twoDaysAgo).text)
        try tree.startSvtree("dir")
        try tree.waitFor("the catch-up run", seconds: 10) { starts(tree, "dir/daily").count == 1 }
        try tree.waitFor("the run recorded") { record(tree, "dir/daily").lastEnded != nil }
        // Once: the next is tomorrow's.
        let next = SupervisorRecord(parsing: tree.read("dir/daily/supervise/svtree")).job?.nextRun
        #expect(next.map { $0 > EventLoop.wallNow + 60 * nanosPerSecond } == true, "next run \(String(describing: next))")
        #expect(starts(tree, "dir/daily").count == 1)
    }

    @Test func downSuspendsUpResumesOnceRunsNow() throws {
        let tree = try TreeFixture("job-control")
        job(tree, "dir/j", schedule: "every 1s")
        tree.write("dir/j/down", "")
        try tree.startSvtree("dir")
        try tree.waitFor("the job supervised") { tree.status("dir/j") != nil }
        let sv = { (command: String) in tree.run("/usr/bin/sv", [command, tree.root + "/dir/j"]) }
        // A down file starts it suspended: no run for a good while (three due times).
        #expect(!(try waited(tree, seconds: 3.2) { starts(tree, "dir/j").count > 0 }))
        _ = sv("once")
        try tree.waitFor("sv once ran it") { starts(tree, "dir/j").count == 1 }
        _ = sv("up")
        try tree.waitFor("resumed: runs on schedule", seconds: 10) { starts(tree, "dir/j").count >= 3 }
        _ = sv("down")
        try tree.waitFor("suspended in supervise/svtree") { tree.read("dir/j/supervise/svtree").contains("job_suspended 1") }
        try tree.waitFor("the last run over") { tree.status("dir/j")?.state == .down }
        let suspendedAt = starts(tree, "dir/j").count
        #expect(!(try waited(tree, seconds: 2.5) { starts(tree, "dir/j").count > suspendedAt }))
    }

    @Test func timeoutRunStopsARunThatHangs() throws {
        let tree = try TreeFixture("job-timeout")
        job(tree, "dir/hang", schedule: "@yearly", seconds: "3600")
        tree.write("dir/hang/timeout-run", "300\n")
        try tree.startSvtree("dir")
        try tree.waitFor("the job supervised") { tree.status("dir/hang") != nil }
        let start = EventLoop.now
        _ = tree.run("/usr/bin/sv", ["once", tree.root + "/dir/hang"])
        try tree.waitFor("the run stopped by timeout-run", seconds: 10) { record(tree, "dir/hang").lastEnded != nil }
        #expect(record(tree, "dir/hang").lastEnded?.exit == .signaled(SIGTERM))
        #expect(EventLoop.now - start < 5 * nanosPerSecond)
    }

    @Test func svctlRunWaitsAndExitsWithTheResult() throws {
        let tree = try TreeFixture("job-svctl")
        tree.client("alice", services: [])
        for (name, code) in [("good", 0), ("warn", 1), ("bad", 2), ("odd", 7)] {
            job(tree, "clients/alice/services/\(name)", schedule: "@yearly", code: code)
        }
        tree.symlink(tree.root + "/clients/alice", "enabled/alice")
        try tree.startSvtree("enabled")
        try tree.waitFor("the jobs supervised") { tree.status("clients/alice/services/odd") != nil }
        for (name, expected) in [("good", Int32(0)), ("warn", 1), ("bad", 2), ("odd", 2)] {
            let (code, output) = SvctlTreeTests.svctl(tree, "run", "alice/\(name)", "-w", "10")
            #expect(code == expected, "\(name): \(output)")
        }
        let (status, output) = SvctlTreeTests.svctl(tree, "status", "alice")
        #expect(status == 2 && output.contains("bad: last run failed (exit code 2)"), "\(output)")
        #expect(output.contains("job @yearly: last ok"), "\(output)")
        let (notJob, refused) = SvctlTreeTests.svctl(tree, "run", "alice")
        #expect(notJob == 1 && refused.contains("CLIENT/JOB"), "\(refused)")
    }

    @Test func aDisabledClientsJobsNeverRunAgain() throws {
        let tree = try TreeFixture("job-disabled")
        tree.client("bob", services: [])
        job(tree, "clients/bob/services/tick", schedule: "every 1s")
        tree.symlink(tree.root + "/clients/bob", "enabled/bob")
        try tree.startSvtree("enabled")
        try tree.waitFor("a run") { starts(tree, "clients/bob/services/tick").count >= 1 }
        tree.remove("enabled/bob")
        try tree.waitFor("every process of bob gone") { tree.processes(under: "clients/bob").isEmpty }
        let after = starts(tree, "clients/bob/services/tick").count
        #expect(!(try waited(tree, seconds: 2.5) { starts(tree, "clients/bob/services/tick").count > after }))
    }

    @Test func svtreeSleepsBetweenDueTimes() throws {
        let tree = try TreeFixture("job-idle")
        job(tree, "dir/rare", schedule: "every 4s")
        let root = try tree.startSvtree("dir")
        try tree.waitFor("the first run over") { record(tree, "dir/rare").lastEnded != nil && tree.status("dir/rare")?.state == .down }
        // Settled: the run's exit and status are written. Between here and the next due time
        // (about 3 s away) svtree must not wake at all.
        usleep(200_000)
        let before = Self.contextSwitches(root)
        usleep(2_000_000)
        #expect(Self.contextSwitches(root) == before, "svtree woke between due times")
        #expect(starts(tree, "dir/rare").count == 1)
    }

    @Test func aBadScheduleIsSaidOnceAndAFixIsFollowed() throws {
        let tree = try TreeFixture("job-bad")
        job(tree, "dir/j", schedule: "61 * * * *")
        tree.service("dir/other", logger: nil)
        try tree.startSvtree("dir")
        try tree.waitFor("the error line") { tree.read("svtree.err").contains("dir/j/schedule") }
        try tree.waitFor("the other service up") { tree.isRunning("dir/other") }
        #expect(tree.read("svtree.err").lines().filter { $0.contains("/schedule") }.count == 1, "\(tree.read("svtree.err"))")
        job(tree, "dir/j", schedule: "every 1s")
        try tree.waitFor("the fixed job running", seconds: 10) { starts(tree, "dir/j").count >= 1 }
    }

    /// The bad inputs of the jobs issue at once: each gets one line naming its file, the tree
    /// stays up, and a good job beside them runs.
    @Test func eachBadJobFileGetsOneLineNamingItAndTheOthersRun() throws {
        let tree = try TreeFixture("job-bad-inputs")
        let bad: [(String, String)] = [
            ("empty", ""), ("six", "1 2 3 4 5 6"), ("minute", "61 * * * *"), ("zero", "every 0s"),
            ("negative", "every -1h"), ("unitless", "every 5"), ("sometimes", "@sometimes"),
            ("garbage", "\u{1}\u{7f}\u{ff}garbage"), ("huge", String(repeating: "x", count: 1 << 20)),
        ]
        for (name, text) in bad { job(tree, "dir/\(name)", schedule: text) }
        job(tree, "dir/spread", schedule: "every 1d")
        tree.write("dir/spread/schedule-spread", "400d\n")
        job(tree, "dir/timeout", schedule: "every 1s")
        tree.write("dir/timeout/timeout-run", "abc\n")
        tree.write("dir/norun/schedule", "every 1s\n")
        tree.write("dir/folder/run", "#!/bin/sh\nexit 0\n", executable: true)
        tree.makeDirectories(tree.root + "/dir/folder/schedule")
        job(tree, "dir/good", schedule: "every 1s")
        let svtree = try tree.startSvtree("dir")
        try tree.waitFor("the good job to run twice") { starts(tree, "dir/good").count >= 2 }
        let lines = tree.read("svtree.err").lines()
        for name in bad.map(\.0) + ["spread", "folder"] {
            let about = lines.filter { $0.contains("dir/\(name)/schedule") }
            #expect(about.count == 1, "\(name): \(about)")
            #expect(starts(tree, "dir/\(name)").isEmpty, "\(name) ran")
        }
        #expect(lines.filter { $0.contains("dir/timeout/timeout-run") }.count == 1, "\(lines)")
        #expect(lines.filter { $0.contains("dir/norun") && $0.contains("no run file") }.count == 1, "\(lines)")
        #expect(starts(tree, "dir/timeout").count >= 1, "a bad timeout-run keeps the default, the job runs")
        #expect(tree.stillRunning(svtree))
    }

    /// Runs `condition` until it holds or `seconds` pass (a wait that is expected to time out).
    func waited(_ tree: TreeFixture, seconds: Double, _ condition: () -> Bool) throws -> Bool {
        do {
            try tree.waitFor("a condition expected not to come", seconds: seconds, condition)
            return true
        } catch is TimedOut {
            return false
        }
    }

    static func contextSwitches(_ pid: Int32) -> Int {
        let text = String(decoding: (try? FileSystem.readBytes("/proc/\(pid)/status")) ?? [], as: UTF8.self)
        return text.lines().filter { $0.contains("ctxt_switches") }
            .compactMap { Int($0.split(separator: "\t").last ?? "") }.reduce(0, +)
    }
}
