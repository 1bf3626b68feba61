import SvBase
/// One entry of a supervised directory: its service and, when it has `log/`, its logger.
///
/// Holds the teardown order that the project exists for: the service is stopped first
/// (down signal, SIGCONT, SIGKILL to its group after `timeout-kill`, then `finish`);
/// only then is the log pipe closed so that the logger drains and exits on EOF; the entry
/// is finished once both are down. Pure, like `ServiceMachine`.
public struct EntryMachine: Sendable {
    public enum Role: Sendable, Equatable { case main, log }

    public enum Action: Sendable, Equatable {
        case unit(Role, ServiceMachine.Action)
        /// Close svtree's write end of the log pipe: the logger sees EOF once it has read everything.
        case closeLogPipe
        /// Both sides are down for good: release the entry.
        case finished
    }

    public private(set) var main: ServiceMachine
    public private(set) var log: ServiceMachine?
    public private(set) var tearingDown = false
    private var mainStopped = false
    private var logStopped = false

    public init(main: ServiceSettings, log: ServiceSettings?) {
        self.main = ServiceMachine(settings: main)
        self.log = log.map { settings in
            var logSettings = settings
            logSettings.isLogger = true
            return ServiceMachine(settings: logSettings)
        }
    }

    public var isFinished: Bool { mainStopped && (log == nil || logStopped) }

    public var deadline: Int64? {
        [main.deadline, log?.deadline].compactMap { $0 }.min()
    }

    public func machine(_ role: Role) -> ServiceMachine? {
        role == .main ? main : log
    }

    /// Starts the logger first (as runsv does), so the service's first line has a reader.
    public mutating func begin(mainDown: Bool, logDown: Bool, now: Int64) -> [Action] {
        var out: [Action] = []
        if log != nil { out += handle(.begin(startDown: logDown), for: .log, now: now) }
        out += handle(.begin(startDown: mainDown), for: .main, now: now)
        return out
    }

    /// New settings after SIGHUP; they apply from the next start or stop.
    public mutating func update(main mainSettings: ServiceSettings, log logSettings: ServiceSettings?) {
        main.settings = mainSettings
        if let logSettings, log != nil {
            log!.settings = logSettings
            log!.settings.isLogger = true
        }
    }

    /// Settings read again from the directory at the moment of use (a start, a control
    /// letter, an exit): what the files say replaces what was read, the role's kind stays.
    public mutating func refresh(_ fresh: ServiceSettings, for role: Role) {
        func merged(_ old: ServiceSettings) -> ServiceSettings {
            var settings = fresh
            settings.isLogger = old.isLogger
            settings.isJob = old.isJob
            if !old.isJob { settings.timeoutRun = nil }
            return settings
        }
        switch role {
        case .main: main.settings = merged(main.settings)
        case .log: if log != nil { log!.settings = merged(log!.settings) }
        }
    }

    /// The scripts looked for when needed, as runsv does: `finish` at an exit, `control/X` at a letter.
    public mutating func refreshScripts(hasFinish: Bool, controlScripts: Set<ControlLetter>, for role: Role) {
        switch role {
        case .main:
            main.settings.hasFinish = hasFinish
            main.settings.controlScripts = controlScripts
        case .log:
            log?.settings.hasFinish = hasFinish
            log?.settings.controlScripts = controlScripts
        }
    }

    public mutating func teardown(now: Int64) -> [Action] {
        guard !tearingDown else { return [] }
        tearingDown = true
        return handle(.teardown(byEOF: false), for: .main, now: now)
    }

    public mutating func finishSpawned(pid: Int32?, for role: Role, now: Int64) -> [Action] {
        let actions: [ServiceMachine.Action]
        if role == .main {
            actions = main.finishSpawned(pid: pid, now: now)
        } else {
            actions = log?.finishSpawned(pid: pid, now: now) ?? []
        }
        return follow(actions, of: role, now: now)
    }

    public mutating func handle(_ event: ServiceMachine.Event, for role: Role, now: Int64) -> [Action] {
        let actions: [ServiceMachine.Action]
        switch role {
        case .main:
            actions = main.handle(event, now: now)
        case .log:
            guard log != nil else { return [] }
            actions = log!.handle(event, now: now)
        }
        return follow(actions, of: role, now: now)
    }

    private mutating func follow(_ actions: [ServiceMachine.Action], of role: Role, now: Int64) -> [Action] {
        var out = actions.map { Action.unit(role, $0) }
        guard actions.contains(.stopped) else { return out }
        if role == .main && !mainStopped {
            mainStopped = true
            if log != nil && !logStopped {
                out.append(.closeLogPipe)
                out += handle(.teardown(byEOF: true), for: .log, now: now)
                return out
            }
        } else if role == .log {
            logStopped = true
        }
        if isFinished { out.append(.finished) }
        return out
    }
}
