import SvBase
import SvFormats
import SvSupervision
import SvSystem

/// `svctl status` output: one line per client, a block per client, or JSON. Pure: the
/// reports and `now` in, text out (golden tests pin it).
public enum StatusView {
    /// The exit code for a set of reports: the worst health.
    public static func overall(_ reports: [ClientReport]) -> Health {
        reports.map(\.health).max() ?? .ok
    }

    // MARK: - text

    /// `NAME  HEALTH  client up 3h12m  storage up 3h12m, snapwatch down 4s; problems`.
    public static func summaryLines(_ reports: [ClientReport], now: WallTime) -> String {
        let width = reports.map(\.name.count).max() ?? 0
        return reports.map { report in
            var line = pad(report.name, width) + "  " + pad(report.health.name, 8) + "  "
            if !report.enabled {
                line += report.defined ? "disabled" : "no such client"
            } else {
                line += "client " + (report.supervisor.map { brief($0, now: now) } ?? "missing")
                if !report.services.isEmpty {
                    line += "  " + report.services.map { $0.name + " " + brief($0, now: now) }.joined(separator: ", ")
                }
                if let snapshot = report.backup?.lastSnapshot {
                    line += "; last snapshot " + AgeText.text(seconds: now.unixSeconds - snapshot.time) + " ago"
                }
            }
            if !report.problems.isEmpty { line += "  -- " + report.problems.joined(separator: "; ") }
            return line
        }.joined(separator: "\n") + (reports.isEmpty ? "" : "\n")
    }

    /// A block per client: the client, each service with its logger, backup, problems.
    public static func detail(_ reports: [ClientReport], now: WallTime) -> String {
        reports.map { detail($0, now: now) }.joined(separator: "\n")
    }

    static func detail(_ report: ClientReport, now: WallTime) -> String {
        var rows: [(String, String)] = []
        if !report.enabled && !report.defined {
            rows.append(("client", "no such client"))
        } else if !report.enabled {
            rows.append(("client", "disabled, defined in \(report.directory.flatMap(FileSystem.realPath) ?? report.directory ?? "?")"))
        } else {
            // Who wrote the client's supervise/: svtree (it adds supervise/svtree), else runsv
            // when its status reads; a client run by runsv is not labelled svtree.
            let program = report.supervisor.map { $0.writtenBySvtree ? "svtree" : $0.status != nil ? "runsv" : "supervisor" } ?? "supervisor"
            var client = "enabled, \(program) " + (report.supervisor.map { long($0, now: now, withLog: false) } ?? "missing")
            if let mode = report.mode { client += ", \(mode) mode" }
            if let user = report.runsAs { client += ", as \(user)" }
            client += ", " + (report.directory.flatMap(FileSystem.realPath) ?? report.directory ?? "?")
            if let supervisor = report.supervisor { client += logText(supervisor, now: now) }
            rows.append(("client", client))
            for service in report.services { rows.append((service.name, long(service, now: now))) }
        }
        if let backup = report.backup { rows.append(("backup", backupText(backup, now: now))) }
        rows += report.assurance.rows(now: now)
        if let quota = report.quota { rows.append(("quota", quota.row())) }
        if !report.limits.isEmpty || report.oomKills != nil {
            var text = report.limits.isEmpty ? "none" : report.limits.joined(separator: ", ")
            if let kills = report.oomKills { text += "; \(kills) OOM kill\(kills == 1 ? "" : "s")" }
            rows.append(("limits", text))
        }
        for problem in report.problems { rows.append(("problem", problem)) }
        let width = max(9, rows.map(\.0.count).max() ?? 0)
        return "\(report.name): \(report.health.name)\n"
            + rows.map { "  " + pad($0.0, width) + "  " + $0.1 + "\n" }.joined()
    }

    /// "up 3h12m" / "down 4s" / "no supervisor".
    static func brief(_ probe: ServiceProbe, now: WallTime) -> String {
        if let job = probe.job, probe.supervisor == .running, let status = probe.status, status.state != .run {
            return "job " + (job.result.map { "last " + $0.rawValue } ?? "never run")
        }
        return brief(supervisor: probe.supervisor, status: probe.status, now: now)
    }

    static func brief(supervisor: ServiceProbe.Supervisor, status: StatusFormat.Snapshot?, now: WallTime) -> String {
        switch supervisor {
        case .never: return "not started"
        case .notRunning: return "no supervisor"
        case .running: break
        }
        guard let status else { return "status unreadable" }
        return stateWord(status.state) + " " + AgeText.text(nanos: now - status.since)
    }

