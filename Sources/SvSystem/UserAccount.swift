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
