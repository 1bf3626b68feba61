/// A client's `quota` file, read by snapwatch (which holds the storage back above `hard`) and
/// by svctl status:
///
///     soft 100G     above it: warning, with the days left at the last week's growth
///     hard 120G     above it: critical, and the storage server takes no new data
///
/// Sizes are bytes, or with K, M, G or T (powers of 1024, as cgroup limits); `#` comments.
public struct QuotaFile: Sendable, Equatable {
    public static let fileName = "quota"
    /// Beside the quota file while the repository is above `hard`: the storage's `run` serves
    /// read-only while it exists. Its one line says why.
    public static let exceededFileName = "over-quota"

    public var soft: Int64?
    public var hard: Int64?

    public init(soft: Int64? = nil, hard: Int64? = nil) {
        self.soft = soft
        self.hard = hard
    }

    public enum Level: Int, Sendable, Comparable {
        case within, overSoft, overHard
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    public func level(of bytes: Int64) -> Level {
        if let hard, bytes > hard { return .overHard }
        if let soft, bytes > soft { return .overSoft }
        return .within
    }

    /// The file's limits and a line for each line that is not one.
    public static func parse(_ text: String) -> (quota: QuotaFile, problems: [String]) {
        var quota = QuotaFile()
        var problems: [String] = []
        for raw in text.split(separator: "\n") {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if words.isEmpty { continue }
            guard words.count == 2, words[0] == "soft" || words[0] == "hard", let size = size(String(words[1])) else {
                problems.append("quota: \(raw): not \"soft SIZE\" or \"hard SIZE\" (bytes, or with K, M, G, T)")
                continue
            }
            if words[0] == "soft" { quota.soft = size } else { quota.hard = size }
        }
        if let soft = quota.soft, let hard = quota.hard, soft > hard {
            problems.append("quota: soft \(sizeText(soft)) is above hard \(sizeText(hard)): the soft warning never comes first")
        }
        return (quota, problems)
    }

    /// "512B", "1.5K", "120G": the file's units, one decimal where it is not whole.
    public static func sizeText(_ bytes: Int64) -> String {
        let units: [(String, Int64)] = [("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
        guard let (unit, size) = units.first(where: { bytes >= $0.1 }) else { return "\(bytes)B" }
        if bytes % size == 0 { return "\(bytes / size)\(unit)" }
        let tenths = Int64((Double(bytes) / Double(size) * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)\(unit)"
    }

    /// "512", "100K", "100G", "1T" (powers of 1024); nil for anything else.
    public static func size(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        guard let last = text.last else { return nil }
        let (digits, unit) = units[last].map { (text.dropLast(), $0) } ?? (Substring(text), 1)
        guard !digits.isEmpty, digits.allSatisfy(\.isNumber), let value = Int64(digits),
              value <= Int64.max / unit else { return nil }
        return value * unit
    }
}

/// Growth of a repository from the size samples snapwatch keeps (one a day).
public enum RepositoryGrowth {
    /// Bytes a day from the oldest sample of the last `days` (at least an hour before the
    /// newest) to the newest; nil without two such samples.
    public static func perDay(_ samples: [SnapwatchRecord.SizeSample], days: Int64 = 7) -> Double? {
        guard let newest = samples.last,
              let oldest = samples.first(where: { newest.time - $0.time <= days * 86400 && newest.time - $0.time >= 3600 })
        else { return nil }
        return Double(newest.bytes - oldest.bytes) / (Double(newest.time - oldest.time) / 86400)
    }

    /// Days until `limit` at `perDay`; nil when not growing (or already past it).
    public static func daysUntil(_ limit: Int64, from bytes: Int64, perDay: Double?) -> Double? {
        guard let perDay, perDay > 0, limit > bytes else { return nil }
        return Double(limit - bytes) / perDay
    }
}
