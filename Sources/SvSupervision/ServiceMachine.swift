import Glibc
import SvBase

/// The supervision state machine of one process slot (a service's `run`, or its logger).
///
/// Pure: it takes events and returns actions; `Supervisor` performs the system calls and
/// feeds results back as events. States, wanted states and flags follow runsv, so the
/// `supervise/status` bytes mean what Debian's `sv` expects.
public struct ServiceMachine: Sendable {
    public typealias State = RunState
    public typealias Want = WantedState

    /// How a stop proceeds: a logger is first asked by EOF, a service by its down signal.
    public enum StopStage: Sendable, Equatable { case awaitingEOF, signalled, killed }

    public enum Event: Sendable, Equatable {
        /// The slot is created; `startDown` is runit's `down` file.
        case begin(startDown: Bool)
        case control(ControlLetter)
        case spawned(pid: Int32)
        case spawnFailed
        case exited(pid: Int32, status: ExitStatus)
        case controlScriptExited(letter: ControlLetter, handled: Bool)
        /// A deadline (restart delay or stop timeout) may have passed.
        case tick
        /// Stop for good: by the down signal, or (`byEOF`) by closing the logger's pipe.
        case teardown(byEOF: Bool)
        /// The run wrote its newline to `notification-fd` (s6's readiness protocol).
        case ready(pid: Int32)
        /// A job's due time came (the shell keeps the schedule).
        case due
    }

    public enum Target: Sendable, Equatable { case process, group }

    public enum Action: Sendable, Equatable {
        case spawnRun
        case spawnFinish(exitCode: Int32, signal: Int32)
        case signal(pid: Int32, Int32, Target)
        /// Kill what the run process left behind (its session, orphans it caused).
        case killLeftovers(session: Int32)
        case runControlScript(letter: ControlLetter)
        /// Reached down with the wanted state "exit": the slot is finished.
        case stopped
        case statusChanged
    }

    public var settings: ServiceSettings
    public private(set) var state: State = .down
    public private(set) var want: Want = .up
    /// Pid of `run` (state run) or `finish` (state finish); 0 when down.
    public private(set) var pid: Int32 = 0
    public private(set) var paused = false
    public private(set) var gotTerm = false
    /// Monotonic ns of the last start of `run` or the last change to down.
    public private(set) var since: Int64 = 0
    public private(set) var startedAt: Int64 = 0
    public private(set) var quickDeaths = 0
    /// Starts of `run` after the first, since this supervisor began (Prometheus's
    /// `svtree_service_restarts_total`; runit and s6 count none).
    public private(set) var restarts = 0
    private var startedOnce = false
    public private(set) var restartDelay: Int64 = 0
    public private(set) var restartAt: Int64?
    public private(set) var lastExit: ExitStatus?
    /// Monotonic ns at which the current run said it was ready; nil until then, and for a
    /// service without `notification-fd`.
    public private(set) var readyAt: Int64?
    public private(set) var stopStage: StopStage?
    /// An operator asked for this death (`t`, `k`): it does not count as a quick death.
    private var killedOnRequest = false
    private var stopDeadline: Int64?
    private var finishDeadline: Int64?
    /// Letters whose control script runs now, with the signal to send if it does not handle it.
    private var pendingDefaults: [ControlLetter: Int32] = [:]
    /// A job whose schedule is suspended (`d`, or a `down` file): due times start nothing.
    public private(set) var suspended = false
    /// Due times that found the job still running, since this supervisor started.
    public private(set) var skipped = 0
    /// When a job's run has run for `timeout-run`.
    private var runDeadline: Int64?

    public init(settings: ServiceSettings) { self.settings = settings }

    /// The earliest time at which `tick` has something to do.
    public var deadline: Int64? {
        [restartAt, stopDeadline, finishDeadline, runDeadline].compactMap { $0 }.min()
    }

    public var isRunning: Bool { state == .run }

    public mutating func handle(_ event: Event, now: Int64) -> [Action] {
        var out: [Action] = []
        switch event {
        case .begin(let startDown):
            // A job is never kept up: it runs when due, `down` suspends its schedule.
            want = startDown || settings.isJob ? .down : .up
            suspended = settings.isJob && startDown
            since = now
            if want == .up { out.append(.spawnRun) }
        case .due:
            guard settings.isJob, !suspended else { return [] }
            if state == .down {
                out.append(.spawnRun)
            } else {
                skipped += 1
            }
        case .spawned(let newPid):
            if startedOnce { restarts += 1 }
            startedOnce = true
            state = .run
            pid = newPid
            since = now
            startedAt = now
            paused = false
            gotTerm = false
            killedOnRequest = false
            restartAt = nil
            readyAt = nil
            if settings.isJob, let timeout = settings.timeoutRun { runDeadline = now + timeout }
        case .ready(let readyPid):
            // A late line from an earlier run says nothing about this one.
            guard state == .run, readyPid == pid, readyAt == nil else { return [] }
            readyAt = now
        case .spawnFailed:
            // runsv's rule: a run that cannot be executed counts as exit 111.
            startedAt = now
            runEnded(status: .exited(111), now: now, into: &out)
        case .exited(let deadPid, let status):
            if state == .run && deadPid == pid {
                out.append(.killLeftovers(session: deadPid))
                runEnded(status: status, now: now, into: &out)
            } else if state == .finish && deadPid == pid {
                finishDeadline = nil
                enterDown(now: now, into: &out)
            }
        case .control(let letter):
            control(letter, now: now, into: &out)
        case .controlScriptExited(let letter, let handled):
            if let sig = pendingDefaults.removeValue(forKey: letter), !handled, state == .run {
                out.append(.signal(pid: pid, sig, letter == .kill ? .group : .process))
            }
        case .tick:
            tick(now: now, into: &out)
        case .teardown(let byEOF):
            want = .exit
            restartAt = nil
            if byEOF && state == .run {
                stopStage = .awaitingEOF
                stopDeadline = now + settings.timeoutKill
            } else {
                stop(now: now, into: &out)
            }
            if state == .down { out.append(.stopped) }
        }
        out.append(.statusChanged)
        return out
    }

