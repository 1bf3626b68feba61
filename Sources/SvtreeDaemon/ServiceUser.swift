import Glibc
import SvSystem

/// Who an entry's processes run as: the user named in its `user` file (a name or a uid), with
/// that user's primary group and no supplementary groups, as `chpst -u` in `run` would, but
/// decided by svtree, for `run`, `finish`, `control/` and `log/` alike. The file is policy, so
/// it counts only where the entry's user cannot touch it: owned by root or by svtree's own
/// user and writable by no one else, in a directory where no one else can replace it (not
/// writable by others, or sticky). Anything else, an unknown user, or a svtree that may not
/// switch (neither root nor CAP_SETUID and CAP_SETGID) starts nothing, with a line saying why.
/// Without a `user` file an entry runs as the owner of the supervised directory (whoever may
/// add entries there): a tree whose directory is not root's never runs anything as root.
enum ServiceUser {
    typealias Account = UserAccount

    enum Outcome: Equatable {
        /// No `user` file, or it names svtree's own user.
        case own
        case switchTo(Account)
        case refused(String)
    }

    /// Whose policy files svtree follows: root's and its own.
    static var trusted: Set<uid_t> { [0, geteuid()] }

    /// Whether this process may change its user ids: its effective capabilities hold
    /// CAP_SETGID (6) and CAP_SETUID (7). Read once.
    static let maySwitch: Bool = {
        guard let field = ProcessTable.statusField("self", "CapEff") else { return geteuid() == 0 }
        guard let mask = UInt64(field, radix: 16) else { return false }
        return mask & (1 << 6) != 0 && mask & (1 << 7) != 0
    }()

    /// What the `user` file of the entry directory says, checked; `treeOwner` owns the
    /// supervised directory.
    static func resolve(_ entryDirectory: String, treeOwner: uid_t) -> Outcome {
        let path = entryDirectory + "/" + UserFile.name
        let account: Account
        switch UserFile.read(in: entryDirectory, trusting: trusted) {
        case .absent:
            guard treeOwner != geteuid(), treeOwner != 0 else { return .own }
            guard let owner = UserAccount.withID(treeOwner) else {
                return .refused("no user file, and the tree's owner, uid \(treeOwner), has no passwd entry")
            }
            return switchTo(owner, path: "the tree's owner")
        case .refused(let why):
            return .refused(why)
        case .names(let named):
            account = named
        }
        if account.user == 0 && treeOwner != 0 {
            return .refused("\(path): names root, but the tree's directory belongs to uid \(treeOwner): root only in a root's tree")
        }
        return switchTo(account, path: path)
    }

    private static func switchTo(_ account: UserAccount, path: String) -> Outcome {
        if account.user == geteuid() { return .own }
        guard maySwitch else {
            return .refused("\(path): svtree (uid \(geteuid())) cannot run it as \(account.name): that needs root or CAP_SETUID and CAP_SETGID")
        }
        return .switchTo(account)
    }

    /// The environment with the user's USER, LOGNAME and HOME (as systemd's User= gives them).
    static func environment(_ environment: [String], for account: Account) -> [String] {
        let replaced = ["USER": account.name, "LOGNAME": account.name, "HOME": account.home]
        return environment.filter { item in !replaced.keys.contains(where: { item.hasPrefix($0 + "=") }) }
            + replaced.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }
    }
}
