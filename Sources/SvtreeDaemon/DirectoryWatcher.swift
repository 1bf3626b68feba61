import Glibc
import SvSystem
import SystemPackage

/// inotify over the supervised directory and over the directories of broken entries, so a
/// fix is noticed at once and nothing is retried in a loop. The set of watched paths is
/// recomputed after every scan; the watcher adds and removes watches to match.
public final class DirectoryWatcher {
    public let fd: Int32
    private var watches: [String: Int32] = [:]
    private static let mask = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB
        | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF)

    /// nil when no inotify instance is left (`fs.inotify.max_user_instances`).
    public init?() {
        fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        if fd < 0 { return nil }
    }

    /// Watches exactly `paths` (those that exist). Returns the ones that could not be watched,
    /// and whether any watch is new: a change made before it was added went unseen.
    @discardableResult
    public func watch(exactly paths: Set<String>) -> (failures: [(String, Errno)], added: Bool) {
        var added = false
        for (path, wd) in watches where !paths.contains(path) {
            inotify_rm_watch(fd, wd)
            watches[path] = nil
        }
        var failures: [(String, Errno)] = []
        for path in paths where watches[path] == nil {
            let wd = inotify_add_watch(fd, path, DirectoryWatcher.mask)
            if wd >= 0 {
                watches[path] = wd
                added = true
            } else if errno != ENOENT {
                failures.append((path, FileSystem.lastErrno))
            }
        }
        return (failures, added)
    }

    /// Reads pending events (the caller rescans after any); forgets watches the kernel dropped.
    public func drain() {
        for event in InotifyEvent.drain(fd) where event.has(IN_IGNORED | IN_MOVE_SELF | IN_DELETE_SELF) {
            guard let path = watches.first(where: { $0.value == event.watch })?.key else { continue }
            // A moved directory keeps its watch on the old inode: drop it so the path is watched anew.
            if event.has(IN_MOVE_SELF) { inotify_rm_watch(fd, event.watch) }
            watches[path] = nil
        }
    }
}
