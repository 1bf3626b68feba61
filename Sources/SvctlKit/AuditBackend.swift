import Glibc
import SvBase
import SvSystem
import SystemPackage

/// One place a client's repository is kept: the primary or a replica, a local directory or
/// an rclone remote (`name:path`, configured in the client's rclone.conf). It lists its files
/// (sorted, into a file) and hashes a batch of them; remote bytes are read through rclone.
struct AuditBackend {
    enum Place {
        case directory(String)
        case remote(String)
    }

    var location: String
    var place: Place
    var rcloneConfig: String

    /// A replica line as a backend; the error line when it names a remote that is not
    /// configured (rclone would only say "didn't find section in config file").
    static func make(_ location: String, rcloneConfig: String) -> Result<AuditBackend, SvctlError> {
        if location.hasPrefix("/") {
            return .success(AuditBackend(location: location, place: .directory(location), rcloneConfig: rcloneConfig))
        }
        if location.hasPrefix(":") {
            // ":backend,option=...:path" is rclone's remote without a config section.
            return .success(AuditBackend(location: location, place: .remote(location), rcloneConfig: rcloneConfig))
        }
        guard let colon = location.firstIndex(of: ":"), colon != location.startIndex else {
            return .failure(.failed("not a directory (absolute path) nor an rclone remote (name:path)"))
        }
        let name = String(location[..<colon])
        if !configuredRemotes(rcloneConfig).contains(name) {
            return .failure(.failed("remote \(Names.quoted(name)) is not configured in \(rcloneConfig)"))
        }
        return .success(AuditBackend(location: location, place: .remote(location), rcloneConfig: rcloneConfig))
    }

