import SvBase

/// A job's `last-run` file, in the job's own directory (not `supervise/`, which may be a
/// symlink into /run and vanish at boot): when the last run started, and how the last one
/// that ended went. svtree writes it at each start and end and reads it for catch-up; svctl
/// reads it for the job's result.
public struct JobRecord: Sendable, Equatable {
    public static let fileName = "last-run"

    /// The last start, whether or not that run has ended.
    public var lastStart: WallTime?
    /// The last run that ended (the one before `lastStart` while a run is going).
    public var lastEnded: Ended?

    public struct Ended: Sendable, Equatable {
        public var start: WallTime
        public var durationMs: Int64
        public var exit: ExitStatus

        public init(start: WallTime, durationMs: Int64, exit: ExitStatus) {
            self.start = start
            self.durationMs = durationMs
            self.exit = exit
        }
    }

    public init(lastStart: WallTime? = nil, lastEnded: Ended? = nil) {
        self.lastStart = lastStart
        self.lastEnded = lastEnded
    }

    /// `start_ns N`, then the last ended run: `ended_start_ns N`, `duration_ms N`,
    /// `exit code|signal N`; each only when known.
    public var text: String {
        var text = ""
        if let lastStart { text += "start_ns \(lastStart.unixNanos)\n" }
        if let ended = lastEnded {
            text += "ended_start_ns \(ended.start.unixNanos)\nduration_ms \(ended.durationMs)\nexit \(ended.exit.recordText)\n"
        }
        return text
    }

    public init(parsing text: String) {
        self.init()
        var endedStart: WallTime?, duration: Int64?, exit: ExitStatus?
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            switch (words.first ?? "", words.count) {
            case ("start_ns", 2): lastStart = Int64(words[1]).map(WallTime.init(unixNanos:))
            case ("ended_start_ns", 2): endedStart = Int64(words[1]).map(WallTime.init(unixNanos:))
            case ("duration_ms", 2): duration = Int64(words[1])
            case ("exit", 3):
                exit = ExitStatus(recordWords: words[1], words[2])
            default: break
            }
        }
        if let endedStart, let duration, let exit { lastEnded = Ended(start: endedStart, durationMs: duration, exit: exit) }
    }
}

/// A job's result as monitoring plugins count: its exit code 0 ok, 1 warning, 2 critical,
/// 3 unknown; any other code, or death by a signal, is critical.
public enum JobResult: String, Sendable, Equatable {
    case ok, warning, critical, unknown

    /// The exit code a monitoring plugin (and `svctl run -w`) gives for it.
    public var exitCode: Int32 {
        switch self {
        case .ok: return 0
        case .warning: return 1
        case .critical: return 2
        case .unknown: return 3
        }
    }

    public init(_ exit: ExitStatus) {
        switch exit {
        case .exited(0): self = .ok
        case .exited(1): self = .warning
        case .exited(3): self = .unknown
        default: self = .critical
        }
    }
}
