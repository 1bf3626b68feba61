import Glibc
import SvBase
import SvFormats
import SvSupervision
import SvSystem
@testable import SvctlKit
import Testing

@Suite(.timeLimit(.minutes(10))) struct NameTests {
    @Test(arguments: ["alice", "a", "0", "web-01.example_x", String(repeating: "a", count: 64)])
    func accepted(_ name: String) {
        #expect(Names.isValid(name))
    }

    @Test(arguments: ["", "../x", "/abs", ".hidden", "-dash", "a/b", "a b", "new\nline", "tab\t", "é",
                      String(repeating: "a", count: 65), "_x"])
    func refused(_ name: String) {
        #expect(!Names.isValid(name))
        #expect(throws: SvctlError.self) { try Names.check(name) }
    }

    @Test func errorNamesTheRuleAndEscapesTheInput() {
        do {
            try Names.check("bad\nname")
            Issue.record("accepted a newline")
        } catch {
            #expect(error.description == "bad client name \"bad\\x0aname\": \(Names.rule)")
        }
    }

    @Test func targets() throws {
        #expect(try Names.parseTarget("alice").client == "alice")
        #expect(try Names.parseTarget("alice/storage").service == "storage")
        #expect(throws: SvctlError.self) { try Names.parseTarget("alice/") }
        #expect(throws: SvctlError.self) { try Names.parseTarget("alice/../x") }
        #expect(throws: SvctlError.self) { try Names.parseTarget("/alice") }
    }
}

