import ArgumentParser
import Glibc
import SvBase
import SvFormats
import SvSystem
import SvctlKit

/// The client argument of the assurance commands, with completion.
struct ClientArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The client.", valueName: "client"),
              completion: .custom { _, _, _ in TreeLayout().definedClients })
    var client: String
}

struct Audit: SvctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check a client's repository and every replica without the key; exit 2 on anything missing or corrupt.",
        discussion: """
            Backends: the primary repository and every target in the client's replicas file (a \
            directory or an rclone remote name:path from the rclone.conf beside it). Every file of \
            the primary must be on each backend with the same size; the files whose sha256 name \
            modulo the cycle equals the day modulo the cycle are read on every backend and must hash \
            to their names, so every file is read everywhere once a cycle. Slots missed while no \
            audit ran are caught up at the next. Results go to the client's audit-status, shown by \
            svctl status.
            """)

    @OptionGroup var tree: TreeOptions

    @Option(help: ArgumentHelp("Days in which every file is read once on every backend.", valueName: "days"))
    var cycle = 30

    @Option(help: ArgumentHelp("The day to audit as a day number (Unix days; default today): for tests and drills.",
                               valueName: "number"))
    var day: Int64?

    @Option(name: .customLong("max-rate"), help: ArgumentHelp("Read at most this many MB a second for hashing.",
                                                              valueName: "MB/s"))
    var maxRate: Double?

    @Option(help: ArgumentHelp("Seconds a primary file may be missing from a replica before it counts (a replication under way).",
                               valueName: "seconds"))
    var grace: Int64 = 3600

    @Flag(name: .customLong("listing-only"), help: "Completeness only: compare the listings, read no file.")
    var listingOnly = false

    @OptionGroup var target: ClientArgument

    func execute() throws(SvctlError) -> Int32 {
        guard cycle >= 1 && cycle <= 366 else { throw SvctlError.failed("bad cycle \(cycle): 1 to 366 days") }
        if let maxRate, !(maxRate > 0) { throw SvctlError.failed("bad --max-rate \(maxRate): a number of MB/s above 0") }
        let (layout, client, directory) = try target.resolveAsClient(tree)
        let now = EventLoop.wallNow
        if let day, day > SvctlKit.Audit.day(of: now) {
            throw SvctlError.failed("--day \(day) is in the future (today is \(SvctlKit.Audit.day(of: now))): it would count as covered")
        }
        let (replicas, rcloneConfig) = SvctlKit.Audit.replicas(clientDirectory: directory)
        var audit = SvctlKit.Audit(client: client, clientDirectory: directory, primary: layout.repository(client),
                                   replicas: replicas, rcloneConfig: rcloneConfig, day: day ?? SvctlKit.Audit.day(of: now))
        audit.cycle = cycle
        audit.maxRate = maxRate.map { Int64($0 * 1_000_000) }
        audit.listingOnly = listingOnly
        audit.graceSeconds = max(0, grace)
        let outcome = try audit.run(now: now)
        printLines(outcome.lines)
        return outcome.problems > 0 ? 2 : 0
    }
}

/// `--lock-wait` of the keyed commands (restic's lock and the client's repository.lock).
struct LockWaitOption: ParsableArguments {
    @Option(name: .customLong("lock-wait"), help: ArgumentHelp("Seconds to wait for a locked repository.", valueName: "seconds"))
    var lockWait: Double = 600

    func seconds() throws(SvctlError) -> Double {
        guard lockWait >= 0 else { throw SvctlError.failed("bad --lock-wait \(lockWait): 0 or more seconds") }
        return lockWait
    }
}

extension ClientArgument {
    /// The layout, the client's name and its directory, checked.
    func resolve(_ tree: TreeOptions) throws(SvctlError) -> (TreeLayout, String, String) {
        let layout = tree.layout
        let directory = try layout.requireClient(client)
        try layout.requireInside(directory, label: client)
        return (layout, client, directory)
    }

    /// The same, and then, run as root on a client with a user of its own, that user for the
    /// rest of the run, as its jobs run (audit, verify, forget).
    func resolveAsClient(_ tree: TreeOptions) throws(SvctlError) -> (TreeLayout, String, String) {
        let resolved = try resolve(tree)
        try ClientFiles.becomeClientUser(resolved.2)
        return resolved
    }
}

