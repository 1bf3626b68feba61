import CSupport
import Glibc
import SvSystem

/// The helper programs of the long svctl commands (audit, verify, forget): their output goes
/// to files, so that a listing of a million names streams through the disk, not memory; a
/// TERM to svctl (the job stopped, the client disabled) is passed on to the running helper,
/// and the command then ends with `Helper.stopped` after removing what it made.
public enum Helper {
    public struct Outcome {
        public var status: Int32
        /// Where the helper's stderr went.
        public var errors: String
        /// Its last line there, for the one-line error: read only when asked (on failure).
        public var lastErrorLine: String { Helper.lastLine(of: errors) }

        public var succeeded: Bool { status == 0 }
    }

    /// Installs the forwarding once, before the first helper.
    public static func forwardTermination() { sv_forward_termination() }

    /// Whether svctl was asked to stop (TERM, INT or HUP).
    public static var stopRequested: Bool { sv_termination_signal() != 0 }

    /// Throws if svctl was asked to stop.
    public static func checkStopped() throws(SvctlError) {
        let signal = sv_termination_signal()
        if signal != 0 { throw SvctlError.failed("stopped by signal \(signal): nothing half-written is kept") }
    }

    /// Sleeps `nanos`, ending early (with the error) when svctl is asked to stop.
    public static func pause(nanos: Int64) throws(SvctlError) {
        var pause = timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
        var left = timespec()
        while nanosleep(&pause, &left) != 0 && errno == EINTR {
            try checkStopped()
            pause = left
        }
    }

    /// Runs `arguments` (never through a shell), stdout into `stdout` (or /dev/null), stderr
    /// into `stderr`; stdin from `stdin` or /dev/null.
    public static func run(_ arguments: [String], directory: String = ".", environment: [String]? = nil,
                           stdin: String? = nil, stdout: String?, stderr: String,
                           identity: Spawner.Identity? = nil) throws(SvctlError) -> Outcome {
        try checkStopped()
        guard let program = Spawner.findProgram(arguments[0]) else {
            throw SvctlError.failed("\(arguments[0]) not found on PATH")
        }
        let input = stdin.map { open($0, O_RDONLY | O_CLOEXEC) } ?? open("/dev/null", O_RDONLY | O_CLOEXEC)
        let output = stdout.map { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) } ?? open("/dev/null", O_WRONLY | O_CLOEXEC)
        let errors = open(stderr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { for fd in [input, output, errors] where fd >= 0 { close(fd) } }
        guard input >= 0, output >= 0, errors >= 0 else {
            throw SvctlError.failed("cannot open a file for \(arguments[0]): \(FileSystem.lastErrno)")
        }
        let pid: Int32
        do {
            pid = try Spawner.spawn(program, arguments: arguments,
                                    environment: environment ?? Spawner.environment(setting: "LC_ALL", to: "C"),
                                    directory: directory, stdin: .descriptor(input), stdout: .descriptor(output),
                                    extra: (source: errors, target: 2), identity: identity)
        } catch {
            throw SvctlError.failed("cannot start \(program): \(error)")
        }
        sv_set_current_child(pid)
        // A TERM that came between checkStopped and now found no child to pass to.
        if sv_termination_signal() != 0 { kill(pid, sv_termination_signal()) }
        var status: Int32 = 0
        _ = try? SystemCall.retrying { waitpid(pid, &status, 0) }
        sv_set_current_child(0)
        try checkStopped()
        return Outcome(status: status, errors: stderr)
    }

    /// The last non-empty line of a file (its last 4 kB).
    static func lastLine(of path: String) -> String {
        guard let info = try? FileSystem.readBytes(path, limit: 1 << 20) else { return "" }
        let tail = info.suffix(4096)
        return String(decoding: tail, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
    }

    /// `mkdtemp` under TMPDIR (or /tmp), mode 0700.
    public static func temporaryDirectory(_ label: String) throws(SvctlError) -> String {
        let base = TreeLayout.environmentValue("TMPDIR") ?? "/tmp"
        var template = Array((base + "/svctl-\(label)-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let start = buffer.baseAddress, mkdtemp(start) != nil else { return nil }
            return String(cString: start)
        }
        guard let made else {
            throw SvctlError.failed("cannot make a temporary directory in \(base): \(FileSystem.lastErrno)")
        }
        return made
    }
}

/// Lines of a file, read in 64 kB blocks: memory bounded by the longest line.
public struct LineReader {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var finished = false

    public init?(path: String) {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
    }

    public func close() { Glibc.close(fd) }

    /// The next line without its newline; nil at the end.
    public mutating func next() -> ArraySlice<UInt8>? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[start..<newline]
                start = newline + 1
                return line
            }
            if finished {
                guard start < buffer.count else { return nil }
                let line = buffer[start...]
                start = buffer.count
                return line
            }
            buffer.removeFirst(start)
            start = 0
            var block = [UInt8](repeating: 0, count: 65536)
            let n = (try? SystemCall.retrying { block.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }) ?? 0
            if n <= 0 { finished = true } else { buffer += block[0..<n] }
        }
    }
}
