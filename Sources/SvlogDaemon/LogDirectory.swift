import CSupport
import Glibc
import SvBase
import SvFormats
import SvSystem
import SystemPackage

/// One log directory in svlogd's layout: `lock`, `current` (its owner execute bit set once it
/// was closed cleanly), rotated `@<tai64n>.s` (`.u` until a processor has run), `config`,
/// `state` / `newstate` for the processor.
final class LogDirectory {
    let path: String
    private(set) var config = LogConfig() {
        didSet {
            prefix = Array(config.prefix.utf8)
            rules = config.rules.map(LineChunker.Rule.init)
        }
    }
    private(set) var prefix: [UInt8] = []
    /// The selection rules with their patterns as bytes, matched on every line.
    private(set) var rules: [LineChunker.Rule] = []
    private var lockFD: Int32 = -1
    private var currentFD: Int32 = -1
    private(set) var size = 0
    /// At open: `current` was left by a logger killed in the middle of a line (a piece of a
    /// long or slow line written, the rest still in the pipe): the rest goes on there.
    private(set) var crashLeftMidLine = false
    /// Monotonic ns when `current` got its first byte: the start of its age.
    private(set) var begunAt: Int64?
    private(set) var processorPid: Int32?
    private var processing: String?
    /// A rotation waiting for the running processor, as svlogd would (without blocking input).
    private(set) var rotationPending = false
    /// Output for this directory gathered from the chunk being processed.
    var pending: [UInt8] = []
    private var warnedFull = false
    private var warnedGone = false

    /// -v: say what happens to the files (svlogd's info lines).
    let verbose: Bool
    /// The pipe this logger reads (see `LogInput.identity`), kept in `lock` for the next one.
    var inputIdentity: [UInt8] = []

    init(path: String, verbose: Bool = false) {
        self.path = path
        self.verbose = verbose
    }

    private func info(_ message: String) {
        if verbose { Diagnostics.info("info: \(message)") }
    }

    var isOpen: Bool { currentFD >= 0 }

