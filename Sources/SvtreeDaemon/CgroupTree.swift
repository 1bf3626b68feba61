import Glibc
import SvBase
import SvSystem

/// Exact teardown by cgroup v2, where the hierarchy svtree lives in is writable (Delegate=yes
/// under systemd). svtree moves itself into a `supervisor` leaf and starts every service and
/// logger in a cgroup of its own (`<entry>/main`, `<entry>/log`), so that `cgroup.kill` ends
/// everything a unit ever started, whatever it did to escape its session or its environment.
public final class CgroupTree {
    /// The cgroup that holds svtree's leaf and the entries' cgroups.
    public let base: String
    /// Where svtree was; it goes back there before removing a base it created.
    private let original: String
    private let createdBase: Bool

    /// nil, with the reason, when no writable cgroup v2 is available.
    public static func setUp() -> (CgroupTree?, String) {
        guard let mount = cgroup2Mount() else { return (nil, "no cgroup v2 hierarchy is mounted") }
        guard let own = ownPath() else { return (nil, "no cgroup v2 path in /proc/self/cgroup") }
        let original = mount + (own == "/" ? "" : own)
        // In the root cgroup (nothing delegated) a private child keeps svtrees apart.
        let createdBase = own == "/"
        let base = createdBase ? original + "/svtree-\(getpid())" : original
        if createdBase {
            do { try FileSystem.makeDirectory(base) } catch { return (nil, "\(base): \(error)") }
        }
        // A nested svtree was started by its parent in a unit cgroup of its own, with no
        // controllers enabled: it may stay there. Moving a process costs an RCU grace period
        // (10-15 ms here), paid only by the top svtree.
        let nested = !createdBase && Spawner.environmentValue(ServiceMarker.variable) != nil
        if nested, FileSystem.exists(original + "/cgroup.procs"), canCreateChildren(in: original) {
            return (CgroupTree(base: base, original: original, createdBase: false), base)
        }
        do {
            try FileSystem.makeDirectory(base + "/supervisor")
        } catch {
            return (nil, "\(base)/supervisor: \(error)")
        }
        guard write("\(getpid())", to: base + "/supervisor/cgroup.procs") else {
            return (nil, "cannot move into \(base)/supervisor (\(FileSystem.lastErrno))")
        }
        let tree = CgroupTree(base: base, original: original, createdBase: createdBase)
        if createdBase { removeStale(in: original) }
        return (tree, base)
    }

    /// Children may hold processes next to ours only while no controller is enabled below.
    private static func canCreateChildren(in path: String) -> Bool {
        let enabled = FileSystem.readLine(path + "/cgroup.subtree_control") ?? ""
        return enabled.isEmpty
    }

    private init(base: String, original: String, createdBase: Bool) {
        self.base = base
        self.original = original
        self.createdBase = createdBase
    }

    /// The cgroup of one unit, created if needed; nil if it cannot be.
    public func unitPath(entry: String, unit: String) -> String? {
        let entryPath = base + "/" + entry
        let path = entryPath + "/" + unit
        guard (try? FileSystem.makeDirectory(entryPath)) != nil, (try? FileSystem.makeDirectory(path)) != nil else { return nil }
        return path
    }

    /// The kernel's delegation: the directory and the files that create, fill and configure
    /// children go to the unit's user; its own limits and `cgroup.kill` stay svtree's.
    static func delegate(_ path: String, to identity: Spawner.Identity) {
        for name in ["", "/cgroup.procs", "/cgroup.threads", "/cgroup.subtree_control"] {
            chown(path + name, identity.user, identity.group)
        }
    }

    /// Kills everything in the cgroup (recursively) and waits, bounded, until it is empty.
    public func kill(_ path: String) { CgroupTree.killAndRemove(path) }

    /// The same for any cgroup (a dead predecessor's): killed, waited for, removed.
    static func killAndRemove(_ path: String) {
        guard FileSystem.exists(path) else { return }
        if !CgroupTree.write("1", to: path + "/cgroup.kill") {
            // Kernels before 5.14: SIGKILL each member until none is left.
            var rounds = 0
            while !CgroupTree.isEmpty(path) && rounds < 100 {
                for pid in members(path) { Glibc.kill(pid, SIGKILL) }
                usleep(1000)
                rounds += 1
            }
        }
        waitEmpty(path, milliseconds: 1000)
        // A killed cgroup is not reused: on this kernel a child cloned into a cgroup that was
        // ever killed is killed at birth. The next spawn makes a fresh one.
        CgroupTree.removeTree(path)
    }

