import Glibc
import SvBase
import SvSupervision
import SvSystem

/// A running entry: its definition, machines, `supervise/` directories and the log pipe,
/// which svtree holds so that it outlives restarts of the service and of the logger.
final class Entry {
    private(set) var definition: ServiceDefinition
    var machine: EntryMachine
    var supervise: [EntryMachine.Role: SuperviseDirectory]
    var controlTokens: [UInt64] = []
    /// The loop token of each role's notification pipe while its run is not ready yet.
    var readinessTokens: [EntryMachine.Role: UInt64] = [:]
    /// A job's schedule state; nil for a service.
    var job: JobState?
    /// The last "cannot start run" said for a role, until a start succeeds.
    var spawnFailure: [EntryMachine.Role: String] = [:]
    /// Its cgroup's OOM kills, once its `memory.events` is watched, and when the last was seen.
    var oomKills: Int?
    var lastOOMKill: WallTime?
    private(set) var pipeRead: Int32 = -1
    private(set) var pipeWrite: Int32 = -1
    private let environments: [EntryMachine.Role: [String]]

    init(definition: ServiceDefinition, supervise: [EntryMachine.Role: SuperviseDirectory], pipe: (Int32, Int32)?) {
        self.definition = definition
        self.supervise = supervise
        machine = EntryMachine(main: definition.main, log: definition.log)
        if let pipe { (pipeRead, pipeWrite) = pipe }
        var environments = [EntryMachine.Role.main: Spawner.environment(setting: ServiceMarker.variable,
                                                                          to: definition.path)]
        if definition.log != nil {
            environments[.log] = Spawner.environment(setting: ServiceMarker.variable, to: definition.logPath)
        }
        self.environments = environments
    }

    var identity: FileSystem.Identity { definition.identity }

    /// The name of the entry's cgroup: by identity, as names may hold anything.
    var cgroupName: String { "entry-\(identity.device)-\(identity.inode)" }

    func path(_ role: EntryMachine.Role) -> String {
        role == .main ? definition.path : definition.logPath
    }

    func label(_ role: EntryMachine.Role) -> String {
        role == .main ? definition.name : definition.name + "/log"
    }

    func environment(_ role: EntryMachine.Role) -> [String] { environments[role] ?? [] }

    /// stdin and stdout of a process in this entry: the service writes into the pipe, the logger
    /// reads it; a service without a logger writes where svtree does.
    func streams(_ role: EntryMachine.Role) -> (Spawner.Stream, Spawner.Stream) {
        switch role {
        case .main where definition.log == nil: return (.devNull, .inherit)
        case .main: return (.devNull, pipeWrite >= 0 ? .descriptor(pipeWrite) : .devNull)
        case .log: return (pipeRead >= 0 ? .descriptor(pipeRead) : .devNull, .inherit)
        }
    }

    /// The `limits` file was written into the entry's cgroup (again at SIGHUP).
    var limitsApplied = false

    func reloadSettings() {
        limitsApplied = false
        settingsSaid.removeAll()
        justRead = [.main, .log]
        definition.reloadSettings()
        machine.update(main: definition.main, log: definition.log)
    }

    /// Bad settings lines said since the last SIGHUP: a start reads the files again, and a
    /// service that keeps restarting must not repeat the same line each time.
    private var settingsSaid: Set<String> = []
    /// Roles whose settings were just read (and their problems said): their next start uses them.
    private var justRead: Set<EntryMachine.Role> = [.main, .log]

    /// At each start of `run`: timeouts, `down-signal`, `notification-fd` (and a job's
    /// `timeout-run`) as the files say now, so an edit counts from the next start.
    func refreshStartSettings(_ role: EntryMachine.Role) {
        // Just read (and said) at load or SIGHUP: the lines are only noted, not said again.
        let alreadySaid = justRead.remove(role) != nil
        let warn: (String) -> Void = { [self] message in
            if settingsSaid.insert(message).inserted && !alreadySaid { Diagnostics.warn(message) }
        }
        var fresh = ServiceDefinition.settings(of: path(role), label: label(role), warn: warn)
        if role == .main, definition.job != nil {
            fresh.timeoutRun = ServiceDefinition.milliseconds(path(role) + "/timeout-run", label: label(role), warn: warn)
                .map { $0 * nanosPerMilli }
        }
        machine.refresh(fresh, for: role)
    }

    /// `finish` and `control/X` looked for when needed (runsv's way): one added to a running
    /// service is used at its next exit or letter, without SIGHUP.
    func refreshScripts(_ role: EntryMachine.Role) {
        let scripts = ServiceDefinition.scripts(of: path(role))
        machine.refreshScripts(hasFinish: scripts.hasFinish, controlScripts: scripts.control, for: role)
    }

    func closeLogPipeWriteEnd() {
        if pipeWrite >= 0 { close(pipeWrite) }
        pipeWrite = -1
    }

    func release() {
        for directory in supervise.values { directory.close() }
        supervise.removeAll()
        closeLogPipeWriteEnd()
        if pipeRead >= 0 { close(pipeRead) }
        pipeRead = -1
    }
}
