import SvBase

/// runit's `supervise/` file contents, byte for byte (see runsv's `update_status`).
public enum StatusFormat {
    public struct Snapshot: Sendable, Equatable {
        public var state: RunState
        public var pid: Int32
        public var paused: Bool
        public var wantUp: Bool
        public var gotTerm: Bool
        /// Wall-clock time of the last change.
        public var since: WallTime
        public var want: WantedState

        public init(state: RunState, pid: Int32, paused: Bool, want: WantedState,
                    gotTerm: Bool, since: WallTime) {
            self.state = state
            self.pid = pid
            self.paused = paused
            self.want = want
            self.wantUp = want == .up
            self.gotTerm = gotTerm
            self.since = since
        }
    }

    /// The 20-byte `supervise/status`: TAI64N (12, big-endian), pid (4, little-endian),
    /// paused, 'u'/'d', got-TERM, state.
    public static func statusBytes(_ s: Snapshot) -> [UInt8] {
        var bytes = TAI64N.bytes(unixNanos: s.since.unixNanos) + [UInt8](repeating: 0, count: 8)
        let pid = UInt32(bitPattern: s.pid)
        for i in 0..<4 { bytes[12 + i] = UInt8(truncatingIfNeeded: pid >> (8 * UInt32(i))) }
        bytes[16] = s.paused ? 1 : 0
        bytes[17] = s.wantUp ? UInt8(ascii: "u") : UInt8(ascii: "d")
        bytes[18] = s.gotTerm ? 1 : 0
        bytes[19] = s.state.rawValue
        return bytes
    }

    /// Decodes a status file written by svtree or runsv; nil unless it is 20 bytes.
    public static func parseStatus(_ bytes: [UInt8]) -> Snapshot? {
        guard bytes.count == 20, let state = RunState(rawValue: bytes[19]) else { return nil }
        var pid: UInt32 = 0
        for i in (12..<16).reversed() { pid = pid << 8 | UInt32(bytes[i]) }
        return Snapshot(state: state, pid: Int32(bitPattern: pid), paused: bytes[16] != 0,
                        want: bytes[17] == UInt8(ascii: "u") ? .up : .down, gotTerm: bytes[18] != 0,
                        since: WallTime(unixNanos: TAI64N.unixNanos(bytes: bytes)))
    }

    /// runsv's `supervise/stat` line: "run", "down" or "finish" with its flags.
    public static func statText(_ s: Snapshot) -> String {
        var text: String
        switch s.state {
        case .down: text = "down"
        case .run: text = "run"
        case .finish: text = "finish"
        }
        if s.paused { text += ", paused" }
        if s.gotTerm { text += ", got TERM" }
        if s.state != .down {
            switch s.want {
            case .down: text += ", want down"
            case .exit: text += ", want exit"
            case .up: break
            }
        }
        return text + "\n"
    }

    public static func pidText(_ pid: Int32) -> String {
        pid == 0 ? "" : "\(pid)\n"
    }
}
