import Glibc
import SvSystem

/// Recursive copy (with placeholder substitution), removal and ownership change, none of
/// which follows a symlink.
enum DirectoryTree {
    /// Copies `source` to `destination` (which must not exist), replacing each `@KEY@` of
    /// `values` in regular files; modes are kept, symlinks copied as symlinks.
    static func copy(_ source: String, to destination: String, values: [String: String]) throws(SvctlError) {
        guard let info = try? FileSystem.info(source, followLinks: false) else {
            throw SvctlError.failed("cannot read template \(source): \(FileSystem.lastErrno)")
        }
        let mode = mode_t(info.mode & 0o7777)
        switch info.kind {
        case .directory:
            guard mkdir(destination, mode | 0o700) == 0 else {
                throw SvctlError.failed("cannot create \(destination): \(FileSystem.lastErrno)")
            }
            guard let names = try? FileSystem.list(source) else {
                throw SvctlError.failed("cannot list template \(source): \(FileSystem.lastErrno)")
            }
            for name in names.sorted() where name != "supervise" {
                try copy(source + "/" + name, to: destination + "/" + name, values: values)
            }
            chmod(destination, mode)
        case .symlink:
            guard let target = FileSystem.readLink(source), symlink(target, destination) == 0 else {
                throw SvctlError.failed("cannot copy symlink \(source): \(FileSystem.lastErrno)")
            }
        case .file:
            guard let bytes = try? FileSystem.readBytes(source, limit: 1 << 24) else {
                throw SvctlError.failed("cannot read template \(source): \(FileSystem.lastErrno)")
            }
            let text = substitute(String(decoding: bytes, as: UTF8.self), values)
            do {
                try FileSystem.writeAtomically(destination, Array(text.utf8), mode: mode)
            } catch {
                throw SvctlError.failed("cannot write \(destination): \(error)")
            }
            chmod(destination, mode)
        case .fifo, .other:
            break
        }
    }

    static func substitute(_ text: String, _ values: [String: String]) -> String {
        var result = text
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            result = result.replacingAll("@\(key)@", with: value)
        }
        return result
    }

    /// `rm -rf` without following symlinks; the first error names its path.
    static func remove(_ path: String) throws(SvctlError) {
        guard let info = try? FileSystem.info(path, followLinks: false) else { return }
        if info.kind == .directory {
            // A read-only folder (restic restores modes) is opened up so it can be emptied.
            if info.mode & 0o700 != 0o700 { chmod(path, 0o700) }
            guard let names = try? FileSystem.list(path) else {
                throw SvctlError.failed("cannot list \(path): \(FileSystem.lastErrno)")
            }
            for name in names { try remove(path + "/" + name) }
            guard rmdir(path) == 0 else { throw SvctlError.failed("cannot remove \(path): \(FileSystem.lastErrno)") }
        } else {
            guard unlink(path) == 0 else { throw SvctlError.failed("cannot remove \(path): \(FileSystem.lastErrno)") }
        }
    }

    /// `chown -R` (symlinks themselves, not their targets).
    static func changeOwner(_ path: String, user: uid_t, group: gid_t) {
        lchown(path, user, group)
        guard let info = try? FileSystem.info(path, followLinks: false), info.kind == .directory,
              let names = try? FileSystem.list(path) else { return }
        for name in names { changeOwner(path + "/" + name, user: user, group: group) }
    }

    static func owner(_ path: String) -> (uid_t, gid_t)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (st.st_uid, st.st_gid)
    }
}

extension String {
    /// Every occurrence of `target` replaced (Foundation-free).
    public func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

/// Files svctl makes in a client's directory while run as root (status records, the key, the
/// lock) go to whoever the client runs as: the user its `user` file names (`svctl add` gives
/// each client one), else the owner of its directory (the svtree user): the jobs, which run
/// as that user, must read and rewrite them.
public enum ClientFiles {
    /// The user the client's `user` file names, with its primary group, when the file is one
    /// svtree trusts as root does (root's, not writable by others, in a directory nobody else
    /// could have put it in): a `user` file the client's own group made would otherwise get
    /// it this client's key and records, or another client's.
    public static func clientUser(_ clientDirectory: String) -> Spawner.Identity? {
        guard case .names(let account) = UserFile.read(in: clientDirectory, trusting: [0]) else { return nil }
        return account.identity
    }

    /// Run as root: the owner of a directory a client's processes write (a service's), when
    /// not root; what svctl does there (control letters, `down` files, `check` scripts) is done
    /// as them, so that a symlink they made leads nowhere they could not go themselves.
    public static func owner(ofServiceDirectory path: String) -> Spawner.Identity? {
        var st = stat()
        guard geteuid() == 0, lstat(path, &st) == 0, st.st_uid != 0 else { return nil }
        return Spawner.Identity(user: st.st_uid, group: UserAccount.withID(st.st_uid)?.group ?? st.st_gid)
    }

    /// `body` with the effective user and group `identity` (and no supplementary groups),
    /// then root again; as is without one.
    public static func acting<T>(as identity: Spawner.Identity?, _ body: () throws(SvctlError) -> T) throws(SvctlError) -> T {
        guard let identity, geteuid() == 0 else { return try body() }
        var groups = [gid_t](repeating: 0, count: Int(getgroups(0, nil)))
        groups = Array(groups.prefix(Int(getgroups(Int32(groups.count), &groups))))
        // Root again however far the switch got, and whether body throws or not.
        defer {
            _ = seteuid(0)
            _ = setegid(0)
            _ = setgroups(groups.count, groups)
        }
        guard setgroups(0, nil) == 0, setegid(identity.group) == 0, seteuid(identity.user) == 0 else {
            throw .failed("cannot act as uid \(identity.user): \(FileSystem.lastErrno)")
        }
        return try body()
    }

    /// Run as root on a client with a user of its own (its root-owned `user` file): become
    /// that user for the rest of the process, as its jobs run. What it reads (its replicas
    /// and rclone.conf, its logs) and what it writes and starts are then only what the client
    /// itself could reach.
    public static func becomeClientUser(_ clientDirectory: String) throws(SvctlError) {
        guard geteuid() == 0, let user = clientUser(clientDirectory), user.user != 0 else { return }
        guard setgroups(0, nil) == 0, setgid(user.group) == 0, setuid(user.user) == 0 else {
            throw .failed("cannot become uid \(user.user) (\(clientDirectory)/\(UserFile.name)): \(FileSystem.lastErrno)")
        }
    }

    public static func giveToClient(_ path: String, clientDirectory: String) {
        guard geteuid() == 0 else { return }
        if let user = clientUser(clientDirectory) {
            lchown(path, user.user, user.group)
        } else if let (user, group) = DirectoryTree.owner(clientDirectory), user != 0 {
            lchown(path, user, group)
        }
    }
}
