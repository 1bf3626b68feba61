import Glibc
import SvSystem

/// Enabling, disabling, listing and removing clients: symlinks in the enabled directory,
/// definitions in `clients/`.
public struct ClientAdmin: Sendable {
    public let layout: TreeLayout

    public init(layout: TreeLayout) { self.layout = layout }

    func requireDefinition(_ name: String) throws(SvctlError) -> String {
        try Names.check(name)
        let definition = layout.definition(name)
        guard let info = try? FileSystem.info(definition), info.kind == .directory else {
            throw .noSuchClient(name, hint: "no directory \(definition); svctl add \(name) makes one")
        }
        return definition
    }

    /// `ln -s clients/NAME enabled/NAME`; saying so when it already is.
    public func enable(_ name: String) throws(SvctlError) -> String {
        let definition = try requireDefinition(name)
        guard FileSystem.isExecutableFile(definition + "/run") else {
            throw SvctlError.failed("client \(name) cannot run: \(definition)/run is missing or not executable")
        }
        guard let info = try? FileSystem.info(layout.enabled), info.kind == .directory else {
            throw SvctlError.failed("enabled directory \(layout.enabled) does not exist (--root or SVTREE_ROOT names it)")
        }
        let entry = layout.enabledEntry(name)
        let target = FileSystem.realPath(definition) ?? definition
        if layout.isEnabled(name) {
            guard FileSystem.realPath(entry) == target else {
                throw SvctlError.failed("\(entry) exists and is not a link to \(target): remove it first")
            }
            return "\(name) is already enabled"
        }
        guard symlink(target, entry) == 0 else {
            throw SvctlError.failed("cannot create \(entry): \(FileSystem.lastErrno)")
        }
        return "enabled \(name): \(entry) -> \(target)"
    }

    /// Removes the symlink; returns what to watch to know the client is gone.
    public func disable(_ name: String) throws(SvctlError) -> (message: String, superviseDirectories: [String]) {
        try Names.check(name)
        let entry = layout.enabledEntry(name)
        guard let info = try? FileSystem.info(entry, followLinks: false) else {
            if FileSystem.exists(layout.definition(name)) { return ("\(name) is not enabled", []) }
            throw .noSuchClient(name)
        }
        guard info.kind == .symlink else {
            throw SvctlError.failed("\(entry) is a \(info.kind == .directory ? "directory" : "file"), not a symlink: svctl leaves it alone")
        }
        let watched = Self.superviseDirectories(ofClient: FileSystem.realPath(entry) ?? entry)
        guard unlink(entry) == 0 else { throw SvctlError.failed("cannot remove \(entry): \(FileSystem.lastErrno)") }
        return ("disabled \(name)", watched)
    }

    /// The client's own `supervise/` and those of its services and their loggers.
    public static func superviseDirectories(ofClient directory: String) -> [String] {
        var result = [directory]
        for service in TreeLayout.services(ofClient: directory) {
            let path = directory + "/services/" + service
            result.append(path)
            if FileSystem.exists(path + "/log") { result.append(path + "/log") }
        }
        return result
    }

    /// Waits until no supervisor holds any of the directories and their last pids are gone.
    public static func waitGone(_ directories: [String], seconds: Double) throws(SvctlError) {
        var busy: String?
        let gone = Poll.until(seconds: seconds) {
            busy = directories.first(where: isBusy)
            return busy == nil
        }
        if !gone { throw .failed("timed out after \(Int(seconds)) s: \(busy ?? "?") is still supervised or running") }
    }

    static func isBusy(_ directory: String) -> Bool {
        let probe = ServiceProbe.read(name: "", path: directory)
        if probe.supervisor == .running { return true }
        if let status = probe.status, status.state != .down, status.pid > 0, kill(status.pid, 0) == 0 { return true }
        if let cgroup = probe.cgroup, let events = try? FileSystem.readBytes(cgroup + "/cgroup.events", limit: 4096) {
            return String(decoding: events, as: UTF8.self).contains("populated 1")
        }
        return false
    }

    public struct Listing: Sendable, Equatable {
        public var name: String
        public var enabled: Bool
        public var defined: Bool
        public var port: Int?
        public var directory: String
    }

    /// Every defined client, and enabled entries that have no definition in `clients/`.
    public func list() -> [Listing] {
        var names = Set(layout.definedClients)
        names.formUnion(layout.enabledClients)
        return names.sorted().map { name in
            Listing(name: name, enabled: layout.isEnabled(name), defined: FileSystem.exists(layout.definition(name)),
                    port: ClientPorts.port(ofClient: layout.definition(name)),
                    directory: layout.isEnabled(name) ? (FileSystem.realPath(layout.enabledEntry(name)) ?? layout.enabledEntry(name))
                        : layout.definition(name))
        }
    }

    /// Deletes the definition (refused while enabled or supervised); `purge` deletes the
    /// repository data too.
    public func remove(_ name: String, purge: Bool) throws(SvctlError) -> [String] {
        let definition = try requireDefinition(name)
        try layout.requireInside(definition, label: name)
        let real = FileSystem.realPath(definition) ?? definition
        for entry in layout.enabledClients where FileSystem.realPath(layout.enabledEntry(entry)) == real {
            throw SvctlError.failed("client \(name) is enabled (\(layout.enabledEntry(entry))): svctl disable \(name) first")
        }
        if let busy = Self.superviseDirectories(ofClient: definition).first(where: Self.isBusy) {
            throw SvctlError.failed("client \(name) is still running (\(busy)): wait for it to stop")
        }
        let localReplicas = (BackupReport.readReplicas(definition + "/services/snapwatch/replicas") ?? []).filter { $0.hasPrefix("/") }
        try DirectoryTree.remove(definition)
        var lines = ["removed \(name): \(definition)"]
        let repository = layout.repository(name)
        if purge {
            if (try? FileSystem.info(repository, followLinks: false)) != nil {
                try DirectoryTree.remove(repository)
                lines.append("purged its repository \(repository)")
            }
            // Local replicas stay (they are copies elsewhere); a later user may get the same uid.
            if let owner = UserAccount.named(ClientUser.name(ofClient: name))?.user {
                for replica in localReplicas where DirectoryTree.owner(replica)?.0 == owner {
                    lines.append("kept its local replica \(replica), owned by uid \(owner): delete it, or chown it before that uid is given again")
                }
            }
            if let removed = try ClientUser.remove(ofClient: name) { lines.append(removed) }
        } else {
            if FileSystem.exists(repository) { lines.append("kept its repository \(repository) (--purge deletes it)") }
            if geteuid() == 0, let account = ClientUser.lookup(ClientUser.name(ofClient: name)),
               account.comment == ClientUser.comment(ofClient: name) {
                lines.append("kept its user \(account.name), owner of the repository (--purge deletes it)")
            }
        }
        return lines
    }
}
