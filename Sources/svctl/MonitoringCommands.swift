import ArgumentParser
import Glibc
import SvBase
import SvSystem
import SvctlKit

struct Metrics: SvctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Every client's status in the Prometheus text format, to stdout or as DIR/svtree.prom.",
        discussion: """
            The series of svctl(1) (svtree_client_health, svtree_service_up, \
            svtree_service_restarts_total, svtree_backup_last_snapshot_timestamp_seconds, ...): base \
            units, no timestamps, labels client, service, job only. With --textfile the file is written \
            under a temporary name and renamed, for node_exporter's textfile collector (Debian: \
            /var/lib/prometheus/node-exporter); a client's series go with it.
            """)

    @OptionGroup var tree: TreeOptions

    @Option(help: ArgumentHelp("Write DIR/svtree.prom atomically instead of printing.", valueName: "dir"))
    var textfile: String?

    @Argument(help: ArgumentHelp("Only these clients (default: every enabled one).", valueName: "client"))
    var clientNames: [String] = []

    func execute() throws(SvctlError) -> Int32 {
        let reports = try Monitoring.reports(tree.layout, names: clientNames, now: EventLoop.wallNow)
        let text = SvctlKit.Metrics.text(reports)
        if let textfile {
            try Monitoring.writeTextfile(text, directory: textfile)
        } else {
            print(text, terminator: "")
        }
        return 0
    }
}

struct Check: SvctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "A monitoring plugin: one line 'SVTREE STATE - summary | perfdata'; exit 0 ok, 1 warning, 2 critical, 3 unknown.",
        discussion: """
            For Nagios, Icinga, Sensu, Checkmk. The summary names each client that is not ok with its \
            problems, worst first. Perfdata: clients by health ('clients_ok'=N;;;0;TOTAL ...) and the \
            oldest latest snapshot's age in seconds with that client's warning and critical ages.
            """)

    @OptionGroup var tree: TreeOptions

    @Argument(help: ArgumentHelp("Only these clients (default: every enabled one).", valueName: "client"))
    var clientNames: [String] = []

    func execute() throws(SvctlError) -> Int32 {
        let now = EventLoop.wallNow
        let reports: [ClientReport]
        do {
            reports = try Monitoring.reports(tree.layout, names: clientNames, now: now)
        } catch {
            // A plugin says UNKNOWN on its one line, not only on stderr.
            print("SVTREE UNKNOWN - \(error.description)")
            return 3
        }
        let result = MonitoringCheck.result(reports, now: now)
        print(result.line)
        return result.code
    }
}

struct Alert: SvctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "alert",
        abstract: "Run a hook once per change of a client's health; quiet while nothing changes.",
        discussion: """
            CMD runs through /bin/sh with three arguments: client, old health, new health (ok, \
            warning, critical, unknown, or flapping; the old one is 'none' the first time), and the \
            client's problems on stdin, one a line. A change is recorded in the state file only \
            once CMD exits 0, so a failed notification is sent again at the next call. A client \
            whose health changed more than 3 times within an hour is announced once as flapping, \
            then stays quiet until it has held one health for an hour. A client first seen ok is \
            no news. Exit 0 when every hook succeeded, 1 otherwise.
            """)

    @OptionGroup var tree: TreeOptions

    @Option(help: ArgumentHelp("The command to run for each change.", valueName: "cmd"))
    var hook: String

    @Option(help: ArgumentHelp("The state file (default: alert-state beside the enabled directory).", valueName: "file"))
    var state: String?

    @Option(name: .customLong("repeat"), help: ArgumentHelp("Announce a health other than ok again after this long (90s, 30m, 12h, 1d).", valueName: "duration"))
    var repeatAfter: String?

    func execute() throws(SvctlError) -> Int32 {
        let now = EventLoop.wallNow
        var repeatSeconds: Int64?
        if let repeatAfter {
            guard let seconds = BackupReport.parseDuration(repeatAfter), seconds > 0 else {
                throw .failed("bad --repeat \(Names.quoted(repeatAfter)): a duration such as 30m, 12h or 1d")
            }
            repeatSeconds = seconds
        }
        let layout = tree.layout
        let stateFile = state ?? FileSystem.parentDirectory(layout.enabled) + "/alert-state"
        let reports = try Monitoring.reports(layout, names: [], now: now)
        let allSent = try Monitoring.alert(reports, hook: hook, stateFile: stateFile, repeatSeconds: repeatSeconds,
                                           now: now) { print($0) }
        return allSent ? 0 : 1
    }
}
