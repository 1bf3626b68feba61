import Glibc
import SvBase
import SvSystem

/// The shell around `Metrics`, `MonitoringCheck` and `AlertPolicy`: which clients, the
/// textfile written atomically, the hooks run and the alert state kept.
public enum Monitoring {
    /// The named clients, or every enabled one (the enabled directory must be readable:
    /// monitoring must not read "no client" as "all fine").
    public static func reports(_ layout: TreeLayout, names: [String], now: WallTime) throws(SvctlError) -> [ClientReport] {
        for name in names { try Names.check(name) }
        if names.isEmpty { try layout.requireEnabledDirectory() }
        return (names.isEmpty ? layout.enabledClients : names)
            .map { ClientReport.read($0, layout: layout, now: now, runChecks: false) }
    }

    /// `DIR/svtree.prom`, through `svtree.prom.new` (a name node_exporter's textfile
    /// collector skips: it reads `*.prom` only) and a rename: a scrape sees one whole file.
    public static func writeTextfile(_ text: String, directory: String) throws(SvctlError) {
        let path = directory + "/svtree.prom"
        do {
            try FileSystem.writeAtomically(path, Array(text.utf8), mode: 0o644)
        } catch {
            unlink(path + ".new")
            throw .failed("cannot write \(path): \(error)")
        }
    }

    /// One `svctl alert` call: observe, run `hook` for each notification (arguments client,
    /// old, new; the problems on stdin, one a line), record what succeeded. Each hook run is
    /// said as it ends; returns whether every hook succeeded.
    public static func alert(_ reports: [ClientReport], hook: String, stateFile: String, repeatSeconds: Int64?,
                             now: WallTime, say: (String) -> Void) throws(SvctlError) -> Bool {
        // One alert at a time (a slow hook must not make the next timer run notify twice).
        let lock = open(stateFile + ".lock", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw .failed("cannot open \(stateFile).lock: \(FileSystem.lastErrno)") }
        defer { close(lock) }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else { throw .failed("another svctl alert holds \(stateFile).lock") }
        // A state that cannot be read or written would make every call notify again: refused
        // before any hook runs.
        var previous = ""
        do {
            previous = String(decoding: try FileSystem.readBytes(stateFile, limit: 16 << 20), as: UTF8.self)
        } catch {
            if error != .noSuchFileOrDirectory { throw .failed("cannot read the alert state \(stateFile): \(error)") }
        }
        do {
            try FileSystem.writeDurably(stateFile, Array(previous.utf8), mode: 0o600)
        } catch {
            throw .failed("cannot write the alert state \(stateFile): \(error)")
        }
        var policy = AlertPolicy(parsing: previous, repeatSeconds: repeatSeconds)
        let seen = reports.map { (client: $0.name, health: $0.health.name, problems: $0.problems) }
        let notifications = policy.observe(seen, now: now.unixSeconds)
        var allSent = true
        for notification in notifications {
            let status = try Subprocess.run(
                ["/bin/sh", "-c", hook + " \"$@\"", "svctl-alert", notification.client, notification.old, notification.new],
                input: notification.problems.map { $0 + "\n" }.joined(), showOutput: true)
            let verdict = ExitStatus(waitStatus: status)
            if verdict == .exited(0) {
                policy.announced(notification, now: now.unixSeconds)
                say("\(notification.client): \(notification.old) -> \(notification.new): sent")
            } else {
                allSent = false
                say("\(notification.client): \(notification.old) -> \(notification.new): hook failed (\(verdict)), kept for the next call")
            }
        }
        policy.settleQuiet(now: now.unixSeconds)
        do {
            try FileSystem.writeDurably(stateFile, Array(policy.text.utf8), mode: 0o600)
        } catch {
            throw .failed("cannot write the alert state \(stateFile): \(error) (what was sent may be sent again)")
        }
        return allSent
    }
}
