import Glibc
import SvBase
import SvFormats
import SvSupervision
import SvSystem

/// What the `supervise/` files of one service say, read as `sv` reads them: the 20-byte status
/// (svtree's or runsv's), svtree's own `supervise/svtree` when present, the `down` file, and
/// whether a supervisor holds the `ok` FIFO open.
public struct ServiceProbe: Sendable, Equatable {
    public enum Supervisor: Sendable, Equatable {
        case running
        case notRunning
        /// No `supervise/` at all: never started.
        case never
    }

    public var name: String
    public var path: String
    public var supervisor: Supervisor
    /// nil when `supervise/status` is missing or not 20 bytes.
    public var status: StatusFormat.Snapshot?
    public var normallyUp: Bool
    public var quickDeaths: Int?
    public var restartDelayMs: Int?
    public var lastExit: ExitStatus?
    public var cgroup: String?
    /// Written by svtree (it has `supervise/svtree`), else by runsv or nothing yet.
    public var writtenBySvtree: Bool
    public var log: LogProbe?
    /// Whether the running service is ready: by s6's `notification-fd` when it has one (svtree
    /// records it), else by runit's `./check`; nil without either, or unasked.
    public var ready: Bool?
    /// The service's `notification-fd`, as svtree records it: readiness is known without `./check`.
    public var notificationFD: Int32?
    /// Wall-clock ns at which the current run said it was ready through `notification-fd`.
    public var readySince: WallTime?
    /// A client's svtree entry: when its parent saw the last OOM kill in its cgroup.
    public var lastOOMKill: WallTime?
    /// The same: the OOM kills its cgroup's `memory.events` counts, as the parent keeps them
    /// (nil without a memory controller there).
    public var oomKills: Int?
    /// Why its supervisor could not start `run` last time (until a start works).
    public var startError: String?

    /// Starts after the first since its supervisor began (svtree only).
    public var restarts: Int?

    /// A job (the directory has `schedule`): its schedule, its last runs, its live state.
    public var job: JobProbe?

    public struct JobProbe: Sendable, Equatable {
        /// The schedule as written, or why it is refused.
        public var schedule: Result<Schedule, ScheduleError>
        public var record: JobRecord
        /// What its svtree says now (nil while no svtree supervises it).
        public var live: SupervisorRecord.Job?

        /// The last ended run's result, as monitoring counts it.
        public var result: JobResult? { record.lastEnded.map { JobResult($0.exit) } }
    }

    public struct LogProbe: Sendable, Equatable {
        public var supervisor: Supervisor
        public var status: StatusFormat.Snapshot?
    }

    public init(name: String, path: String, supervisor: Supervisor, status: StatusFormat.Snapshot?,
                normallyUp: Bool, quickDeaths: Int? = nil, restartDelayMs: Int? = nil,
                lastExit: ExitStatus? = nil, cgroup: String? = nil, writtenBySvtree: Bool = false,
                log: LogProbe? = nil) {
        self.name = name
        self.path = path
        self.supervisor = supervisor
        self.status = status
        self.normallyUp = normallyUp
        self.quickDeaths = quickDeaths
        self.restartDelayMs = restartDelayMs
        self.lastExit = lastExit
        self.cgroup = cgroup
        self.writtenBySvtree = writtenBySvtree
        self.log = log
    }

    /// Reads the service directory at `path`; `checkSupervisor` false skips the FIFO test
    /// (golden tests read fixture files that no supervisor holds).
    public static func read(name: String, path: String, checkSupervisor: Bool = true) -> ServiceProbe {
        let supervise = path + "/supervise"
        var probe = ServiceProbe(
            name: name, path: path,
            supervisor: state(supervise, asked: checkSupervisor, okFailure: checkSupervisor ? okFailure(supervise) : nil),
            status: StatusFormat.parseStatus((try? FileSystem.readWholeSmallFile(supervise + "/status", limit: 64)) ?? []),
            normallyUp: !FileSystem.exists(path + "/down"))
        probe.job = readJob(path)
        if let extra = try? FileSystem.readWholeSmallFile(supervise + "/svtree", limit: 4096) {
            probe.writtenBySvtree = true
            let record = SupervisorRecord(parsing: String(decoding: extra, as: UTF8.self))
            probe.apply(record)
            probe.job?.live = record.job
            if probe.notificationFD != nil, probe.status?.state == .run { probe.ready = probe.readySince != nil }
        }
        // A logger's supervisor answering on `ok` is a `log/` directory too: the stat of log/
        // only when it does not (one system call less for each logging service).
        let logSupervise = path + "/log/supervise"
        let logFailure = checkSupervisor ? okFailure(logSupervise) : nil
        if (checkSupervisor && logFailure == nil) || (try? FileSystem.info(path + "/log"))?.kind == .directory {
            probe.log = LogProbe(
                supervisor: state(logSupervise, asked: checkSupervisor, okFailure: logFailure),
                status: StatusFormat.parseStatus((try? FileSystem.readWholeSmallFile(logSupervise + "/status", limit: 64)) ?? []))
        }
        return probe
    }

