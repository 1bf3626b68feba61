import CSupport
import Glibc
import SvFormats
import SvSystem
import SvtreeDaemon
import Testing

struct TimedOut: Error, CustomStringConvertible {
    var description: String
}

/// A temporary tree on disk, the svtree processes a test started, and helpers to wait on
/// conditions (bounded, never a bare sleep) and to clean up every process by PID.
final class TreeFixture {
    let root: String
    private(set) var started: [Int32] = []
    private(set) var reaped: [Int32: Int32] = [:]
    /// tmpfs mounts a test made, unmounted before the directory goes.
    private var mounts: [String] = []

    init(_ name: String) throws {
        // Tests write to pipes of processes that may have exited (a logger refusing its
        // directory): EPIPE, not the death of the whole test process.
        signal(SIGPIPE, SIG_IGN)
        var template = Array("/tmp/svtree-test-\(name)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TimedOut(description: "mkdtemp failed") }
        root = String(cString: made)
    }

    deinit {
        killEverything()
        for disk in mounts { _ = run("/bin/umount", ["-l", disk]) }
        _ = run("/bin/rm", ["-rf", root])
    }

    static var buildDirectory: String {
        FileSystem.parentDirectory(FileSystem.readLink("/proc/self/exe") ?? "")
    }

    static var svtreeBinary: String { buildDirectory + "/svtree" }

    // MARK: - files

    func write(_ relative: String, _ text: String, executable: Bool = false) {
        let path = root + "/" + relative
        makeDirectories(FileSystem.parentDirectory(path))
        try? FileSystem.writeAtomically(path, Array(text.utf8), mode: executable ? 0o755 : 0o644)
    }

    func makeDirectories(_ path: String) {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            try? FileSystem.makeDirectory(current)
        }
    }

    /// A small tmpfs at `relative` (a full disk, a read-only tree); the tests run as root, as CI does.
    func mountTmpfs(_ relative: String, kilobytes: Int) throws -> String {
        let disk = root + "/" + relative
        makeDirectories(disk)
        let (code, output) = run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", disk])
        guard code == 0 else {
            throw TimedOut(description: "cannot mount a tmpfs at \(disk) (run the tests as root): \(output)")
        }
        mounts.append(disk)
        return disk
    }

    func read(_ relative: String) -> String {
        String(decoding: (try? FileSystem.readBytes(root + "/" + relative)) ?? [], as: UTF8.self)
    }

    func symlink(_ target: String, _ relative: String) {
        Glibc.symlink(target, root + "/" + relative)
    }

    func remove(_ relative: String) {
        unlink(root + "/" + relative)
    }

    /// A service printing its pid, optionally leaving a setsid'd sleep behind, then sleeping.
    func service(_ relative: String, escape: Bool = false, logger: String? = "exec cat >> ./current") {
        write(relative + "/run", """
            #!/bin/sh
            exec 2>&1
            echo "up $$"
            \(escape ? "( setsid sleep 3600 & )" : "")
            exec sleep 3600
            """, executable: true)
        if let logger { write(relative + "/log/run", "#!/bin/sh\n\(logger)\n", executable: true) }
    }

    /// A client directory whose run starts a nested svtree over its `services/`.
    func client(_ name: String, services: [String] = ["storage", "snapwatch"], escape: Bool = false) {
        write("clients/\(name)/run", "#!/bin/sh\nexec \(TreeFixture.svtreeBinary) services\n", executable: true)
        for service in services { self.service("clients/\(name)/services/\(service)", escape: escape) }
        makeDirectories(root + "/enabled")
    }

    // MARK: - processes

    /// Starts svtree on `relative` with stderr into `stderrFile`; kills it when the fixture goes.
    /// Its stdout (what services without a logger print) goes to `svtree.out`. `wrapper` runs
    /// it under another program (prlimit, setpriv).
    @discardableResult
    func startSvtree(_ relative: String, stderrFile: String = "svtree.err", options: [String] = [],
                     environment: [String: String] = [:], wrapper: [String] = []) throws -> Int32 {
        try start(wrapper + [TreeFixture.svtreeBinary] + options + [root + "/" + relative],
                  stdoutFile: "svtree.out", stderrFile: stderrFile, environment: environment)
    }

