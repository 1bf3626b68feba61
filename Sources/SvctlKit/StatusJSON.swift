import SvBase
import SvFormats

/// `svctl status --json`: the same facts as the text, keys in a fixed, documented order.
public enum StatusJSON {
    public static func document(_ reports: [ClientReport], now: WallTime) -> JSON {
        let health = StatusView.overall(reports)
        return .object([
            ("health", .string(health.name)),
            ("exit_code", .int(Int64(health.rawValue))),
            ("time", .int(now.unixSeconds)),
            ("clients", .array(reports.map { client($0, now: now) })),
        ])
    }

    static func client(_ report: ClientReport, now: WallTime) -> JSON {
        .object([
            ("name", .string(report.name)),
            ("health", .string(report.health.name)),
            ("problems", .array(report.problems.map(JSON.string))),
            ("enabled", .bool(report.enabled)),
            ("defined", .bool(report.defined)),
            ("directory", .optional(report.directory)),
            ("mode", .optional(report.mode)),
            ("supervisor", report.supervisor.map { service($0, now: now) } ?? .null),
            ("services", .array(report.services.map { service($0, now: now) })),
            ("backup", report.backup.map { backup($0, now: now) } ?? .null),
        ] + report.assurance.json())
    }

    static func service(_ probe: ServiceProbe, now: WallTime) -> JSON {
        var members = [("name", JSON.string(probe.name)), ("path", .string(probe.path))]
        members += state(supervisor: probe.supervisor, status: probe.status, now: now)
        members += [
            ("normally", .string(probe.normallyUp ? "up" : "down")),
            ("ready", probe.ready.map(JSON.bool) ?? .null),
            ("ready_since", probe.readySince.map { .int($0.unixSeconds) } ?? .null),
            ("restarts", .optional(probe.restarts)),
            ("quick_deaths", .optional(probe.quickDeaths)),
            ("restart_delay_ms", .optional(probe.restartDelayMs)),
            ("last_exit", probe.lastExit.map(exit) ?? .null),
            ("cgroup", .optional(probe.cgroup)),
            ("job", probe.job.map(job) ?? .null),
            ("log", probe.log.map { .object(state(supervisor: $0.supervisor, status: $0.status, now: now)) } ?? .null),
        ]
        return .object(members)
    }

    static func state(supervisor: ServiceProbe.Supervisor, status: StatusFormat.Snapshot?, now: WallTime) -> [(String, JSON)] {
        let supervised: String
        switch supervisor {
        case .running: supervised = "running"
        case .notRunning: supervised = "not_running"
        case .never: supervised = "never"
        }
        guard let status else {
            return [("supervisor", .string(supervised)), ("state", .null), ("pid", .null), ("since", .null),
                    ("seconds", .null), ("want", .null), ("paused", .null)]
        }
        return [
            ("supervisor", .string(supervised)),
            ("state", .string(StatusView.stateWord(status.state))),
            ("pid", status.pid > 0 && status.state != .down ? .int(Int64(status.pid)) : .null),
            ("since", .int(status.since.unixSeconds)),
            ("seconds", .int(max(0, (now - status.since) / nanosPerSecond))),
            ("want", .string(status.want == .up ? "up" : "down")),
            ("paused", .bool(status.paused)),
        ]
    }

    /// A job's schedule and runs (design.md's key order); `schedule` null when it is refused.
    static func job(_ job: ServiceProbe.JobProbe) -> JSON {
        let schedule: JSON
        switch job.schedule {
        case .success(let parsed): schedule = .string(parsed.description)
        case .failure: schedule = .null
        }
        let ended = job.record.lastEnded
        return .object([
            ("schedule", schedule),
            ("suspended", job.live.map { .bool($0.suspended) } ?? .null),
            ("next_run", job.live?.nextRun.map { .int($0.unixSeconds) } ?? .null),
            ("last_start", job.record.lastStart.map { .int($0.unixSeconds) } ?? .null),
            ("last_duration_ms", .optional(ended?.durationMs)),
            ("last_exit", ended.map { exit($0.exit) } ?? .null),
            ("result", .optional(job.result?.rawValue)),
            ("skipped", .optional(job.live?.skipped)),
        ])
    }

    static func exit(_ status: ExitStatus) -> JSON {
        switch status {
        case .exited(let code): return .object([("code", .int(Int64(code)))])
        case .signaled(let signal): return .object([("signal", .int(Int64(signal)))])
        }
    }

    static func backup(_ report: BackupReport, now: WallTime) -> JSON {
        .object([
            ("service", .string(report.service)),
            ("last_snapshot", report.lastSnapshot.map {
                .object([("id", .string($0.id)), ("time", .int($0.time)),
                         ("age_seconds", .int(now.unixSeconds - $0.time))])
            } ?? .null),
            ("last_replication", report.lastHook.map {
                .object([("start_ms", .int($0.startMs)), ("duration_ms", .int($0.durationMs)), ("exit", exit($0.exit))])
            } ?? .null),
            ("last_success", .optional(report.lastSuccess)),
            ("waiting", .int(Int64(report.waiting))),
            ("warning_age_seconds", .int(report.alertAges.warningSeconds)),
            ("critical_age_seconds", .int(report.alertAges.criticalSeconds)),
            ("ages_source", .string(report.alertAges.source)),
            ("replicas", .optional(report.replicaTargets?.count)),
            ("replicas_min", .int(Int64(report.alertAges.replicasMinimum))),
        ])
    }
}
