/// A log directory's `config` file, svlogd's format: one setting per line.
public struct LogConfig: Sendable, Equatable {
    public enum Rule: Sendable, Equatable {
        case select(String), deselect(String), toStderr(String), notToStderr(String)
    }

    /// Rotate when `current` reaches this size; 0: never by size.
    public var maximumSize = 1_000_000
    /// Old files kept; 0: all.
    public var keep = 10
    /// Old files kept at least when the disk is full; older ones go to make room.
    public var minimumKeep = 0
    /// Rotate a non-empty `current` this many seconds after it was begun; 0: never by age.
    public var maximumAge = 0
    public var processor: String?
    public var prefix = ""
    public var rules: [Rule] = []
    /// One line per problem (bad number, UDP forwarding): said, never ignored silently.
    public var problems: [String] = []

    public init() {}

    public static func parse(_ text: String) -> LogConfig {
        var config = LogConfig()
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw)
            guard let first = line.first, first != "#" else { continue }
            let rest = String(line.dropFirst())
            switch first {
            case "s": config.maximumSize = config.number(rest, line: number + 1, setting: first, suffixes: ["k": 1024, "m": 1 << 20]) ?? config.maximumSize
            case "n":
                config.keep = config.number(rest, line: number + 1, setting: first) ?? config.keep
                if config.keep == 1 { config.keep = 2 }  // svlogd's rule: the one being processed counts
            case "N": config.minimumKeep = config.number(rest, line: number + 1, setting: first) ?? config.minimumKeep
            case "t": config.maximumAge = config.number(rest, line: number + 1, setting: first, suffixes: ["m": 60, "h": 3600]) ?? config.maximumAge
            case "!": config.processor = rest.isEmpty ? nil : rest
            case "p": config.prefix = rest
            case "+": config.rules.append(.select(rest))
            case "-": config.rules.append(.deselect(rest))
            case "e": config.rules.append(.toStderr(rest))
            case "E": config.rules.append(.notToStderr(rest))
            case "u", "U":
                config.problems.append("line \(number + 1): UDP forwarding (\(first)\(rest)) is not supported by svlog: "
                    + "lines are written to the directory only; use svlogd for UDP")
            default:
                config.problems.append("line \(number + 1): unknown setting \"\(line)\" ignored")
            }
        }
        return config
    }

    private mutating func number(_ text: String, line: Int, setting: Character,
                                 suffixes: [Character: Int] = [:]) -> Int? {
        var digits = Substring(text)
        var factor = 1
        if let last = digits.last, let multiplier = suffixes[last] {
            factor = multiplier
            digits = digits.dropLast()
        }
        guard let value = Int(digits), value >= 0, value < Int(Int32.max) else {
            problems.append("line \(line): \"\(text)\" is not a number: setting ignored (\(String(setting))\(text))")
            return nil
        }
        return value * factor
    }
}