    // MARK: - transitions

    private mutating func runEnded(status: ExitStatus, now: Int64, into out: inout [Action]) {
        lastExit = status
        readyAt = nil
        runDeadline = nil
        stopDeadline = nil
        stopStage = nil
        gotTerm = false
        paused = false
        if want == .up {
            if killedOnRequest || now - startedAt >= RestartPolicy.healthyRun {
                quickDeaths = 0
            } else {
                quickDeaths += 1
            }
        }
        if settings.hasFinish {
            state = .finish
            pid = 0
            out.append(.spawnFinish(exitCode: status.runitExitCode, signal: status.signal))
            if settings.timeoutFinish > 0 { finishDeadline = now + settings.timeoutFinish }
        } else {
            enterDown(now: now, into: &out)
        }
    }

    /// The shell reports the finish script's pid through this.
    public mutating func finishSpawned(pid newPid: Int32?, now: Int64) -> [Action] {
        guard state == .finish else { return [] }
        if let newPid {
            pid = newPid
            return []
        }
        var out: [Action] = []
        finishDeadline = nil
        enterDown(now: now, into: &out)
        out.append(.statusChanged)
        return out
    }

    private mutating func enterDown(now: Int64, into out: inout [Action]) {
        state = .down
        pid = 0
        since = now
        switch want {
        case .up:
            restartDelay = RestartPolicy.delay(afterQuickDeaths: quickDeaths)
            if restartDelay == 0 {
                out.append(.spawnRun)
            } else {
                restartAt = now + restartDelay
            }
        case .exit:
            out.append(.stopped)
        case .down:
            break
        }
    }

    private mutating func tick(now: Int64, into out: inout [Action]) {
        if let at = restartAt, at <= now, state == .down, want == .up {
            restartAt = nil
            out.append(.spawnRun)
        }
        if let at = stopDeadline, at <= now, state == .run {
            switch stopStage {
            case .awaitingEOF:
                // The logger did not finish on EOF: ask it with its down signal.
                sendDownSignal(now: now, into: &out)
            default:
                stopStage = .killed
                stopDeadline = nil
                out.append(.signal(pid: pid, SIGKILL, .group))
            }
        }
        if let at = runDeadline, at <= now, state == .run {
            // timeout-run: stopped as `d` would, the schedule going on.
            runDeadline = nil
            stop(now: now, into: &out)
        }
        if let at = finishDeadline, at <= now, state == .finish, pid != 0 {
            finishDeadline = nil
            out.append(.signal(pid: pid, SIGKILL, .group))
        }
    }

    private mutating func stop(now: Int64, into out: inout [Action]) {
        restartAt = nil
        guard state == .run else { return }
        if settings.controlScripts.contains(.term) {
            pendingDefaults[.term] = settings.downSignal
            out.append(.runControlScript(letter: .term))
            gotTerm = true
            stopStage = .signalled
            stopDeadline = now + settings.timeoutKill
            out.append(.signal(pid: pid, SIGCONT, .group))
        } else {
            sendDownSignal(now: now, into: &out)
        }
        let hook: ControlLetter = want == .exit ? .exit : .down
        if settings.controlScripts.contains(hook) { out.append(.runControlScript(letter: hook)) }
    }

    private mutating func sendDownSignal(now: Int64, into out: inout [Action]) {
        out.append(.signal(pid: pid, settings.downSignal, .group))
        out.append(.signal(pid: pid, SIGCONT, .group))
        gotTerm = true
        stopStage = .signalled
        stopDeadline = now + settings.timeoutKill
    }

    private mutating func control(_ letter: ControlLetter, now: Int64, into out: inout [Action]) {
        switch letter {
        case .up where settings.isJob:
            suspended = false  // resumes the schedule; starts nothing unless due
        case .down where settings.isJob:
            suspended = true
            stop(now: now, into: &out)
        case .up:
            want = .up
            if state == .down {
                restartAt = nil
                out.append(.spawnRun)
            }
        case .down:
            want = .down
            stop(now: now, into: &out)
        case .once:
            want = .down
            if state == .down {
                restartAt = nil
                out.append(.spawnRun)
            }
        case .exit:
            guard !settings.isLogger else { return }  // runsv ignores x for the logger
            want = .exit
            stop(now: now, into: &out)
            if state == .down { out.append(.stopped) }
        case .term:
            if state == .run {
                gotTerm = true
                killedOnRequest = true
                sendSignal(letter: letter, SIGTERM, into: &out)
            }
        case .kill:
            if state == .run {
                killedOnRequest = true
                sendSignal(letter: letter, SIGKILL, target: .group, into: &out)
            }
        case .pause:
            if state == .run { sendSignal(letter: letter, SIGSTOP, into: &out) }
            paused = true
        case .cont:
            if state == .run { sendSignal(letter: letter, SIGCONT, into: &out) }
            paused = false
        default:
            if let sig = letter.plainSignal, state == .run {
                sendSignal(letter: letter, sig, into: &out)
            }
        }
    }

    private mutating func sendSignal(letter: ControlLetter, _ sig: Int32, target: Target = .process,
                                     into out: inout [Action]) {
        if settings.controlScripts.contains(letter) {
            pendingDefaults[letter] = sig
            out.append(.runControlScript(letter: letter))
        } else {
            out.append(.signal(pid: pid, sig, target))
        }
    }
}
