/// svlogd's command line: `svlog [-t|-tt|-ttt] [-r c] [-R abc] [-l len] [-b buflen] [-v] DIR...`.
public struct LogOptions: Sendable, Equatable {
    public enum Stamp: Sendable, Equatable { case none, tai64n, utc, utcISO }

    public var stamp: Stamp = .none
    /// Replacement for non-printable characters (and those in `replaceSet`); nil: none.
    public var replacement: UInt8?
    public var replaceSet: Set<UInt8> = []
    /// Only the first `lineLength` characters are matched against patterns (svlogd's -l).
    public var lineLength = 1000
    /// Read buffer; a line longer than this is written in pieces, never cut.
    public var bufferSize = 1024
    public var verbose = false
    public var directories: [String] = []

    public init() {}

    public static let usage = "usage: svlog [-t|-tt|-ttt] [-r c] [-R abc] [-l len] [-b buflen] [-v] DIR..."

    /// Parses runit-style options by hand (a thousand loggers must not carry ArgumentParser).
    public static func parse(_ arguments: [String]) throws(LogError) -> LogOptions {
        var options = LogOptions()
        var index = 0
        func value(_ flag: String) throws(LogError) -> String {
            index += 1
            guard index < arguments.count else { throw .usage("\(flag) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                options.directories += arguments[(index + 1)...]
                break
            }
            guard argument.hasPrefix("-"), argument.count > 1 else {
                options.directories.append(argument)
                index += 1
                continue
            }
            switch argument {
            case "-t": options.stamp = .tai64n
            case "-tt": options.stamp = .utc
            case "-ttt": options.stamp = .utcISO
            case "-v": options.verbose = true
            case "-r":
                let text = try value("-r")
                guard text.utf8.count == 1 else { throw .usage("-r takes a single character") }
                options.replacement = text.utf8.first
            case "-R":
                options.replaceSet = Set(try value("-R").utf8)
                if options.replacement == nil { options.replacement = UInt8(ascii: "_") }
            case "-l", "-b":
                let text = try value(argument)
                guard let number = Int(text), number > 0, number <= 1 << 24 else {
                    throw .usage("\(argument) takes a positive number, not \"\(text)\"")
                }
                if argument == "-l" { options.lineLength = number } else { options.bufferSize = number }
            default:
                throw .usage("unknown option \(argument)")
            }
            index += 1
        }
        if options.directories.isEmpty { throw .usage("no log directory given") }
        if options.bufferSize <= options.lineLength { options.bufferSize = options.lineLength + 1 }
        return options
    }
}

/// svlog's one kind of error, each rendering its one line.
public enum LogError: Error, Equatable, CustomStringConvertible {
    /// Bad arguments: svlog does not start (exit 111, as svlogd).
    case usage(String)
    /// One log directory cannot be used (its lock, its `current`); the others go on.
    case directory(String)
    /// The logger cannot run at all (its event loop).
    case cannotStart(String)

    public var description: String {
        switch self {
        case .usage(let message): return "\(message); \(LogOptions.usage)"
        case .directory(let message): return message
        case .cannotStart(let message): return "cannot start: \(message)"
        }
    }
}
