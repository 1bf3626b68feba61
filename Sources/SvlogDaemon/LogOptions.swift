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
    public static func parse(_ arguments: [String]) -> Result<LogOptions, LogError> {
        var options = LogOptions()
        var index = 0
        func value(_ flag: String) -> Result<String, LogError> {
            index += 1
            guard index < arguments.count else { return .failure(.usage("\(flag) needs a value")) }
            return .success(arguments[index])
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
                switch value("-r") {
                case .success(let text) where text.utf8.count == 1: options.replacement = text.utf8.first
                case .success: return .failure(.usage("-r takes a single character"))
                case .failure(let error): return .failure(error)
                }
            case "-R":
                switch value("-R") {
                case .success(let text):
                    options.replaceSet = Set(text.utf8)
                    if options.replacement == nil { options.replacement = UInt8(ascii: "_") }
                case .failure(let error): return .failure(error)
                }
            case "-l", "-b":
                switch value(argument) {
                case .success(let text):
                    guard let number = Int(text), number > 0, number <= 1 << 24 else {
                        return .failure(.usage("\(argument) takes a positive number, not \"\(text)\""))
                    }
                    if argument == "-l" { options.lineLength = number } else { options.bufferSize = number }
                case .failure(let error): return .failure(error)
                }
            default:
                return .failure(.usage("unknown option \(argument)"))
            }
            index += 1
        }
        if options.directories.isEmpty { return .failure(.usage("no log directory given")) }
        if options.bufferSize <= options.lineLength { options.bufferSize = options.lineLength + 1 }
        return .success(options)
    }
}

public enum LogError: Error, Equatable, CustomStringConvertible {
    case usage(String)

    public var description: String {
        switch self {
        case .usage(let message): return "\(message); \(LogOptions.usage)"
        }
    }
}
