import Glibc
import SvBase

/// The timestamps svlogd puts before a line, with its trailing space.
public enum LogStamp {
    /// -t: `@` and TAI64N in 24 hex digits; -tt / -ttt: UTC with 5 fractional digits.
    public static func text(_ stamp: LogOptions.Stamp, unixNanos: Int64) -> [UInt8] {
        switch stamp {
        case .none:
            return []
        case .tai64n:
            return Array((TAI64N.label(unixNanos: unixNanos) + " ").utf8)
        case .utc, .utcISO:
            var seconds = time_t(unixNanos / nanosPerSecond)
            var parts = tm()
            gmtime_r(&seconds, &parts)
            let fraction = Int(unixNanos % nanosPerSecond) / 10_000
            var out: [UInt8] = []
            out.reserveCapacity(26)
            func put(_ value: Int, _ width: Int) {
                var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
                var rest = value
                for i in (0..<width).reversed() {
                    digits[i] = UInt8(ascii: "0") + UInt8(rest % 10)
                    rest /= 10
                }
                out += digits
            }
            put(Int(parts.tm_year) + 1900, 4); out.append(UInt8(ascii: "-"))
            put(Int(parts.tm_mon) + 1, 2); out.append(UInt8(ascii: "-"))
            put(Int(parts.tm_mday), 2); out.append(stamp == .utc ? UInt8(ascii: "_") : UInt8(ascii: "T"))
            put(Int(parts.tm_hour), 2); out.append(UInt8(ascii: ":"))
            put(Int(parts.tm_min), 2); out.append(UInt8(ascii: ":"))
            put(Int(parts.tm_sec), 2); out.append(UInt8(ascii: "."))
            put(fraction, 5); out.append(UInt8(ascii: " "))
            return out
        }
    }
}
