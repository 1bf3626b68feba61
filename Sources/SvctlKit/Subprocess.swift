import CSupport
import Glibc
import SvSystem
import SystemPackage

/// Runs a helper program (never through a shell) and waits for it.
enum Subprocess {
    /// Runs `arguments[0]` with `input` on its stdin and its chatter (stdout, stderr) discarded,
    /// or with `showOutput` passed on as svctl's own; returns the wait status.
    static func run(_ arguments: [String], input: String, directory: String = ".",
                    showOutput: Bool = false, identity: Spawner.Identity? = nil) throws(SvctlError) -> Int32 {
        guard let program = Spawner.findProgram(arguments[0]) else {
            throw SvctlError.failed("\(arguments[0]) not found on PATH")
        }
        var fds: [Int32] = [-1, -1]
        guard sv_pipe_cloexec(&fds) == 0 else { throw SvctlError.failed("pipe: \(FileSystem.lastErrno)") }
        let environment = Spawner.environment(setting: "LC_ALL", to: "C")
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        let spawned = Result { () throws(Errno) in
            try Spawner.spawn(program, arguments: arguments, environment: environment, directory: directory,
                              stdin: .descriptor(fds[0]), stdout: showOutput ? .inherit : .devNull,
                              extra: showOutput ? nil : (source: devNull, target: 2), identity: identity)
        }
        close(devNull)
        close(fds[0])
        let pid: Int32
        do throws(SvctlError) {
            pid = try started(spawned, program)
        } catch {
            close(fds[1])
            throw error
        }
        // A helper that exits without reading its input must not kill svctl with SIGPIPE; the
        // default comes back afterwards, so that `svctl logs -f | head` still ends as it should.
        let previous = signal(SIGPIPE, SIG_IGN)
        try? FileSystem.writeAll(fds[1], Array(input.utf8))
        signal(SIGPIPE, previous)
        close(fds[1])
        var status: Int32 = 0
        _ = try? SystemCall.retrying { waitpid(pid, &status, 0) }
        return status
    }

    /// Runs a program (stdin /dev/null) and returns its wait status and its whole stdout.
    static func capture(_ arguments: [String]) throws(SvctlError) -> (Int32, [UInt8]) {
        guard let program = Spawner.findProgram(arguments[0]) else { throw SvctlError.failed("\(arguments[0]) not found on PATH") }
        var fds: [Int32] = [-1, -1]
        guard sv_pipe_cloexec(&fds) == 0 else { throw SvctlError.failed("pipe: \(FileSystem.lastErrno)") }
        let spawned = Result { () throws(Errno) in
            try Spawner.spawn(program, arguments: arguments, environment: Spawner.environment(setting: "LC_ALL", to: "C"),
                              directory: ".", stdin: .devNull, stdout: .descriptor(fds[1]))
        }
        close(fds[1])
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            guard let n = try? SystemCall.retrying({ buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) } }),
                  n > 0 else { break }
            output += buffer[0..<n]
        }
        close(fds[0])
        let pid = try started(spawned, program)
        var status: Int32 = 0
        _ = try? SystemCall.retrying { waitpid(pid, &status, 0) }
        return (status, output)
    }

    private static func started(_ spawned: Result<Int32, Errno>, _ program: String) throws(SvctlError) -> Int32 {
        switch spawned {
        case .success(let pid): return pid
        case .failure(let error): throw SvctlError.failed("cannot start \(program): \(error)")
        }
    }
}
