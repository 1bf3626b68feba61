import Glibc
import SvSystem

/// Who an entry's processes run as. An entry whose directory belongs to another user runs as
/// that user (its primary group, no supplementary groups), as `chpst -u` in its `run` would,
/// but decided by svtree: only root can give a directory away, so a client that owns its own
/// directory cannot make its supervisor run it as anyone else. Never as root; only when svtree
/// may switch (root, or CAP_SETUID and CAP_SETGID); otherwise as svtree's own user.
enum ServiceUser {
    enum Choice: Equatable {
        case own
        case switchTo(uid_t)
        /// The directory belongs to `uid_t`, but svtree cannot become it.
        case cannot(uid_t)
    }

    /// The pure rule.
    static func choice(directoryOwner: uid_t, own: uid_t, maySwitch: Bool) -> Choice {
        if directoryOwner == own || directoryOwner == 0 { return .own }
        return maySwitch ? .switchTo(directoryOwner) : .cannot(directoryOwner)
    }

    struct Account: Equatable {
        var identity: Spawner.Identity
        var name: String
        var home: String
    }

    /// Whether this process may change its user ids: its effective capabilities hold
    /// CAP_SETGID (6) and CAP_SETUID (7). Read once.
    static let maySwitch: Bool = {
        guard let bytes = try? FileSystem.readBytes("/proc/self/status", limit: 8192) else { return geteuid() == 0 }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("CapEff:") {
            guard let mask = UInt64(line.dropFirst("CapEff:".count).trimmingPrefix(while: { $0 == " " || $0 == "\t" }),
                                    radix: 16) else { return false }
            return mask & (1 << 6) != 0 && mask & (1 << 7) != 0
        }
        return geteuid() == 0
    }()

    /// The account of the directory's owner; without a passwd entry, the numeric user with the
    /// directory's group.
    static func account(of directory: String) -> (Choice, Account?) {
        var st = stat()
        guard stat(directory, &st) == 0 else { return (.own, nil) }
        let choice = choice(directoryOwner: st.st_uid, own: geteuid(), maySwitch: maySwitch)
        guard case .switchTo(let uid) = choice else { return (choice, nil) }
        guard let entry = getpwuid(uid) else {
            return (choice, Account(identity: .init(user: uid, group: st.st_gid), name: String(uid), home: "/"))
        }
        return (choice, Account(identity: .init(user: uid, group: entry.pointee.pw_gid),
                                name: String(cString: entry.pointee.pw_name), home: String(cString: entry.pointee.pw_dir)))
    }

    /// The environment with the user's USER, LOGNAME and HOME (as systemd's User= gives them).
    static func environment(_ environment: [String], for account: Account) -> [String] {
        let replaced = ["USER": account.name, "LOGNAME": account.name, "HOME": account.home]
        return environment.filter { item in !replaced.keys.contains(where: { item.hasPrefix($0 + "=") }) }
            + replaced.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }
    }
}
