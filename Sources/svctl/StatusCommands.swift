import ArgumentParser
import Glibc
import SvSystem
import SvctlKit

struct Status: SvctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show clients and their services; exit 0 ok, 1 warning, 2 critical, 3 unknown.",
        discussion: """
            Without a client: every enabled client, one line each. With clients: each as a whole \
            (its client-level svtree, every service with its logger, backup health), then the problems \
            found. A service without a down file that is not running is critical; so is an old backup.
            """)

    @OptionGroup var tree: TreeOptions

    @Flag(help: "One JSON document with stable keys (see doc/formats.md).")
    var json = false

    @Argument(help: ArgumentHelp("Clients to show in full.", valueName: "client"),
              completion: .custom { _, _, _ in TreeLayout().definedClients })
    var clientNames: [String] = []

    func execute() throws(SvctlError) -> Int32 {
        try Self.show(layout: tree.layout, clientNames: clientNames, json: json)
    }

    static func show(layout: TreeLayout, clientNames: [String], json: Bool) throws(SvctlError) -> Int32 {
        let now = EventLoop.wallNow
        for name in clientNames where !Names.isValid(name) {
            throw .unknown("bad client name \(Names.quoted(name)): \(Names.rule)")
        }
        if clientNames.isEmpty { try layout.requireEnabledDirectory() }
        let names = clientNames.isEmpty ? layout.enabledClients : clientNames
        // Named clients are shown in full, with each service's ./check run for readiness.
        let reports = names.map { ClientReport.read($0, layout: layout, now: now, runChecks: !clientNames.isEmpty) }
        if json {
            print(StatusJSON.document(reports, now: now).text())
        } else if clientNames.isEmpty {
            if reports.isEmpty { print("no client enabled in \(layout.enabled)") }
            print(StatusView.summaryLines(reports, now: now), terminator: "")
        } else {
            print(StatusView.detail(reports, now: now), terminator: "")
        }
        return StatusView.overall(reports).rawValue
    }
}

struct List: SvctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",abstract: "List every defined client, enabled or not.")

    @OptionGroup var tree: TreeOptions

    func execute() throws(SvctlError) -> Int32 {
        try tree.layout.requireEnabledDirectory()
        try tree.layout.requireClientsDirectory()
        let listing = ClientAdmin(layout: tree.layout).list()
        if listing.isEmpty { print("no client defined in \(tree.layout.clients)") }
        let width = listing.map(\.name.count).max() ?? 0
        for client in listing {
            let state = client.enabled ? (client.defined ? "enabled" : "enabled (not in clients/)") : "disabled"
            print(client.name + String(repeating: " ", count: width - client.name.count) + "  "
                + state + (client.port.map { "  port \($0)" } ?? "") + "  " + client.directory)
        }
        return 0
    }
}

struct Logs: SvctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Show a client's or a service's log with its stamps in local time.",
        discussion: "A bare client shows its own log and every service's, merged by time.")

    @OptionGroup var tree: TreeOptions

    @Flag(name: .shortAndLong, help: "Keep printing new lines, across rotations.")
    var follow = false

    @Option(name: .short, help: ArgumentHelp("How many lines to show first.", valueName: "lines"))
    var n = 20

    @Argument(help: ArgumentHelp("CLIENT or CLIENT/SERVICE.", valueName: "target"),
              completion: .custom { _, _, _ in TreeLayout().definedClients })
    var target: String

    func execute() throws(SvctlError) -> Int32 {
        let (client, service) = try Names.parseTarget(target)
        let directory = try tree.layout.requireClient(client)
        // Its logs are written by its own user, who might point a file elsewhere: read as them.
        try ClientFiles.becomeClientUser(directory)
        if let service, !FileSystem.exists(directory + "/services/" + service) {
            throw SvctlError.noSuchService(client: client, service: service)
        }
        let sources = LogView.sources(client: directory, service: service)
        guard !sources.isEmpty else { throw SvctlError.failed("\(target) has no log directory with a current file yet") }
        printLines(LogView.lastLines(sources, count: max(0, n)))
        if follow {
            fflush(nil)
            LogView.follow(sources) { line in
                print(line)
                fflush(nil)
            }
        }
        return 0
    }
}
