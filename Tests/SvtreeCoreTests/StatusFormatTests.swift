@testable import SvBase
@testable import SvFormats
import Testing

@Suite(.timeLimit(.minutes(10))) struct StatusFormatTests {
    @Test func twentyBytesInRunitLayout() {
        let snapshot = StatusFormat.Snapshot(state: .run, pid: 0x01020304, paused: true, want: .up, gotTerm: true,
                                             since: WallTime(unixNanos: 1_700_000_000 * nanosPerSecond + 5))
        let bytes = StatusFormat.statusBytes(snapshot)
        #expect(bytes.count == 20)
        // TAI64: 2^62 + 10 + seconds, big-endian.
        let seconds = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(seconds == 4_611_686_018_427_387_914 + 1_700_000_000)
        #expect(Array(bytes[8..<12]) == [0, 0, 0, 5])
        #expect(Array(bytes[12..<16]) == [4, 3, 2, 1])  // pid little-endian
        #expect(Array(bytes[16..<20]) == [1, UInt8(ascii: "u"), 1, 1])
        #expect(StatusFormat.parseStatus(bytes) == snapshot)
    }

    @Test func wantExitShowsAsDown() {
        let snapshot = StatusFormat.Snapshot(state: .finish, pid: 7, paused: false, want: .exit, gotTerm: false, since: WallTime(unixNanos: 0))
        #expect(StatusFormat.statusBytes(snapshot)[17] == UInt8(ascii: "d"))
        #expect(StatusFormat.statText(snapshot) == "finish, want exit\n")
        #expect(StatusFormat.parseStatus([1, 2, 3]) == nil)
    }

    @Test func statTextLikeRunsv() {
        let run = StatusFormat.Snapshot(state: .run, pid: 1, paused: true, want: .down, gotTerm: true, since: WallTime(unixNanos: 0))
        #expect(StatusFormat.statText(run) == "run, paused, got TERM, want down\n")
        let down = StatusFormat.Snapshot(state: .down, pid: 0, paused: false, want: .down, gotTerm: false, since: WallTime(unixNanos: 0))
        #expect(StatusFormat.statText(down) == "down\n")
        #expect(StatusFormat.pidText(0) == "" && StatusFormat.pidText(42) == "42\n")
    }

    @Test func tai64nLabel() {
        #expect(TAI64N.label(unixNanos: 0) == "@400000000000000a00000000")
        #expect(TAI64N.label(unixNanos: 1 * nanosPerSecond + 255) == "@400000000000000b000000ff")
    }

    @Test func signalNames() {
        #expect(SignalName.parse("TERM") == 15 && SignalName.parse("SIGHUP") == 1 && SignalName.parse("9") == 9)
        #expect(SignalName.parse("nonsense") == nil && SignalName.parse("0") == nil)
    }
}
