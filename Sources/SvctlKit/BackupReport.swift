import SvBase
import SvFormats
import SvSystem

/// Backup health as snapwatch records it in `backup-status` in its service directory (the
/// format is `SnapwatchRecord`'s: last snapshot, last hook run, last success, waiting).
/// Ages are judged against the client's `alert-ages` file (`warning 24h`, `critical 28h`).
@dynamicMemberLookup
public struct BackupReport: Sendable, Equatable {
    public var service: String
    public var record: SnapwatchRecord
    public var alertAges: AlertAges
    /// The targets in the service's `replicas` file; nil without one (a hook of the
    /// operator's own, whose targets svctl cannot know).
    public var replicaTargets: [String]?

    /// `report.lastSnapshot`, `report.waiting`, ...: the record's fields.
    public subscript<T>(dynamicMember field: KeyPath<SnapwatchRecord, T>) -> T { record[keyPath: field] }

    public static let fileName = "backup-status"

    /// The first service of the client with a `backup-status` file, if any.
    /// `repository`: where `auto` ages find the snapshots' times (their files' mtimes).
    /// `services`: the client's, when the caller has listed them already.
    public static func read(clientDirectory: String, repository: String? = nil, defaults: AlertAges,
                            now: WallTime, services: [String]? = nil) -> BackupReport? {
        var ages = AlertAges.read(clientDirectory + "/alert-ages") ?? defaults
        if ages.warningAuto || ages.criticalAuto {
            ages.resolveAuto(snapshotTimes: repository.map(AlertAges.snapshotTimes) ?? [])
        }
        for service in services ?? TreeLayout.services(ofClient: clientDirectory) {
            let path = clientDirectory + "/services/" + service + "/" + fileName
            if let bytes = try? FileSystem.readBytes(path, limit: 65536) {
                var report = parse(String(decoding: bytes, as: UTF8.self), service: service, alertAges: ages, now: now)
                report.replicaTargets = readReplicas(clientDirectory + "/services/" + service + "/replicas")
                return report
            }
        }
        return nil
    }

    /// `now` (ns) stands for a missing `watching_since`.
    public static func parse(_ text: String, service: String, alertAges: AlertAges, now: WallTime) -> BackupReport {
        BackupReport(service: service, record: SnapwatchRecord.parse(text, now: now.unixSeconds).record,
                     alertAges: alertAges)
    }

    /// A `replicas` file's targets, as the template's hook reads them: one a line, blank
    /// lines and `#` comments skipped.
    public static func readReplicas(_ path: String) -> [String]? {
        guard let bytes = try? FileSystem.readBytes(path, limit: 65536) else { return nil }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    public static func parseDuration(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let last = text.last else { return nil }
        if let unit = units[last] { return Int64(text.dropLast()).map { $0 * unit } }
        return Int64(text)
    }

    /// Problems with their weight: old or missing backups, failing replication.
    public func judge(now: WallTime) -> [(Health, String)] {
        let nowSeconds = now.unixSeconds
        var found: [(Health, String)] = []
        if let snapshot = record.lastSnapshot {
            let age = nowSeconds - snapshot.time
            if age > alertAges.criticalSeconds {
                found.append((.critical, "backup: last snapshot \(AgeText.text(seconds: age)) old"))
            } else if age > alertAges.warningSeconds {
                found.append((.warning, "backup: last snapshot \(AgeText.text(seconds: age)) old"))
            }
        } else if nowSeconds - record.watchingSince > alertAges.warningSeconds {
            found.append((.warning, "backup: no snapshot in \(AgeText.text(seconds: nowSeconds - record.watchingSince))"))
        }
        if let targets = replicaTargets, targets.count < alertAges.replicasMinimum {
            found.append((.warning, targets.isEmpty ? "backup: not replicated: no replica configured"
                : "backup: \(targets.count) of \(alertAges.replicasMinimum) replicas configured"))
        }
        if let hook = record.lastHook, hook.exit != .exited(0) {
            found.append((.warning, "backup: last replication failed (\(hook.exit)), \(record.waiting) waiting"))
        }
        return found
    }
}

/// Human durations, shared by the text views.
public enum AgeText {
    /// "45s", "3m12s", "5h02m", "2d03h".
    public static func text(seconds: Int64) -> String {
        let s = max(0, seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(pad(s % 60))s" }
        if s < 86400 { return "\(s / 3600)h\(pad(s / 60 % 60))m" }
        return "\(s / 86400)d\(pad(s / 3600 % 24))h"
    }

    public static func text(nanos: Int64) -> String { text(seconds: nanos / nanosPerSecond) }

    /// A run's length: "302ms" under a second, else as `text(seconds:)`.
    public static func text(milliseconds ms: Int64) -> String {
        ms < 1000 ? "\(max(0, ms))ms" : text(seconds: (ms + 500) / 1000)
    }

    private static func pad(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
