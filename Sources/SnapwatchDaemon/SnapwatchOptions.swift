import SvBase

/// `snapwatch --repo DIR --hook CMD [--state FILE] [--status FILE] [--timeout S]
/// [--retry S] [--grace S] [--ready-fd N]`, parsed by hand: the daemon stays Foundation-free.
public struct SnapwatchOptions: Sendable, Equatable {
    public var repository = ""
    public var hook = ""
    public var stateFile = "./state"
    public var statusFile: String?
    public var hookTimeout: Int64 = 3600 * nanosPerSecond
    public var retryInitial: Int64 = nanosPerSecond
    public var termGrace: Int64 = 4 * nanosPerSecond
    /// s6's readiness: a newline is written to this descriptor once the watch is set.
    public var readyFD: Int32?
    /// The client's quota file; above its `hard`, `over-quota` is written beside it.
    public var quotaFile: String?
    /// The service directory restarted (runit's `t`) when `over-quota` comes or goes.
    public var restartOnQuota: String?

    public static let usage = """
        usage: snapwatch --repo DIR --hook CMD [--state FILE] [--status FILE] [--timeout SECONDS] [--retry SECONDS] [--grace SECONDS] [--ready-fd N] [--quota FILE [--restart-on-quota DIR]]
          --repo DIR        restic repository whose snapshots/ is watched (waited for if missing)
          --hook CMD        program run with the new snapshot ids as arguments, SNAPWATCH_REPO set
          --state FILE      delivered snapshots, kept across restarts (default ./state)
          --status FILE     what svctl status shows (default: none)
          --timeout SECONDS a hook run longer than this is stopped (default 3600)
          --retry SECONDS   first delay before a failed hook is retried, doubling to 300 (default 1)
          --grace SECONDS   on SIGTERM, how long a running hook may finish (default 4)
          --ready-fd N      write a newline to descriptor N once watching (svtree's and s6's notification-fd)
          --quota FILE      soft/hard limits of the repository's size; above hard, over-quota is written beside FILE
          --restart-on-quota DIR  the service sent t (restart) when over-quota comes or goes (the storage)
        """

    public init() {}

    public static func parse(_ arguments: [String]) throws(SnapwatchError) -> SnapwatchOptions {
        var options = SnapwatchOptions()
        var index = 0
        while index < arguments.count {
            let name = arguments[index]
            guard index + 1 < arguments.count else { throw .usage("\(name) needs a value") }
            let value = arguments[index + 1]
            index += 2
            switch name {
            case "--repo": options.repository = value
            case "--hook": options.hook = value
            case "--state": options.stateFile = value
            case "--status": options.statusFile = value
            case "--quota": options.quotaFile = value
            case "--restart-on-quota": options.restartOnQuota = value
            case "--ready-fd":
                guard let fd = Int32(value), fd >= 3, fd <= 1023 else {
                    throw .usage("--ready-fd needs a descriptor number from 3 to 1023, not \(value)")
                }
                options.readyFD = fd
            case "--timeout", "--retry", "--grace":
                guard let seconds = Double(value), seconds > 0, seconds < 1e9 else {
                    throw .usage("\(name) needs a positive number of seconds, not \(value)")
                }
                let nanos = Int64(seconds * 1e9)
                if name == "--timeout" { options.hookTimeout = nanos }
                if name == "--retry" { options.retryInitial = nanos }
                if name == "--grace" { options.termGrace = nanos }
            default:
                throw .usage("unknown option \(name)")
            }
        }
        if options.repository.isEmpty { throw .usage("--repo DIR is required") }
        if options.hook.isEmpty { throw .usage("--hook CMD is required") }
        return options
    }
}

/// snapwatch's one kind of error, each rendering its one line.
public enum SnapwatchError: Error, Equatable, CustomStringConvertible {
    /// Bad arguments (exit 100, as runit's programs).
    case usage(String)
    /// Nothing to watch with or nothing to run (exit 111).
    case cannotStart(String)

    public var description: String {
        switch self {
        case .usage(let message), .cannotStart(let message): return message
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .usage: return 100
        case .cannotStart: return 111
        }
    }
}
