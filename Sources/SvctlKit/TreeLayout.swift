import Glibc
import SvSystem

/// Where the tree lives: the enabled directory the root svtree watches, client definitions,
/// repository data and the templates `svctl add` copies. Every path is a setting.
public struct TreeLayout: Sendable {
    public var enabled: String
    public var clients: String
    public var data: String

    public static let defaultEnabled = "/srv/svtree/enabled"

    /// Options first, then SVTREE_ROOT / SVTREE_CLIENTS / SVTREE_DATA, then the defaults
    /// (`clients/` and `data/` beside the enabled directory).
    public init(enabled: String? = nil, clients: String? = nil, data: String? = nil,
                environment: (String) -> String? = Self.environmentValue) {
        let root = Self.trimmed(enabled ?? environment("SVTREE_ROOT") ?? Self.defaultEnabled)
        self.enabled = root
        let base = FileSystem.parentDirectory(root)
        self.clients = Self.trimmed(clients ?? environment("SVTREE_CLIENTS") ?? base + "/clients")
        self.data = Self.trimmed(data ?? environment("SVTREE_DATA") ?? base + "/data")
    }

    /// A variable that is set and not empty (an empty SVTREE_ROOT means the default).
    public static func environmentValue(_ name: String) -> String? {
        Spawner.environmentValue(name).flatMap { $0.isEmpty ? nil : $0 }
    }

    private static func trimmed(_ path: String) -> String {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    public func definition(_ client: String) -> String { clients + "/" + client }
    public func enabledEntry(_ client: String) -> String { enabled + "/" + client }
    public func repository(_ client: String) -> String { data + "/" + client }

    /// Whether `enabled/CLIENT` exists (a symlink to the definition, or a directory of its own).
    public func isEnabled(_ client: String) -> Bool {
        if (try? FileSystem.info(enabledEntry(client), followLinks: false)) != nil { return true }
        return false
    }

    /// The client's directory as the tree sees it: the enabled entry when there is one.
    public func clientDirectory(_ client: String) -> String? {
        if isEnabled(client) { return enabledEntry(client) }
        if let info = try? FileSystem.info(definition(client)), info.kind == .directory {
            return definition(client)
        }
        return nil
    }

    /// The client's directory (as `clientDirectory`), or the error every subcommand gives for it.
    public func requireClient(_ name: String) throws(SvctlError) -> String {
        try Names.check(name)
        guard let directory = clientDirectory(name) else { throw .noSuchClient(name) }
        return directory
    }

    /// Monitoring must not read "no client" as "all fine" when the tree is not there: exit 3.
    public func requireEnabledDirectory() throws(SvctlError) {
        do {
            _ = try FileSystem.list(enabled)
        } catch {
            throw .unknown("cannot read the enabled directory \(enabled): \(error) (--root or SVTREE_ROOT names it)")
        }
    }

    /// The same for `clients/` (svctl list).
    public func requireClientsDirectory() throws(SvctlError) {
        do {
            _ = try FileSystem.list(clients)
        } catch {
            throw .unknown("cannot read the clients directory \(clients): \(error) (--root, --clients or SVTREE_CLIENTS names it)")
        }
    }

    /// Refuses a path that resolves outside `enabled/` and `clients/` (a symlink to elsewhere):
    /// svctl writes control letters and deletes files only inside the tree.
    public func requireInside(_ path: String, label: String) throws(SvctlError) {
        let resolved = FileSystem.realPath(path) ?? path
        let roots = [enabled, clients].map { FileSystem.realPath($0) ?? $0 }
        guard roots.contains(where: { resolved.hasPrefix($0 + "/") }) else {
            throw SvctlError.failed("\(label) resolves to \(resolved), outside the tree (\(enabled), \(clients)): svctl does not act on it")
        }
    }

    /// Names in a directory that the tree would consider (no dot-names), sorted.
    public static func entries(_ directory: String) -> [String] {
        guard let names = try? FileSystem.list(directory) else { return [] }
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }

    public var enabledClients: [String] { Self.entries(enabled) }
    public var definedClients: [String] { Self.directories(in: clients) }

    /// A client's services: the entries of its `services/` (what its svtree supervises).
    public static func services(ofClient directory: String) -> [String] { directories(in: directory + "/services") }

    /// The entries of `directory` that are directories or symlinks to one, as `entries`: the
    /// listing's d_type says, a stat only for a symlink (a client or service linked in).
    static func directories(in directory: String) -> [String] {
        guard let listed = try? FileSystem.listWithKinds(directory) else { return [] }
        return listed.filter { entry in
            guard !entry.name.hasPrefix(".") else { return false }
            return entry.isDirectory ?? ((try? FileSystem.info(directory + "/" + entry.name))?.kind == .directory)
        }.map(\.name).sorted()
    }
}

/// The tree options svctl also takes before the subcommand (`svctl --root DIR status`, as
/// `sv -w 7 status` and `systemctl --user status` put theirs): moved behind the subcommand's
/// name, where each subcommand reads them.
public enum GlobalOptions {
    public static let names = ["--root", "--clients", "--data"]

    public static func hoisted(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var rest = arguments[...]
        while let first = rest.first {
            if names.contains(first), rest.count >= 2 {
                leading += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else if names.contains(where: { first.hasPrefix($0 + "=") }) {
                leading.append(first)
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        guard !leading.isEmpty, let command = rest.first else { return arguments }
        return [command] + leading + Array(rest.dropFirst())
    }
}
