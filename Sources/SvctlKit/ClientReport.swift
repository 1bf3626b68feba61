import Glibc
import SvBase
import SvFormats
import SvSystem

/// Monitoring-plugin states. Exit codes are the raw values; when several clients are shown
/// the worst wins, ranked ok < warning < unknown < critical so that a known outage is never
/// hidden behind an unreadable file.
public enum Health: Int32, Sendable, Comparable {
    case ok = 0, warning = 1, critical = 2, unknown = 3

    var rank: Int { self == .critical ? 4 : Int(rawValue) }
    public static func < (a: Health, b: Health) -> Bool { a.rank < b.rank }

    public var name: String {
        switch self {
        case .ok: return "ok"
        case .warning: return "warning"
        case .critical: return "critical"
        case .unknown: return "unknown"
        }
    }
}

/// One client as a whole: its entry under the root (the client-level svtree), its services,
/// and the judgement with the reasons for it.
public struct ClientReport: Sendable {
    public var name: String
    public var enabled: Bool
    public var defined: Bool
    public var directory: String?
    /// The client-level svtree as the root supervises it.
    public var supervisor: ServiceProbe?
    public var services: [ServiceProbe]
    public var backup: BackupReport?
    /// The client's `limits` lines (svtree writes them into its cgroup), and the OOM kills
    /// its cgroup's `memory.events` counts (nil without a memory controller there).
    public var limits: [String] = []
    public var oomKills: Int?
    /// The user the client's svtree runs as, from its living process (nil: not running, or
    /// fixture files).
    public var runsAs: String?
    /// The client's quota and its repository's size against it; nil without a quota file.
    public var quota: QuotaReport?
    /// The last audit's and verify's findings.
    public var assurance = Assurance()
    public private(set) var health: Health = .ok
    public private(set) var problems: [String] = []

    /// A service restarting this soon after a quick death counts as flapping (a warning).
    public static let flappingWindowNanos: Int64 = 10 * nanosPerSecond

    public init(name: String, enabled: Bool, defined: Bool, directory: String?,
                supervisor: ServiceProbe?, services: [ServiceProbe], backup: BackupReport? = nil,
                limits: [String] = [], oomKills: Int? = nil, assurance: Assurance = Assurance(), quota: QuotaReport? = nil,
                now: WallTime) {
        self.assurance = assurance
        self.quota = quota
        self.limits = limits
        self.oomKills = oomKills
        self.name = name
        self.enabled = enabled
        self.defined = defined
        self.directory = directory
        self.supervisor = supervisor
        self.services = services
        self.backup = backup
        judge(now: now)
    }

    /// Reads a client from disk (`checkSupervisors` false for fixture files no process holds).
    /// `runChecks` runs each running service's `./check` (the detailed view: one process each).
    public static func read(_ name: String, layout: TreeLayout, now: WallTime, checkSupervisors: Bool = true,
                            runChecks: Bool = false, alertAges: BackupReport.AlertAges = .init()) -> ClientReport {
        // Files are read through the entry's target: under the symlink `enabled/NAME`, each of
        // the ~60 paths a client's report opens made the kernel read the link and walk again.
        // The link read first also says the client is enabled (an lstat only without one).
        let target = FileSystem.linkTarget(layout.enabledEntry(name))
        let enabled = target != nil || layout.isEnabled(name)
        let defined = FileSystem.exists(layout.definition(name))
        guard let directory = enabled ? layout.enabledEntry(name) : layout.clientDirectory(name) else {
            return ClientReport(name: name, enabled: enabled, defined: defined, directory: nil,
                                supervisor: nil, services: [], now: now)
        }
        let files = target ?? directory
        var supervisor = ServiceProbe.read(name: name, path: files, checkSupervisor: checkSupervisors)
        supervisor.path = directory
        let serviceNames = TreeLayout.services(ofClient: files)
        let services = serviceNames.map {
            var probe = ServiceProbe.read(name: $0, path: files + "/services/" + $0, checkSupervisor: checkSupervisors)
            probe.path = directory + "/services/" + $0
            if runChecks, probe.notificationFD == nil, probe.status?.state == .run,
               FileSystem.isExecutableFile(probe.path + "/check") {
                probe.ready = Control.checkPasses(probe.path)
            }
            return probe
        }
        let backup = BackupReport.read(clientDirectory: files, repository: layout.repository(name),
                                       defaults: alertAges, now: now, services: serviceNames)
        var limits = ((try? FileSystem.readBytes(files + "/limits", limit: 65536)).map { String(decoding: $0, as: UTF8.self) } ?? "")
            .split(separator: "\n").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        // As svtree trusts it: root's (or the tree owner's, the owner of the client's directory).
        var untrustedLimits: String?
        if !limits.isEmpty, let why = PolicyFile.problem(directory + "/limits", in: directory,
                                                         trusting: [0, DirectoryTree.owner(directory)?.0 ?? 0]) {
            untrustedLimits = "limits: \(directory)/limits: \(why): svtree does not apply it"
            limits = []
        }
        // The parent svtree keeps the count of the client's cgroup (its memory.events) in the
        // client's supervise/svtree, rewritten at each kill: no need to read the cgroup here.
        let oomKills = supervisor.oomKills
        let assurance = Assurance.read(clientDirectory: files)
        var report = ClientReport(name: name, enabled: enabled, defined: defined, directory: directory,
                                  supervisor: supervisor, services: services, backup: backup, limits: limits,
                                  oomKills: oomKills, assurance: assurance,
                                  quota: QuotaReport.read(clientDirectory: files, backup: backup, assurance: assurance), now: now)
        // The detail's "as USER": a passwd lookup each, not worth it for a summary of all.
        if checkSupervisors && runChecks, let pid = supervisor.status?.pid, pid > 0 { report.runsAs = Self.userName(ofProcess: pid) }
        if let untrustedLimits { report.flag(.warning, untrustedLimits) }
        return report
    }

