/// TAI64N labels: runit's `supervise/status` stamp and svlogd's `@...` line and file names.
public enum TAI64N {
    /// TAI64 label of the Unix epoch: 2^62 + 10 leap seconds (as daemontools and runit count).
    public static let epoch: UInt64 = 4_611_686_018_427_387_914

    /// The 12 big-endian bytes (8 of seconds, 4 of nanoseconds) of a wall-clock time.
    public static func bytes(unixNanos: Int64) -> [UInt8] {
        let seconds = epoch &+ UInt64(unixNanos / nanosPerSecond)
        let nanos = UInt32(unixNanos % nanosPerSecond)
        var bytes = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: seconds >> (56 - 8 * UInt64(i))) }
        for i in 0..<4 { bytes[8 + i] = UInt8(truncatingIfNeeded: nanos >> (24 - 8 * UInt32(i))) }
        return bytes
    }

    /// Wall-clock ns from 12 bytes as `bytes(unixNanos:)` writes them.
    /// Concrete, not generic over the collection: across modules a generic one ran
    /// unspecialised, and svctl decodes five of these a client (7 % of a status of 1000).
    public static func unixNanos(bytes: [UInt8]) -> Int64 {
        var seconds: UInt64 = 0
        var nanos: UInt32 = 0
        for i in 0..<min(bytes.count, 12) {
            if i < 8 { seconds = seconds << 8 | UInt64(bytes[i]) } else { nanos = nanos << 8 | UInt32(bytes[i]) }
        }
        return Int64(bitPattern: seconds &- epoch) * nanosPerSecond + Int64(nanos)
    }

    /// `@` and 24 hex digits, as svlogd writes it.
    public static func label(unixNanos: Int64) -> String {
        let seconds = epoch &+ UInt64(unixNanos / nanosPerSecond)
        let nanos = UInt32(unixNanos % nanosPerSecond)
        return "@" + hex(seconds, digits: 16) + hex(UInt64(nanos), digits: 8)
    }

    /// Wall-clock ns from `@` and 24 hex digits; nil for anything else.
    public static func parseLabel<S: StringProtocol>(_ text: S) -> Int64? {
        let utf8 = Array(text.utf8)
        guard utf8.count == 25, utf8[0] == UInt8(ascii: "@") else { return nil }
        var value: [UInt8] = []
        for index in stride(from: 1, to: 25, by: 2) {
            guard let high = hexDigit(utf8[index]), let low = hexDigit(utf8[index + 1]) else { return nil }
            value.append(high << 4 | low)
        }
        return unixNanos(bytes: value)
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let raw = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - raw.count)) + raw
    }
}
