import Glibc
import SvBase
import SvSystem
import SystemPackage

/// restic as the keyed jobs (verify, forget) run it: the password only through
/// `--password-file` (never an argument, never the environment), no cache (the jobs run as
/// a service user without a home), replicas on rclone remotes through restic's `rclone:`
/// backend with the client's rclone.conf, and a repository locked by a running backup
/// waited for, never unlocked.
public struct Restic {
    public var passwordFile: String
    public var rcloneConfig: String
    public var scratch: String
    /// How long a locked repository is waited for, and how often it is tried meanwhile.
    public var lockWaitSeconds: Double = 600
    public var lockRetrySeconds: Double = 5

    public init(passwordFile: String, rcloneConfig: String, scratch: String) {
        self.passwordFile = passwordFile
        self.rcloneConfig = rcloneConfig
        self.scratch = scratch
    }

    /// The `-r` value for a backend: a directory, or `rclone:name:path`.
    public static func repository(_ location: String) -> String {
        location.hasPrefix("/") ? location : "rclone:" + location
    }

    public enum Failure: Error, Equatable {
        case locked(String)
        case wrongPassword
        case failed(String)

        public var text: String {
            switch self {
            case .locked(let line): return "repository locked by another restic (not unlocked): \(line)"
            case .wrongPassword: return "wrong password: the stored key does not open the repository (svctl key)"
            case .failed(let line): return line
            }
        }
    }

    /// Runs `restic -r REPO ARGS`, stdout into `stdout`; a lock held by another process is
    /// tried again until `lockWaitSeconds` have passed.
    public func run(_ location: String, _ arguments: [String], stdout: String?) throws(SvctlError) -> Result<Void, Failure> {
        var environment = Spawner.environment(setting: "LC_ALL", to: "C").filter {
            !$0.hasPrefix("RESTIC_PASSWORD") && !$0.hasPrefix("RESTIC_REPOSITORY") && !$0.hasPrefix("RCLONE_CONFIG=")
        }
        environment.append("RCLONE_CONFIG=" + (FileSystem.exists(rcloneConfig) ? rcloneConfig : "/dev/null"))
        let deadline = EventLoop.now + Int64(lockWaitSeconds * 1e9)
        while true {
            let outcome = try Helper.run(["restic", "-r", Self.repository(location), "--password-file", passwordFile,
                                          "--no-cache", "--quiet"] + arguments,
                                         environment: environment, stdout: stdout, stderr: scratch + "/restic-errors")
            if outcome.succeeded { return .success(()) }
            let errors = (try? FileSystem.readBytes(scratch + "/restic-errors")).map { String(decoding: $0, as: UTF8.self) } ?? ""
            if errors.contains("wrong password") { return .failure(.wrongPassword) }
            let line = Self.meaningfulLine(errors) ?? "restic exited with \(ExitStatus(waitStatus: outcome.status))"
            guard errors.contains("already locked") else { return .failure(.failed(line)) }
            guard EventLoop.now + Int64(lockRetrySeconds * 1e9) < deadline else { return .failure(.locked(line)) }
            try Helper.pause(nanos: Int64(lockRetrySeconds * 1e9))
        }
    }

    /// restic's `Fatal:` line, else its last line.
    static func meaningfulLine(_ errors: String) -> String? {
        let lines = errors.split(separator: "\n").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        return lines.first { $0.hasPrefix("Fatal:") } ?? lines.last
    }
}

/// The client's `repository.lock`: replication and forget hold it (flock, exclusive) so that
/// nothing copies from a repository in the middle of a prune.
public enum RepositoryLock {
    public static let fileName = "repository.lock"

    /// Takes the lock, waiting up to `seconds`; the descriptor stays open (and the lock held)
    /// until the process ends.
    public static func take(clientDirectory: String, seconds: Double) throws(SvctlError) -> Int32 {
        let path = clientDirectory + "/" + fileName
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw SvctlError.failed("cannot open \(path): \(FileSystem.lastErrno)") }
        ClientFiles.giveToClient(path, clientDirectory: clientDirectory)
        // Waited in steps so that a TERM (the job stopped) ends the wait at once.
        let deadline = EventLoop.now + Int64(seconds * 1e9)
        var locked = flock(fd, LOCK_EX | LOCK_NB) == 0
        while !locked && EventLoop.now < deadline {
            do throws(SvctlError) { try Helper.pause(nanos: 200_000_000) } catch { close(fd); throw error }
            locked = flock(fd, LOCK_EX | LOCK_NB) == 0
        }
        guard locked else {
            close(fd)
            throw SvctlError.failed("\(path) still held after \(Int(seconds)) s (a replication running?)")
        }
        return fd
    }
}
