import ArgumentParser
import Glibc
import SvBase
import SvFormats
import SvSystem
import SvctlKit

struct Enable: SvctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "enable",
        abstract: "Enable a client: the symlink enabled/CLIENT -> clients/CLIENT.")

    @OptionGroup var tree: TreeOptions

    @Option(name: .customShort("w"), help: ArgumentHelp("Wait up to this long for every service to run and pass its ./check.", valueName: "seconds"))
    var wait: Double?

    @Argument(help: ArgumentHelp("The client.", valueName: "client"),
              completion: .custom { _, _, _ in TreeLayout().definedClients })
    var client: String

    func execute() throws(SvctlError) -> Int32 {
        print(try ClientAdmin(layout: tree.layout).enable(client))
        guard let wait else { return 0 }
        var report: ClientReport?
        // A service found ready is not looked at again (a check is a process) while the others catch up.
        var checked = Set<String>()
        func ready(_ report: ClientReport) -> Bool {
            guard report.health != .critical && report.health != .unknown else { return false }
            for service in report.services where !checked.contains(service.path) {
                guard Control.isReady(service) else { return false }
                checked.insert(service.path)
            }
            return true
        }
        let allReady = Poll.until(seconds: wait) {
            let now = ClientReport.read(client, layout: tree.layout, now: EventLoop.wallNow)
            report = now
            return ready(now)
        }
        let problems = report?.problems ?? []
        if !allReady {
            throw SvctlError.failed("timed out after \(Int(wait)) s: "
                + (problems.isEmpty ? "a service is not ready yet" : problems.joined(separator: "; ")))
        }
        print(StatusView.summaryLines(report.map { [$0] } ?? [], now: EventLoop.wallNow), terminator: "")
        return 0
    }
}

struct Disable: SvctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable",
        abstract: "Disable a client: remove enabled/CLIENT; the tree stops everything of it.")

    @OptionGroup var tree: TreeOptions

    @Flag(help: "Wait until no process of the client is left.")
    var wait = false

    @Option(help: ArgumentHelp("How long --wait waits.", valueName: "seconds"))
    var timeout: Double = 60

    @Argument(help: ArgumentHelp("The client.", valueName: "client"),
              completion: .custom { _, _, _ in TreeLayout().enabledClients })
    var client: String

    func execute() throws(SvctlError) -> Int32 {
        let start = EventLoop.now
        let (message, watched) = try ClientAdmin(layout: tree.layout).disable(client)
        print(message)
        if wait && !watched.isEmpty {
            try ClientAdmin.waitGone(watched, seconds: timeout)
            print("\(client): every process gone after \((EventLoop.now - start) / 1_000_000) ms")
        }
        return 0
    }
}

struct Add: SvctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a client from the templates: storage server, snapwatch, loggers, credentials.",
        discussion: """
            Creates clients/CLIENT with services/storage (rclone serve restic, append-only, private \
            repositories, on ADDRESS:PORT; or minio), services/snapwatch and the daily audit job services/audit, each logging through svlog. \
            The password is generated, printed once, and stored hashed (mode 0600). Run as root, the \
            client gets a system user of its own, svtree-CLIENT, which owns clients/CLIENT and its \
            repository (0700): svtree runs its services as that user. The client is not enabled: \
            svctl enable CLIENT.
            """)

    @OptionGroup var tree: TreeOptions

    @Option(help: "The storage server's port (default: the lowest free one from 18001, unique among clients).")
    var port: Int?

    @Option(help: ArgumentHelp("Storage template: rclone or minio.", valueName: "name"))
    var template = "rclone"

    @Option(help: ArgumentHelp("The address the storage server listens on.", valueName: "address"))
    var address = "127.0.0.1"

    @Option(name: .customLong("replica"), help: ArgumentHelp("A replication target (a directory or an rclone remote); repeatable.", valueName: "target"))
    var replicas: [String] = []

    @Option(help: ArgumentHelp("The template directory (default: SVTREE_TEMPLATES, else the installed one).", valueName: "dir"))
    var templates: String?

    @Option(name: .customLong("memory-max"), help: ArgumentHelp("The client's memory.max in its limits file (512M, 1G).", valueName: "size"))
    var memoryMax: String?

    @Option(name: .customLong("pids-max"), help: ArgumentHelp("The client's pids.max in its limits file.", valueName: "n"))
    var pidsMax: Int?

    @Flag(name: .customLong("no-user"), help: "Run as root: no user of its own; the client runs as the tree's user.")
    var noUser = false

    @Argument(help: ArgumentHelp("The new client's name.", valueName: "client"))
    var client: String

    func execute() throws(SvctlError) -> Int32 {
        let directory: String
        if let named = templates ?? TreeLayout.environmentValue("SVTREE_TEMPLATES") {
            directory = named
        } else {
            directory = try TemplateLocation.find()
        }
        var limits: [String] = []
        if let memoryMax {
            guard memoryMax.allSatisfy({ $0.isNumber || "KMGT".contains($0) }), memoryMax.first?.isNumber == true else {
                throw .failed("bad --memory-max \(Names.quoted(memoryMax)): bytes, or with K, M, G or T (512M)")
            }
            limits.append("memory.max \(memoryMax)")
        }
        if let pidsMax {
            guard pidsMax > 0 else { throw .failed("bad --pids-max \(pidsMax): a positive number") }
            limits.append("pids.max \(pidsMax)")
        }
        var add = ClientAdd(layout: tree.layout, templates: directory, storage: template, address: address,
                            replicas: replicas)
        add.limits = limits
        add.makeUser = !noUser
        printLines(try add.add(client, port: port))
        return 0
    }
}

struct Remove: SvctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Delete a disabled client's definition; its repository stays unless --purge.")

    @OptionGroup var tree: TreeOptions

    @Flag(help: "Delete the client's repository data and its user too.")
    var purge = false

    @Argument(help: ArgumentHelp("The client.", valueName: "client"),
              completion: .custom { _, _, _ in TreeLayout().definedClients })
    var client: String

    func execute() throws(SvctlError) -> Int32 {
        printLines(try ClientAdmin(layout: tree.layout).remove(client, purge: purge))
        return 0
    }
}

/// Where the templates are when no option names them: installed beside the binary
/// (PREFIX/bin -> PREFIX/share/svtree), or the source tree for a development build.
enum TemplateLocation {
    static func find() throws(SvctlError) -> String {
        let binary = FileSystem.parentDirectory(FileSystem.readLink("/proc/self/exe") ?? "")
        var candidates = [FileSystem.parentDirectory(binary) + "/share/svtree/service-templates",
                          "/usr/local/share/svtree/service-templates", "/usr/share/svtree/service-templates"]
        // .build/<triple>/debug/svctl in a checkout
        var up = binary
        for _ in 0..<3 { up = FileSystem.parentDirectory(up) }
        candidates.append(up + "/service-templates")
        if let found = candidates.first(where: { FileSystem.exists($0 + "/client") }) { return found }
        throw SvctlError.failed("no templates found (tried \(candidates.joined(separator: ", "))): use --templates or SVTREE_TEMPLATES")
    }
}
