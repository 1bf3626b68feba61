/// runit's `supervise/` file contents, byte for byte (see runsv's `update_status`).
public enum StatusFormat {
    /// TAI64 label of the Unix epoch: 2^62 + 10 leap seconds.
    public static let tai64Epoch: UInt64 = 4_611_686_018_427_387_914

    public struct Snapshot: Sendable, Equatable {
        public var state: ServiceMachine.State
        public var pid: Int32
        public var paused: Bool
        public var wantUp: Bool
        public var gotTerm: Bool
        /// Wall-clock time of the last change, ns since the Unix epoch.
        public var since: Int64
        public var want: ServiceMachine.Want

        public init(state: ServiceMachine.State, pid: Int32, paused: Bool, want: ServiceMachine.Want,
                    gotTerm: Bool, since: Int64) {
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
        var bytes = [UInt8](repeating: 0, count: 20)
        let seconds = tai64Epoch &+ UInt64(s.since / nanosPerSecond)
        let nanos = UInt32(s.since % nanosPerSecond)
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: seconds >> (56 - 8 * UInt64(i))) }
        for i in 0..<4 { bytes[8 + i] = UInt8(truncatingIfNeeded: nanos >> (24 - 8 * UInt32(i))) }
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
        guard bytes.count == 20, let state = ServiceMachine.State(rawValue: bytes[19]) else { return nil }
        var seconds: UInt64 = 0
        for i in 0..<8 { seconds = seconds << 8 | UInt64(bytes[i]) }
        var nanos: UInt32 = 0
        for i in 8..<12 { nanos = nanos << 8 | UInt32(bytes[i]) }
        var pid: UInt32 = 0
        for i in (12..<16).reversed() { pid = pid << 8 | UInt32(bytes[i]) }
        let unix = Int64(bitPattern: seconds &- tai64Epoch)
        return Snapshot(state: state, pid: Int32(bitPattern: pid), paused: bytes[16] != 0,
                        want: bytes[17] == UInt8(ascii: "u") ? .up : .down, gotTerm: bytes[18] != 0,
                        since: unix * nanosPerSecond + Int64(nanos))
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

    /// svtree's own `supervise/svtree` file: what runit's formats have no room for.
    /// `notificationFD`: the service's `notification-fd`, so a reader knows readiness is tracked;
    /// `readySince`: wall-clock ns at which the current run said it was ready.
    public static func extraText(quickDeaths: Int, restartDelay: Int64, lastExit: ExitStatus?,
                                 notificationFD: Int32? = nil, readySince: Int64? = nil) -> String {
        var text = "quick_deaths \(quickDeaths)\nrestart_delay_ms \(restartDelay / nanosPerMilli)\n"
        switch lastExit {
        case .exited(let code): text += "last_exit code \(code)\n"
        case .signaled(let sig): text += "last_exit signal \(sig)\n"
        case nil: break
        }
        if let notificationFD { text += "notification_fd \(notificationFD)\n" }
        if let readySince { text += "ready_since_ns \(readySince)\n" }
        return text
    }

    /// `@` and 24 hex digits: the TAI64N label of a wall-clock time, as svlogd writes it.
    public static func tai64nLabel(unixNanos: Int64) -> String {
        let seconds = tai64Epoch &+ UInt64(unixNanos / nanosPerSecond)
        let nanos = UInt32(unixNanos % nanosPerSecond)
        return "@" + hex(seconds, digits: 16) + hex(UInt64(nanos), digits: 8)
    }

    static func hex(_ value: UInt64, digits: Int) -> String {
        let raw = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - raw.count)) + raw
    }
}
