import Glibc
import SvSystem

/// The system user of a client: `svtree-NAME`, made by `svctl add` run as root and named in the
/// client's `user` file, which makes svtree run its storage server, snapwatch, jobs and
/// loggers as it.
public enum ClientUser {
    public static let prefix = "svtree-"
    /// useradd's limit on user names.
    public static let maximumNameLength = 32

    public static func name(ofClient client: String) -> String { prefix + client }

    /// The uids and gids of client users: their own range, since Debian's system range
    /// (100-999) holds fewer users than a server has clients. SVTREE_CLIENT_IDS="FIRST-LAST"
    /// moves it (a site whose directory service uses these numbers).
    public static func idRange(_ environment: (String) -> String? = TreeLayout.environmentValue) -> ClosedRange<Int> {
        if let text = environment("SVTREE_CLIENT_IDS") {
            let parts = text.split(separator: "-").compactMap { Int($0) }
            if parts.count == 2, parts[0] > 0, parts[0] <= parts[1] { return parts[0]...parts[1] }
        }
        return 20000...29999
    }

    /// Written as the user's comment: only a user that carries it is ever deleted by svctl.
    static func comment(ofClient client: String) -> String { "svtree client \(client)" }

    public typealias Account = UserAccount

    public static func lookup(_ name: String) -> Account? { UserAccount.named(name) }

    /// The client's user, made now (or one that an earlier `svctl add` of the same client made
    /// and `svctl remove` without --purge kept).
    static func make(forClient client: String, home: String) throws(SvctlError) -> (Account, made: Bool) {
        let name = name(ofClient: client)
        guard name.utf8.count <= maximumNameLength else {
            throw .failed("client name \(client) is too long for its user \(name) (at most \(maximumNameLength - prefix.count) characters; --no-user keeps the tree's user)")
        }
        if let existing = lookup(name) {
            guard existing.comment == comment(ofClient: client) else {
                throw .failed("user \(name) exists and was not made by svctl for client \(client) (its comment is \(Names.quoted(existing.comment)))")
            }
            return (existing, false)
        }
        let ids = idRange()
        let range = ["-K", "SYS_UID_MIN=\(ids.lowerBound)", "-K", "SYS_UID_MAX=\(ids.upperBound)",
                     "-K", "SYS_GID_MIN=\(ids.lowerBound)", "-K", "SYS_GID_MAX=\(ids.upperBound)"]
        let status = try Subprocess.run([program("useradd"), "--system", "--user-group", "--no-create-home",
                                         "--home-dir", home, "--shell", "/usr/sbin/nologin"] + range
                                         + ["--comment", comment(ofClient: client), name], input: "", showOutput: true)
        guard status == 0, let account = lookup(name) else {
            // useradd's 4: no free id left in the range.
            let why = status == 4 << 8 ? ": no free uid or gid left in \(ids.lowerBound)-\(ids.upperBound) (SVTREE_CLIENT_IDS moves the range)" : ""
            throw .failed("useradd could not make user \(name) (wait status \(status))\(why)")
        }
        return (account, true)
    }

    /// Deletes the client's user and its group; nil when there is none that svctl made.
    static func remove(ofClient client: String) throws(SvctlError) -> String? {
        let name = name(ofClient: client)
        guard geteuid() == 0, let account = lookup(name), account.comment == comment(ofClient: client) else { return nil }
        let status = try Subprocess.run([program("userdel"), name], input: "", showOutput: true)
        guard status == 0 else { throw .failed("userdel could not delete user \(name) (wait status \(status))") }
        return "removed its user \(name) (uid \(account.user))"
    }

    /// The first directory above `path` that other users cannot search: the client's user
    /// could not reach its own files through it.
    static func unreachableAncestor(of path: String) -> String? {
        var current = FileSystem.parentDirectory(FileSystem.realPath(path) ?? path)
        while true {
            var st = stat()
            if stat(current, &st) == 0 && st.st_mode & S_IXOTH == 0 { return current }
            if current == "/" || current.isEmpty { return nil }
            current = FileSystem.parentDirectory(current)
        }
    }

    private static func program(_ name: String) -> String {
        Spawner.findProgram(name) ?? "/usr/sbin/" + name
    }
}
