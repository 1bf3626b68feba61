import Glibc
import SvFormats
import SvSystem
import SystemPackage

/// A service's `supervise/` directory in runit's layout: `lock`, `control` and `ok` FIFOs,
/// `status`, `stat`, `pid`, plus svtree's own `svtree` file. Held open while supervised.
public final class SuperviseDirectory {
    public let serviceDirectory: String
    public let path: String
    public private(set) var controlFD: Int32 = -1
    private var lockFD: Int32 = -1
    private var okFD: Int32 = -1
    private var okReserve: Int32 = -1
    private var writtenPid: Int32 = -1
    private var writtenStat = ""
    private var writtenStatus: [UInt8] = []
    private var writtenExtra = ""
    /// The last write failed: the files may be stale until a later one succeeds.
    public private(set) var failing = false

    public enum OpenError: Error, CustomStringConvertible {
        case io(String, Errno)
        case locked(String)
        case notDirectory(String)
        case notFIFO(String)

        public var description: String {
            switch self {
            case .io(let path, let errno): return "\(path): \(errno)"
            case .locked(let path): return "\(path) is locked: another supervisor (runsv or svtree) runs this service"
            case .notDirectory(let path): return "\(path) is not a directory: remove it"
            case .notFIFO(let path): return "\(path) exists and is not a FIFO: remove it"
            }
        }

        /// The same, naming files relative to the service directory (the caller names the service).
        public var briefDescription: String {
            switch self {
            case .io(let path, let errno): return "\(Self.relative(path)): \(errno)"
            case .locked(let path): return "\(Self.relative(path)) is locked: another supervisor (runsv or svtree) runs it"
            case .notDirectory(let path): return "\(Self.relative(path)) is not a directory: remove it"
            case .notFIFO(let path): return "\(Self.relative(path)) exists and is not a FIFO: remove it"
            }
        }

        /// `supervise/lock` or `log/supervise/lock`, from the full path.
        static func relative(_ path: String) -> String {
            let parts = path.split(separator: "/")
            guard let index = parts.lastIndex(of: "supervise") else { return path }
            let start = index > parts.startIndex && parts[index - 1] == "log" ? index - 1 : index
            return parts[start...].joined(separator: "/")
        }
    }

    /// Creates the files (a `supervise` symlink gets its target created) and takes the lock.
    public init(serviceDirectory: String) throws(OpenError) {
        self.serviceDirectory = serviceDirectory
        path = serviceDirectory + "/supervise"
        // A `supervise` symlink: its target is made (read-only service directories).
        let made = FileSystem.readLink(path).map { $0.hasPrefix("/") ? $0 : serviceDirectory + "/" + $0 } ?? path
        do {
            try FileSystem.makeDirectory(made, mode: 0o700)
        } catch {
            throw .io(made, error)
        }
        if let info = try? FileSystem.info(path), info.kind != .directory {
            throw .notDirectory(path)
        }
        // Not through a symlink: a service's owner must not aim svtree's writes elsewhere.
        lockFD = open(path + "/lock", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard lockFD >= 0 else { throw .io(path + "/lock", FileSystem.lastErrno) }
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            let locked = errno == EWOULDBLOCK
            let error = FileSystem.lastErrno
            close()
            throw locked ? .locked(path + "/lock") : .io(path + "/lock", error)
        }
        for name in ["control", "ok"] {
            do {
                try FileSystem.makeFIFO(path + "/" + name)
            } catch {
                close()
                throw error == .fileExists ? .notFIFO(path + "/" + name) : .io(path + "/" + name, error)
            }
        }
        // Read-write so the FIFO never reports EOF when a writer such as `sv` goes away.
        // `ok` is opened by the first `write`: sv and svctl take an open `ok` for a running
        // supervisor and then read `status`, which must be there by then. Its descriptor is
        // taken now (a copy of control's, given up for it), so that running out of them is
        // found here, as before.
        controlFD = open(path + "/control", O_RDWR | O_NONBLOCK | O_CLOEXEC)
        if controlFD >= 0 { okReserve = fcntl(controlFD, F_DUPFD_CLOEXEC, 0) }
        guard controlFD >= 0, okReserve >= 0 else {
            let error = FileSystem.lastErrno
            close()
            throw .io(path, error)
        }
    }

    /// Control letters waiting in the FIFO; any byte is accepted, unknown ones do nothing.
    public func readControl() -> [UInt8] {
        var letters: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while controlFD >= 0 {
            guard let n = try? SystemCall.retrying({ buffer.withUnsafeMutableBytes { read(controlFD, $0.baseAddress, $0.count) } }),
                  n > 0 else { break }
            letters += buffer[0..<n]
        }
        return letters
    }

    /// Writes `pid` first and `stat` last: whoever sees the new state in one file finds it in the others.
    /// Writes the files that changed; false when one could not be written (a full disk, a
    /// read-only remount): the caller writes again later, and what failed is rewritten then.
    @discardableResult
    public func write(_ snapshot: StatusFormat.Snapshot, record: SupervisorRecord) -> Bool {
        var failure: (String, Errno)?
        func put(_ name: String, _ bytes: [UInt8]) -> Bool {
            do {
                // `status` is always 20 bytes: overwritten in place, never seen empty by sv.
                try FileSystem.writeReplacing(path + "/" + name, bytes, fixedLength: name == "status")
                return true
            } catch {
                // ENOENT: the service directory was deleted under us; its teardown is under way.
                if error != .noSuchFileOrDirectory, failure == nil { failure = (name, error) }
                return error == .noSuchFileOrDirectory
            }
        }
        if snapshot.pid != writtenPid, put("pid", Array(StatusFormat.pidText(snapshot.pid).utf8)) { writtenPid = snapshot.pid }
        let extra = record.text
        if extra != writtenExtra, put("svtree", Array(extra.utf8)) { writtenExtra = extra }
        let status = StatusFormat.statusBytes(snapshot)
        if status != writtenStatus, put("status", status) { writtenStatus = status }
        let stat = StatusFormat.statText(snapshot)
        if stat != writtenStat, put("stat", Array(stat.utf8)) { writtenStat = stat }
        if okFD < 0 { openOkOnceAStatusIsThere() }
        // One line when writing starts to fail, one when it works again: status that lies is
        // worse than none, and a full disk must not flood the log either.
        if let (name, error) = failure {
            if !failing { Diagnostics.warn("\(path)/\(name): cannot write: \(error) (trying again until it can)") }
            failing = true
            return false
        }
        if failing { Diagnostics.info("\(path): written again") }
        failing = false
        return true
    }

    /// `ok`, in place of its reserved descriptor, once a status is there for sv and svctl to
    /// read (a first write failing on a full disk leaves none: tried again at each write).
    private func openOkOnceAStatusIsThere() {
        guard okReserve >= 0, !writtenStatus.isEmpty || FileSystem.exists(path + "/status") else { return }
        Glibc.close(okReserve)
        okReserve = -1
        okFD = open(path + "/ok", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        // ENOENT: the directory was deleted (its teardown is under way), as for `put`.
        if okFD < 0 && errno != ENOENT {
            Diagnostics.warn("\(path)/ok: cannot open: \(FileSystem.lastErrno): sv and svctl see no supervisor")
        }
    }

    /// Releases the FIFOs and the lock: `sv` then sees that nothing supervises the service.
    public func close() {
        for fd in [controlFD, okFD, okReserve, lockFD] where fd >= 0 { Glibc.close(fd) }
        controlFD = -1
        okFD = -1
        okReserve = -1
        lockFD = -1
    }

    deinit { close() }
}
