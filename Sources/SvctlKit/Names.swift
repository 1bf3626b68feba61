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
        guard isValid(name) else { throw SvctlError("bad \(what) name \(quoted(name)): \(rule)") }
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

/// A one-line error for the person at the terminal; svctl prints it and exits non-zero.
public struct SvctlError: Error, CustomStringConvertible, Equatable {
    public var description: String
    /// The exit code: 1 for a failed action, 3 for "unknown" (no such client) as monitoring expects.
    public var exitCode: Int32

    public init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }
}
