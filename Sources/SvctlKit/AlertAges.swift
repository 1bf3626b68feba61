import SvSystem

extension BackupReport {
    /// How old a client's latest snapshot may be: a client's `alert-ages` file (`warning 24h`,
    /// `critical 28h`, `replicas-min 1`), or `auto`: 1.5x (warning) and 3x (critical) the
    /// median interval between its last 10 snapshots, so an hourly client is late after 90
    /// minutes and a weekly one after 10 days; 24 h / 28 h while it has fewer than 3.
    public struct AlertAges: Sendable, Equatable {
        public var warningSeconds: Int64
        public var criticalSeconds: Int64
        /// `replicas-min N`: a backup is not safe until it is in this many places besides the
        /// primary (fewer targets in `replicas` is a warning).
        public var replicasMinimum: Int
        public var warningAuto = false
        public var criticalAuto = false
        /// Where the ages in force come from, as status shows it.
        public var source = "default"

        public static let autoWarningFactor = 1.5
        public static let autoCriticalFactor = 3.0
        public static let autoSnapshots = 10

        public init(warningSeconds: Int64 = 24 * 3600, criticalSeconds: Int64 = 28 * 3600, replicasMinimum: Int = 1) {
            self.warningSeconds = warningSeconds
            self.criticalSeconds = criticalSeconds
            self.replicasMinimum = replicasMinimum
        }

        /// Fills the `auto` ages from the snapshots' times (Unix seconds, any order).
        public mutating func resolveAuto(snapshotTimes: [Int64]) {
            let recent = Array(snapshotTimes.sorted().suffix(Self.autoSnapshots))
            guard recent.count >= 3 else {
                if warningAuto { warningSeconds = 24 * 3600 }
                if criticalAuto { criticalSeconds = 28 * 3600 }
                source = "auto, \(recent.count) snapshot\(recent.count == 1 ? "" : "s") (fewer than 3): 24h/28h"
                return
            }
            let intervals = zip(recent.dropFirst(), recent).map { $0 - $1 }.sorted()
            let middle = intervals.count / 2
            let median = intervals.count % 2 == 1 ? intervals[middle] : (intervals[middle - 1] + intervals[middle]) / 2
            if warningAuto { warningSeconds = Int64(Double(median) * Self.autoWarningFactor) }
            if criticalAuto { criticalSeconds = Int64(Double(median) * Self.autoCriticalFactor) }
            source = "auto: median interval \(AgeText.text(seconds: median)) of the last \(recent.count) snapshots"
        }

        /// `warning 24h` / `critical 28h` (or `auto`), `replicas-min N`; units s, m, h, d
        /// (seconds when none).
        public static func read(_ path: String) -> AlertAges? {
            guard let bytes = try? FileSystem.readBytes(path, limit: 4096) else { return nil }
            var ages = AlertAges()
            ages.source = "alert-ages"
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                let words = line.split(separator: " ").map(String.init)
                guard words.count == 2 else { continue }
                switch (words[0], words[1]) {
                case ("warning", "auto"): ages.warningAuto = true
                case ("critical", "auto"): ages.criticalAuto = true
                case ("warning", let value): if let seconds = parseDuration(value) { ages.warningSeconds = seconds }
                case ("critical", let value): if let seconds = parseDuration(value) { ages.criticalSeconds = seconds }
                case ("replicas-min", let value): if let count = Int(value), count >= 0 { ages.replicasMinimum = count }
                default: break
                }
            }
            return ages
        }

        /// The modification times of a repository's snapshot files: when each arrived on this
        /// server, readable without the repository's key.
        public static func snapshotTimes(_ repository: String) -> [Int64] {
            let directory = repository + "/snapshots"
            guard let names = try? FileSystem.list(directory) else { return [] }
            return names.compactMap { name in
                guard name.utf8.count == 64 else { return nil }  // skips temporary names
                return FileSystem.modificationTime(directory + "/" + name)
            }
        }
    }
}
