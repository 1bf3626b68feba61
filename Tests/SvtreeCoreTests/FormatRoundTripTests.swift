import SvBase
import SvFormats
import Testing

/// Every format owner renders what it parses and parses what it renders.
@Suite struct FormatRoundTripTests {
    @Test(arguments: [
        SupervisorRecord(),
        SupervisorRecord(quickDeaths: 3, restartDelayMs: 400, lastExit: .exited(2), restarts: 12),
        SupervisorRecord(cgroup: "/sys/fs/cgroup/x/entry-1-2/main", oomKills: 3, lastOOMKill: WallTime(unixNanos: 1_796_000_000_123_456_789)),
        SupervisorRecord(quickDeaths: 2, startError: "cannot start run (Permission denied): /srv/x/user: no user bob on this system"),
        SupervisorRecord(quickDeaths: 0, restartDelayMs: 0, lastExit: .signaled(9),
                         cgroup: "/system.slice/svtree.service/entry-2049-77/main",
                         notificationFD: 3, readySince: WallTime(unixNanos: 1_795_327_200_123_456_789)),
    ])
    func supervisorRecordRoundTrip(record: SupervisorRecord) {
        #expect(SupervisorRecord(parsing: record.text) == record)
    }

    @Test func supervisorRecordKeepsItsLineFormat() {
        let record = SupervisorRecord(quickDeaths: 3, restartDelayMs: 400, lastExit: .signaled(15),
                                      cgroup: "/svtree/entry-1-2/log", notificationFD: 4, readySince: WallTime(unixNanos: 5))
        // svctl of an older or newer svtree reads these names: they are part of the contract.
        #expect(record.text == """
            quick_deaths 3
            restart_delay_ms 400
            last_exit signal 15
            notification_fd 4
            ready_since_ns 5
            cgroup /svtree/entry-1-2/log

            """)
        // Unknown keys and broken lines are skipped, known ones still read.
        let parsed = SupervisorRecord(parsing: "future_key 1 2\nquick_deaths\nquick_deaths 2\nlast_exit code x\n")
        #expect(parsed == SupervisorRecord(quickDeaths: 2))
        // A key without a value, or a line that starts with its separator, is no entry; a
        // value keeps its own spaces.
        let edges = SupervisorRecord(parsing: "cgroup \n restarts 4\nstart_error cannot run: no such file\n")
        #expect(edges.cgroup == nil && edges.restarts == nil && edges.startError == "cannot run: no such file")
    }

    @Test(arguments: [Int64(0), 1, 999_999_999, 1_795_327_200_500_000_000, 4_102_444_800_000_000_001])
    func tai64nRoundTrip(unixNanos: Int64) {
        #expect(TAI64N.parseLabel(TAI64N.label(unixNanos: unixNanos)) == unixNanos)
        #expect(TAI64N.unixNanos(bytes: TAI64N.bytes(unixNanos: unixNanos)) == unixNanos)
    }

    @Test func tai64nRefusesWhatIsNotALabel() {
        for text in ["", "@", "400000000000000a00000000x", "@400000000000000a0000000", "@400000000000000a0000000g",
                     "#400000000000000a00000000", "@400000000000000a000000000"] {
            #expect(TAI64N.parseLabel(text) == nil, "\(text)")
        }
        #expect(TAI64N.parseLabel("@400000000000000A000000FF") == 255)
    }

    @Test func rotatedLogNames() throws {
        let name = RotatedLogName(unixNanos: 1_795_327_200_500_000_000, kind: .unprocessed)
        #expect(name.fileName.utf8.count == 27 && name.fileName.hasSuffix(".u"))
        #expect(RotatedLogName(name.fileName) == name)
        let finished = try #require(RotatedLogName("@400000000000000a00000001.s"))
        #expect(finished.kind == .finished && finished.unixNanos == 1)
        // What svlogd also leaves in a directory is not a rotated file.
        for other in ["current", "state", "newstate", "lock", "config", "@400000000000000a00000001.t",
                      "@400000000000000a00000001.s~", "@400000000000000a0000000z.s", "@400000000000000a00000001su"] {
            #expect(RotatedLogName(other) == nil, "\(other)")
        }
        #expect(RotatedLogName(unixNanos: 5, kind: .finished) < RotatedLogName(unixNanos: 6, kind: .unprocessed))
    }

    @Test(arguments: [
        StatusFormat.Snapshot(state: .run, pid: 4242, paused: false, want: .up, gotTerm: false, since: WallTime(unixNanos: 1_795_327_200_000_000_007)),
        StatusFormat.Snapshot(state: .down, pid: 0, paused: false, want: .down, gotTerm: false, since: WallTime(unixNanos: 0)),
        StatusFormat.Snapshot(state: .finish, pid: 17, paused: true, want: .down, gotTerm: true, since: WallTime(unixNanos: 123_456_789)),
    ])
    func runitStatusRoundTrip(snapshot: StatusFormat.Snapshot) throws {
        let bytes = StatusFormat.statusBytes(snapshot)
        let parsed = try #require(StatusFormat.parseStatus(bytes))
        #expect(parsed == snapshot)
        #expect(StatusFormat.statusBytes(parsed) == bytes)
    }
}
