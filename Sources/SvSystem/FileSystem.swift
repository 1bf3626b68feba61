import CSupport
import Glibc
import SvBase
import SystemPackage

/// Small file-system helpers over Glibc; every failure is thrown as swift-system's `Errno`.
public enum FileSystem {
    public static var lastErrno: Errno { Errno(rawValue: errno) }

    public struct Identity: Hashable, Sendable {
        public var device: UInt64
        public var inode: UInt64
    }

    public enum Kind: Sendable { case directory, file, fifo, symlink, other }

    public struct Info: Sendable {
        public var identity: Identity
        public var kind: Kind
        public var mode: UInt32
    }

    /// stat (follows links) or lstat.
    public static func info(_ path: String, followLinks: Bool = true) throws(Errno) -> Info {
        var st = stat()
        try SystemCall.check { followLinks ? stat(path, &st) : lstat(path, &st) }
        let kind: Kind
        switch st.st_mode & S_IFMT {
        case S_IFDIR: kind = .directory
        case S_IFREG: kind = .file
        case S_IFIFO: kind = .fifo
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        return Info(identity: Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)),
                    kind: kind, mode: UInt32(st.st_mode))
    }

    /// By stat, not access(2): access checks the real user without capabilities, so a
    /// monitoring timer given CAP_DAC_OVERRIDE would see nothing in 0700 directories.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// A regular file with an execute bit that this process may use.
    public static func isExecutableFile(_ path: String) -> Bool {
        guard let info = try? info(path), info.kind == .file else { return false }
        return access(path, X_OK) == 0
    }

    /// A file's bytes, at most about `limit`.
    public static func readBytes(_ path: String, limit: Int = 1 << 20) throws(Errno) -> [UInt8] {
        let fd = try SystemCall.retrying { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while result.count < limit {
            let n = try SystemCall.retrying { buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
            if n == 0 { break }
            result.append(contentsOf: buffer[0..<n])
        }
        return result
    }

    /// A small file written whole (a `supervise/` file, replaced by rename), in one read of
    /// `limit` bytes: a regular file's read returns less than asked only at its end, so the
    /// second read that readBytes makes to see EOF is saved (svctl reads thousands of these).
    /// Not for /proc or /sys files, whose reads may stop short at a record.
    public static func readWholeSmallFile(_ path: String, limit: Int) throws(Errno) -> [UInt8] {
        let fd = try SystemCall.retrying { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var result = [UInt8](repeating: 0, count: limit)
        let n = try SystemCall.retrying { result.withUnsafeMutableBytes { read(fd, $0.baseAddress, limit) } }
        result.removeLast(limit - n)
        return result
    }

    /// A file's modification time, Unix seconds; nil when it cannot be stat'ed.
    public static func modificationTime(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int64(st.st_mtim.tv_sec)
    }

    /// The first line of a small file, trimmed; nil when it cannot be read (absent, mostly).
    public static func readLine(_ path: String) -> String? {
        guard let bytes = try? readBytes(path, limit: 4096) else { return nil }
        let line = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).first ?? []
        return String(decoding: line, as: UTF8.self).trimmingSpaces()
    }

    /// Writes `name.new` and renames it over `name`, so readers never see half a file.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(Errno) {
        try writeTemporary(path, bytes, mode: mode, sync: false)
        try SystemCall.check { rename(path + ".new", path) }
    }

    /// Like `writeAtomically` for a file rewritten again and again (`supervise/status`): the
    /// new content goes into `name.new`, which is kept, and the two are swapped with
    /// RENAME_EXCHANGE. Readers still see one whole file or the other, and no inode is made or
    /// freed per write (on ext4 without a journal, new inodes among recently freed ones cost
    /// most of a thousand-client teardown). `fixedLength`: every content has the same length
    /// (`status`'s 20 bytes), and the swapped-out file is overwritten rather than truncated: a
    /// reader that opened it just before a swap still reads a whole one, never an empty file.
    public static func writeReplacing(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644,
                                      fixedLength: Bool = false) throws(Errno) {
        try writeTemporary(path, bytes, mode: mode, sync: false, truncate: !fixedLength)
        if sv_rename_exchange(path + ".new", path) == 0 { return }
        // The first write (no file to swap with), or a file system without RENAME_EXCHANGE.
        try SystemCall.check { rename(path + ".new", path) }
    }

    /// Like `writeAtomically`, flushed to disk (file, then the rename in its directory) before
    /// returning: for state that must survive a power cut.
    public static func writeDurably(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(Errno) {
        try writeTemporary(path, bytes, mode: mode, sync: true)
        try SystemCall.check { rename(path + ".new", path) }
        let directory = open(parentDirectory(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    /// `path.new` with `bytes` in it (fsynced when asked), closed; without `truncate`, written
    /// over what it held (of the same length).
    private static func writeTemporary(_ path: String, _ bytes: [UInt8], mode: mode_t, sync: Bool,
                                       truncate: Bool = true) throws(Errno) {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (truncate ? O_TRUNC : 0)
        let fd = try SystemCall.retrying { open(path + ".new", flags, mode) }
        defer { close(fd) }
        try writeAll(fd, bytes)
        if sync { try SystemCall.check { fsync(fd) } }
    }

    /// Every byte to `fd`, however many writes it takes.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(Errno) {
        var offset = 0
        while offset < bytes.count {
            let n = try SystemCall.retrying { bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) } }
            // write(2) returns 0 only for a zero-length write; say so rather than spin.
            if n == 0 { throw Errno.ioError }
            offset += n
        }
    }

    /// mkdir, where an existing directory (or anything at that name) is no failure.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(Errno) {
        if mkdir(path, mode) == 0 || errno == EEXIST { return }
        throw lastErrno
    }

    /// Creates a FIFO unless one is there already.
    public static func makeFIFO(_ path: String, mode: mode_t = 0o600) throws(Errno) {
        if mkfifo(path, mode) == 0 { return }
        let error = lastErrno
        if error == .fileExists, let info = try? info(path, followLinks: false), info.kind == .fifo { return }
        throw error
    }

    public static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// What a symlink stands for: its target, under the link's directory when relative; nil
    /// when `path` is not a symlink. One system call, where `realPath` reads every component.
    public static func linkTarget(_ path: String) -> String? {
        guard let target = readLink(path), !target.isEmpty else { return nil }
        return target.hasPrefix("/") ? target : parentDirectory(path) + "/" + target
    }

    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Names in a directory, without `.` and `..`.
    public static func list(_ path: String) throws(Errno) -> [String] {
        try listWithKinds(path).map(\.name)
    }

    /// The names in a directory with what the listing says each is: true for a directory,
    /// false for anything else, nil when it does not say (a symlink, or a file system without
    /// d_type): stat those.
    public static func listWithKinds(_ path: String) throws(Errno) -> [(name: String, isDirectory: Bool?)] {
        guard let dir = opendir(path) else { throw lastErrno }
        defer { closedir(dir) }
        var names: [(name: String, isDirectory: Bool?)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            guard name != "." && name != ".." else { continue }
            let type = Int(entry.pointee.d_type)
            names.append((name, type == DT_DIR ? true : type == DT_LNK || type == DT_UNKNOWN ? nil : false))
        }
        return names
    }

    public static func parentDirectory(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The closest directory at or above `path` that exists: what to watch for `path` to appear.
    public static func nearestExistingAncestor(_ path: String) -> String {
        var candidate = path
        while !exists(candidate) {
            let parent = parentDirectory(candidate)
            if parent == candidate { return candidate }
            candidate = parent
        }
        return candidate
    }
}
