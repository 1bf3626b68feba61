import Glibc
import SvBase

/// What one service directory says about how to run it (runit's files plus s6's names).
public struct ServiceSettings: Sendable, Equatable {
    /// ns between the down signal and SIGKILL to the process group (s6's `timeout-kill`).
    public var timeoutKill: Int64 = 7000 * nanosPerMilli
    /// ns a `finish` script may run before SIGKILL; 0 means unbounded (s6's `timeout-finish`).
    public var timeoutFinish: Int64 = 5000 * nanosPerMilli
    public var downSignal: Int32 = SIGTERM
    public var hasFinish = false
    /// Letters with an executable `control/<letter>` script (runit's customised control).
    public var controlScripts: Set<ControlLetter> = []
    public var isLogger = false
    /// s6's `notification-fd`: the run gets a pipe as this descriptor and writes a newline to
    /// it once ready. nil: no readiness is tracked.
    public var notificationFD: Int32?
    /// A job (the directory has a `schedule`): started at due times, never kept running.
    public var isJob = false
    /// s6-style `timeout-run` of a job, ns: a run still going then gets the down signal.
    public var timeoutRun: Int64?

    public init(timeoutKill: Int64 = 7000 * nanosPerMilli, timeoutFinish: Int64 = 5000 * nanosPerMilli,
                downSignal: Int32 = SIGTERM, hasFinish: Bool = false,
                controlScripts: Set<ControlLetter> = [], isLogger: Bool = false, notificationFD: Int32? = nil) {
        self.timeoutKill = timeoutKill
        self.timeoutFinish = timeoutFinish
        self.downSignal = downSignal
        self.hasFinish = hasFinish
        self.controlScripts = controlScripts
        self.isLogger = isLogger
        self.notificationFD = notificationFD
    }
}
