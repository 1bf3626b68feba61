import Glibc
import SvBase
import SvSupervision
import SvSystem

/// The shell around the pure machines: one event loop over a supervised directory.
///
/// It scans the directory on inotify events, starts an `Entry` per service directory,
/// performs the actions the machines return (spawn, signal, write status) and feeds their
/// results back as events. The same program serves the root and every client.
public final class Supervisor {
    public let directory: String
    let loop: EventLoop
    let watcher: DirectoryWatcher?
    let selfPid = getpid()
    var entries: [FileSystem.Identity: Entry] = [:]
    /// Entries stopped with `x`: left alone until they change or SIGHUP.
    var dormant: Set<FileSystem.Identity> = []
    /// The last problem reported per name, so each is said once, not on every scan.
    var problems: [String: ServiceDefinition.Problem] = [:]
    /// Problems of the directory itself and of watches, each said once until it clears.
    var reports = ReportOnce<Report>()
    var children = ChildTable()
    var tokens = LoopTokens(first: EventLoop.firstFreeToken)
    /// Actions still to perform, the next on top (see `perform`).
    var actionStack: [(EntryMachine.Action, Entry)] = []
    var performing = false
    /// An entry went away while actions were performed: look at the directory once they are done.
    var rescanRequested = false
    var dirtyStatus: Set<StatusKey> = []
    /// Why cgroup mode is off, for the status line.
    var cgroupUnavailable = "turned off by SVTREE_CGROUPS=off"
    var stopping = false
    /// Without inotify the directory is rescanned on this period (runsvdir's 5 s).
    var fallbackRescanAt: Int64?
    static let fallbackRescanPeriod: Int64 = 5 * nanosPerSecond
    /// The wait before retrying entries that found no descriptor left.
    var exhaustionRetryDelay: Int64 = 0
    public weak var observer: SupervisorObserver?
    /// Each unit in a cgroup of its own, where cgroup v2 is writable; else sessions and markers.
    let cgroups: CgroupTree?
    /// Sent from the loop itself, so a wedged loop stops the pings.
    var watchdogDue: Int64?
    static let watcherToken: UInt64 = 3
    static let jobTimerToken: UInt64 = 4
    static let oomToken: UInt64 = 5
    /// The owner of DIR: whoever may add entries there. An entry without a `user` file runs
    /// as this user, so a tree user who is not root cannot start anything as root.
    let treeOwner: uid_t
    /// Made at the first entry whose cgroup has the memory controller.
    var oomWatch: OOMWatch?
    /// Made when the first job appears: a tree without jobs holds no wall-clock timer.
    var jobTimer: WallClockTimer?
    /// Supervise files whose last write failed, and when to write them again.
    var statusRetry: Set<StatusKey> = []
    var statusRetryAt: Int64?
    var statusRetryDelay: Int64 = 0
    /// What a dead predecessor left, until the first scan has ended it (see Recovery).
    var recovery: Recovery?

    struct StatusKey: Hashable {
        var identity: FileSystem.Identity
        var role: EntryMachine.Role
    }

    enum Report: Hashable {
        /// The directory cannot be read (gone, or no permission): its entries are stopped.
        case directoryUnreadable
        /// The descriptor limit was hit reading it: entries kept, retried.
        case exhausted
        case unwatchable(String)
    }

    public init(directory: String) throws {
        self.directory = directory
        var st = stat()
        treeOwner = stat(directory, &st) == 0 ? st.st_uid : geteuid()
        loop = try EventLoop(signals: [SIGCHLD, SIGTERM, SIGINT, SIGHUP])
        if Spawner.environmentValue("SVTREE_CGROUPS") == "off" {
            cgroups = nil
        } else {
            let (tree, detail) = CgroupTree.setUp()
            cgroups = tree
            if tree == nil { cgroupUnavailable = detail }
        }
        // A root looks for what a SIGKILLed predecessor left; a nested svtree's predecessor
        // died with the entry its parent ended (and a thousand clients would scan /proc each),
        // and under systemd (INVOCATION_ID) the unit's cgroup is clean: no process scan then.
        let nested = Spawner.environmentValue(ServiceMarker.variable) != nil
        let underSystemd = Spawner.environmentValue("INVOCATION_ID") != nil
        recovery = Recovery(marked: nested || underSystemd ? [] : Recovery.scanMarked())
        watcher = DirectoryWatcher()
        if let watcher {
            try loop.add(watcher.fd, token: Supervisor.watcherToken)
        } else {
            Diagnostics.warn("no inotify instance left (raise the sysctl fs.inotify.max_user_instances): "
                + "rescanning \(directory) every 5 s instead")
        }
    }

    /// Runs until SIGTERM or SIGINT has torn everything down; returns the exit code.
    public func run() -> Int32 {
        rescan()
        finishRecovery()
        drainExits()
        flushStatus()
        observer?.ready()
        if observer?.watchdogInterval != nil { watchdogDue = EventLoop.now }
        while true {
            drainExits()
            flushStatus()
            if stopping && entries.isEmpty {
                sweepDescendants()
                cgroups?.dismantle()
                return 0
            }
            loop.setDeadline(nextDeadline())
            armJobTimer()
            for token in loop.wait() {
                switch token {
                case EventLoop.signalToken: handleSignals()
                case EventLoop.timerToken: handleTimer()
                case Supervisor.jobTimerToken: handleJobTimer()
                case Supervisor.oomToken: handleOOMEvents()
                case Supervisor.watcherToken:
                    watcher?.drain()
                    if !stopping { rescan() }
                default:
                    switch tokens[token] {
                    case .control(let identity, let role): handleControl(identity, role)
                    case .readiness: handleReadiness(token: token)
                    case nil: break
                    }
                }
                drainExits()
            }
        }
    }

