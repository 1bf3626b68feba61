import SvBase

/// svtree's own `supervise/svtree` file: what runit's 20-byte status has no room for. One
/// `key value` per line; svtree writes it, svctl reads it, unknown keys are skipped (so an
/// older svctl reads a newer svtree's file).
public struct SupervisorRecord: Sendable, Equatable {
    /// Deaths in a row of a young run (the restart delay grows with it).
    public var quickDeaths: Int
    /// The delay before the next start, in ms (0 when none is pending).
    public var restartDelayMs: Int64
    public var lastExit: ExitStatus?
    /// The unit's cgroup, relative to the cgroup v2 mount (cgroup mode only).
    public var cgroup: String?
    /// The service's `notification-fd`: readiness is tracked.
    public var notificationFD: Int32?
    /// When the current run said it was ready.
    public var readySince: WallTime?
    /// A job's live schedule state (its last runs are in the job's `last-run`).
    public var job: Job?
    /// Starts after the first since the supervisor began (nil: a file without the key).
    public var restarts: Int?
    /// An entry's cgroup with the memory controller: its OOM kills and when svtree saw the last.
    public var oomKills: Int?
    public var lastOOMKill: WallTime?
    /// Why the last start of `run` failed (its user file refused, exec failed), until one works.
    public var startError: String?

    public struct Job: Sendable, Equatable {
        public var nextRun: WallTime?
        public var skipped: Int
        public var suspended: Bool

        public init(nextRun: WallTime? = nil, skipped: Int = 0, suspended: Bool = false) {
            self.nextRun = nextRun
            self.skipped = skipped
            self.suspended = suspended
        }
    }

    public init(quickDeaths: Int = 0, restartDelayMs: Int64 = 0, lastExit: ExitStatus? = nil,
                cgroup: String? = nil, notificationFD: Int32? = nil, readySince: WallTime? = nil,
                job: Job? = nil, restarts: Int? = nil, oomKills: Int? = nil, lastOOMKill: WallTime? = nil,
                startError: String? = nil) {
        self.startError = startError
        self.oomKills = oomKills
        self.lastOOMKill = lastOOMKill
        self.job = job
        self.restarts = restarts
        self.quickDeaths = quickDeaths
        self.restartDelayMs = restartDelayMs
        self.lastExit = lastExit
        self.cgroup = cgroup
        self.notificationFD = notificationFD
        self.readySince = readySince
    }

    /// `quick_deaths N`, `restart_delay_ms N`, `restarts N`, `last_exit code|signal N`, `notification_fd N`,
    /// `ready_since_ns N`, `cgroup PATH`, `oom_kills N`, `last_oom_kill_ns N`; optional keys only when set.
    public var text: String {
        var text = "quick_deaths \(quickDeaths)\nrestart_delay_ms \(restartDelayMs)\n"
        if let restarts { text += "restarts \(restarts)\n" }
        if let lastExit { text += "last_exit \(lastExit.recordText)\n" }
        if let notificationFD { text += "notification_fd \(notificationFD)\n" }
        if let readySince { text += "ready_since_ns \(readySince.unixNanos)\n" }
        if let cgroup { text += "cgroup \(cgroup)\n" }
        if let oomKills { text += "oom_kills \(oomKills)\n" }
        if let lastOOMKill { text += "last_oom_kill_ns \(lastOOMKill.unixNanos)\n" }
        if let startError { text += "start_error \(startError.onOneLine)\n" }
        if let job {
            text += "job_suspended \(job.suspended ? 1 : 0)\njob_skipped \(job.skipped)\n"
            if let next = job.nextRun { text += "job_next_run_ns \(next.unixNanos)\n" }
        }
        return text
    }

    /// Parses what `text` renders; malformed lines and unknown keys are skipped.
    public init(parsing text: String) {
        self.init()
        // Key and value as slices of the text: svctl reads five of these a client, and a
        // String for each word was a tenth of a status of 1000 clients.
        for line in text.split(separator: "\n") {
            guard let space = line.firstIndex(of: " "), space != line.startIndex else { continue }
            let key = line[..<space], value = line[line.index(after: space)...]
            if value.isEmpty { continue }
            switch key {
            case "quick_deaths": quickDeaths = Int(value) ?? 0
            case "restart_delay_ms": restartDelayMs = Int64(value) ?? 0
            case "restarts": restarts = Int(value)
            case "cgroup": cgroup = String(value)
            case "oom_kills": oomKills = Int(value)
            case "start_error": startError = String(value)
            case "last_oom_kill_ns": lastOOMKill = Int64(value).map(WallTime.init(unixNanos:))
            case "notification_fd": notificationFD = Int32(value)
            case "ready_since_ns": readySince = Int64(value).map(WallTime.init(unixNanos:))
            case "job_suspended": updateJob { $0.suspended = value == "1" }
            case "job_skipped": updateJob { $0.skipped = Int(value) ?? 0 }
            case "job_next_run_ns": updateJob { $0.nextRun = Int64(value).map(WallTime.init(unixNanos:)) }
            case "last_exit":
                let parts = value.split(separator: " ")
                if parts.count == 2 { lastExit = ExitStatus(recordWords: parts[0], parts[1]) }
            default: break
            }
        }
    }

    private mutating func updateJob(_ change: (inout Job) -> Void) {
        var current = job ?? Job()
        change(&current)
        job = current
    }
}
