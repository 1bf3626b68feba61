import SvtreeCore

/// Backup health as snapwatch records it in `backup-status` in its service directory:
///
///     watching_since UNIX_SECONDS
///     last_snapshot ID UNIX_SECONDS          (the newest snapshot file and its mtime)
///     last_hook START_UNIX_MS DURATION_MS code N|signal N
///     last_success UNIX_SECONDS              (end of the last hook run that exited 0)
///     waiting N                              (snapshots not yet delivered to the hook)
///
/// Ages are judged against the client's `alert-ages` file (`warning 24h`, `critical 28h`).
public struct BackupReport: Sendable, Equatable {
    public struct AlertAges: Sendable, Equatable {
        public var warningSeconds: Int64
        public var criticalSeconds: Int64
        public init(warningSeconds: Int64 = 24 * 3600, criticalSeconds: Int64 = 28 * 3600) {
            self.warningSeconds = warningSeconds
            self.criticalSeconds = criticalSeconds
        }
    }

    public var service: String
    public var watchingSince: Int64?
    public var lastSnapshot: (id: String, time: Int64)?
    public var lastHook: (startMs: Int64, durationMs: Int64, exit: ExitStatus)?
    public var lastSuccess: Int64?
    public var waiting: Int
    public var alertAges: AlertAges

    public static func == (a: BackupReport, b: BackupReport) -> Bool {
        a.service == b.service && a.watchingSince == b.watchingSince && a.lastSnapshot?.id == b.lastSnapshot?.id
            && a.lastSnapshot?.time == b.lastSnapshot?.time && a.lastHook?.startMs == b.lastHook?.startMs
            && a.lastSuccess == b.lastSuccess && a.waiting == b.waiting && a.alertAges == b.alertAges
    }

    public static let fileName = "backup-status"

    /// The first service of the client with a `backup-status` file, if any.
    public static func read(clientDirectory: String, defaults: AlertAges) -> BackupReport? {
        let ages = readAlertAges(clientDirectory + "/alert-ages") ?? defaults
        for service in TreeLayout.services(ofClient: clientDirectory) {
            let path = clientDirectory + "/services/" + service + "/" + fileName
            if let bytes = FileSystem.readBytes(path, limit: 65536) {
                return parse(String(decoding: bytes, as: UTF8.self), service: service, alertAges: ages)
            }
        }
        return nil
    }

    public static func parse(_ text: String, service: String, alertAges: AlertAges) -> BackupReport {
        var report = BackupReport(service: service, waiting: 0, alertAges: alertAges)
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            guard let key = words.first else { continue }
            switch (key, words.count) {
            case ("watching_since", 2): report.watchingSince = Int64(words[1])
            case ("last_snapshot", 3):
                if let time = Int64(words[2]) { report.lastSnapshot = (words[1], time) }
            case ("last_hook", 5):
                if let start = Int64(words[1]), let duration = Int64(words[2]), let value = Int32(words[4]) {
                    report.lastHook = (start, duration, words[3] == "signal" ? .signaled(value) : .exited(value))
                }
            case ("last_success", 2): report.lastSuccess = Int64(words[1])
            case ("waiting", 2): report.waiting = Int(words[1]) ?? 0
            default: break
            }
        }
        return report
    }

    /// `warning 24h` / `critical 28h` lines; units s, m, h, d (seconds when none).
    public static func readAlertAges(_ path: String) -> AlertAges? {
        guard let bytes = FileSystem.readBytes(path, limit: 4096) else { return nil }
        var ages = AlertAges()
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            guard words.count == 2, let seconds = parseDuration(words[1]) else { continue }
            if words[0] == "warning" { ages.warningSeconds = seconds }
            if words[0] == "critical" { ages.criticalSeconds = seconds }
        }
        return ages
    }

    public static func parseDuration(_ text: String) -> Int64? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let last = text.last else { return nil }
        if let unit = units[last] { return Int64(text.dropLast()).map { $0 * unit } }
        return Int64(text)
    }

    /// Problems with their weight: old or missing backups, failing replication.
    public func judge(now: Int64) -> [(Health, String)] {
        let nowSeconds = now / 1_000_000_000
        var found: [(Health, String)] = []
        if let snapshot = lastSnapshot {
            let age = nowSeconds - snapshot.time
            if age > alertAges.criticalSeconds {
                found.append((.critical, "backup: last snapshot \(Duration.text(seconds: age)) old"))
            } else if age > alertAges.warningSeconds {
                found.append((.warning, "backup: last snapshot \(Duration.text(seconds: age)) old"))
            }
        } else if let since = watchingSince, nowSeconds - since > alertAges.warningSeconds {
            found.append((.warning, "backup: no snapshot in \(Duration.text(seconds: nowSeconds - since))"))
        }
        if let hook = lastHook, hook.exit != .exited(0) {
            found.append((.warning, "backup: last replication failed (\(hook.exit)), \(waiting) waiting"))
        }
        return found
    }
}

/// Human durations, shared by the text views.
public enum Duration {
    /// "45s", "3m12s", "5h02m", "2d03h".
    public static func text(seconds: Int64) -> String {
        let s = max(0, seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(pad(s % 60))s" }
        if s < 86400 { return "\(s / 3600)h\(pad(s / 60 % 60))m" }
        return "\(s / 86400)d\(pad(s / 3600 % 24))h"
    }

    public static func text(nanos: Int64) -> String { text(seconds: nanos / 1_000_000_000) }

    private static func pad(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
