import CSupport
import Glibc

/// The logger's stdin, read so that a line leaves the pipe only once it is in the log.
///
/// When stdin is a pipe, `peek` copies what it holds with tee(2) without consuming it, and
/// `consume` drops from the pipe only the bytes that were written: a logger killed at any
/// moment leaves every unwritten line in the pipe for the next one (svtree holds the pipe).
/// Other inputs (a file, a terminal) are read normally: what was read is held in memory.
final class LogInput {
    let isPipe: Bool
    /// A socket or a terminal: read only when a read will not block (see `peek`).
    private let readOnlyWhenReady: Bool
    var buffer: [UInt8]
    /// Bytes at the head of `buffer` not yet consumed.
    private(set) var count = 0
    /// The input has ended and everything left of it is in `buffer[0..<count]`.
    private(set) var atEOF = false
    /// The pipe's writers are gone (a hang-up): it ends once its last bytes are in the buffer.
    private var writersGone = false
    /// Unconsumed bytes at which no newline can come any more (the pipe is full): write a piece.
    private(set) var fullAt: Int
    private var peekRead: Int32 = -1
    private var peekWrite: Int32 = -1
    private var devNull: Int32 = -1

    static let preferredPipeSize: Int32 = 256 << 10
    /// `pipe:DEV:INO` of a pipe as stdin, empty otherwise: a logger restarted on the same pipe
    /// (svtree or runsv holds it) finds the rest of a line its predecessor left cut there.
    let identity: [UInt8]

    init(minimumBuffer: Int) {
        var st = stat()
        fstat(0, &st)
        var capacity = max(minimumBuffer, 65536)
        var fds: [Int32] = [-1, -1]
        if st.st_mode & S_IFMT == S_IFIFO, sv_pipe_nonblock_cloexec(&fds) == 0 {
            isPipe = true
            peekRead = fds[0]
            peekWrite = fds[1]
            // A pipe smaller than svtree makes its log pipes (a logger under runsv, a shell's
            // pipe) is raised to that size where the kernel allows it: fewer, larger reads.
            if sv_pipe_size(0) < Self.preferredPipeSize { _ = sv_set_pipe_size(0, Self.preferredPipeSize) }
            // The copy of the head is read in pieces of the buffer's size (64 kB): a bigger
            // buffer would stay resident in every logger after a burst.
            _ = sv_set_pipe_size(peekWrite, Int32(capacity))
            capacity = min(capacity, max(4096, Int(sv_pipe_size(peekWrite))))
            devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        } else {
            isPipe = false
        }
        readOnlyWhenReady = !isPipe && st.st_mode & S_IFMT != S_IFREG
        // Not zeroed: a page of it becomes resident only when a read reaches it, so a logger
        // whose service writes short lines keeps a page or two, not the whole 64 kB. Only the
        // bytes a read put there are looked at (below `count`).
        // Only a pipe read by peeking keeps a cut line's rest for the next logger.
        identity = isPipe ? Array("pipe:\(st.st_dev):\(st.st_ino)\n".utf8) : []
        buffer = [UInt8](unsafeUninitializedCapacity: capacity) { _, initialized in initialized = capacity }
        fullAt = capacity
        if isPipe, case let size = Int(sv_pipe_size(0)), size > 0 { fullAt = min(capacity, size) }
    }

    /// Fills `buffer[0..<count]` with everything unconsumed; returns whether new bytes came.
    func peek() -> Bool {
        let before = count
        if isPipe {
            let n = sv_tee_nonblock(0, peekWrite, buffer.count)
            if n == 0 { atEOF = true }
            guard n > 0 else { return false }
            var got = 0
            while got < n {
                let r = buffer.withUnsafeMutableBytes { read(peekRead, $0.baseAddress! + got, n - got) }
                if r <= 0 { break }
                got += r
            }
            count = got
            if writersGone { endIfAllPeeked() }
        } else if count < buffer.count {
            // svlog takes TERM through its loop: blocked in the read of a socket or a terminal
            // (O_NONBLOCK cannot be set on it: the flag is shared with whoever else holds it),
            // it would not end. A terminal polls readable only with a whole line to read.
            if readOnlyWhenReady {
                var ready = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, 0) == 1 else { return false }
            }
            let r = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress! + count, $0.count - count) }
            // A hung-up terminal reads EIO: the end as much as a 0.
            if r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN) { atEOF = true }
            if r > 0 { count += r }
        }
        return count > before
    }

    /// The first `length` bytes are in the log: let them go.
    func consume(_ length: Int) {
        guard length > 0 else { return }
        if isPipe {
            var left = length
            while left > 0 {
                let n = sv_discard(0, devNull, left)
                if n <= 0 { break }
                left -= n
            }
        } else {
            buffer.withUnsafeMutableBytes { raw in
                let base = raw.baseAddress!
                memmove(base, base + length, count - length)
            }
        }
        count -= length
    }

    /// On hang-up. A pipe whose writers are gone keeps what they wrote: tee(2) returns 0 only
    /// once it is empty, and an unconsumed tail (a last line without newline) keeps it from
    /// emptying. The input ends when all that is left of it is in the buffer; before that, the
    /// head of a pipe holding more than a buffer would be taken for its end (a long line cut,
    /// a newline added in the middle of it).
    func writersHungUp() {
        // Other inputs (a socket, a terminal) end when a read returns 0, after their last bytes.
        guard isPipe else { return }
        writersGone = true
        endIfAllPeeked()
    }

    private func endIfAllPeeked() {
        var unread: Int32 = 0
        if ioctl(0, UInt(FIONREAD), &unread) != 0 || Int(unread) <= count { atEOF = true }
    }
}
