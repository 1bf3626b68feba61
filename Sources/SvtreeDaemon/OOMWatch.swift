import Glibc
import SvSystem

/// inotify on the `memory.events` of entries' cgroups: the kernel sends a modify event when one
/// of its counts changes, so an OOM kill is noticed when it happens, with no polling. Made at
/// the first entry whose cgroup has the memory controller; none on a tree without one.
final class OOMWatch {
    let fd: Int32
    private var watches: [Int32: FileSystem.Identity] = [:]

    init?() {
        fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        if fd < 0 { return nil }
    }

    func watch(_ file: String, for identity: FileSystem.Identity) {
        let wd = inotify_add_watch(fd, file, UInt32(IN_MODIFY))
        if wd >= 0 { watches[wd] = identity }
    }

    func forget(_ identity: FileSystem.Identity) {
        for (wd, owner) in watches where owner == identity {
            inotify_rm_watch(fd, wd)
            watches[wd] = nil
        }
    }

    func forgetAll() {
        for wd in watches.keys { inotify_rm_watch(fd, wd) }
        watches.removeAll()
    }

    /// The entries whose file changed.
    func drain() -> Set<FileSystem.Identity> {
        var changed = Set<FileSystem.Identity>()
        for event in InotifyEvent.drain(fd) {
            if event.has(IN_IGNORED) { watches[event.watch] = nil }
            if event.has(IN_MODIFY), let identity = watches[event.watch] { changed.insert(identity) }
        }
        return changed
    }

    /// `oom_kill N` of a `memory.events` file.
    static func kills(_ file: String) -> Int? {
        guard let bytes = try? FileSystem.readBytes(file, limit: 4096) else { return nil }
        let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("oom_kill ") }
        return line.flatMap { Int($0.dropFirst("oom_kill ".count)) }
    }
}
