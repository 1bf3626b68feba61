import Glibc
import SvBase
import SvFormats
import SvSupervision
import SvSystem
import SystemPackage

extension Supervisor {
    /// Performs what an entry's machines asked for, feeding results back as events.
    ///
    /// Without recursion: the actions go on a stack, and what performing one returns goes on
    /// top, so it is performed next, as if inline. A call made while performing only pushes;
    /// the outermost call drains the stack.
    func perform(_ actions: [EntryMachine.Action], on entry: Entry) {
        actionStack.append(contentsOf: actions.reversed().map { ($0, entry) })
        drainActions()
    }

    /// Brings the entries in line with the directory (see `scanDirectory`), after the actions
    /// under way: a scan never runs inside another, nor inside an action.
    func rescan() {
        rescanRequested = true
        drainActions()
    }

    private func drainActions() {
        guard !performing else { return }
        performing = true
        defer { performing = false }
        repeat {
            while let (action, entry) = actionStack.popLast() {
                switch action {
                case .unit(let role, let unitAction):
                    perform(unitAction, role: role, on: entry)
                case .closeLogPipe:
                    entry.closeLogPipeWriteEnd()
                case .finished:
                    release(entry)
                }
            }
            if rescanRequested {
                rescanRequested = false
                if !stopping { scanDirectory() }
            }
        } while !actionStack.isEmpty
    }

    private func perform(_ action: ServiceMachine.Action, role: EntryMachine.Role, on entry: Entry) {
        switch action {
        case .spawnRun:
            entry.refreshStartSettings(role)
            let readiness = openReadinessPipe(entry, role)
            let notification = readiness.map { (source: $0.write, target: $0.target) }
            let spawned = Result { () throws(SpawnFailure) in
                try spawn(entry, role, program: "./run", arguments: [], notification: notification)
            }
            if let readiness { close(readiness.write) }
            switch spawned {
            case .success(let pid):
                children.add(pid, .run(entry.identity, role))
                if let readiness { watchReadiness(readiness.read, pid: pid, entry, role) }
                if role == .main { jobStarted(entry) }
                entry.spawnFailure[role] = nil
                perform(entry.machine.handle(.spawned(pid: pid), for: role, now: EventLoop.now), on: entry)
            case .failure(let error):
                if let readiness { close(readiness.read) }
                // run exists (it was checked): ENOENT or ENOEXEC from exec mean its #! line.
                let errno = error.errno
                let hint = error.detail.map { ": \($0)" }
                    ?? (errno == .noSuchFileOrDirectory || errno == .execFormatError ? ": check its #! line"
                        : errno == .tooManyOpenFiles ? ": the descriptor limit (raise LimitNOFILE or ulimit -n)" : "")
                let reason = "cannot start run (\(errno))\(hint)"
                // Said once, not at every retry of the backoff; svctl status shows it too.
                if entry.spawnFailure[role] != reason {
                    Diagnostics.warn("\(directory)/\(entry.label(role)): \(reason); retrying with backoff")
                }
                entry.spawnFailure[role] = reason
                perform(entry.machine.handle(.spawnFailed, for: role, now: EventLoop.now), on: entry)
            }
        case .spawnFinish(let code, let sig):
            do {
                let pid = try spawn(entry, role, program: "./finish", arguments: [String(code), String(sig)])
                children.add(pid, .finish(entry.identity, role))
                perform(entry.machine.finishSpawned(pid: pid, for: role, now: EventLoop.now), on: entry)
            } catch {
                Diagnostics.warn("\(directory)/\(entry.label(role)): cannot start finish (\(error.errno))"
                                 + (error.detail.map { ": \($0)" } ?? ""))
                perform(entry.machine.finishSpawned(pid: nil, for: role, now: EventLoop.now), on: entry)
            }
        case .runControlScript(let letter):
            let program = "./control/" + String(letter.character)
            do {
                children.add(try spawn(entry, role, program: program, arguments: []), .control(entry.identity, role, letter))
            } catch {
                perform(entry.machine.handle(.controlScriptExited(letter: letter, handled: false), for: role,
                                             now: EventLoop.now), on: entry)
            }
        case .signal(let pid, let sig, let target):
            guard pid > 0 else { return }
            kill(target == .group ? -pid : pid, sig)
        case .killLeftovers(let session):
            if let cgroups {
                // Exact: everything the run started is in its unit's cgroup.
                cgroups.kill(cgroups.base + "/" + entry.cgroupName + "/" + (role == .main ? "main" : "log"))
            } else {
                killLeftovers(session: session, unitPath: entry.path(role))
            }
        case .statusChanged:
            // Written once per loop turn, however many letters or events arrived at once.
            dirtyStatus.insert(StatusKey(identity: entry.identity, role: role))
        case .stopped:
            break
        }
    }

    /// Why a start failed: the system's error, and what svtree knows beyond it.
    struct SpawnFailure: Error {
        var errno: Errno
        /// A refused `user` file, named with its reason.
        var detail: String?
    }