    /// Locks the directory, reads `config`, opens `current`; a crash-left `current` becomes `.u`.
    /// `heldLock`: the lock descriptor this logger still holds (see `reopenAfterRemoval`).
    func open(heldLock: Int32 = -1) throws(LogError) {
        // A missing directory is made, as s6-log does (its parent must exist): a hand-written
        // `svlog ./main` then works at once instead of failing on the lock forever.
        if !FileSystem.exists(path) {
            if mkdir(path, 0o750) == 0 {
                Diagnostics.info("\(path): log directory made (mode 0750)")
            } else if FileSystem.lastErrno != .fileExists {
                throw .directory("\(path): cannot make the log directory (\(FileSystem.lastErrno))")
            }
        }
        if heldLock >= 0, Self.sameFile(heldLock, path + "/lock") {
            // Only `current` was removed: a copy of the descriptor shares the lock it holds.
            lockFD = fcntl(heldLock, F_DUPFD_CLOEXEC, 0)
            guard lockFD >= 0 else { throw .directory("\(path): cannot use lock (\(FileSystem.lastErrno))") }
        } else {
            // Read and write, for the input identity; a lock that may only be written still locks.
            lockFD = Glibc.open(path + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            if lockFD < 0 && FileSystem.lastErrno == .permissionDenied {
                lockFD = Glibc.open(path + "/lock", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            }
            guard lockFD >= 0 else { throw .directory("\(path): cannot open lock (\(FileSystem.lastErrno))") }
            guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
                let error = FileSystem.lastErrno
                close()
                throw .directory("\(path): cannot lock (\(error)): is another logger writing here?")
            }
        }
        let previousIdentity = Self.lastIdentity(lockFD)
        let otherPipe = previousIdentity.map { !inputIdentity.isEmpty && $0 != inputIdentity } ?? false
        if let bytes = try? FileSystem.readBytes(path + "/config", limit: 1 << 16) {
            config = LogConfig.parse(String(decoding: bytes, as: UTF8.self))
            for problem in config.problems { Diagnostics.warn("\(path)/config: \(problem)") }
        } else {
            config = LogConfig()
        }
        var st = stat()
        if stat(path + "/current", &st) == 0 {
            let crashLeft = st.st_size > 0 && st.st_mode & S_IXUSR == 0
            // A line cut by a logger that read another pipe cannot go on from this one: that
            // pipe, and the line's rest, went with the tree that held it (a killed client svtree).
            crashLeftMidLine = crashLeft && !otherPipe && !Self.endsWithNewline(path + "/current", size: st.st_size)
            if crashLeftMidLine {
                // Not set aside: the line would be cut in two files (see MidLineResumption).
                size = Int(st.st_size)
            } else if crashLeft {
                // Not closed cleanly (a crash): keep it aside, unprocessed, as svlogd does.
                let saved = uniqueName(kind: .unprocessed)
                info("\(path)/current was not closed cleanly: kept as \(saved)")
                if rename(path + "/current", path + "/" + saved) != 0 {
                    let error = FileSystem.lastErrno
                    close()
                    throw .directory("\(path)/current: cannot rename to \(saved) (\(error))")
                }
                removeOldest(keeping: config.keep)
            } else {
                size = Int(st.st_size)
            }
        }
        currentFD = Glibc.open(path + "/current", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard currentFD >= 0 else {
            let error = FileSystem.lastErrno
            close()
            throw .directory("\(path)/current: cannot open for writing (\(error))")
        }
        fchmod(currentFD, 0o644)
        begunAt = size > 0 ? EventLoop.now : nil
        // Only now that the old `current` is dealt with: a failure before this leaves the old
        // name, so the next logger judges that `current` against the same pipe again.
        if !inputIdentity.isEmpty && previousIdentity != inputIdentity { Self.recordIdentity(lockFD, inputIdentity) }
    }

    /// The last `limit` bytes of `current` (what a killed predecessor may have written last).
    func currentTail(limit: Int) -> [UInt8] {
        let fd = Glibc.open(path + "/current", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { Glibc.close(fd) }
        let length = min(size, limit)
        var bytes = [UInt8](repeating: 0, count: length)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, length, off_t(size - length)) }
        return got == length ? bytes : []
    }

    /// How a `current` left inside a line goes on: in the line, or without its last `bytes`,
    /// which the pipe still holds and which are written again from there.
    func resume(_ decision: MidLineResumption) {
        switch decision {
        case .continueLine:
            info("\(path)/current ends inside a line (its logger was killed after writing a piece of it): the line goes on there")
        case .dropTail(let bytes):
            guard ftruncate(currentFD, off_t(size - bytes)) == 0 else {
                return info("\(path)/current: cannot cut its last \(bytes) bytes (\(FileSystem.lastErrno)): they are written again after them")
            }
            size -= bytes
            info("\(path)/current ends inside a line whose bytes are still in the pipe (its logger was killed while writing): its last \(bytes) bytes are written again from there")
        }
    }

    /// The input identity the last logger left in `lock`; nil when there is none (svlogd's
    /// empty lock, a file as input, a lock that cannot be read).
    private static func lastIdentity(_ lockFD: Int32) -> [UInt8]? {
        var before = [UInt8](repeating: 0, count: 64)
        let got = before.withUnsafeMutableBytes { pread(lockFD, $0.baseAddress!, $0.count, 0) }
        return got > 0 ? Array(before.prefix(got)) : nil
    }

    private static func recordIdentity(_ lockFD: Int32, _ identity: [UInt8]) {
        _ = ftruncate(lockFD, 0)
        _ = identity.withUnsafeBytes { pwrite(lockFD, $0.baseAddress!, $0.count, 0) }
    }

    private static func sameFile(_ fd: Int32, _ path: String) -> Bool {
        var held = stat(), named = stat()
        return fstat(fd, &held) == 0 && stat(path, &named) == 0 && held.st_dev == named.st_dev && held.st_ino == named.st_ino
    }

    static func endsWithNewline(_ path: String, size: off_t) -> Bool {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return true }
        defer { Glibc.close(fd) }
        var last: UInt8 = 0
        return pread(fd, &last, 1, size - 1) != 1 || last == UInt8(ascii: "\n")
    }

