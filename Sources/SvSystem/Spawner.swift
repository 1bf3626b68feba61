import CSupport
import Glibc
import SystemPackage

/// Starts processes with posix_spawn, each in a new session with a clean signal state.
public enum Spawner {
    /// Descriptor choices for stdin / stdout.
    public enum Stream: Sendable, Equatable {
        case inherit, devNull, descriptor(Int32)
        var raw: Int32 {
            switch self {
            case .inherit: return -1
            case .devNull: return -2
            case .descriptor(let fd): return fd
            }
        }
    }

    /// A descriptor of ours that the child gets as `target` (2 and up: its stderr, or one like
    /// s6's notification-fd).
    public typealias ExtraDescriptor = (source: Int32, target: Int32)

    /// Who a child runs as when it is not svtree's own user.
    public struct Identity: Sendable, Equatable {
        public var user: uid_t
        public var group: gid_t
        public init(user: uid_t, group: gid_t) {
            self.user = user
            self.group = group
        }
    }

    /// Starts `path`; with `cgroup`, the child starts inside that cgroup (clone3,
    /// CLONE_INTO_CGROUP), so nothing it forks can be left outside; with `identity`, as that
    /// user and group only.
    public static func spawn(_ path: String, arguments: [String], environment: [String], directory: String,
                             stdin: Stream, stdout: Stream, extra: ExtraDescriptor? = nil,
                             cgroup: String? = nil, identity: Identity? = nil) throws(Errno) -> Int32 {
        // -1: the child's descriptor is left as ours is (closed on exec: all of ours are CLOEXEC).
        var fds = [stdin.raw, stdout.raw]
        if let extra {
            fds += [Int32](repeating: -1, count: Int(extra.target) + 1 - fds.count)
            fds[Int(extra.target)] = extra.source
        }
        var pid: pid_t = 0
        let argv = CStringArray(arguments)
        let envp = CStringArray(environment)
        if cgroup == nil && identity == nil {
            let rc = sv_spawn_mapped(&pid, path, argv.pointers, envp.pointers, directory, fds, Int32(fds.count), 1)
            guard rc == 0 else { throw Errno(rawValue: rc) }
            return pid
        }
        var cgroupFD: Int32 = -1
        if let cgroup { cgroupFD = try SystemCall.retrying { open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC) } }
        defer { if cgroupFD >= 0 { close(cgroupFD) } }
        let rc = sv_spawn_cloned(&pid, path, argv.pointers, envp.pointers, directory, fds, Int32(fds.count),
                                 cgroupFD, identity.map { Int($0.user) } ?? -1, identity.map { Int($0.group) } ?? -1)
        guard rc == 0 else { throw Errno(rawValue: rc) }
        return pid
    }

    /// A program named with a slash is a path; a bare name is looked up on PATH, as a shell
    /// would. nil unless an executable file is found.
    public static func findProgram(_ name: String) -> String? {
        if name.contains("/") { return FileSystem.isExecutableFile(name) ? name : nil }
        let path = environmentValue("PATH") ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first(where: FileSystem.isExecutableFile)
    }

    /// A variable of this process's environment.
    public static func environmentValue(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }

    /// This process's environment with `name` set to `value`.
    public static func environment(setting name: String, to value: String) -> [String] {
        var result: [String] = []
        if var cursor = sv_environ() {
            while let item = cursor.pointee {
                let text = String(cString: item)
                if !text.hasPrefix(name + "=") { result.append(text) }
                cursor += 1
            }
        }
        result.append("\(name)=\(value)")
        return result
    }
}

/// A NULL-terminated `char *[]` that lives as long as this value.
public final class CStringArray {
    public let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

    public init(_ strings: [String]) {
        pointers = .allocate(capacity: strings.count + 1)
        for (i, string) in strings.enumerated() { pointers[i] = strdup(string) }
        pointers[strings.count] = nil
    }

    deinit {
        var i = 0
        while let p = pointers[i] { free(p); i += 1 }
        pointers.deallocate()
    }
}