struct Verify: SvctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a client's repository with its key and test a restore from every backend; exit 0/1/2/3.",
        discussion: """
            Runs restic check --read-data-subset K/N on the primary (K moves on at each run, so N runs \
            read every pack), then restores a random sample of the latest snapshot's files with \
            --verify from the primary and from every replica into a private temporary directory, \
            compares each with the snapshot's listing (size, permissions, mtime) and removes the \
            directory. Needs the key (svctl key). A repository locked by a running backup is waited \
            for (--lock-wait), never unlocked. Results go to the client's verify-status.
            """)

    @OptionGroup var tree: TreeOptions

    @Option(help: ArgumentHelp("Runs in which every data pack is read once.", valueName: "n"))
    var subsets = 12

    @Option(help: ArgumentHelp("How many files the restore test samples.", valueName: "n"))
    var files = 20

    @Option(help: ArgumentHelp("At most this many MB restored from each backend.", valueName: "MB"))
    var megabytes = 64

    @OptionGroup var lock: LockWaitOption

    @OptionGroup var target: ClientArgument

    func execute() throws(SvctlError) -> Int32 {
        guard subsets >= 1, files >= 1, megabytes >= 1 else {
            throw SvctlError.failed("--subsets, --files and --megabytes must be 1 or more")
        }
        let (layout, client, directory) = try target.resolveAsClient(tree)
        let (replicas, rcloneConfig) = SvctlKit.Audit.replicas(clientDirectory: directory)
        var verify = SvctlKit.Verify(client: client, clientDirectory: directory, primary: layout.repository(client),
                                     replicas: replicas, rcloneConfig: rcloneConfig)
        verify.subsets = subsets
        verify.files = files
        verify.megabytes = megabytes
        verify.lockWaitSeconds = try lock.seconds()
        let outcome = try verify.run(now: EventLoop.wallNow)
        printLines(outcome.lines)
        return outcome.exitCode
    }
}

struct Forget: SvctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Apply a client's retention file to its primary repository (restic forget --prune).",
        discussion: """
            The retention file in the client's directory holds restic's keep options, one a line \
            (keep-daily 7, keep-weekly 5, keep-within 30d ...). Holds the client's repository.lock, as \
            replication does, so nothing copies from the repository during the prune. Replicas keep \
            everything. Needs the key (svctl key). Exit 0 done, 2 failed, 3 not run (locked).
            """)

    @OptionGroup var tree: TreeOptions

    @OptionGroup var lock: LockWaitOption

    @OptionGroup var target: ClientArgument

    func execute() throws(SvctlError) -> Int32 {
        let (layout, client, directory) = try target.resolveAsClient(tree)
        var forget = SvctlKit.Forget(client: client, clientDirectory: directory, primary: layout.repository(client),
                                     rcloneConfig: SvctlKit.Audit.replicas(clientDirectory: directory).1)
        forget.lockWaitSeconds = try lock.seconds()
        let outcome = try forget.run()
        printLines(outcome.lines)
        return outcome.exitCode
    }
}

struct Key: SvctlCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Store (or remove) the repository password the verify and forget jobs need.",
        discussion: """
            The first line of FILE is kept as the client's repository-password, mode 0600; restic reads \
            it with --password-file, so it is never in an argument list, an environment or a log. \
            Storing it brings the verify and forget jobs up; --remove deletes it and puts them down.
            """)

    @OptionGroup var tree: TreeOptions

    @Option(name: .customLong("password-file"), help: ArgumentHelp("A file whose first line is the password.", valueName: "file"))
    var passwordFile: String?

    @Flag(help: "Delete the stored password and put the keyed jobs down.")
    var remove = false

    @OptionGroup var target: ClientArgument

    func execute() throws(SvctlError) -> Int32 {
        let (_, client, directory) = try target.resolve(tree)
        switch (passwordFile, remove) {
        case (let file?, false):
            printLines(try RepositoryKey.store(clientDirectory: directory, label: client, from: file))
        case (nil, true):
            printLines(try RepositoryKey.remove(clientDirectory: directory, label: client))
        default:
            throw SvctlError.failed("give either --password-file FILE or --remove")
        }
        return 0
    }
}
