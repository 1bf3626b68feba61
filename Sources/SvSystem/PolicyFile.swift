import Glibc

/// A file that sets policy over an entry (its `user`, its `limits`): followed only where the
/// entry's own user cannot have written it: owned by a trusted uid (root, and whoever the
/// reader trusts besides) and writable by no one else, in a directory that no one else can
/// replace it in (owned by a trusted uid, and not writable by group or others unless sticky).
public enum PolicyFile {
    /// The pure rule: nil when the file may be trusted, else why not.
    public static func untrusted(fileOwner: uid_t, fileMode: mode_t, directoryOwner: uid_t, directoryMode: mode_t,
                                 trusting: Set<uid_t>) -> String? {
        let whom = "root" + trusting.subtracting([0]).sorted().map { " or uid \($0)" }.joined()
        if !trusting.contains(fileOwner) { return "owned by uid \(fileOwner), not by \(whom)" }
        if fileMode & 0o022 != 0 { return "writable by group or others (mode \(String(fileMode & 0o7777, radix: 8)))" }
        if !trusting.contains(directoryOwner) { return "its directory is owned by uid \(directoryOwner), who could replace it" }
        if directoryMode & 0o022 != 0 && directoryMode & S_ISVTX == 0 {
            return "its directory is writable by group or others and not sticky (mode \(String(directoryMode & 0o7777, radix: 8)))"
        }
        return nil
    }

    /// The rule for `path` in `directory` as they are on disk; nil when trusted (or absent:
    /// ask `FileSystem.exists` first where that matters).
    public static func problem(_ path: String, in directory: String, trusting: Set<uid_t>) -> String? {
        var file = stat()
        guard lstat(path, &file) == 0 else { return nil }
        return problem(file, in: directory, trusting: trusting)
    }

    /// The same for a file whose `lstat` the caller has already.
    public static func problem(_ file: stat, in directory: String, trusting: Set<uid_t>) -> String? {
        guard file.st_mode & S_IFMT == S_IFREG else { return "not a regular file" }
        var folder = stat()
        guard stat(directory, &folder) == 0 else { return "\(directory): \(FileSystem.lastErrno)" }
        return untrusted(fileOwner: file.st_uid, fileMode: file.st_mode, directoryOwner: folder.st_uid,
                         directoryMode: folder.st_mode, trusting: trusting)
    }
}
