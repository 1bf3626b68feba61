import CSupport
import Glibc

/// What one service directory says about how to run it (runit's files plus s6's names).
public struct ServiceSettings: Sendable, Equatable {
    /// ns between the down signal and SIGKILL to the process group (s6's `timeout-kill`).
    public var timeoutKill: Int64 = 7000 * nanosPerMilli
    /// ns a `finish` script may run before SIGKILL; 0 means unbounded (s6's `timeout-finish`).
    public var timeoutFinish: Int64 = 5000 * nanosPerMilli
    public var downSignal: Int32 = SIGTERM
    public var hasFinish = false
    /// Letters with an executable `control/<letter>` script (runit's customised control).
    public var controlScripts: Set<UInt8> = []
    public var isLogger = false
    /// s6's `notification-fd`: the run gets a pipe as this descriptor and writes a newline to
    /// it once ready. nil: no readiness is tracked.
    public var notificationFD: Int32?

    public init(timeoutKill: Int64 = 7000 * nanosPerMilli, timeoutFinish: Int64 = 5000 * nanosPerMilli,
                downSignal: Int32 = SIGTERM, hasFinish: Bool = false,
                controlScripts: Set<UInt8> = [], isLogger: Bool = false, notificationFD: Int32? = nil) {
        self.timeoutKill = timeoutKill
        self.timeoutFinish = timeoutFinish
        self.downSignal = downSignal
        self.hasFinish = hasFinish
        self.controlScripts = controlScripts
        self.isLogger = isLogger
        self.notificationFD = notificationFD
    }
}

/// How a process ended, as `waitpid` reports it.
public enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    /// Decodes a status from waitpid.
    public init(waitStatus raw: Int32) {
        self = raw & 0x7f == 0 ? .exited((raw >> 8) & 0xff) : .signaled(raw & 0x7f)
    }

    /// "exit code 3" or "signal TERM".
    public var description: String {
        switch self {
        case .exited(let code): return "exit code \(code)"
        case .signaled(let sig): return "signal \(SignalName.name(sig) ?? String(sig))"
        }
    }

    /// runit's first argument to `finish`: the exit code, or -1 when killed by a signal.
    public var runitExitCode: Int32 {
        if case .exited(let code) = self { return code }
        return -1
    }

    public var signal: Int32 {
        if case .signaled(let sig) = self { return sig }
        return 0
    }
}

public enum SignalName {
    static let table: [(String, Int32)] = [
        ("HUP", SIGHUP), ("INT", SIGINT), ("QUIT", SIGQUIT), ("KILL", SIGKILL), ("USR1", SIGUSR1),
        ("USR2", SIGUSR2), ("ALRM", SIGALRM), ("TERM", SIGTERM), ("CONT", SIGCONT), ("STOP", SIGSTOP),
        ("PWR", SIGPWR), ("WINCH", SIGWINCH),
    ]

    /// Parses `TERM`, `SIGTERM` or `15`.
    public static func parse(_ text: String) -> Int32? {
        if let number = Int32(text), number > 0, number < 65 { return number }
        let bare = text.hasPrefix("SIG") ? String(text.dropFirst(3)) : text
        return table.first { $0.0 == bare.uppercased() }?.1
    }

    /// `TERM` for 15; nil for a signal outside the table.
    public static func name(_ signal: Int32) -> String? {
        table.first { $0.1 == signal }?.0
    }
}