    /// Section names of an rclone config file.
    static func configuredRemotes(_ path: String) -> Set<String> {
        guard let bytes = try? FileSystem.readBytes(path) else { return [] }
        var names = Set<String>()
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let trimmed = String(line).trimmingSpaces()
            if trimmed.hasPrefix("[") && trimmed.hasSuffix("]") { names.insert(String(trimmed.dropFirst().dropLast())) }
        }
        return names
    }

    /// A host that does not answer is reported in well under a second, not after rclone's ten
    /// low-level retries with backoff.
    private var rcloneBase: [String] {
        ["rclone", "--config", FileSystem.exists(rcloneConfig) ? rcloneConfig : "/dev/null", "--low-level-retries", "3"]
    }

    /// rclone's error line without its date and time.
    static func withoutTimestamp(_ line: String) -> String {
        let words = line.split(separator: " ", maxSplits: 2)
        guard words.count == 3, words[0].count == 10, words[0].filter({ $0 == "/" }).count == 2 else { return line }
        return String(words[2])
    }

    /// `PATH\tSIZE` lines of every file but `locks/`, sorted bytewise into `sorted`.
    func list(into sorted: String, scratch: String) throws(SvctlError) {
        let unsorted = scratch + "/unsorted"
        switch place {
        case .directory(let root):
            guard let info = try? FileSystem.info(root), info.kind == .directory else {
                throw SvctlError.failed("\(root) does not exist or is no directory")
            }
            guard let writer = LineWriter(path: unsorted) else { throw SvctlError.failed("cannot write \(unsorted)") }
            let unreadable = Self.walk(root, relative: "", into: writer)
            try writer.finish()
            // A folder that cannot be listed would pass as one with nothing in it.
            if let unreadable { throw SvctlError.failed("cannot list \(unreadable.0): \(unreadable.1)") }
        case .remote(let remote):
            let outcome = try Helper.run(rcloneBase + ["lsf", "-R", "--files-only", "--format", "ps", "--separator", "\t",
                                                       "--exclude", "/locks/**", remote],
                                         stdout: unsorted, stderr: scratch + "/rclone-errors")
            guard outcome.succeeded else { throw SvctlError.failed("cannot list: \(Self.withoutTimestamp(outcome.lastErrorLine))") }
        }
        let sortOutcome = try Helper.run(["sort", "-S", "32M", "-T", scratch, "-o", sorted, unsorted],
                                         stdout: nil, stderr: scratch + "/sort-errors")
        unlink(unsorted)
        guard sortOutcome.succeeded else { throw SvctlError.failed("sort failed: \(sortOutcome.lastErrorLine)") }
    }

    /// The first folder that could not be listed, with the error; nil when none.
    private static func walk(_ directory: String, relative: String, into writer: LineWriter) -> (String, Errno)? {
        let names: [String]
        do throws(Errno) { names = try FileSystem.list(directory) } catch { return (directory, error) }
        var unreadable: (String, Errno)?
        for name in names where !(relative.isEmpty && name == "locks") {
            let path = directory + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            let relativePath = relative.isEmpty ? name : relative + "/" + name
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                if let error = walk(path, relative: relativePath, into: writer), unreadable == nil { unreadable = error }
            case S_IFREG: writer.write(relativePath + "\t\(st.st_size)\n")
            default: break
            }
        }
        return unreadable
    }

    /// The repository's `config` file; nil when it cannot be read.
    func readConfig(scratch: String) -> [UInt8]? {
        switch place {
        case .directory(let root): return try? FileSystem.readBytes(root + "/config")
        case .remote(let remote):
            let copy = scratch + "/config"
            defer { unlink(copy) }
            guard let outcome = try? Helper.run(rcloneBase + ["cat", remote + "/config"], stdout: copy,
                                                stderr: scratch + "/rclone-errors"),
                  outcome.succeeded else { return nil }
            return try? FileSystem.readBytes(copy)
        }
    }

    /// The sha256 of each file of `batch` (paths relative to the repository) that could be
    /// read, by path.
    func hash(_ batch: [String], scratch: String) throws(SvctlError) -> [String: String] {
        let output = scratch + "/hashes"
        defer { unlink(output) }
        switch place {
        case .directory(let root):
            _ = try Helper.run(["sha256sum", "--"] + batch, directory: root, stdout: output, stderr: scratch + "/hash-errors")
        case .remote(let remote):
            let list = scratch + "/batch"
            guard let writer = LineWriter(path: list) else { throw SvctlError.failed("cannot write \(list)") }
            for path in batch { writer.write(path + "\n") }
            try writer.finish()
            let outcome = try Helper.run(rcloneBase + ["hashsum", "sha256", "--download", "--files-from-raw", list, remote],
                                         stdout: output, stderr: scratch + "/hash-errors")
            // Nothing hashed and an error: the remote failed (a dropped connection), the files did not.
            if !outcome.succeeded, ((try? FileSystem.readBytes(output)) ?? []).isEmpty {
                throw SvctlError.failed("cannot read: \(Self.withoutTimestamp(outcome.lastErrorLine))")
            }
        }
        var hashes: [String: String] = [:]
        guard var reader = LineReader(path: output) else { return hashes }
        defer { reader.close() }
        while let line = reader.next() {
            guard line.count > 66 else { continue }
            let text = String(decoding: line, as: UTF8.self)
            hashes[String(text.dropFirst(66))] = String(text.prefix(64))
        }
        return hashes
    }
}

/// Buffered writes to a new file (mode 0600).
final class LineWriter {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var failed: Errno?

    init?(path: String) {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if fd < 0 { return nil }
        buffer.reserveCapacity(1 << 16)
    }

    func write(_ text: String) {
        buffer += text.utf8
        if buffer.count >= 1 << 16 { flush() }
    }

    private func flush() {
        if failed == nil {
            do throws(Errno) { try FileSystem.writeAll(fd, buffer) } catch { failed = error }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes what is left and closes; throws the first write error (a full disk).
    func finish() throws(SvctlError) {
        flush()
        close(fd)
        if let failed { throw SvctlError.failed("cannot write a temporary file: \(failed)") }
    }
}