    /// The name of the process's real user (`/proc/PID/status`), or its number.
    static func userName(ofProcess pid: Int32) -> String? {
        guard let uid = ProcessTable.statusField(String(pid), "Uid").flatMap({ uid_t($0) }) else { return nil }
        return UserAccount.withID(uid)?.name ?? String(uid)
    }

    /// "cgroup" or "session" as the client's svtree reports it; nil when runsv writes its files.
    public var mode: String? {
        guard let svtreeWritten = services.first(where: \.writtenBySvtree) else { return nil }
        return svtreeWritten.cgroup == nil ? "session" : "cgroup"
    }

    mutating func flag(_ health: Health, _ problem: String) {
        problems.append(problem)
        if self.health < health { self.health = health }
    }

    private mutating func judge(now: WallTime) {
        guard enabled || defined else { return flag(.unknown, "no such client") }
        guard enabled else {
            let stillRunning = ([supervisor] + services.map { $0 }).contains { $0?.supervisor == .running }
            if stillRunning { flag(.warning, "disabled, still stopping") }
            return
        }
        if let supervisor { judge(supervisor, as: "client", now: now) }
        for service in services { judge(service, as: service.name, now: now) }
        if let backup { for (health, problem) in backup.judge(now: now) { flag(health, problem) } }
        for (health, problem) in assurance.judge(now: now) { flag(health, problem) }
        for (health, problem) in quota?.judge() ?? [] { flag(health, problem) }
        // An OOM kill of the last day is a warning; older ones only show in the limits row.
        if let last = supervisor?.lastOOMKill, now.unixSeconds - last.unixSeconds < 86400 {
            flag(.warning, "OOM kill in the client's cgroup \(AgeText.text(seconds: now.unixSeconds - last.unixSeconds)) ago"
                 + " (\(oomKills ?? 1) since it started" + (limits.isEmpty ? ")" : "; limits: \(limits.joined(separator: ", ")))"))
        }
    }

    private mutating func judge(_ probe: ServiceProbe, as label: String, now: WallTime) {
        guard let status = supervised(probe.supervisor, probe.status, label: label, path: probe.path,
                                      neverStarted: "never started (see the log of the svtree above it)") else { return }
        if let job = probe.job {
            judge(job, as: label)
        } else if status.state != .run {
            if probe.normallyUp || status.want == .up {
                flag(.critical, "\(label): \(status.state == .finish ? "finishing" : "down")"
                    + (probe.normallyUp ? " (normally up)" : " (wanted up)") + (probe.startError.map { ": \($0)" } ?? ""))
            }
        } else if status.paused {
            flag(.warning, "\(label): paused")
        } else if probe.ready == false {
            flag(.warning, "\(label): up but not ready ("
                + (probe.notificationFD.map { "nothing written to notification-fd \($0) yet" } ?? "its ./check fails") + ")")
        } else if let deaths = probe.quickDeaths, deaths > 0, now - status.since < Self.flappingWindowNanos {
            flag(.warning, "\(label): restarted after \(deaths) quick death\(deaths == 1 ? "" : "s")")
        }
        if let log = probe.log, let logStatus = supervised(log.supervisor, log.status, label: label + "/log",
                                                           path: probe.path + "/log", neverStarted: "never started"),
           logStatus.state != .run {
            flag(.critical, "\(label)/log: down")
        }
    }

    /// A job is judged by its last result, as monitoring plugins count exit codes; it is down
    /// between runs, which is no problem.
    private mutating func judge(_ job: ServiceProbe.JobProbe, as label: String) {
        if case .failure(let error) = job.schedule {
            return flag(.critical, "\(label): bad schedule: \(error)")
        }
        guard let exit = job.record.lastEnded?.exit, let result = job.result, result != .ok else { return }
        switch result {
        case .ok: break
        case .warning: flag(.warning, "\(label): last run warned (\(exit))")
        case .critical: flag(.critical, "\(label): last run failed (\(exit))")
        case .unknown: flag(.unknown, "\(label): last run could not tell (\(exit))")
        }
    }

    /// The status of a unit whose supervisor runs; nil, with the problem flagged, otherwise.
    private mutating func supervised(_ supervisor: ServiceProbe.Supervisor, _ status: StatusFormat.Snapshot?,
                                     label: String, path: String, neverStarted: String) -> StatusFormat.Snapshot? {
        switch supervisor {
        case .never:
            flag(.critical, "\(label): \(neverStarted)")
            return nil
        case .notRunning:
            flag(.critical, "\(label): no supervisor running")
            return nil
        case .running:
            // No status file yet under a live supervisor: it is starting (the file comes in the
            // same turn of its loop), no problem. One that is there and unreadable is unknown.
            if status == nil, FileSystem.exists(path + "/supervise/status") {
                flag(.unknown, "\(label): unreadable status: \(path)/supervise/status")
            }
            return status
        }
    }
}