    /// Whether `current` has no name any more (st_nlink 0): one fstat per flush.
    var currentIsGone: Bool {
        var st = stat()
        return currentFD >= 0 && fstat(currentFD, &st) == 0 && st.st_nlink == 0
    }

    /// `current` unlinked (`rm -rf` of the directory by an operator cleaning logs): what is
    /// written there would be consumed from the pipe into a file without a name.
    private func reopenIfGone() throws(Errno) {
        if currentIsGone { try reopenAfterRemoval() }
    }

    /// The directory (made again if it is gone) and a new `current`; when that fails, the old
    /// descriptors stay and the error goes up: the logger pauses, the lines stay in the pipe,
    /// and the next try looks again.
    private func reopenAfterRemoval() throws(Errno) {
        if !warnedGone {
            Diagnostics.warn("\(path)/current was removed: making it again (lines wait in the pipe until it can)")
            warnedGone = true
        }
        let (oldLock, oldCurrent, oldSize) = (lockFD, currentFD, size)
        (lockFD, currentFD, size) = (-1, -1, 0)
        do {
            // With only `current` removed, `lock` is the one still held: a second flock on it
            // from a new descriptor would conflict with this logger's own.
            try open(heldLock: oldLock)
        } catch {
            close()
            (lockFD, currentFD, size) = (oldLock, oldCurrent, oldSize)
            throw .noSuchFileOrDirectory
        }
        Glibc.close(oldCurrent)
        Glibc.close(oldLock)
        warnedGone = false
        Diagnostics.info("\(path): log directory and current made again")
    }

    /// Writes and clears `pending`. On a failure what is unwritten stays in `pending` for the
    /// caller's retry: nothing is dropped.
    func flush() throws(Errno) {
        guard !pending.isEmpty else { return }
        let (written, failure) = pending.withUnsafeBytes { writeOut($0) }
        if let failure {
            keepUnwritten(from: written)
            throw failure
        }
        pending.removeAll(keepingCapacity: true)
    }

    /// Writes `bytes` as they are, straight from the caller's buffer (the logger's input, when
    /// no rule, stamp or prefix changes it): no copy into `pending`. On a failure what is
    /// unwritten goes to `pending`, as if it had been gathered there: the retry is `flush`'s.
    func writeThrough(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        guard pending.isEmpty else {
            pending.append(contentsOf: bytes)
            try flush()
            return
        }
        let (written, failure) = writeOut(bytes)
        if let failure {
            pending.append(contentsOf: bytes[written...])
            noteWritten(written)
            throw failure
        }
    }

