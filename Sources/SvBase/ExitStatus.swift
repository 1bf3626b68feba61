import Glibc

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

extension ExitStatus {
    /// `code 3` or `signal 15`: how svtree's record files write an exit.
    public var recordText: String {
        switch self {
        case .exited(let code): return "code \(code)"
        case .signaled(let sig): return "signal \(sig)"
        }
    }

    /// Reads `recordText`'s two words; nil for anything else.
    public init?<S: StringProtocol>(recordWords kind: S, _ value: S) {
        guard let number = Int32(value) else { return nil }
        switch kind {
        case "code": self = .exited(number)
        case "signal": self = .signaled(number)
        default: return nil
        }
    }
}
