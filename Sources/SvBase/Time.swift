/// Nanosecond counts: every duration and instant in the tree is an Int64 of nanoseconds.
public let nanosPerSecond: Int64 = 1_000_000_000
public let nanosPerMilli: Int64 = 1_000_000
