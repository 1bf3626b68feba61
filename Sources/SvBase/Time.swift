/// Nanosecond counts: every duration and instant in the tree is an Int64 of nanoseconds.
public let nanosPerSecond: Int64 = 1_000_000_000
public let nanosPerMilli: Int64 = 1_000_000

/// An instant on the wall clock (CLOCK_REALTIME): what files record and people read. It steps
/// with the clock (NTP, settimeofday), so intervals are measured on the monotonic clock (plain
/// Int64 ns, `EventLoop.now`) and turned into a WallTime only where they are written down.
public struct WallTime: Comparable, Hashable, Sendable {
    public var unixNanos: Int64

    public init(unixNanos: Int64) { self.unixNanos = unixNanos }

    public init(unixSeconds: Int64) { unixNanos = unixSeconds * nanosPerSecond }

    public var unixSeconds: Int64 { unixNanos / nanosPerSecond }

    /// ns from `earlier` to `later`.
    public static func - (later: WallTime, earlier: WallTime) -> Int64 { later.unixNanos - earlier.unixNanos }

    public static func - (time: WallTime, nanos: Int64) -> WallTime { WallTime(unixNanos: time.unixNanos - nanos) }

    public static func + (time: WallTime, nanos: Int64) -> WallTime { WallTime(unixNanos: time.unixNanos + nanos) }

    public static func < (a: WallTime, b: WallTime) -> Bool { a.unixNanos < b.unixNanos }
}