    /// Bases left by svtrees that died without dismantling theirs (SIGKILL): empty, so removable.
    static func removeStale(in parent: String) {
        guard let names = try? FileSystem.list(parent) else { return }
        for name in names where name.hasPrefix("svtree-") {
            guard let pid = Int32(name.dropFirst("svtree-".count)), pid != getpid(),
                  !FileSystem.exists("/proc/\(pid)") else { continue }
            if isEmpty(parent + "/" + name) { removeTree(parent + "/" + name) }
        }
    }

    /// The same, beside this process's own cgroup: what a SIGKILLed svtree started from here
    /// left (tests end their trees that way).
    public static func removeStaleBases() {
        guard let mount = cgroup2Mount(), let own = ownPath() else { return }
        removeStale(in: mount + (own == "/" ? "" : own))
    }

    /// rmdir of a cgroup and of those a nested svtree made below it, deepest first.
    private static func removeTree(_ path: String) {
        if let names = try? FileSystem.list(path) {
            for name in names where !name.contains(".") {
                if let info = try? FileSystem.info(path + "/" + name), info.kind == .directory {
                    removeTree(path + "/" + name)
                }
            }
        }
        rmdir(path)
    }

    /// Waits, bounded, for `populated 0`: the kernel signals every change of cgroup.events to
    /// poll(2) as POLLPRI, so this sleeps until the last process is gone, never in steps.
    private static func waitEmpty(_ path: String, milliseconds: Int32) {
        let fd = open(path + "/cgroup.events", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let deadline = EventLoop.now + Int64(milliseconds) * 1_000_000
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            // Reading through this descriptor is what the next POLLPRI is measured against.
            let n = pread(fd, &buffer, buffer.count, 0)
            if n <= 0 || String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").contains("populated 0") {
                return
            }
            let left = Int32((deadline - EventLoop.now) / 1_000_000)
            guard left > 0 else { return }
            var entry = pollfd(fd: fd, events: Int16(POLLPRI), revents: 0)
            _ = poll(&entry, 1, left)
        }
    }

    public static func isEmpty(_ path: String) -> Bool {
        let events = String(decoding: (try? FileSystem.readBytes(path + "/cgroup.events")) ?? [], as: UTF8.self)
        return events.split(separator: "\n").contains("populated 0") || !FileSystem.exists(path)
    }

    private static func members(_ path: String) -> [Int32] {
        String(decoding: (try? FileSystem.readBytes(path + "/cgroup.procs")) ?? [], as: UTF8.self)
            .split(separator: "\n").compactMap { Int32($0) }
    }

    /// Kills and removes an entry's cgroups.
    public func remove(entry: String) {
        let entryPath = base + "/" + entry
        for unit in ["main", "log"] { kill(entryPath + "/" + unit) }
        rmdir(entryPath)
    }

    /// At exit: back where svtree started, and its own cgroups removed.
    public func dismantle() {
        if createdBase {
            _ = CgroupTree.write("\(getpid())", to: original + "/cgroup.procs")
            rmdir(base + "/supervisor")
            rmdir(base)
        }
    }

    static func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return (try? FileSystem.writeAll(fd, Array(text.utf8))) != nil
    }

    /// The mount point of the cgroup2 file system, from /proc/self/mountinfo.
    static func cgroup2Mount() -> String? {
        let text = String(decoding: (try? FileSystem.readBytes("/proc/self/mountinfo")) ?? [], as: UTF8.self)
        for line in text.split(separator: "\n") {
            let halves = line.split(separator: " - ", maxSplits: 1)
            guard halves.count == 2, halves[1].hasPrefix("cgroup2 ") else { continue }
            let fields = halves[0].split(separator: " ")
            if fields.count > 4 { return String(fields[4]) }
        }
        return nil
    }

    /// This process's path in the unified hierarchy ("0::/path").
    static func ownPath() -> String? {
        let text = String(decoding: (try? FileSystem.readBytes("/proc/self/cgroup")) ?? [], as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            return String(line.dropFirst(3))
        }
        return nil
    }
}