    /// Writes the whole lines of `lines` (it ends with a newline), each after `header`, up to
    /// and including the one that makes the output reach `room` bytes (nil: all of them), by
    /// writev from where they are (no copy into `pending`). Returns how many bytes of `lines`
    /// it took; on a failure what of that is unwritten is in `pending`, as `writeThrough`
    /// leaves it, and `failure` says why.
    func writeLines(_ lines: UnsafeRawBufferPointer, header: UnsafeRawBufferPointer,
                    room: Int?) -> (taken: Int, failure: Errno?) {
        // A retry's leftovers go first, and a removed `current` is made again: then the
        // lines go from where they are. Failing there, none of them is taken.
        do {
            try flush()
            try reopenIfGone()
        } catch {
            return (0, error)
        }
        let limit = room ?? .max
        var taken = 0
        var added = 0
        // Up to the line that reaches `room`, and at least one.
        func more() -> Bool { taken < lines.count && (taken == 0 || added < limit) }
        // 64 lines a call: a 2 kB vector on the stack, which stays resident in every logger.
        return withUnsafeTemporaryAllocation(of: iovec.self, capacity: 128) { vector in
            while more() {
                var parts = 0
                let batchStart = taken
                while parts < vector.count && more() {
                    let end = lines.newline(from: taken)! + 1
                    vector[parts] = iovec(iov_base: UnsafeMutableRawPointer(mutating: header.baseAddress), iov_len: header.count)
                    vector[parts + 1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: lines.baseAddress! + taken),
                                              iov_len: end - taken)
                    parts += 2
                    added += header.count + end - taken
                    taken = end
                }
                let total = header.count * parts / 2 + taken - batchStart
                let written = writeVector(UnsafeMutableBufferPointer(rebasing: vector[0..<parts]), total: total)
                if written.failure != nil {
                    // What the vector has not written yet, now at its head.
                    for part in vector[0..<parts] where part.iov_len > 0 {
                        pending.append(contentsOf: UnsafeRawBufferPointer(start: part.iov_base, count: part.iov_len))
                    }
                    noteWritten(written.bytes)
                    return (taken, written.failure)
                }
                noteWritten(total)
            }
            warnedFull = false
            return (taken, nil)
        }
    }

    /// writev until all `total` bytes are written, the vector advanced past what was: on a
    /// failure what it still holds is what is unwritten.
    private func writeVector(_ vector: UnsafeMutableBufferPointer<iovec>, total: Int) -> (bytes: Int, failure: Errno?) {
        var first = 0
        var done = 0
        while done < total {
            let n: Int
            do {
                n = try SystemCall.retrying { writev(currentFD, vector.baseAddress! + first, Int32(vector.count - first)) }
            } catch {
                return (done, error)
            }
            // A write of nothing is taken as a full disk: the caller pauses and retries.
            guard n > 0 else { return (done, .noSpace) }
            done += n
            var left = n
            while left > 0 {
                let part = min(left, vector[first].iov_len)
                vector[first].iov_base += part
                vector[first].iov_len -= part
                left -= part
                if vector[first].iov_len == 0 { first += 1 }
            }
        }
        return (done, nil)
    }

    /// Writes all of `bytes` to `current`; how much was written when a write failed, and why.
    private func writeOut(_ bytes: UnsafeRawBufferPointer) -> (written: Int, failure: Errno?) {
        do { try reopenIfGone() } catch { return (0, error) }
        var part = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
        let (written, failure) = withUnsafeMutablePointer(to: &part) {
            writeVector(UnsafeMutableBufferPointer(start: $0, count: 1), total: bytes.count)
        }
        if failure == nil {
            noteWritten(bytes.count)
            warnedFull = false
        }
        return (written, failure)
    }

    private func keepUnwritten(from offset: Int) {
        guard offset > 0 else { return }
        pending.removeFirst(offset)
        noteWritten(offset)
    }

    /// `bytes` more are in `current`: the age limit counts from the first, written whole or
    /// in part by a write that then failed.
    private func noteWritten(_ bytes: Int) {
        if size == 0 && bytes > 0 { begunAt = EventLoop.now }
        size += bytes
    }

    /// svlogd's rule: rotate once `current` is within one line length of the maximum size.
    func wantsRotation(lineLength: Int) -> Bool {
        let maximum = config.maximumSize
        return maximum > 0 && (lineLength > maximum || size + pending.count >= maximum - lineLength)
    }

    /// How many more bytes `current` takes before `wantsRotation` holds (at the end of the line
    /// they reach into); nil without a size limit.
    func roomBeforeRotation(lineLength: Int) -> Int? {
        let maximum = config.maximumSize
        guard maximum > 0 else { return nil }
        return lineLength > maximum ? 0 : max(0, maximum - lineLength - size - pending.count)
    }

    var ageDeadline: Int64? {
        guard config.maximumAge > 0, let begunAt, size > 0 else { return nil }
        return begunAt + Int64(config.maximumAge) * nanosPerSecond
    }

    /// fsync, mark finished, rename to `@<tai64n>.s` (`.u` with a processor), start a new `current`.
    func rotate() throws(Errno) {
        try flush()
        guard size > 0 else { return }
        if processorPid != nil {
            rotationPending = true
            return
        }
        rotationPending = false
        fsync(currentFD)
        fchmod(currentFD, 0o744)
        let name = uniqueName(kind: config.processor == nil ? .finished : .unprocessed)
        try SystemCall.check { rename(path + "/current", path + "/" + name) }
        info("rename: \(path)/current \(name) \(size)")
        Glibc.close(currentFD)
        currentFD = Glibc.open(path + "/current", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard currentFD >= 0 else { throw FileSystem.lastErrno }
        fchmod(currentFD, 0o644)
        size = 0
        begunAt = nil
        removeOldest(keeping: config.keep)
        if config.processor != nil { startProcessor(on: name) }
    }

    /// With a full disk: delete the oldest file if more than `N` are kept; false if none may go.
    func makeRoom() -> Bool {
        let minimum = config.minimumKeep
        guard minimum > 0, config.keep == 0 || minimum < config.keep else { return false }
        let old = oldFiles()
        guard old.count > minimum, let oldest = old.first else { return false }
        Diagnostics.warn("\(path): out of disk space: deleting \(oldest)")
        return unlink(path + "/" + oldest) == 0
    }

    /// One warning per stretch of failures, however often the write is retried.
    func reportPause(_ error: Errno) {
        guard !warnedFull else { return }
        warnedFull = true
        Diagnostics.warn("pausing: cannot write to \(path)/current (\(error)): retrying every 3 s, nothing is dropped")
    }

    func close() {
        if currentFD >= 0 {
            fsync(currentFD)
            fchmod(currentFD, 0o744)
            Glibc.close(currentFD)
            currentFD = -1
        }
        if lockFD >= 0 { Glibc.close(lockFD) }
        lockFD = -1
    }

    // MARK: - old files and the processor

    /// Rotated files, oldest first (their names sort by time).
    private func oldFiles() -> [String] {
        guard let names = try? FileSystem.list(path) else { return [] }
        return names.filter { RotatedLogName($0) != nil }.sorted()
    }

    private func removeOldest(keeping keep: Int) {
        guard keep > 0 else { return }
        let old = oldFiles().filter { $0 != processing }
        for name in old.dropLast(keep) {
            info("delete: \(path)/\(name)")
            unlink(path + "/" + name)
        }
    }

    private func uniqueName(kind: RotatedLogName.Kind) -> String {
        while true {
            let name = RotatedLogName(unixNanos: EventLoop.wallNow.unixNanos, kind: kind).fileName
            if !FileSystem.exists(path + "/" + name) { return name }
        }
    }

    /// `sh -c processor` with the rotated file on stdin, output to `.t`, `state` on fd 4, `newstate` on fd 5.
    private func startProcessor(on name: String) {
        let base = String(name.dropLast(2))
        if !FileSystem.exists(path + "/state") { try? FileSystem.writeAtomically(path + "/state", []) }
        let input = Glibc.open(path + "/" + name, O_RDONLY | O_CLOEXEC)
        let output = Glibc.open(path + "/" + base + ".t", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let state = Glibc.open(path + "/state", O_RDONLY | O_CLOEXEC)
        let newState = Glibc.open(path + "/newstate", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { for fd in [input, output, state, newState] where fd >= 0 { Glibc.close(fd) } }
        guard input >= 0, output >= 0, state >= 0, newState >= 0 else {
            Diagnostics.warn("\(path): cannot prepare the processor for \(name) (\(FileSystem.lastErrno)): left as is")
            return
        }
        let argv = CStringArray(["sh", "-c", config.processor ?? ""])
        let envp = CStringArray(Spawner.environment(setting: "SVLOG_DIRECTORY", to: path))
        let fds: [Int32] = [input, output, -1, -1, state, newState]
        var pid: pid_t = 0
        let rc = sv_spawn_mapped(&pid, "/bin/sh", argv.pointers, envp.pointers, path, fds, Int32(fds.count), 0)
        if rc == 0 {
            processorPid = pid
            processing = name
        } else {
            Diagnostics.warn("\(path): cannot start the processor (\(Errno(rawValue: rc))): \(name) left as is")
        }
    }

    /// The processor ended: on success its output replaces the rotated file and `newstate` becomes `state`.
    func processorExited(status: Int32) {
        guard let name = processing else { return }
        let base = path + "/" + String(name.dropLast(2))
        processorPid = nil
        processing = nil
        if status == 0 {
            chmod(base + ".t", 0o744)
            rename(base + ".t", base + ".s")
            unlink(path + "/" + name)
            rename(path + "/newstate", path + "/state")
        } else {
            Diagnostics.warn("\(path): processor failed on \(name) (wait status \(status)): kept as \(name)")
            unlink(base + ".t")
        }
    }
}
