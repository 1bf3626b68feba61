import CSupport
import Glibc
import SvBase
import SvFormats
import SvSystem

/// The snapwatch daemon: one event loop over inotify (the snapshots), a signalfd (SIGCHLD
/// for the hook, TERM/INT to stop, HUP to list again) and the loop's timer (retries, hook
/// timeout, grace periods), armed only while one of those runs.
public final class Snapwatch {
    static let inotifyToken = EventLoop.firstFreeToken

    let options: SnapwatchOptions
    let hookPath: String
    let loop: EventLoop
    let watcher: SnapshotsWatcher
    var queue: SnapshotQueue
    var record: SnapwatchRecord
    var hookPid: Int32 = 0
    var hookStarted: (monotonic: Int64, wall: WallTime) = (0, WallTime(unixNanos: 0))
    var writtenStatus = ""
    /// State or status that could not be written (a full disk): written again on a timer.
    var stateUnsaved = false
    var filesFailing = false
    var filesRetryAt: Int64?
    var filesRetryDelay: Int64 = 0
    var announcedMissing: String?
    /// When the repository is measured next (after an event that may have changed it).
    var measureDue: Int64?
    /// The snapshots of the last listing: without inotify a listing comes every 5 s, and the
    /// repository's size (a stat of every file) is measured again only when it changed.
    var lastListing: [String]?
    var quotaLevel: QuotaFile.Level?
    var quotaProblemsSaid: Set<String> = []
    var exitCode: Int32?

    public static func main(arguments: [String]) -> Int32 {
        Diagnostics.program = "snapwatch"
        signal(SIGPIPE, SIG_IGN)
        _ = sv_cloexec_from(3)
        if arguments.contains("-h") || arguments.contains("--help") {
            print(SnapwatchOptions.usage)
            return 0
        }
        var options: SnapwatchOptions
        do {
            options = try SnapwatchOptions.parse(arguments)
        } catch {
            Diagnostics.error(error.description)
            try? FileSystem.writeAll(2, Array((SnapwatchOptions.usage + "\n").utf8))
            return error.exitCode
        }
        // Checked before snapwatch opens anything: a descriptor number it does not inherit
        // would soon name one of its own, which a newline and a close would wreck.
        if let fd = options.readyFD, fcntl(fd, F_GETFD) < 0 {
            Diagnostics.warn("--ready-fd \(fd): no such descriptor (\(FileSystem.lastErrno)): is notification-fd \(fd)"
                + " in the service directory? Not announcing readiness")
            options.readyFD = nil
        }
        do {
            return try Snapwatch(options: options).run()
        } catch {
            Diagnostics.error(error.description)
            return error.exitCode
        }
    }

    init(options: SnapwatchOptions) throws(SnapwatchError) {
        self.options = options
        guard let hook = Spawner.findProgram(options.hook) else {
            throw .cannotStart("hook \(options.hook) is not an executable file")
        }
        hookPath = hook
        watcher = SnapshotsWatcher(repository: options.repository)
        do {
            loop = try EventLoop(signals: [SIGCHLD, SIGTERM, SIGINT, SIGHUP])
            if watcher.unavailable == nil { try loop.add(watcher.fd, token: Self.inotifyToken) }
        } catch {
            throw .cannotStart("cannot set up the event loop: \(error)")
        }
        if let error = watcher.unavailable {
            Diagnostics.warn("no inotify instance (\(error); raise the sysctl fs.inotify.max_user_instances): "
                + "listing \(watcher.snapshots) every 5 s instead")
        }
        if let quota = options.quotaFile { watcher.watchFile(quota) }
        let now = EventLoop.wallNow.unixSeconds
        let saved = (try? FileSystem.readBytes(options.stateFile, limit: 64 << 20)).map { String(decoding: $0, as: UTF8.self) }
        let (record, delivered) = SnapwatchRecord.parse(saved ?? "", now: now)
        self.record = record
        queue = SnapshotQueue(delivered: delivered, settings: .init(
            hookTimeout: options.hookTimeout, retryInitial: options.retryInitial, termGrace: options.termGrace))
    }

    func run() -> Int32 {
        rearm()
        announceReadiness()
        while exitCode == nil {
            loop.setDeadline([queue.deadline, listingDue, filesRetryAt, measureDue].compactMap { $0 }.min())
            for token in loop.wait() {
                switch token {
                case EventLoop.signalToken: handleSignals()
                case EventLoop.timerToken:
                    loop.acknowledgeTimer()
                    if let at = listingDue, at <= EventLoop.now { rearm() }
                    if let at = filesRetryAt, at <= EventLoop.now { retryFiles() }
                    if let at = measureDue, at <= EventLoop.now { measureAndGuard() }
                    apply(queue.timer(now: EventLoop.now))
                case Self.inotifyToken: handleWatchEvents()
                default: break
                }
            }
            writeStatus()
        }
        return exitCode ?? 0
    }

    /// Watching (the snapshots, or the nearest ancestor until restic init) and listed once:
    /// say so on `--ready-fd`, once, and let the descriptor go.
    func announceReadiness() {
        guard let fd = options.readyFD else { return }
        do {
            try FileSystem.writeAll(fd, [UInt8(ascii: "\n")])
        } catch {
            Diagnostics.warn("--ready-fd \(fd): cannot write (\(error))")
        }
        close(fd)
    }

