import SvBase
import SvFormats

/// `svctl metrics`: what `svctl status` knows, in the Prometheus text format (0.0.4). Pure:
/// reports in, text out. Base units, no timestamps, labels only `client`, `service`, `job`, `backend`:
/// names that do not change from run to run, so a series lives as long as its client.
public enum Metrics {
    /// One metric family: its samples, in the order given.
    struct Family {
        var name: String
        var type: String
        var help: String
        var samples: [(labels: [(String, String)], value: Double)] = []
    }

    public static func text(_ reports: [ClientReport]) -> String {
        var families: [String: Family] = [:]
        var order: [String] = []
        func add(_ name: String, _ type: String, _ help: String, _ labels: [(String, String)], _ value: Double?) {
            guard let value else { return }
            if families[name] == nil {
                families[name] = Family(name: name, type: type, help: help)
                order.append(name)
            }
            families[name]!.samples.append((labels, value))
        }
        for report in reports {
            let client = [("client", report.name)]
            add("svtree_client_health", "gauge", "Health of the client as svctl status judges it: 0 ok, 1 warning, 2 critical, 3 unknown.",
                client, Double(report.health.rawValue))
            add("svtree_client_enabled", "gauge", "1 if the client is enabled (its link is in the enabled directory).",
                client, report.enabled ? 1 : 0)
            add("svtree_client_problems", "gauge", "Problems svctl status finds for the client.",
                client, Double(report.problems.count))
            add("svtree_client_oom_kills_total", "counter", "OOM kills in the client's cgroup since it started (memory.events).",
                client, report.oomKills.map(Double.init))
            add("svtree_client_last_oom_kill_timestamp_seconds", "gauge", "When the client's svtree saw the last OOM kill in its cgroup.",
                client, report.supervisor?.lastOOMKill.map { Double($0.unixSeconds) })
            if let supervisor = report.supervisor {
                add("svtree_client_supervisor_up", "gauge", "1 if the client's own svtree is running.",
                    client, isUp(supervisor) ? 1 : 0)
            }
            for service in report.services {
                if let job = service.job {
                    jobSamples(job, service, client + [("job", service.name)], add)
                } else {
                    serviceSamples(service, client + [("service", service.name)], add)
                }
            }
            if let backup = report.backup { backupSamples(backup, client, add) }
            assuranceSamples(report.assurance, client, add)
            if let quota = report.quota {
                add("svtree_repository_bytes", "gauge", "The client's repository size as last measured (snapwatch, or the audit when newer).",
                    client, quota.size.map { Double($0.bytes) })
                add("svtree_quota_soft_bytes", "gauge", "The client's soft quota (its quota file).", client, quota.quota.soft.map(Double.init))
                add("svtree_quota_hard_bytes", "gauge", "The client's hard quota: above it the storage takes no new data.",
                    client, quota.quota.hard.map(Double.init))
            }
        }
        var text = ""
        for name in order {
            let family = families[name]!
            text += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.type)\n"
            for sample in family.samples {
                let labels = sample.labels.map { "\($0.0)=\"\(escaped($0.1))\"" }.joined(separator: ",")
                text += "\(name){\(labels)} \(number(sample.value))\n"
            }
        }
        return text
    }

    typealias Add = (String, String, String, [(String, String)], Double?) -> Void

    /// The last audit per backend (`backend` is `primary`, `replica1`, ... in the replicas
    /// file's order: no path in a label) and the last verify.
    static func assuranceSamples(_ assurance: Assurance, _ client: [(String, String)], _ add: Add) {
        if let audit = assurance.audit {
            add("svtree_audit_last_run_timestamp_seconds", "gauge", "When the client's last audit ran (Unix time).",
                client, Double(audit.at))
            for (index, backend) in audit.backends.enumerated() {
                let labels = client + [("backend", index == 0 ? "primary" : "replica\(index)")]
                add("svtree_audit_backend_reachable", "gauge", "1 if the last audit could list the backend.",
                    labels, backend.error == nil ? 1 : 0)
                guard backend.error == nil else { continue }
                add("svtree_audit_missing_files", "gauge", "Files of the primary the backend lacks, at the last audit.",
                    labels, Double(backend.missing))
                add("svtree_audit_corrupt_files", "gauge", "Files whose hash or size is wrong on the backend, at the last audit.",
                    labels, Double(backend.corrupt + backend.unexpected))
                add("svtree_audit_repository_bytes", "gauge", "Bytes of the primary's files on the backend.",
                    labels, Double(backend.bytes))
                add("svtree_audit_cycle_coverage_ratio", "gauge", "Share of the cycle's slots hashed on the backend within the last cycle.",
                    labels, Double(backend.coveredSlots(day: audit.day)) / Double(max(1, audit.cycle)))
                add("svtree_audit_full_cycle_timestamp_seconds", "gauge", "The last audit after which every slot was fresh (Unix time).",
                    labels, backend.fullCycleAt.map(Double.init))
            }
        }
        if let verify = assurance.verify {
            add("svtree_verify_last_run_timestamp_seconds", "gauge", "When the client's last verify ran (Unix time).",
                client, Double(verify.at))
            add("svtree_verify_ok", "gauge", "1 if the last verify's check and every restore passed.", client, verify.failed ? 0 : 1)
        }
    }

    static func isUp(_ probe: ServiceProbe) -> Bool {
        probe.supervisor == .running && probe.status?.state == .run
    }

    static func serviceSamples(_ service: ServiceProbe, _ labels: [(String, String)], _ add: Add) {
        add("svtree_service_up", "gauge", "1 if the service's run is running (a service, not a job).", labels, isUp(service) ? 1 : 0)
        // As status judges it: no down file, or wanted up (sv up) makes a service one that should run.
        add("svtree_service_wanted_up", "gauge", "1 if the service should be up: no down file, or wanted up (sv up).",
            labels, service.normallyUp || service.status?.want == .up ? 1 : 0)
        // With notification-fd the series is always there: 0 while down or not ready yet.
        add("svtree_service_ready", "gauge", "1 if the running service said it is ready (notification-fd), else 0.",
            labels, service.ready.map { $0 ? 1 : 0 } ?? (service.notificationFD != nil ? 0 : nil))
        add("svtree_service_restarts_total", "counter", "Starts of run after the first since its supervisor started.",
            labels, service.restarts.map(Double.init))
        add("svtree_service_state_change_timestamp_seconds", "gauge", "When the service last changed state (Unix time).",
            labels, service.status.map { Double($0.since.unixSeconds) })
        if let log = service.log {
            add("svtree_service_logger_up", "gauge", "1 if the service's logger is running.",
                labels, log.supervisor == .running && log.status?.state == .run ? 1 : 0)
        }
    }

    static func jobSamples(_ job: ServiceProbe.JobProbe, _ service: ServiceProbe, _ labels: [(String, String)], _ add: Add) {
        add("svtree_job_running", "gauge", "1 while a run of the job is going.", labels, isUp(service) ? 1 : 0)
        add("svtree_job_last_result", "gauge", "Result of the job's last run: 0 ok, 1 warning, 2 critical, 3 unknown.",
            labels, job.result.map { Double($0.exitCode) })
        add("svtree_job_last_run_timestamp_seconds", "gauge", "When the job's last ended run started (Unix time).",
            labels, job.record.lastEnded.map { Double($0.start.unixSeconds) })
        add("svtree_job_last_duration_seconds", "gauge", "How long the job's last ended run took.",
            labels, job.record.lastEnded.map { Double($0.durationMs) / 1000 })
        add("svtree_job_next_run_timestamp_seconds", "gauge", "When the job is due next (Unix time), spread included.",
            labels, job.live?.nextRun.map { Double($0.unixSeconds) })
        add("svtree_job_suspended", "gauge", "1 while the job's schedule is suspended (sv down, a down file).",
            labels, job.live.map { $0.suspended ? 1 : 0 })
        add("svtree_job_skipped_total", "counter", "Due times skipped because a run was still going.",
            labels, job.live.map { Double($0.skipped) })
        var valid = 1.0
        if case .failure = job.schedule { valid = 0 }
        add("svtree_job_schedule_valid", "gauge", "1 if the job's schedule is accepted, 0 if the file is refused.", labels, valid)
    }

    static func backupSamples(_ backup: BackupReport, _ labels: [(String, String)], _ add: Add) {
        add("svtree_backup_last_snapshot_timestamp_seconds", "gauge", "Time of the client's latest snapshot (Unix time).",
            labels, backup.lastSnapshot.map { Double($0.time) })
        add("svtree_replication_last_success_timestamp_seconds", "gauge", "When the last replication that succeeded ended (Unix time).",
            labels, backup.lastSuccess.map(Double.init))
        add("svtree_replication_waiting_snapshots", "gauge", "Snapshots not yet replicated.", labels, Double(backup.waiting))
        add("svtree_replication_last_exit_code", "gauge", "Exit code of the last replication hook run (128+N for a signal).",
            labels, backup.lastHook.map { hook in
                switch hook.exit {
                case .exited(let code): return Double(code)
                case .signaled(let signal): return Double(128 + signal)
                }
            })
        add("svtree_replication_targets", "gauge", "Replication targets configured for the client.",
            labels, backup.replicaTargets.map { Double($0.count) })
        add("svtree_backup_warning_age_seconds", "gauge", "Age of the latest snapshot from which the client is a warning.",
            labels, Double(backup.alertAges.warningSeconds))
        add("svtree_backup_critical_age_seconds", "gauge", "Age of the latest snapshot from which the client is critical.",
            labels, Double(backup.alertAges.criticalSeconds))
    }

    /// The text format's label escapes: backslash, double quote, newline.
    static func escaped(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// Integers without a fraction, the rest as Swift prints them (which Prometheus parses).
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
