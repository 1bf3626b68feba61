import Glibc
import SvBase
import SvFormats
import SvSystem

/// The repository's size, measured with stat calls (no file is read) after every snapshot
/// and every restic command that ends (its lock goes), kept in the state and status a day at
/// a time; with `--quota`, held against the client's quota file: above `hard` the marker
/// `over-quota` is written beside it and the storage service restarted, so that its `run`
/// serves read-only; under it again, the marker goes and the storage is restarted again.
extension Snapwatch {
    /// After an event: measured once things settle (a backup ends with its snapshot, then its lock).
    static let measureDelay: Int64 = 500 * nanosPerMilli

    func scheduleMeasure() {
        if measureDue == nil { measureDue = EventLoop.now + Self.measureDelay }
    }

    func measureAndGuard() {
        measureDue = nil
        guard let bytes = RepositorySize.measure(options.repository) else { return }
        let previous = record.sizes.last
        record.noteSize(bytes, at: EventLoop.wallNow.unixSeconds)
        // A new day's sample is kept durably; the same day's newer size only in the status.
        if previous.map({ $0.time / 86400 }) != record.sizes.last.map({ $0.time / 86400 }) { saveState() }
        guardQuota()
    }

    func guardQuota() {
        guard let file = options.quotaFile, let bytes = record.sizes.last?.bytes else { return }
        let text = (try? FileSystem.readBytes(file, limit: 65536)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let (quota, problems) = QuotaFile.parse(text)
        for problem in problems where quotaProblemsSaid.insert(problem).inserted { Diagnostics.warn("\(file): \(problem)") }
        let level = quota.level(of: bytes)
        if level != quotaLevel {
            let size = QuotaFile.sizeText(bytes)
            switch level {
            case .overHard: Diagnostics.warn("repository \(size) is over its hard quota of \(QuotaFile.sizeText(quota.hard ?? 0)): the storage takes no new data until it is under")
            case .overSoft: Diagnostics.warn("repository \(size) is over its soft quota of \(QuotaFile.sizeText(quota.soft ?? 0))")
            case .within where quotaLevel != nil: Diagnostics.info("repository \(size) is within its quota again")
            case .within: break
            }
            quotaLevel = level
        }
        let marker = FileSystem.parentDirectory(file) + "/" + QuotaFile.exceededFileName
        let over = level == .overHard
        guard over != FileSystem.exists(marker) else { return }
        do {
            if over {
                let why = "repository \(QuotaFile.sizeText(bytes)) over its hard quota of \(QuotaFile.sizeText(quota.hard ?? 0)) (\(FileSystem.realPath(file) ?? file))\n"
                try FileSystem.writeAtomically(marker, Array(why.utf8))
            } else if unlink(marker) != 0 && errno != ENOENT {
                throw FileSystem.lastErrno
            }
        } catch {
            Diagnostics.error("cannot \(over ? "write" : "remove") \(marker): \(error)")
            return
        }
        restartStorage()
    }

    /// runit's `t` into the storage's control FIFO: its supervisor restarts it in the new mode.
    func restartStorage() {
        guard let service = options.restartOnQuota else { return }
        let control = service + "/supervise/control"
        let fd = open(control, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            Diagnostics.warn("cannot restart \(service) (\(control): \(FileSystem.lastErrno)): it takes the new mode at its next start")
            return
        }
        defer { close(fd) }
        if (try? FileSystem.writeAll(fd, [ControlLetter.term.rawValue])) == nil {
            Diagnostics.warn("cannot restart \(service): \(control): \(FileSystem.lastErrno)")
        }
    }
}

/// The bytes of a restic repository's files (`config`, `keys/`, `index/`, `data/`,
/// `snapshots/`; not `locks/`), by stat alone; nil when it is not there.
enum RepositorySize {
    static func measure(_ repository: String) -> Int64? {
        var st = stat()
        guard stat(repository + "/config", &st) == 0 else { return nil }
        var total = Int64(st.st_size)
        for folder in ["keys", "index", "data", "snapshots"] { total += folderBytes(repository + "/" + folder) }
        return total
    }

    private static func folderBytes(_ path: String) -> Int64 {
        guard let directory = opendir(path) else { return 0 }
        defer { closedir(directory) }
        let fd = dirfd(directory)
        var total: Int64 = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            var st = stat()
            guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            if st.st_mode & S_IFMT == S_IFDIR {
                total += folderBytes(path + "/" + name)
            } else if st.st_mode & S_IFMT == S_IFREG {
                total += Int64(st.st_size)
            }
        }
        return total
    }
}
