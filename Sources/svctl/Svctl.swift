import ArgumentParser
import CSupport
import Glibc
import SvSystem
import SvctlKit

/// svctl: status and control of an svtree: clients as a whole, their services, enabling,
/// adding and removing clients, logs.
@main
struct Svctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "svctl",
        abstract: "Status and control of an svtree supervision tree of backup clients.",
        discussion: """
            The tree is the enabled directory the root svtree watches (--root, SVTREE_ROOT, default \
            \(TreeLayout.defaultEnabled)); client definitions live in clients/ beside it (--clients, \
            SVTREE_CLIENTS), repositories in data/ (--data, SVTREE_DATA). svctl reads and writes the \
            supervise/ files directly, like runit's sv.
            """,
        subcommands: [
            Status.self, Up.self, Down.self, Once.self, Restart.self, Term.self, Kill.self, Pause.self,
            Cont.self, Hup.self, Exit.self, Run.self, Enable.self, Disable.self, List.self, Add.self, Remove.self, Logs.self,
            Audit.self, Verify.self, Forget.self, Key.self, Metrics.self, Check.self, Alert.self,
        ]
    )

    /// `svctl --root DIR status` works as `svctl status --root DIR` does.
    static func main() {
        // The monitoring units give svctl CAP_DAC_OVERRIDE to read every client's status; the
        // hooks and helpers it starts get none of it.
        _ = sv_clear_ambient_capabilities()
        let arguments = GlobalOptions.hoisted(Array(CommandLine.arguments.dropFirst()))
        if let code = quickStatus(arguments) { Glibc.exit(code) }
        main(arguments)
    }

    /// `svctl status [CLIENT...] [--json]`, the command monitoring runs most, in that plain form
    /// read by hand: ArgumentParser's parse (every argument reflected, generic metadata
    /// instantiated by name, the check for a completion-script request) was two thirds of its
    /// time. Any other form (an option, a dash) goes to ArgumentParser: help and errors read
    /// the same.
    static func quickStatus(_ arguments: [String]) -> Int32? {
        guard arguments.first == "status",
              arguments.dropFirst().allSatisfy({ !$0.hasPrefix("-") || $0 == "--json" }) else { return nil }
        let rest = arguments.dropFirst()
        return runReportingErrors { () throws(SvctlError) in
            try Status.show(layout: TreeLayout(), clientNames: rest.filter { $0 != "--json" }, json: rest.contains("--json"))
        }
    }
}

/// --root / --clients / --data, shared by every subcommand.
struct TreeOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The enabled directory the root svtree watches.", valueName: "dir"))
    var root: String?

    @Option(name: .long, help: ArgumentHelp("Where client definitions live.", valueName: "dir"))
    var clients: String?

    @Option(name: .long, help: ArgumentHelp("Where client repositories live.", valueName: "dir"))
    var data: String?

    var layout: TreeLayout { TreeLayout(enabled: root, clients: clients, data: data) }
}

/// Every subcommand: its work throws svctl's one error type and returns the exit code.
protocol SvctlCommand: ParsableCommand {
    func execute() throws(SvctlError) -> Int32
}

extension SvctlCommand {
    /// Prints `svctl: message` for an error and exits with its code (1, or 3 for unknown).
    func run() throws {
        let code = runReportingErrors { () throws(SvctlError) in try execute() }
        if code != 0 { throw ExitCode(code) }
    }
}

/// The exit code of a subcommand's work; an error is said as `svctl: message` first.
func runReportingErrors(_ work: () throws(SvctlError) -> Int32) -> Int32 {
    do {
        return try work()
    } catch {
        try? FileSystem.writeAll(2, Array("svctl: \(error.description)\n".utf8))
        return error.exitCode
    }
}

func printLines(_ lines: [String]) {
    for line in lines { print(line) }
}
