import Glibc
import SvBase
import SvFormats
import SvSystem

/// `svctl up|down|...`: the letters `sv` writes to `supervise/control`, and what "done" means
/// for `-w` (read back from `supervise/status`, as `sv` does).
public enum Command: String, CaseIterable, Sendable {
    case up, down, once, restart, term, kill, pause, cont, hup, exit

    /// runit's control letters; restart is sv's "term, continue, up".
    public var letters: [ControlLetter] {
        switch self {
        case .up: return [.up]
        case .down: return [.down]
        case .once: return [.once]
        case .restart: return [.term, .cont, .up]
        case .term: return [.term]
        case .kill: return [.kill]
        case .pause: return [.pause]
        case .cont: return [.cont]
        case .hup: return [.hangup]
        case .exit: return [.exit]
        }
    }

    /// Whether the command has taken effect, from the status before and now.
    func isDone(before: StatusFormat.Snapshot?, now: ServiceProbe) -> Bool {
        if self == .exit { return now.supervisor != .running }
        guard now.supervisor == .running, let status = now.status else { return false }
        // A new process: svtree may rewrite `since` when only the wanted state changes.
        let changed = before.map { status.pid != $0.pid || ($0.state != .run && status.since > $0.since) } ?? true
        // A job is down between runs: up (and restart) are done when its schedule runs again,
        // once when a run started (it may have ended already).
        if let job = now.job {
            switch self {
            case .up, .restart: return job.live?.suspended == false
            case .once: return status.state == .run || changed || (before.map { status.since > $0.since } ?? false)
            default: break
            }
        }
        switch self {
        case .up, .once: return status.state == .run && Control.isReady(now)
        case .down: return status.state == .down
        case .restart: return status.state == .run && changed && Control.isReady(now)
        case .term, .kill: return changed && (status.state == .run || status.want != .up)
        case .pause: return status.paused
        case .cont: return !status.paused
        case .hup, .exit: return true
        }
    }

    var goal: String {
        switch self {
        case .up, .once, .restart: return "up"
        case .down: return "down"
        case .term, .kill: return "a new start or down"
        case .pause: return "paused"
        case .cont: return "continued"
        case .hup: return "the signal"
        case .exit: return "its supervisor to exit"
        }
    }
}

public enum Control {
    /// Ready as the service can tell: s6's `notification-fd` (svtree records the newline; no
    /// process to run), else runit's `./check`.
    public static func isReady(_ probe: ServiceProbe) -> Bool {
        if probe.notificationFD != nil { return probe.readySince != nil }
        return checkPasses(probe.path)
    }

    /// runit's readiness test, as `sv -w` uses it: an executable `check` in the service
    /// directory, run there, exiting 0 once the service is ready. No `check`: ready when up.
    public static func checkPasses(_ service: String) -> Bool {
        guard FileSystem.isExecutableFile(service + "/check") else { return true }
        // The service's owner may have written it: run as them, never as root.
        return (try? Subprocess.run([service + "/check"], input: "", directory: service,
                                    identity: ClientFiles.owner(ofServiceDirectory: service))) == 0
    }

    /// Writes the command's letters to `supervise/control` without blocking: a supervisor
    /// holds it open, so ENXIO means there is none.
    public static func send(_ command: Command, to service: String, label: String) throws(SvctlError) {
        let path = service + "/supervise/control"
        let fd = try ClientFiles.acting(as: ClientFiles.owner(ofServiceDirectory: service)) { () throws(SvctlError) in
            open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        }
        var st = stat()
        if fd >= 0 && (fstat(fd, &st) != 0 || st.st_mode & S_IFMT != S_IFIFO) {
            close(fd)
            throw SvctlError.failed("\(label): \(path) is not a FIFO: nothing written")
        }
        guard fd >= 0 else {
            let error = FileSystem.lastErrno
            if error == .noSuchAddressOrDevice || error == .noSuchFileOrDirectory {
                throw SvctlError.failed("\(label): no supervisor running (\(path))")
            }
            throw SvctlError.failed("\(label): cannot open \(path): \(error)")
        }
        defer { close(fd) }
        do {
            try FileSystem.writeAll(fd, command.letters.map(\.rawValue))
        } catch {
            throw SvctlError.failed("\(label): cannot write to \(path): \(error)")
        }
    }

    /// Sends to every target, then (with `waitSeconds`) waits for all of them together.
    /// Returns one line per target, as `sv` prints them; throws the first failure.
    public static func run(_ command: Command, targets: [(label: String, path: String)],
                           waitSeconds: Double?) throws(SvctlError) -> [String] {
        var before: [String: StatusFormat.Snapshot?] = [:]
        for target in targets {
            before[target.path] = ServiceProbe.read(name: target.label, path: target.path).status
            try send(command, to: target.path, label: target.label)
        }
        guard let waitSeconds else { return targets.map { "\($0.label): \(command.rawValue) sent" } }
        var pending = targets
        let done = Poll.until(seconds: waitSeconds) {
            pending.removeAll { target in
                command.isDone(before: before[target.path] ?? nil,
                               now: ServiceProbe.read(name: target.label, path: target.path))
            }
            return pending.isEmpty
        }
        if !done, let target = pending.first {
            let probe = ServiceProbe.read(name: target.label, path: target.path)
            throw .failed("\(target.label): timed out after \(format(waitSeconds)) s waiting for \(command.goal)"
                + " (now \(StatusView.long(probe, now: EventLoop.wallNow)))")
        }
        return targets.map { target in
            let probe = ServiceProbe.read(name: target.label, path: target.path)
            return "\(target.label): \(command.rawValue): ok (\(StatusView.long(probe, now: EventLoop.wallNow)))"
        }
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}

/// `svctl run CLIENT/JOB [-w SECONDS]`: a job's `o`, and with a wait, its result as the exit code.
public enum JobRun {
    public static func run(label: String, path: String, waitSeconds: Double?) throws(SvctlError) -> (String, Int32) {
        let before = ServiceProbe.read(name: label, path: path)
        guard let job = before.job else { throw .failed("\(label) is not a job: it has no schedule file") }
        let wasRunning = before.status?.state == .run
        try Control.send(.once, to: path, label: label)
        guard let waitSeconds else { return ("\(label): run sent", 0) }
        // The run this starts (or the one already going) is the first to end after the last start.
        let lastStart = job.record.lastStart
        var ended: JobRecord.Ended?
        let done = Poll.until(seconds: waitSeconds) {
            let now = ServiceProbe.read(name: label, path: path)
            guard now.status?.state != .run, let last = now.job?.record.lastEnded else { return false }
            guard let lastStart else {
                ended = last
                return true
            }
            if wasRunning ? last.start >= lastStart : last.start > lastStart { ended = last }
            return ended != nil
        }
        guard done, let ended else {
            throw .unknown("\(label): timed out after \(Control.format(waitSeconds)) s waiting for the run to end")
        }
        let result = JobResult(ended.exit)
        return ("\(label): \(result.rawValue) (\(ended.exit)) in \(AgeText.text(milliseconds: ended.durationMs))",
                result.exitCode)
    }
}
