import CSupport
import Glibc
import SvSystem

extension TreeFixture {
    static var svlogBinary: String { buildDirectory + "/svlog" }

    /// Runs a logger (svlog or svlogd) with `input` on a pipe as stdin, in `root` (or in its
    /// subdirectory `directory`); returns its exit code and stderr.
    func runLogger(_ program: String, _ arguments: [String], input: [UInt8], in directory: String? = nil) -> (Int32, String) {
        var inFDs: [Int32] = [-1, -1]
        var errFDs: [Int32] = [-1, -1]
        sv_pipe_cloexec(&inFDs)
        sv_pipe_cloexec(&errFDs)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, inFDs[0], 0)
        posix_spawn_file_actions_adddup2(&actions, errFDs[1], 2)
        posix_spawn_file_actions_addchdir_np_shim(&actions, directory.map { root + "/" + $0 } ?? root)
        let cArgs = ([program] + arguments).map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var attributes = TreeFixture.ownGroup()
        defer { posix_spawnattr_destroy(&attributes) }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, program, &actions, &attributes, cArgs, environ)
        posix_spawn_file_actions_destroy(&actions)
        close(inFDs[0])
        close(errFDs[1])
        guard rc == 0 else { close(inFDs[1]); close(errFDs[0]); return (-1, "cannot run \(program)") }
        return TreeFixture.collect(pid, output: errFDs[0], input: input, inputFD: inFDs[1],
                                   what: ([program] + arguments).joined(separator: " "))
    }

    /// A log directory's files in order (rotated ones by name, then current).
    func logFiles(_ relative: String) -> [String] {
        let names = (try? FileSystem.list(root + "/" + relative)) ?? []
        return names.filter { $0.hasPrefix("@") }.sorted() + (names.contains("current") ? ["current"] : [])
    }

    /// The bytes in a log directory's files.
    func logBytes(_ relative: String) -> Int {
        logFiles(relative).reduce(0) { total, name in
            var st = stat()
            return total + (stat(root + "/" + relative + "/" + name, &st) == 0 ? Int(st.st_size) : 0)
        }
    }

    /// Every line of a log directory, oldest first.
    func logLines(_ relative: String) -> [String] {
        logFiles(relative).flatMap { name in
            String(decoding: (try? FileSystem.readBytes(root + "/" + relative + "/" + name, limit: 1 << 30)) ?? [], as: UTF8.self)
                .lines()
        }
    }
}

/// posix_spawn_file_actions_addchdir_np is a GNU extension the Glibc module hides; the C target has it.
func posix_spawn_file_actions_addchdir_np_shim(_ actions: inout posix_spawn_file_actions_t, _ path: String) {
    _ = sv_spawn_actions_addchdir(&actions, path)
}

extension TreeFixture {
    struct RunningLogger {
        var pid: Int32
        /// The write end of the logger's stdin pipe.
        var input: Int32

        /// Writes `text` into the logger's stdin.
        func send(_ text: String) {
            try? FileSystem.writeAll(input, Array(text.utf8))
        }
    }

    /// svlog on `directory` (relative to root) with a pipe on stdin that the test writes to.
    func startLoggerService(_ directory: String, options: [String] = []) throws -> RunningLogger {
        var fds: [Int32] = [-1, -1]
        sv_pipe_cloexec(&fds)
        return try startLogger(directory, options: options, stdin: fds[0], writeEnd: fds[1])
    }

    /// svlog on `directory` with `stdin` (closed here once svlog has it) as its input;
    /// `writeEnd` is what the test writes to.
    func startLogger(_ directory: String, options: [String] = [], stdin: Int32, writeEnd: Int32) throws -> RunningLogger {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_addchdir_np_shim(&actions, root)
        let err = open(root + "/svlog.err", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, err, 2)
        let cArgs = ([TreeFixture.svlogBinary] + options + [directory]).map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, TreeFixture.svlogBinary, &actions, nil, cArgs, environ)
        posix_spawn_file_actions_destroy(&actions)
        close(stdin)
        close(err)
        guard rc == 0 else { throw TimedOut(description: "cannot start svlog: \(rc)") }
        adopt(pid)
        return RunningLogger(pid: pid, input: writeEnd)
    }

    func stopLogger(_ logger: RunningLogger) throws {
        close(logger.input)
        _ = try waitExit(logger.pid)
    }
}