    // MARK: - signals and timers

    func handleSignals() {
        for sig in loop.pendingSignals() {
            switch sig {
            case SIGCHLD:
                reapChildren()
            case SIGTERM, SIGINT:
                beginStopping()
            case SIGHUP:
                guard !stopping else { continue }
                observer?.reloading()
                defer { observer?.ready() }
                dormant.removeAll()
                problems.removeAll()
                reports.clearAll()
                for entry in entries.values {
                    entry.reloadSettings()
                    if let cgroups { applyLimits(entry, cgroups) }
                    jobReloaded(entry)
                }
                rescan()
            default:
                break
            }
        }
    }

    func beginStopping() {
        guard !stopping else { return }
        stopping = true
        observer?.stopping()
        for entry in Array(entries.values) { perform(entry.machine.teardown(now: EventLoop.now), on: entry) }
        // Nothing is rescanned from here on. Watches removed now are reaped by the kernel while
        // the services stop; left to the exit, closing the inotify descriptor waits for that
        // reaping (an SRCU grace period, up to ~20 ms), and the parent sees the exit that late.
        // (An OOM kill from here on is read from memory.events when its entry goes away.)
        watcher?.watch(exactly: [])
        handleOOMEvents()
        oomWatch?.forgetAll()
    }

    func nextDeadline() -> Int64? {
        var deadline = [fallbackRescanAt, watchdogDue, statusRetryAt].compactMap { $0 }.min()
        for entry in entries.values {
            if let due = entry.machine.deadline { deadline = min(deadline ?? due, due) }
        }
        return deadline
    }

    func handleTimer() {
        loop.acknowledgeTimer()
        let now = EventLoop.now
        if let due = watchdogDue, due <= now, let interval = observer?.watchdogInterval {
            observer?.watchdog()
            watchdogDue = now + interval
        }
        if let at = statusRetryAt, at <= now {
            statusRetryAt = nil
            dirtyStatus.formUnion(statusRetry)
            statusRetry.removeAll()
        }
        if let at = fallbackRescanAt, at <= now {
            fallbackRescanAt = nil
            if !stopping { rescan() }
        }
        for entry in Array(entries.values) {
            guard let due = entry.machine.deadline, due <= now else { continue }
            perform(entry.machine.handle(.tick, for: .main, now: now), on: entry)
            if entry.machine.log != nil { perform(entry.machine.handle(.tick, for: .log, now: now), on: entry) }
        }
    }

    func handleControl(_ identity: FileSystem.Identity, _ role: EntryMachine.Role) {
        guard let entry = entries[identity], let supervise = entry.supervise[role] else { return }
        // Any byte may arrive; one that is no letter changes nothing, as with runsv.
        for letter in supervise.readControl().compactMap(ControlLetter.init(rawValue:)) {
            guard entries[identity] != nil else { return }
            let wasSuspended = entry.machine.main.suspended
            entry.refreshScripts(role)
            perform(entry.machine.handle(.control(letter), for: role, now: EventLoop.now), on: entry)
            jobResumed(entry, wasSuspended: wasSuspended)
        }
    }

    // MARK: - children

    /// Reaps every child that has exited; events for known ones are handled after the current action.
    func reapChildren() { children.reap() }

    func drainExits() {
        while let (pid, owner, status) = children.nextExit() {
            let now = EventLoop.now
            switch owner {
            case .run(let identity, let role), .finish(let identity, let role):
                guard let entry = entries[identity] else { continue }
                if case .run = owner {
                    entry.refreshScripts(role)
                    stopWatchingReadiness(entry, role)
                    if role == .main { jobEnded(entry, status) }
                }
                perform(entry.machine.handle(.exited(pid: pid, status: status), for: role, now: now), on: entry)
            case .control(let identity, let role, let letter):
                guard let entry = entries[identity] else { continue }
                let handled = status == .exited(0)
                perform(entry.machine.handle(.controlScriptExited(letter: letter, handled: handled), for: role,
                                             now: now), on: entry)
            }
        }
    }

    /// "2 entries: 2 up, 0 down, 0 restarting", counting each entry by its service.
    func summary() -> String {
        var up = 0, down = 0, restarting = 0
        for entry in entries.values {
            let main = entry.machine.main
            if main.isRunning {
                up += 1
            } else if main.want == .up && main.restartAt != nil {
                restarting += 1
            } else {
                down += 1
            }
        }
        let total = entries.count
        return "\(total) \(total == 1 ? "entry" : "entries"): \(up) up, \(down) down, \(restarting) restarting"
            + (stopping ? ", stopping" : "") + (cgroups == nil ? "; session mode" : "; cgroup mode")
    }
}