    static func long(_ probe: ServiceProbe, now: WallTime, withLog: Bool = true) -> String {
        if let job = probe.job, probe.supervisor == .running, let status = probe.status {
            return jobText(job, status, now: now) + (withLog ? logText(probe, now: now) : "")
        }
        var text = brief(probe, now: now)
        if let status = probe.status, probe.supervisor == .running {
            if status.pid > 0 && status.state != .down { text += " (pid \(status.pid))" }
            if let ready = probe.ready { text += ready ? ", ready" : ", not ready" }
            if status.paused { text += ", paused" }
            if status.gotTerm { text += ", got TERM" }
            if status.state == .run && status.want == .down { text += ", want down" }
            if status.state != .run && status.want == .up { text += ", want up" }
            if status.state != .run && probe.normallyUp && status.want != .up { text += ", normally up" }
            if status.state == .run && !probe.normallyUp { text += ", normally down" }
            if let deaths = probe.quickDeaths, deaths > 0 {
                text += ", \(deaths) quick death\(deaths == 1 ? "" : "s")"
                if let delay = probe.restartDelayMs, delay > 0 { text += ", restart delay \(delay) ms" }
            }
            if let exit = probe.lastExit, status.state != .run || (probe.quickDeaths ?? 0) > 0 {
                text += ", last \(exit)"
            }
        }
        return withLog ? text + logText(probe, now: now) : text
    }

    /// `job @daily: last ok 3h02m ago in 12s, next in 20h41m`, or `running 5s (pid N)`.
    static func jobText(_ job: ServiceProbe.JobProbe, _ status: StatusFormat.Snapshot, now: WallTime) -> String {
        let schedule: String
        switch job.schedule {
        case .success(let parsed): schedule = parsed.description
        case .failure(let error): return "job with a bad schedule: \(error)"
        }
        var text = "job \(schedule): "
        if status.state == .run {
            text += "running \(AgeText.text(nanos: now - status.since)) (pid \(status.pid))"
        } else if let ended = job.record.lastEnded, let result = job.result {
            text += "last \(result.rawValue) \(AgeText.text(nanos: now - ended.start)) ago"
            text += " in " + AgeText.text(milliseconds: ended.durationMs)
        } else {
            text += "never run"
        }
        if job.live?.suspended == true {
            text += ", suspended"
        } else if let next = job.live?.nextRun {
            text += ", next " + (next <= now ? "now" : "in " + AgeText.text(nanos: next - now))
        }
        if let skipped = job.live?.skipped, skipped > 0 { text += ", \(skipped) skipped" }
        return text
    }

    /// "; log up 3h12m (pid N)", or nothing without a logger.
    static func logText(_ probe: ServiceProbe, now: WallTime) -> String {
        guard let log = probe.log else { return "" }
        var text = "; log " + brief(supervisor: log.supervisor, status: log.status, now: now)
        if let status = log.status, status.state == .run, log.supervisor == .running { text += " (pid \(status.pid))" }
        return text
    }

    static func backupText(_ backup: BackupReport, now: WallTime) -> String {
        let nowSeconds = now.unixSeconds
        var text: String
        if let snapshot = backup.lastSnapshot {
            text = "last snapshot \(snapshot.id.prefix(8)) \(AgeText.text(seconds: nowSeconds - snapshot.time)) ago"
        } else {
            text = "no snapshot yet"
        }
        if let hook = backup.lastHook {
            text += "; last replication \(AgeText.text(seconds: nowSeconds - hook.startMs / 1000)) ago, "
                + "\(hook.exit) in \(milliseconds(hook.durationMs))"
        } else {
            text += "; no replication yet"
        }
        text += "; \(backup.waiting) waiting"
        let ages = backup.alertAges
        return text + "; warning after \(AgeText.text(seconds: ages.warningSeconds)), critical after "
            + "\(AgeText.text(seconds: ages.criticalSeconds)) (\(ages.source))"
    }

    static func milliseconds(_ ms: Int64) -> String {
        ms < 1000 ? "\(ms) ms" : "\(ms / 1000).\(ms % 1000 / 100) s"
    }

    static func stateWord(_ state: ServiceMachine.State) -> String {
        switch state {
        case .run: return "up"
        case .down: return "down"
        case .finish: return "finishing"
        }
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }
}
