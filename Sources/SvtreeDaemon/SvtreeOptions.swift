/// svtree's command line: `svtree [--notify] DIR`, parsed by hand (a thousand client
/// supervisors must not carry ArgumentParser).
public struct SvtreeOptions: Sendable, Equatable {
    public static let usage = "usage: svtree [--notify] DIR"

    public var directory: String
    public var notify = false
    public var help = false

    public init(directory: String, notify: Bool = false, help: Bool = false) {
        self.directory = directory
        self.notify = notify
        self.help = help
    }

    public static func parse(_ arguments: [String]) throws(SvtreeError) -> SvtreeOptions {
        var directory: String?
        var notify = false
        for argument in arguments {
            switch argument {
            case "-h", "--help":
                return SvtreeOptions(directory: "", help: true)
            case "--notify":
                notify = true
            default:
                if argument.hasPrefix("-") || directory != nil {
                    throw .usage("unexpected argument \"\(argument)\"")
                }
                directory = argument
            }
        }
        guard let directory else { throw .usage("no directory given") }
        return SvtreeOptions(directory: directory, notify: notify)
    }
}

/// svtree's one kind of error, each rendering its one line.
public enum SvtreeError: Error, Equatable, CustomStringConvertible {
    /// Bad arguments (exit 100, as runit's programs).
    case usage(String)
    /// The supervisor cannot run at all (exit 111).
    case cannotStart(String)

    public var description: String {
        switch self {
        case .usage(let message): return "\(message); \(SvtreeOptions.usage)"
        case .cannotStart(let message): return "cannot start: \(message)"
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .usage: return 100
        case .cannotStart: return 111
        }
    }
}