    /// The job's files, nil for a service (no `schedule`).
    static func readJob(_ path: String) -> JobProbe? {
        guard FileSystem.exists(path + "/schedule") else { return nil }
        let text = (try? FileSystem.readBytes(path + "/schedule", limit: 4097)).map { String(decoding: $0, as: UTF8.self) }
        let schedule: Result<Schedule, ScheduleError>
        if let text, text.utf8.count <= 4096 {
            schedule = Result { () throws(ScheduleError) in try Schedule.parse(text) }
        } else {
            schedule = .failure(.bad(text == nil ? "cannot be read" : "is larger than 4 kB"))
        }
        let record = (try? FileSystem.readBytes(path + "/" + JobRecord.fileName, limit: 4096))
            .map { JobRecord(parsing: String(decoding: $0, as: UTF8.self)) } ?? JobRecord()
        return JobProbe(schedule: schedule, record: record, live: nil)
    }

    /// What svtree's `supervise/svtree` says.
    mutating func apply(_ record: SupervisorRecord) {
        restarts = record.restarts
        quickDeaths = record.quickDeaths
        restartDelayMs = Int(record.restartDelayMs)
        lastExit = record.lastExit
        cgroup = record.cgroup
        notificationFD = record.notificationFD
        readySince = record.readySince
        lastOOMKill = record.lastOOMKill
        oomKills = record.oomKills
        startError = record.startError
    }

    /// As `sv` tells: a supervisor keeps `supervise/ok` open for reading, so opening it for
    /// writing without blocking fails with ENXIO when none runs.
    public static func supervisorState(_ supervise: String) -> Supervisor {
        state(supervise, asked: true, okFailure: okFailure(supervise))
    }

    /// The supervisor of `supervise` by its `ok` (`okFailure`: the open's errno, nil when a
    /// supervisor answered), or, unasked (fixture files no process holds), by whether the
    /// directory is there.
    static func state(_ supervise: String, asked: Bool, okFailure failure: Int32?) -> Supervisor {
        guard asked else { return FileSystem.exists(supervise) ? .running : .never }
        return failure.map { unanswered(supervise, $0) } ?? .running
    }

    /// What an `ok` that could not be opened (`failure`: the open's errno) means.
    static func unanswered(_ supervise: String, _ failure: Int32) -> Supervisor {
        // Only a failure needs telling apart: no supervise/ at all, or one never used.
        if failure == ENOENT && (!FileSystem.exists(supervise) || !FileSystem.exists(supervise + "/status")) { return .never }
        // svtree opens `ok` once it has written the status: an `ok` nobody reads beside no
        // status, with `control` held (it is from the start), is an entry it is starting in
        // this turn of its loop (`status` nil: starting); with `control` let go, one it gave up.
        if failure == ENXIO && !FileSystem.exists(supervise + "/status") && readerFailure(supervise + "/control") == nil {
            return .running
        }
        return .notRunning
    }

    /// nil when a supervisor holds `supervise/ok` open, else the errno of the try.
    static func okFailure(_ supervise: String) -> Int32? { readerFailure(supervise + "/ok") }

    /// A FIFO opened for writing without blocking (nothing is written): nil when someone holds
    /// it for reading, else the errno (ENXIO: nobody does).
    static func readerFailure(_ path: String) -> Int32? {
        let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return errno }
        close(fd)
        return nil
    }
}