@Suite(.timeLimit(.minutes(10))) struct FormatTests {
    @Test func durations() {
        #expect(AgeText.text(seconds: 0) == "0s")
        #expect(AgeText.text(seconds: 59) == "59s")
        #expect(AgeText.text(seconds: 192) == "3m12s")
        #expect(AgeText.text(seconds: 3 * 3600 + 12 * 60) == "3h12m")
        #expect(AgeText.text(seconds: 2 * 86400 + 3 * 3600) == "2d03h")
        #expect(AgeText.text(seconds: -5) == "0s")
    }

    @Test func jsonQuotingAndOrder() {
        let value = JSON.object([("b", .string("a\"b\\c\n\u{1}")), ("a", .array([.int(1), .null, .bool(true)])), ("e", .object([]))])
        #expect(value.text() == """
            {
              "b": "a\\"b\\\\c\\n\\u0001",
              "a": [
                1,
                null,
                true
              ],
              "e": {}
            }
            """)
    }

    @Test func placeholders() {
        #expect(DirectoryTree.substitute("a @CLIENT@ b @PORT@@PORT@ @NOPE@", ["CLIENT": "x", "PORT": "1"]) == "a x b 11 @NOPE@")
    }

    @Test func passwordsAreLongAndAlphanumeric() throws {
        let first = try Secrets.password()
        let second = try Secrets.password()
        #expect(first.count == 32)
        #expect(first != second)
        #expect(first.allSatisfy { $0.isLetter || $0.isNumber })
    }
}

/// In the process's own time zone: setenv("TZ") here changed it under every suite running
/// in parallel. The expected local time comes from strftime, not from LogView's formatting.
@Suite(.timeLimit(.minutes(10))) struct LogViewTests {
    static func strftimeLocal(_ unix: Int) -> String {
        var seconds = time_t(unix)
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S", &parts)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    @Test func tai64nStampsBecomeLocalTime() {
        // 2026-11-22 06:00:00.5 UTC
        let label = TAI64N.label(unixNanos: 1_795_327_200 * 1_000_000_000 + 500_000_000)
        let (time, text) = LogView.localized(label + " hello world")
        #expect(time == Int64(1_795_327_200 * 1_000_000_000 + 500_000_000))
        #expect(text == Self.strftimeLocal(1_795_327_200) + ".500000000 hello world")
    }

    @Test func utcStampsOfDashTTBecomeLocalTime() {
        let (time, text) = LogView.localized("2026-11-22_06:00:00.50000 hello")
        #expect(time == Int64(1_795_327_200 * 1_000_000_000 + 500_000_000))
        #expect(text == Self.strftimeLocal(1_795_327_200) + ".50000 hello")
    }

    @Test func linesWithoutStampsPassThrough() {
        #expect(LogView.localized("@nothex hello").1 == "@nothex hello")
        #expect(LogView.localized("plain").0 == nil)
    }
}

@Suite(.timeLimit(.minutes(10))) struct BackupJudgementTests {
    static let hour: Int64 = 3600
    static let now: Int64 = 1_795_330_000

    func report(snapshotAge: Int64?, hookExit: SvBase.ExitStatus = .exited(0), ages: BackupReport.AlertAges = .init()) -> BackupReport {
        var text = "watching_since \(Self.now - 100 * Self.hour)\nwaiting 1\n"
        if let age = snapshotAge { text += "last_snapshot \(String(repeating: "a", count: 64)) \(Self.now - age)\n" }
        switch hookExit {
        case .exited(let code): text += "last_hook \(Self.now * 1000) 10 code \(code)\n"
        case .signaled(let signal): text += "last_hook \(Self.now * 1000) 10 signal \(signal)\n"
        }
        return BackupReport.parse(text, service: "snapwatch", alertAges: ages, now: WallTime(unixSeconds: Self.now))
    }

    func worst(_ report: BackupReport) -> Health {
        report.judge(now: WallTime(unixSeconds: Self.now)).map(\.0).max() ?? .ok
    }

    @Test func agesAgainstTheDefaults() {
        #expect(worst(report(snapshotAge: 2 * Self.hour)) == .ok)
        #expect(worst(report(snapshotAge: 25 * Self.hour)) == .warning)
        #expect(worst(report(snapshotAge: 29 * Self.hour)) == .critical)
        #expect(worst(report(snapshotAge: nil)) == .warning)
    }

    @Test func perClientAges() {
        let ages = BackupReport.AlertAges(warningSeconds: Self.hour, criticalSeconds: 2 * Self.hour)
        #expect(worst(report(snapshotAge: 90 * 60, ages: ages)) == .warning)
        #expect(worst(report(snapshotAge: 3 * Self.hour, ages: ages)) == .critical)
        #expect(BackupReport.parseDuration("28h") == Int64(28 * 3600))
        #expect(BackupReport.parseDuration("2d") == Int64(2 * 86400))
        #expect(BackupReport.parseDuration("90") == Int64(90))
        #expect(BackupReport.parseDuration("x") == nil)
    }

    @Test func failedReplicationWarns() {
        let judged = report(snapshotAge: Self.hour, hookExit: .exited(1)).judge(now: WallTime(unixSeconds: Self.now))
        #expect(judged.map(\.0) == [.warning])
        #expect(judged.first?.1 == "backup: last replication failed (exit code 1), 1 waiting")
    }

    /// A backup in one place is not safe: no replica configured is a warning with that reason,
    /// fewer than `replicas-min` too; without a `replicas` file (a hook of one's own) nothing is said.
    @Test func tooFewReplicasWarn() {
        func judged(_ targets: [String]?, minimum: Int = 1) -> [(Health, String)] {
            var r = report(snapshotAge: Self.hour, ages: .init(replicasMinimum: minimum))
            r.replicaTargets = targets
            return r.judge(now: WallTime(unixSeconds: Self.now))
        }
        #expect(judged([]).map(\.0) == [.warning])
        #expect(judged([]).first?.1 == "backup: not replicated: no replica configured")
        #expect(judged(["/srv/copy"]).isEmpty)
        #expect(judged(["/srv/copy"], minimum: 2).first?.1 == "backup: 1 of 2 replicas configured")
        #expect(judged([], minimum: 0).isEmpty)
        #expect(judged(nil).isEmpty)
        let file = "/tmp/svtree-replicas-\(getpid())"
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        _ = try? FileSystem.writeAll(fd, Array("# targets\n\n/srv/a\nremote:b\n".utf8))
        close(fd)
        defer { unlink(file) }
        #expect(BackupReport.readReplicas(file) == ["/srv/a", "remote:b"])
    }

    @Test func healthRanksCriticalAboveUnknown() {
        #expect([Health.ok, .unknown, .critical, .warning].max() == .critical)
        #expect([Health.ok, .unknown, .warning].max() == .unknown)
    }
}

@Suite(.timeLimit(.minutes(10))) struct ControlDecisionTests {
    func probe(_ state: ServiceMachine.State, pid: Int32, since: Int64, want: ServiceMachine.Want = .up,
               paused: Bool = false) -> ServiceProbe {
        ServiceProbe(name: "s", path: "/x", supervisor: .running,
                     status: .init(state: state, pid: pid, paused: paused, want: want, gotTerm: false, since: WallTime(unixNanos: since)),
                     normallyUp: true)
    }

    @Test func restartNeedsANewRun() {
        let before = probe(.run, pid: 10, since: 100).status
        #expect(!Command.restart.isDone(before: before, now: probe(.run, pid: 10, since: 100)))
        #expect(!Command.restart.isDone(before: before, now: probe(.down, pid: 0, since: 150)))
        #expect(Command.restart.isDone(before: before, now: probe(.run, pid: 11, since: 200)))
    }

    @Test func upDownPauseExit() {
        #expect(Command.up.isDone(before: nil, now: probe(.run, pid: 3, since: 1)))
        #expect(!Command.down.isDone(before: nil, now: probe(.run, pid: 3, since: 1, want: .down)))
        #expect(Command.down.isDone(before: nil, now: probe(.down, pid: 0, since: 1, want: .down)))
        #expect(Command.pause.isDone(before: nil, now: probe(.run, pid: 3, since: 1, paused: true)))
        var gone = probe(.down, pid: 0, since: 1)
        gone.supervisor = .notRunning
        #expect(Command.exit.isDone(before: nil, now: gone))
        #expect(!Command.up.isDone(before: nil, now: gone))
    }

    @Test func lettersAreRunits() {
        #expect(Command.allCases.map { String($0.letters.map(\.character)) } == ["u", "d", "o", "tcu", "t", "k", "p", "c", "h", "x"])
    }
}

/// How svctl reads a `supervise/` directory's FIFOs: `ok` held for reading is a running
/// supervisor; svtree opens `ok` only with its first status, so `ok` unread beside no status
/// is an entry being started while `control` is held, and a supervisor gone once it is not.
@Suite(.timeLimit(.minutes(10))) struct SupervisorStateTests {
    @Test func okControlAndStatusTellTheStates() throws {
        var template = Array("/tmp/svctl-fifos-XXXXXX".utf8CString)
        let root = String(cString: try #require(mkdtemp(&template)))
        defer { StatusGoldenTests.Copy.remove(root) }
        let supervise = root + "/supervise"
        #expect(ServiceProbe.supervisorState(supervise) == .never)
        try FileSystem.makeDirectory(supervise)
        try FileSystem.makeFIFO(supervise + "/ok")
        try FileSystem.makeFIFO(supervise + "/control")
        #expect(ServiceProbe.supervisorState(supervise) == .notRunning, "ok and control unread, no status: given up")
        let control = open(supervise + "/control", O_RDWR | O_NONBLOCK | O_CLOEXEC)
        defer { close(control) }
        #expect(ServiceProbe.supervisorState(supervise) == .running, "control held, no status yet: starting")
        try FileSystem.writeAtomically(supervise + "/status", [UInt8](repeating: 0, count: 20))
        #expect(ServiceProbe.supervisorState(supervise) == .notRunning, "a status and ok unread: not running")
        let ok = open(supervise + "/ok", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        defer { close(ok) }
        #expect(ServiceProbe.supervisorState(supervise) == .running)
    }
}

