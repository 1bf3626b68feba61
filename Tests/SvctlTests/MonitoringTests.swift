import Glibc
import SvBase
import SvSystem
@testable import SvctlKit
import Testing

/// The pure parts of monitoring: alert decisions, the plugin line, the metrics text, on
/// the golden fixture tree (a client ok, one critical, one warning with a job and no replica).
@Suite(.timeLimit(.minutes(10))) struct MonitoringTests {
    typealias Seen = (client: String, health: String, problems: [String])

    /// Calls `observe` and marks every notification sent, as a hook exiting 0 would.
    func call(_ policy: inout AlertPolicy, _ seen: [Seen], at now: Int64, hookSucceeds: Bool = true) -> [AlertPolicy.Notification] {
        let sent = policy.observe(seen, now: now)
        if hookSucceeds { for n in sent { policy.announced(n, now: now) } }
        policy.settleQuiet(now: now)
        return sent
    }

    @Test func oneNotificationPerChange() {
        var policy = AlertPolicy()
        let healths = ["ok", "critical", "critical", "ok"]
        var sent: [AlertPolicy.Notification] = []
        for (i, health) in healths.enumerated() {
            sent += call(&policy, [("bob", health, health == "ok" ? [] : ["storage: down"])], at: Int64(i) * 300)
        }
        #expect(sent.map { "\($0.old)>\($0.new)" } == ["ok>critical", "critical>ok"])
        #expect(sent.first?.problems == ["storage: down"])
    }

    @Test func aFailedHookIsTriedAgainAndTheChangeIsNotLost() {
        var policy = AlertPolicy()
        _ = call(&policy, [("bob", "ok", [])], at: 0)
        #expect(call(&policy, [("bob", "critical", [])], at: 300, hookSucceeds: false).count == 1)
        // Survives the state file too.
        policy = AlertPolicy(parsing: policy.text)
        let again = call(&policy, [("bob", "critical", [])], at: 600)
        #expect(again.map { "\($0.old)>\($0.new)" } == ["ok>critical"])
        #expect(call(&policy, [("bob", "critical", [])], at: 900).isEmpty)
    }

    @Test func aNewClientIsNewsOnlyWhenUnhealthy() {
        var policy = AlertPolicy()
        #expect(call(&policy, [("a", "ok", []), ("b", "warning", ["backup: old"])], at: 0).map(\.client) == ["b"])
        #expect(call(&policy, [("a", "ok", []), ("b", "warning", [])], at: 300).isEmpty)
    }

    @Test func repeatRemindsOfWhatIsNotOk() {
        var policy = AlertPolicy(repeatSeconds: 3600)
        _ = call(&policy, [("a", "critical", [])], at: 0)
        #expect(call(&policy, [("a", "critical", [])], at: 1800).isEmpty)
        #expect(call(&policy, [("a", "critical", [])], at: 3600).map(\.new) == ["critical"])
    }

    @Test func flappingIsAnnouncedOnceThenQuietForAnHourOfOneHealth() {
        var policy = AlertPolicy()
        var sent: [String] = []
        var now: Int64 = 0
        _ = call(&policy, [("f", "ok", [])], at: now)
        // Every five minutes a change, for an hour: 4 changes, then flapping, then silence.
        for i in 1...12 {
            now += 300
            sent += call(&policy, [("f", i % 2 == 1 ? "critical" : "ok", [])], at: now).map(\.new)
        }
        #expect(sent == ["critical", "ok", "critical", "flapping"])
        // Held ok from now on: quiet for an hour, then one notification from flapping.
        var after: [AlertPolicy.Notification] = []
        for _ in 1...14 {
            now += 300
            after += call(&policy, [("f", "ok", [])], at: now)
        }
        #expect(after.map { "\($0.old)>\($0.new)" } == ["flapping>ok"])
    }

    @Test func aClientNoLongerShownGetsItsAllClearThenIsForgotten() {
        var policy = AlertPolicy()
        _ = call(&policy, [("a", "critical", []), ("b", "ok", [])], at: 0)
        let gone = call(&policy, [], at: 300)
        #expect(gone.map { "\($0.client):\($0.old)>\($0.new)" } == ["a:critical>ok"], "b was ok: no news")
        #expect(gone.first?.problems == ["no longer enabled"])
        #expect(policy.clients.isEmpty)
        #expect(call(&policy, [], at: 600).isEmpty)
        // A failed all-clear is kept for the next call.
        _ = call(&policy, [("c", "warning", [])], at: 900)
        #expect(call(&policy, [], at: 1200, hookSucceeds: false).count == 1)
        #expect(call(&policy, [], at: 1500).map(\.client) == ["c"])
    }

    @Test func stateFileRoundTrip() {
        var policy = AlertPolicy()
        _ = call(&policy, [("a", "ok", []), ("b", "critical", [])], at: 100)
        _ = call(&policy, [("a", "warning", []), ("b", "critical", [])], at: 400)
        #expect(AlertPolicy(parsing: policy.text).clients == policy.clients)
        #expect(policy.text.hasPrefix("a warning 400 warning 400 400\nb critical 100 critical 100 -\n"))
    }

    @Test func anOomKillOfTheLastDayIsAWarningWithTheLimits() {
        let day: Int64 = 86400
        func report(lastOOMKill: Int64?, now: Int64) -> ClientReport {
            var supervisor = ServiceProbe(name: "a", path: "/x", supervisor: .running,
                                          status: .init(state: .run, pid: 10, paused: false, want: .up, gotTerm: false,
                                                        since: WallTime(unixSeconds: now - 2 * day)),
                                          normallyUp: true, cgroup: "/sys/fs/cgroup/svtree-1/entry-1-2/main", writtenBySvtree: true)
            supervisor.lastOOMKill = lastOOMKill.map { WallTime(unixSeconds: $0) }
            return ClientReport(name: "a", enabled: true, defined: true, directory: "/x", supervisor: supervisor, services: [],
                                limits: ["memory.max 512M"], oomKills: 2, now: WallTime(unixSeconds: now))
        }
        let recent = report(lastOOMKill: 10 * day - 7200, now: 10 * day)
        #expect(recent.health == .warning)
        #expect(recent.problems == ["OOM kill in the client's cgroup 2h00m ago (2 since it started; limits: memory.max 512M)"])
        #expect(Metrics.text([recent]).contains("svtree_client_oom_kills_total{client=\"a\"} 2\n"))
        #expect(Metrics.text([recent]).contains("svtree_client_last_oom_kill_timestamp_seconds{client=\"a\"} \(10 * day - 7200)\n"))
        // A day later (or with no time known) it is history: shown with the limits, no problem.
        #expect(report(lastOOMKill: 10 * day - day - 1, now: 10 * day).health == .ok)
        #expect(report(lastOOMKill: nil, now: 10 * day).health == .ok)
    }

    func fixtureReports() throws -> (StatusGoldenTests.Copy, [ClientReport]) {
        let copy = try StatusGoldenTests.Copy()
        return (copy, copy.reports(["alice", "bob", "carol", "dave", "frank"]))
    }

    /// The plugin line: state, summary worst first, perfdata in the monitoring-plugins syntax.
    @Test func checkLineAndPerfdata() throws {
        let (copy, reports) = try fixtureReports()
        _ = copy
        let (line, code) = MonitoringCheck.result(reports, now: StatusGoldenTests.now)
        #expect(code == 2)
        #expect(line.hasPrefix("SVTREE CRITICAL - alice: snapwatch: down (normally up), audit: far:alice: 1 missing, 1 corrupt (missing index/"),
                "\(line)")
        #expect(line.contains("; dave: "), "\(line)")
        let parts = line.split(separator: "|", maxSplits: 1)
        #expect(parts.count == 2 && !parts[0].contains("\n"))
        var labels: [String: [String]] = [:]
        for item in parts[1].split(separator: " ") {
            // 'label'=value[UOM];[warn];[crit];[min];[max]
            let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
            #expect(pair.count == 2 && pair[0].hasPrefix("'") && pair[0].hasSuffix("'"), "\(item)")
            let fields = pair[1].split(separator: ";", omittingEmptySubsequences: false).map(String.init)
            #expect(fields.count == 5, "\(item)")
            let value = fields[0].prefix { "0123456789.-".contains($0) }
            #expect(Double(value) != nil && ["", "s", "%", "B", "KB", "MB", "GB", "TB", "c"].contains(String(fields[0].dropFirst(value.count))), "\(item)")
            for field in fields.dropFirst() where !field.isEmpty { #expect(Double(field) != nil, "\(item)") }
            labels[String(pair[0].dropFirst().dropLast())] = fields
        }
        #expect(labels["clients_ok"]?[0] == "1" && labels["clients_critical"]?[0] == "3" && labels["clients_warning"]?[0] == "1")
        // carol's snapshot, a day old, is the oldest; her thresholds (the defaults) go with it.
        #expect(labels["oldest_snapshot_age"] == ["90000s", "86400", "100800", "0", ""])
        let ok = MonitoringCheck.result(reports.filter { $0.name == "bob" }, now: StatusGoldenTests.now)
        #expect(ok.code == 0 && ok.line.hasPrefix("SVTREE OK - 1 client ok | "), "\(ok.line)")
    }

    /// Every sample line is NAME{LABELS} VALUE, every family has HELP and TYPE first, and no
    /// label holds a path, an id or a version.
    @Test func metricsTextIsStrictAndItsLabelsStable() throws {
        let (copy, reports) = try fixtureReports()
        _ = copy
        let text = Metrics.text(reports)
        var declared: Set<String> = []
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                declared.insert(String(line.split(separator: " ")[2]))
                continue
            }
            let name = String(line.prefix { $0 != "{" })
            #expect(declared.contains(name), "\(name) has no HELP/TYPE before it")
            #expect(name.hasPrefix("svtree_"))
            let labels = line.drop { $0 != "{" }.dropFirst().prefix { $0 != "}" }
            for label in labels.split(separator: ",") {
                let key = label.split(separator: "=")[0]
                #expect(["client", "service", "job", "backend"].contains(String(key)), "\(line)")
                #expect(!label.contains("/"), "a path in a label: \(line)")
            }
            #expect(Double(line.split(separator: " ").last ?? "") != nil, "\(line)")
        }
        #expect(text.contains("svtree_client_health{client=\"alice\"} 2\n"))
        #expect(text.contains("svtree_service_up{client=\"alice\",service=\"snapwatch\"} 0\n"))
        #expect(text.contains("svtree_service_up{client=\"alice\",service=\"storage\"} 1\n"))
        // No down file: should be up whatever sv did; a down file and wanted down: not.
        #expect(text.contains("svtree_service_wanted_up{client=\"alice\",service=\"snapwatch\"} 1\n"))
        #expect(text.contains("svtree_service_wanted_up{client=\"bob\",service=\"snapwatch\"} 0\n"))
        // notification-fd: the ready series is there while not ready too.
        #expect(text.contains("svtree_service_ready{client=\"carol\",service=\"storage\"} 0\n"))
        #expect(text.contains("svtree_service_restarts_total{client=\"alice\",service=\"snapwatch\"} "))
        #expect(text.contains("svtree_job_last_result{client=\"carol\",job=\"audit\"} 1\n"))
        #expect(text.contains("svtree_replication_targets{client=\"carol\"} 0\n"))
        #expect(text.contains("svtree_backup_last_snapshot_timestamp_seconds{client=\"bob\"} \(StatusGoldenTests.now.unixSeconds - 10000)\n"))
        #expect(!text.contains("svtree_service_up{client=\"carol\",service=\"audit\"}"), "a job is no service that should be up")
        // The audit per backend, named by position (no path); the last verify.
        #expect(text.contains("svtree_audit_missing_files{client=\"alice\",backend=\"replica1\"} 1\n"))
        #expect(text.contains("svtree_audit_corrupt_files{client=\"alice\",backend=\"primary\"} 0\n"))
        #expect(text.contains("svtree_audit_cycle_coverage_ratio{client=\"bob\",backend=\"replica1\"} 1\n"))
        #expect(text.contains("svtree_verify_ok{client=\"bob\"} 1\n"))
    }
}