    private func spawn(_ entry: Entry, _ role: EntryMachine.Role, program: String, arguments: [String],
                       notification: Spawner.ExtraDescriptor? = nil) throws(SpawnFailure) -> Int32 {
        let (stdin, stdout) = entry.streams(role)
        // The entry's `user` file counts for its logger too.
        var account: ServiceUser.Account?
        switch ServiceUser.resolve(entry.definition.path, treeOwner: treeOwner) {
        case .own: break
        case .switchTo(let user): account = user
        case .refused(let why): throw SpawnFailure(errno: .permissionDenied, detail: why)
        }
        var group: String?
        if let cgroups {
            group = cgroups.unitPath(entry: entry.cgroupName, unit: role == .main ? "main" : "log")
            guard let group else { throw SpawnFailure(errno: FileSystem.lastErrno) }
            // Once per start of the entry (and per SIGHUP), when its cgroup is there.
            if !entry.limitsApplied {
                applyLimits(entry, cgroups)
                watchOOMKills(entry, cgroups)
            }
            // A client svtree run as its own user makes its services' cgroups below this one.
            if let account { CgroupTree.delegate(group, to: account.identity) }
        }
        let environment = account.map { ServiceUser.environment(entry.environment(role), for: $0) } ?? entry.environment(role)
        do {
            return try Spawner.spawn(program, arguments: [program] + arguments, environment: environment,
                                     directory: entry.path(role), stdin: stdin, stdout: stdout, extra: notification,
                                     cgroup: group, identity: account?.identity)
        } catch {
            throw SpawnFailure(errno: error)
        }
    }

    /// The entry's `limits` file into its cgroup, once per start of the entry and per SIGHUP.
    func applyLimits(_ entry: Entry, _ cgroups: CgroupTree) {
        let cgroup = cgroups.base + "/" + entry.cgroupName
        guard FileSystem.exists(cgroup) else { return }  // not started yet: at its start
        entry.limitsApplied = true
        let file = entry.definition.path + "/limits"
        // Policy over the entry, as its `user` file: not the entry's own to rewrite.
        if let why = PolicyFile.problem(file, in: entry.definition.path, trusting: ServiceUser.trusted) {
            return Diagnostics.warn("\(file): \(why): not applied")
        }
        guard let bytes = try? FileSystem.readBytes(file, limit: 65536) else { return }
        let (settings, problems) = CgroupLimits.parse(String(decoding: bytes, as: UTF8.self))
        let refused = CgroupLimits.apply(settings, cgroup: cgroup, parent: cgroups.base)
        for problem in problems + refused { Diagnostics.warn("\(file): \(problem)") }
    }

    /// Writes what changed; the summary for systemd can only change when something did.
    func flushStatus() {
        guard !dirtyStatus.isEmpty else { return }
        for key in dirtyStatus {
            if let entry = entries[key.identity], !writeStatus(entry, key.role) { statusRetry.insert(key) }
        }
        dirtyStatus.removeAll()
        scheduleStatusRetry()
        // After the files: what systemd hears is already what svctl and sv read.
        observer?.status(summary())
    }

    /// False when a file could not be written (it is tried again, see `scheduleStatusRetry`).
    @discardableResult
    func writeStatus(_ entry: Entry, _ role: EntryMachine.Role) -> Bool {
        guard let machine = entry.machine.machine(role), let supervise = entry.supervise[role] else { return true }
        let since = EventLoop.wallTime(ofMonotonic: machine.since)
        let snapshot = StatusFormat.Snapshot(state: machine.state, pid: machine.pid, paused: machine.paused,
                                             want: machine.want, gotTerm: machine.gotTerm, since: since)
        let readySince = machine.readyAt.map(EventLoop.wallTime(ofMonotonic:))
        let record = SupervisorRecord(
            quickDeaths: machine.quickDeaths, restartDelayMs: machine.restartDelay / nanosPerMilli,
            lastExit: machine.lastExit,
            cgroup: cgroups.map { "\($0.base)/\(entry.cgroupName)/\(role == .main ? "main" : "log")" },
            notificationFD: machine.settings.notificationFD, readySince: readySince,
            job: role == .main ? entry.job.map {
                SupervisorRecord.Job(nextRun: $0.nextDue, skipped: machine.skipped, suspended: machine.suspended)
            } : nil,
            restarts: machine.restarts,
            oomKills: role == .main ? entry.oomKills : nil, lastOOMKill: role == .main ? entry.lastOOMKill : nil,
            startError: entry.spawnFailure[role])
        return supervise.write(snapshot, record: record)
    }

    /// Files that could not be written are written again on a timer, backing off from 250 ms
    /// to 4 s while they keep failing, so that they say the truth within seconds of the disk
    /// taking writes again, without any further event. Nothing else waits for them.
    func scheduleStatusRetry() {
        guard !statusRetry.isEmpty else {
            statusRetryDelay = 0
            return
        }
        guard statusRetryAt == nil else { return }
        statusRetryDelay = statusRetryDelay == 0 ? 250 * nanosPerMilli : min(4 * nanosPerSecond, statusRetryDelay * 2)
        statusRetryAt = EventLoop.now + statusRetryDelay
    }

    /// The entry is down for good: free its files and descriptors; start it again if it came back.
    private func release(_ entry: Entry) {
        let exitedByLetter = !entry.machine.tearingDown
        for token in entry.controlTokens { _ = tokens.remove(token) }
        for role in [EntryMachine.Role.main, .log] { stopWatchingReadiness(entry, role) }
        noteOOMKills(entry)
        // The final "down" must reach the files before they are let go.
        for role in [EntryMachine.Role.main, .log] {
            if dirtyStatus.remove(StatusKey(identity: entry.identity, role: role)) != nil { writeStatus(entry, role) }
        }
        entry.release()
        oomWatch?.forget(entry.identity)
        cgroups?.remove(entry: entry.cgroupName)
        entries[entry.identity] = nil
        observer?.status(summary())  // one entry fewer; its last status was written above
        if exitedByLetter { dormant.insert(entry.identity) }
        // It may have come back (a new directory under the same name): after the actions.
        rescanRequested = true
    }
}