    /// Without inotify: the next periodic listing (runsvdir's 5 s), else nil (never idle-wakes).
    var listingDue: Int64?
    static let listingPeriod: Int64 = 5 * nanosPerSecond

    func rearm() {
        if watcher.unavailable != nil { listingDue = EventLoop.now + Self.listingPeriod }
        if watcher.arm() {
            relist()
            if announcedMissing != nil {
                Diagnostics.info("watching \(watcher.snapshots)")
                announcedMissing = nil
            }
        } else if let missing = watcher.waitingFor, missing != announcedMissing {
            Diagnostics.info("waiting for \(watcher.snapshots): \(missing) does not exist yet (no restic init so far)")
            announcedMissing = missing
        }
        writeStatus()
    }

    func relist() {
        let listing = watcher.list()
        if let last = listing.last { noteNewest(last.id, last.time) }
        let ids = listing.map(\.id)
        if watcher.unavailable == nil || ids != lastListing { scheduleMeasure() }
        lastListing = ids
        apply(queue.listed(ids, now: EventLoop.now))
    }

    func handleWatchEvents() {
        var relisted = false
        var closed: [String] = []
        var renamed: [String] = []
        for event in watcher.drain() {
            switch event {
            case .relist: relisted = true
            case .overflow:
                Diagnostics.warn("inotify queue overflowed (fs.inotify.max_queued_events): listing \(watcher.snapshots) again")
                relisted = true
            case .snapshot(let id, let inPlace):
                noteNewest(id, watcher.modificationTime(id) ?? EventLoop.wallNow.unixSeconds)
                if inPlace { closed.append(id) } else { renamed.append(id) }
                scheduleMeasure()
            case .repositoryChanged: scheduleMeasure()
            case .fileChanged: guardQuota()
            }
        }
        if !closed.isEmpty { apply(queue.found(closed, fromEvent: true, now: EventLoop.now)) }
        if !renamed.isEmpty { apply(queue.found(renamed, fromEvent: true, writtenInPlace: false, now: EventLoop.now)) }
        if relisted {
            if watcher.isWatchingSnapshots && FileSystem.exists(watcher.snapshots) { relist() } else { rearm() }
        }
    }

    func noteNewest(_ id: String, _ time: Int64) {
        if time >= record.lastSnapshot?.time ?? Int64.min { record.lastSnapshot = .init(id: id, time: time) }
    }

    func handleSignals() {
        for sig in loop.pendingSignals() {
            switch sig {
            case SIGCHLD: reap()
            case SIGHUP:
                rearm()
                guardQuota()
            case SIGTERM, SIGINT: apply(queue.terminate(now: EventLoop.now))
            default: break
            }
        }
    }

    func reap() {
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { break }
            guard pid == hookPid else { continue }
            hookPid = 0
            hookEnded(ExitStatus(waitStatus: status))
        }
    }

    func hookEnded(_ exit: ExitStatus) {
        let duration = (EventLoop.now - hookStarted.monotonic) / nanosPerMilli
        let count = queue.running?.count ?? 0
        record.lastHook = .init(startMs: hookStarted.wall.unixNanos / nanosPerMilli, durationMs: duration, exit: exit)
        if exit == .exited(0) {
            record.lastSuccess = EventLoop.wallNow.unixSeconds
            Diagnostics.info("delivered \(count) snapshot\(count == 1 ? "" : "s") to \(options.hook) in \(duration) ms")
        }
        apply(queue.hookExited(exit, now: EventLoop.now))
        if exit != .exited(0) {
            let retry = "; retry in \(queue.retryDelay / 1_000_000) ms"
            Diagnostics.warn("hook \(options.hook) failed (\(exit)) for \(count) snapshot\(count == 1 ? "" : "s")"
                + (queue.stopping ? "" : retry))
        }
    }

    func apply(_ actions: [SnapshotQueue.Action]) {
        for action in actions {
            switch action {
            case .runHook(let ids): startHook(ids)
            case .signalHook(let sig):
                if hookPid > 0 {
                    Diagnostics.warn("hook \(options.hook) (pid \(hookPid)) still running: sending \(SignalName.name(sig) ?? String(sig)) to its group")
                    kill(-hookPid, sig)
                }
            case .saveState: saveState()
            case .exit(let code): exitCode = code
            }
        }
        if queue.stopping && queue.running == nil && exitCode == nil {
            saveState()
            exitCode = 0
        }
    }

    func startHook(_ ids: [String]) {
        let environment = Spawner.environment(setting: "SNAPWATCH_REPO", to: FileSystem.realPath(options.repository) ?? options.repository)
        hookStarted = (EventLoop.now, EventLoop.wallNow)
        // A new session: the hook and whatever it starts form one group to stop on timeout.
        do {
            hookPid = try Spawner.spawn(hookPath, arguments: [hookPath] + ids, environment: environment, directory: ".",
                                        stdin: .devNull, stdout: .inherit)
        } catch {
            Diagnostics.error("cannot start hook \(hookPath): \(error)")
            hookEnded(.exited(127))
        }
    }
}
