import SvBase

/// `svctl check`: a monitoring plugin (Nagios, Icinga, Sensu, Checkmk). One line,
/// `SVTREE STATE - summary | perfdata`, and the state as the exit code. Pure.
public enum MonitoringCheck {
    /// The line and the exit code for these clients.
    public static func result(_ reports: [ClientReport], now: WallTime) -> (line: String, code: Int32) {
        let health = StatusView.overall(reports)
        let troubled = reports.filter { $0.health != .ok }
            .sorted { $0.health != $1.health ? $0.health > $1.health : $0.name < $1.name }
        let summary: String
        if reports.isEmpty {
            summary = "no client enabled"
        } else if troubled.isEmpty {
            summary = "\(reports.count) client\(reports.count == 1 ? "" : "s") ok"
        } else {
            // Worst first; each client's problems joined, so one line says everything.
            summary = troubled.map { "\($0.name): " + $0.problems.joined(separator: ", ") }.joined(separator: "; ")
        }
        return ("SVTREE \(health.name.uppercased()) - \(sanitized(summary)) | " + perfdata(reports, now: now),
                health.rawValue)
    }

    /// Monitoring-plugins perfdata: `'label'=value[UOM];warn;crit;min;max`, space separated.
    static func perfdata(_ reports: [ClientReport], now: WallTime) -> String {
        var items: [String] = []
        for health in [Health.ok, .warning, .critical, .unknown] {
            let count = reports.filter { $0.health == health }.count
            items.append("'clients_\(health.name)'=\(count);;;0;\(reports.count)")
        }
        // The oldest latest snapshot among the clients, with its client's own thresholds.
        let ages = reports.compactMap { report -> (Int64, BackupReport)? in
            guard let backup = report.backup, let snapshot = backup.lastSnapshot else { return nil }
            return (now.unixSeconds - snapshot.time, backup)
        }
        if let (age, backup) = ages.max(by: { $0.0 < $1.0 }) {
            items.append("'oldest_snapshot_age'=\(max(0, age))s;\(backup.alertAges.warningSeconds);\(backup.alertAges.criticalSeconds);0;")
        }
        return items.joined(separator: " ")
    }

    /// `|` starts the perfdata and a newline ends the plugin's first line: neither may appear
    /// in the summary.
    static func sanitized(_ text: String) -> String {
        String(text.map { $0 == "|" ? "/" : $0 == "\n" ? " " : $0 })
    }
}
