import ArgumentParser
import SvSystem
import SvctlKit

/// The arguments every control command shares: targets and -w.
struct ControlOptions: ParsableArguments {
    @OptionGroup var tree: TreeOptions

    @Option(name: .customShort("w"), help: ArgumentHelp("Wait up to this long for the result (up: running and its ./check passing, as sv -w); fail on timeout.", valueName: "seconds"))
    var wait: Double?

    @Argument(help: ArgumentHelp("CLIENT (every service of it) or CLIENT/SERVICE.", valueName: "target"),
              completion: .custom { _, _, _ in TreeLayout().definedClients })
    var targets: [String]

    func run(_ command: Command) throws(SvctlError) {
        guard !targets.isEmpty else { throw SvctlError.failed("name at least one CLIENT or CLIENT/SERVICE") }
        var paths: [(label: String, path: String)] = []
        for target in targets {
            let (client, service) = try Names.parseTarget(target)
            let directory = try tree.layout.requireClient(client)
            let names = service.map { [$0] } ?? TreeLayout.services(ofClient: directory)
            if names.isEmpty { throw SvctlError.failed("client \(client) has no services in \(directory)/services") }
            for name in names {
                let path = directory + "/services/" + name
                guard FileSystem.exists(path) else { throw SvctlError.noSuchService(client: client, service: name) }
                try tree.layout.requireInside(path, label: "\(client)/\(name)")
                paths.append(("\(client)/\(name)", path))
            }
        }
        printLines(try Control.run(command, targets: paths, waitSeconds: wait))
    }
}

/// A control subcommand: its runit letter and one line of help; the rest is shared.
protocol ControlSubcommand: SvctlCommand {
    static var command: Command { get }
    static var abstract: String { get }
    var options: ControlOptions { get }
}

extension ControlSubcommand {
    // The name given, not derived: ArgumentParser derives it with String(describing:), a
    // runtime type lookup that cost a quarter of `svctl status`.
    static var configuration: CommandConfiguration { CommandConfiguration(commandName: command.rawValue, abstract: abstract) }
    func execute() throws(SvctlError) -> Int32 {
        try options.run(Self.command)
        return 0
    }
}

struct Up: ControlSubcommand {
    static let command = Command.up, abstract = "Start (and keep restarting) services."
    @OptionGroup var options: ControlOptions
}

struct Down: ControlSubcommand {
    static let command = Command.down, abstract = "Stop services and keep them down."
    @OptionGroup var options: ControlOptions
}

struct Once: ControlSubcommand {
    static let command = Command.once, abstract = "Start services once; do not restart them."
    @OptionGroup var options: ControlOptions
}

struct Restart: ControlSubcommand {
    static let command = Command.restart, abstract = "Stop services and start them again (TERM, CONT, up)."
    @OptionGroup var options: ControlOptions
}

struct Term: ControlSubcommand {
    static let command = Command.term, abstract = "Send SIGTERM to services."
    @OptionGroup var options: ControlOptions
}

struct Kill: ControlSubcommand {
    static let command = Command.kill, abstract = "Send SIGKILL to services."
    @OptionGroup var options: ControlOptions
}

struct Pause: ControlSubcommand {
    static let command = Command.pause, abstract = "Send SIGSTOP to services."
    @OptionGroup var options: ControlOptions
}

struct Cont: ControlSubcommand {
    static let command = Command.cont, abstract = "Send SIGCONT to services."
    @OptionGroup var options: ControlOptions
}

struct Hup: ControlSubcommand {
    static let command = Command.hup, abstract = "Send SIGHUP to services."
    @OptionGroup var options: ControlOptions
}

struct Exit: ControlSubcommand {
    static let command = Command.exit
    static let abstract = "Stop services and end their supervision (until the client's svtree gets SIGHUP)."
    @OptionGroup var options: ControlOptions
}

struct Run: SvctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a job now (its o); with -w, wait for its end and exit with its result.",
        discussion: "The exit code is the job's result as monitoring plugins count: 0 ok, 1 warning, 2 critical, 3 unknown.")

    @OptionGroup var tree: TreeOptions

    @Option(name: .customShort("w"), help: ArgumentHelp("Wait up to this long for the run to end.", valueName: "seconds"))
    var wait: Double?

    @Argument(help: ArgumentHelp("CLIENT/JOB.", valueName: "target"),
              completion: .custom { _, _, _ in TreeLayout().definedClients })
    var target: String

    func execute() throws(SvctlError) -> Int32 {
        let (client, service) = try Names.parseTarget(target)
        guard let service else { throw .failed("name the job: CLIENT/JOB") }
        let path = try tree.layout.requireClient(client) + "/services/" + service
        guard FileSystem.exists(path) else { throw .noSuchService(client: client, service: service) }
        try tree.layout.requireInside(path, label: target)
        let (line, code) = try JobRun.run(label: target, path: path, waitSeconds: wait)
        print(line)
        return code
    }
}
