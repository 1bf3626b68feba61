import Glibc

/// A user of the password database (files, or whatever NSS is set up to ask), by name or uid.
public struct UserAccount: Sendable, Equatable {
    public var name: String
    public var user: uid_t
    /// Its primary group.
    public var group: gid_t
    public var home: String
    public var comment: String

    public init(name: String, user: uid_t, group: gid_t, home: String, comment: String = "") {
        self.name = name
        self.user = user
        self.group = group
        self.home = home
        self.comment = comment
    }

    public var identity: Spawner.Identity { Spawner.Identity(user: user, group: group) }

    /// A user name, or digits: a uid (as a `user` file may hold either).
    public static func named(_ text: String) -> UserAccount? {
        if !text.isEmpty, text.allSatisfy(\.isNumber) { return uid_t(text).flatMap(withID) }
        return getpwnam(text).map(UserAccount.init(entry:))
    }

    public static func withID(_ uid: uid_t) -> UserAccount? {
        getpwuid(uid).map(UserAccount.init(entry:))
    }

    private init(entry: UnsafeMutablePointer<passwd>) {
        self.init(name: String(cString: entry.pointee.pw_name), user: entry.pointee.pw_uid, group: entry.pointee.pw_gid,
                  home: String(cString: entry.pointee.pw_dir), comment: String(cString: entry.pointee.pw_gecos))
    }
}

/// An entry's or a client's `user` file: one line, a user name or a uid. It is policy (who the
/// processes run as, who gets the client's key), so it counts only where those users cannot
/// touch it (see `PolicyFile`). svtree and svctl both read it through here.
public enum UserFile {
    public static let name = "user"

    public enum Reading: Equatable {
        case absent
        case names(UserAccount)
        /// Untrusted, empty or naming no user: why, with the file's path.
        case refused(String)
    }

    /// The `user` file of `directory`, trusted if its owner and the directory's are in `trusting`.
    public static func read(in directory: String, trusting: Set<uid_t>) -> Reading {
        let path = directory + "/" + name
        var file = stat()
        // A symlink counts as there (and is refused: not a regular file).
        guard lstat(path, &file) == 0 else { return .absent }
        if let why = PolicyFile.problem(file, in: directory, trusting: trusting) { return .refused("\(path): \(why)") }
        guard let line = FileSystem.readLine(path), !line.isEmpty else {
            return .refused("\(path): empty: one line, a user name or uid")
        }
        guard let account = UserAccount.named(line) else { return .refused("\(path): no user \(line) on this system") }
        return .names(account)
    }
}
