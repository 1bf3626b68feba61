import Glibc
import SvBase
import SvSystem

/// Client and service names: `[A-Za-z0-9][A-Za-z0-9._-]*`, at most 64 characters, so that a
/// name is always one path component, one htpasswd user and one URL path segment.
public enum Names {
    public static let rule = "a name is a letter or digit followed by letters, digits, '.', '_' or '-' (at most 64)"
    public static let maximumLength = 64

    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= maximumLength, isAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// Throws the rule, naming the refused text (control characters shown escaped).
    public static func check(_ name: String, as what: String = "client") throws(SvctlError) {
        guard isValid(name) else { throw SvctlError.failed("bad \(what) name \(quoted(name)): \(rule)") }
    }

    /// `CLIENT` or `CLIENT/SERVICE`, both checked.
    public static func parseTarget(_ text: String) throws(SvctlError) -> (client: String, service: String?) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        try check(parts[0])
        if parts.count == 2 { try check(parts[1], as: "service") }
        return (parts[0], parts.count == 2 ? parts[1] : nil)
    }

    /// The text in double quotes, control characters escaped as Diagnostics does, at most 80
    /// characters, for error messages.
    public static func quoted(_ text: String) -> String {
        let shown = String(text.prefix(80)).replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"")
        return "\"" + Diagnostics.escaped(shown) + (text.count > 80 ? "...\"" : "\"")
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
    }
}

/// svctl's one kind of error: a line for the person at the terminal and its exit code. Every
/// subcommand throws it; the command line prints it and exits.
public enum SvctlError: Error, CustomStringConvertible, Equatable {
    /// The action failed: exit 1.
    case failed(String)
    /// What was asked about cannot be judged (no tree, a bad name): exit 3, monitoring's "unknown".
    case unknown(String)
    /// exit 3, as monitoring expects of an unknown client; `hint` says how to make one.
    case noSuchClient(String, hint: String? = nil)
    case noSuchService(client: String, service: String)

    public var description: String {
        switch self {
        case .failed(let message), .unknown(let message): return message
        case .noSuchClient(let name, let hint): return "no such client: \(name)" + (hint.map { " (\($0))" } ?? "")
        case .noSuchService(let client, let service): return "no such service: \(client)/\(service)"
        }
    }

    public var exitCode: Int32 {
        if case .failed = self { return 1 }
        return 3
    }
}

/// svctl's one way to wait for a condition: checked now and every `interval`, for at most
/// `seconds`. A command-line wait, not a daemon's: svtree rewrites status within a loop turn.
public enum Poll {
    /// True once `condition` holds, false when `seconds` ran out first.
    public static func until(seconds: Double, interval: useconds_t = 10_000, _ condition: () -> Bool) -> Bool {
        let deadline = EventLoop.now + Int64(seconds * Double(nanosPerSecond))
        while !condition() {
            if EventLoop.now > deadline { return false }
            usleep(interval)
        }
        return true
    }
}
