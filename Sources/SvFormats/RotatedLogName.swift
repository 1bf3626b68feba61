import SvBase

/// The name of a rotated log file, as svlogd makes it: `@`, the TAI64N of the rotation, and
/// `.s` (finished) or `.u` (a processor has not run on it yet). svlog writes these names and
/// svctl reads them; anything else in a log directory is not a rotated file.
public struct RotatedLogName: Sendable, Equatable, Comparable {
    public enum Kind: String, Sendable { case finished = "s", unprocessed = "u" }

    public var unixNanos: Int64
    public var kind: Kind

    public init(unixNanos: Int64, kind: Kind) {
        self.unixNanos = unixNanos
        self.kind = kind
    }

    /// nil unless `name` is exactly `@` + 24 hex digits + `.s` or `.u`.
    public init?(_ name: String) {
        guard name.utf8.count == 27, name.hasPrefix("@") else { return nil }
        guard let kind = Kind(rawValue: String(name.suffix(1))), name.dropLast(1).hasSuffix("."),
              let nanos = TAI64N.parseLabel(name.prefix(25)) else { return nil }
        self.init(unixNanos: nanos, kind: kind)
    }

    public var fileName: String { TAI64N.label(unixNanos: unixNanos) + "." + kind.rawValue }

    /// Oldest first, as the names sort.
    public static func < (a: Self, b: Self) -> Bool { a.unixNanos < b.unixNanos }
}