    /// Starts `argv` in `root`, stdout and stderr appended to files there; killed by PID when
    /// the fixture goes.
    @discardableResult
    func start(_ argv: [String], stdoutFile: String, stderrFile: String, environment: [String: String] = [:]) throws -> Int32 {
        let out = open(root + "/" + stdoutFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        let err = open(root + "/" + stderrFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        defer {
            close(out)
            close(err)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, out, 1)
        posix_spawn_file_actions_adddup2(&actions, err, 2)
        sv_spawn_actions_addchdir(&actions, root)
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = TreeFixture.environment(environment).map { strdup($0) } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw TimedOut(description: "cannot spawn \(argv[0]): \(rc)") }
        started.append(pid)
        return pid
    }

    /// Kills `pid` with the rest when the fixture goes.
    func adopt(_ pid: Int32) { started.append(pid) }

    /// Waits for a started process to exit; returns its wait status.
    func waitExit(_ pid: Int32, seconds: Double = 10) throws -> Int32 {
        try waitFor("process \(pid) to exit", seconds: seconds) {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { reaped[pid] = status }
            return reaped[pid] != nil
        }
        return reaped[pid]!
    }

    /// Whether a process this fixture started is still running: not exited, not a zombie.
    /// (kill(pid, 0) succeeds on an unreaped child that has died: it proves nothing.)
    func stillRunning(_ pid: Int32) -> Bool {
        if reaped[pid] != nil { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            reaped[pid] = status
            return false
        }
        return true
    }

    func waitFor(_ what: String, seconds: Double = 10, _ condition: () -> Bool) throws {
        let deadline = EventLoop.now + Int64(seconds * 1e9)
        while !condition() {
            if EventLoop.now > deadline { throw TimedOut(description: "timed out after \(seconds) s waiting for \(what)") }
            usleep(5_000)
        }
    }

    /// Living processes started for this tree: marked with a service path under `root`
    /// (the marker is inherited, so escaped double-forks count too), plus svtrees started here.
    func processes(under relative: String = "") -> [Int32] {
        processes(markedUnder: FileSystem.realPath(root + "/" + relative) ?? root)
    }

    /// The same for an absolute path (one that may be gone by now).
    func processes(markedUnder prefix: String) -> [Int32] {
        return ProcessTable.scan().entries.values.filter { entry in
            guard !entry.isZombie else { return false }
            if let marker = ProcessTable.environmentValue(entry.pid, "SVTREE_SERVICE") {
                return marker == prefix || marker.hasPrefix(prefix + "/")
            }
            return false
        }.map(\.pid)
    }

    /// Living processes running a program from inside this tree (a copied binary whose path
    /// names the tree): found even with no marker and in a session of their own.
    func programsOfThisTree() -> [Int32] {
        let prefix = Array((root + "/").utf8)
        return ProcessTable.scan().entries.values.filter { entry in
            !entry.isZombie && ((try? FileSystem.readBytes("/proc/\(entry.pid)/cmdline", limit: 4096)) ?? []).starts(with: prefix)
        }.map(\.pid)
    }

    func commandLine(_ pid: Int32) -> String {
        let bytes = (try? FileSystem.readBytes("/proc/\(pid)/cmdline")) ?? []
        return String(decoding: bytes.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
            .trimmingCharacters()
    }

    /// Command lines of this tree's processes, sorted, for "one copy of everything" checks.
    func commandLines(under relative: String = "") -> [String] {
        processes(under: relative).map(commandLine).sorted()
    }

    /// The service's state and pid from `supervise/status`, the one file that holds both at once.
    func status(_ service: String) -> StatusFormat.Snapshot? {
        StatusFormat.parseStatus((try? FileSystem.readBytes(root + "/" + service + "/supervise/status")) ?? [])
    }

    /// The pid of a service in state run, if it names a living process.
    func supervisedPid(_ service: String) -> Int32? {
        guard let status = status(service), status.state == .run, status.pid > 0, TreeFixture.isLiving(status.pid) else {
            return nil
        }
        return status.pid
    }

    /// A process that exists and is not a zombie (kill(pid, 0) also succeeds on a zombie).
    static func isLiving(_ pid: Int32) -> Bool {
        guard let stat = try? FileSystem.readBytes("/proc/\(pid)/stat", limit: 4096),
              let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.count else { return false }
        return stat[close + 2] != UInt8(ascii: "Z") && stat[close + 2] != UInt8(ascii: "X")
    }

    func isRunning(_ service: String) -> Bool { supervisedPid(service) != nil }

    /// Waits until the service runs with a pid other than `old`; returns that pid (one read, no race).
    func waitForNewPid(_ service: String, other old: Int32?, _ what: String) throws -> Int32 {
        var found: Int32?
        try waitFor(what) {
            found = supervisedPid(service)
            return found != nil && found != old
        }
        return found!
    }

    /// Waits until the supervisor of `service` has read everything written so far into its
    /// control FIFO (none left in the pipe): what it read is acted on in the same loop turn.
    func waitControlRead(_ service: String, _ what: String) throws {
        let control = root + "/" + service + "/supervise/control"
        try waitFor(what) {
            let probe = open(control, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard probe >= 0 else { return false }
            defer { close(probe) }
            var available: Int32 = 0
            return ioctl(probe, UInt(FIONREAD), &available) == 0 && available == 0
        }
    }

    /// One turn of the event loop of the supervisor of `service`: a byte that is no command
    /// written to its control FIFO, and read.
    func roundTrip(_ service: String) throws {
        let fd = open(root + "/" + service + "/supervise/control", O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw TimedOut(description: "\(service): no supervisor reads its control FIFO") }
        try? FileSystem.writeAll(fd, [0])
        close(fd)
        try waitControlRead(service, "the supervisor of \(service) to read its control FIFO")
    }

    func killEverything() {
        // A reaped pid may belong to another process by now (pid_max is 32768 here): only
        // unreaped children, whose pids cannot be reused, are killed by pid.
        for pid in started where reaped[pid] == nil { kill(pid, SIGKILL) }
        for _ in 0..<50 {
            let left = processes() + programsOfThisTree()
            if left.isEmpty { break }
            for pid in left { kill(pid, SIGKILL) }
            usleep(2_000)
        }
        for pid in started where reaped[pid] == nil {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        // A SIGKILLed root svtree could not remove its cgroup; the next svtree would.
        CgroupTree.removeStaleBases()
    }

    /// Runs a program to completion; returns its exit code and what it printed. A program
    /// killed by a signal reads as 128 + the signal (as a shell says it), never as 0, and is
    /// recorded as an issue; one still running after `seconds` is killed (its process group,
    /// by its PID) and recorded as an issue that says so.
    @discardableResult
    func run(_ program: String, _ arguments: [String], environment: [String: String] = [:],
             seconds: Double = TreeFixture.runSeconds, sourceLocation: SourceLocation = #_sourceLocation) -> (Int32, String) {
        TreeFixture.run(program, arguments, environment: environment, seconds: seconds, sourceLocation: sourceLocation)
    }

    /// The bound of a `run()` unless the caller gives one: far above what any command here needs.
    static let runSeconds: Double = 60

    /// This process's environment with SVTREE_TEST=1 and `changes` replacing what they name.
    static func environment(_ changes: [String: String]) -> [String] {
        var result = Spawner.environment(setting: "SVTREE_TEST", to: "1")
        result.removeAll { item in changes.keys.contains { item.hasPrefix($0 + "=") } }
        return result + changes.map { "\($0.key)=\($0.value)" }
    }

    static func run(_ program: String, _ arguments: [String], environment: [String: String] = [:],
                    seconds: Double = runSeconds, sourceLocation: SourceLocation = #_sourceLocation) -> (Int32, String) {
        var fds: [Int32] = [-1, -1]
        sv_pipe_cloexec(&fds)  // not inherited by what other tests spawn meanwhile
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        var attributes = ownGroup()
        defer { posix_spawnattr_destroy(&attributes) }
        let cArgs = ([program] + arguments).map { strdup($0) } + [nil]
        let cEnv = TreeFixture.environment(environment).map { strdup($0) } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, program, &actions, &attributes, cArgs, cEnv)
        posix_spawn_file_actions_destroy(&actions)
        close(fds[1])
        guard rc == 0 else { close(fds[0]); return (-1, "cannot run \(program)") }
        return collect(pid, output: fds[0], what: ([program] + arguments).joined(separator: " "),
                       seconds: seconds, sourceLocation: sourceLocation)
    }

    /// Spawn attributes that put the child in a process group of its own, so that what it
    /// starts can be killed with it when it outlives its bound; with no signal blocked and
    /// every signal at its default (the test process ignores SIGPIPE), as from a shell.
    static func ownGroup() -> posix_spawnattr_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        return attributes
    }

    /// Reads `output` to its end (writing `input` to `inputFD` meanwhile, then closing it),
    /// closes it, waits for `pid`: its exit code (128 + signal when a signal ended it) and the
    /// text. Bounded by `seconds`: past it the child's process group gets SIGTERM, then SIGKILL,
    /// and an issue names the command.
    static func collect(_ pid: Int32, output fd: Int32, input: [UInt8] = [], inputFD: Int32 = -1, what: String,
                        seconds: Double = runSeconds, sourceLocation: SourceLocation? = nil) -> (Int32, String) {
        func fail(_ message: String) {
            if let sourceLocation { Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation) } else { Issue.record(Comment(rawValue: message)) }
        }
        let deadline = EventLoop.now + Int64(seconds * 1e9)
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var written = 0
        var inputOpen = inputFD >= 0
        if inputOpen {
            _ = fcntl(inputFD, F_SETFL, fcntl(inputFD, F_GETFL) | O_NONBLOCK)
            if input.isEmpty { close(inputFD); inputOpen = false }
        }
        var status: Int32 = 0
        var exited = false
        var exitedAt: Int64 = 0
        var timedOut = false
        var outputOpen = true
        while outputOpen || !exited {
            if !exited, waitpid(pid, &status, WNOHANG) == pid {
                exited = true
                exitedAt = EventLoop.now
            }
            // What the program left running may hold the pipe: a second after its exit is enough.
            if exited && (!outputOpen || EventLoop.now - exitedAt > 1_000_000_000) { break }
            if EventLoop.now > deadline && !timedOut {
                timedOut = true
                kill(-pid, SIGTERM)
                kill(pid, SIGTERM)
                var gone = exited
                for _ in 0..<300 where !gone {
                    gone = waitpid(pid, &status, WNOHANG) == pid
                    if !gone { usleep(10_000) }
                }
                kill(-pid, SIGKILL)
                if !gone {
                    kill(pid, SIGKILL)
                    waitpid(pid, &status, 0)
                }
                exited = true
                break
            }
            var polls = [pollfd(fd: outputOpen ? fd : -1, events: Int16(POLLIN), revents: 0),
                         pollfd(fd: inputOpen ? inputFD : -1, events: Int16(POLLOUT), revents: 0)]
            _ = poll(&polls, 2, 20)
            if outputOpen && polls[0].revents != 0 {
                let n = Glibc.read(fd, &buffer, buffer.count)
                if n > 0 { output += buffer[0..<n] } else if n == 0 || errno != EINTR { outputOpen = false }
            }
            if inputOpen && polls[1].revents != 0 {
                let n = input[written...].withUnsafeBytes { Glibc.write(inputFD, $0.baseAddress, $0.count) }
                if n > 0 { written += n }
                if written == input.count || (n < 0 && errno != EAGAIN && errno != EINTR) {
                    close(inputFD)
                    inputOpen = false
                }
            }
        }
        if inputOpen { close(inputFD) }
        // Still open after the program's exit: what it left in its group holds it; ended too.
        if outputOpen && !timedOut { kill(-pid, SIGKILL) }
        close(fd)
        let text = String(decoding: output, as: UTF8.self)
        if timedOut {
            fail("\(what): still running after \(seconds) s; killed (pid \(pid) and its group). Output: \(text.suffix(2000))")
            return (128 + SIGKILL, text + "\n[killed after \(seconds) s]")
        }
        let code = exitCode(status)
        if code > 128 {
            fail("\(what): killed by signal \(code - 128). Output: \(text.suffix(2000))")
        }
        return (code, text)
    }

    /// A wait status as a shell reports it: the exit code, or 128 + the signal that ended it.
    static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

extension String {
    func trimmingCharacters() -> String {
        var text = Substring(self)
        while let last = text.last, last == "\n" || last == " " { text.removeLast() }
        while let first = text.first, first == "\n" || first == " " { text.removeFirst() }
        return String(text)
    }

    func lines() -> [String] { split(separator: "\n").map(String.init) }
}
