import Glibc
import SvFormats
import SvSystem
import SystemPackage

/// inotify on a repository's `snapshots/`, or, until it exists, on the nearest existing
/// ancestor (a repository that is not initialised yet, or a folder rclone makes lazily).
public final class SnapshotsWatcher {
    public enum Event: Equatable {
        /// A snapshot file closed after writing in place (rclone), or renamed into place (restic's
        /// local backend, rest-server).
        case snapshot(String, writtenInPlace: Bool)
        /// The folder (or an ancestor) came or went: watch and list again.
        case relist
        /// The kernel's event queue overflowed: events were lost, list again.
        case overflow
        /// A snapshot was deleted, or a lock (every restic command, a prune too, ends by
        /// deleting its lock): the repository's size may have changed.
        case repositoryChanged
        /// The file watched with `watchFile` was written, replaced or removed.
        case fileChanged
    }

    public let fd: Int32
    public let snapshots: String
    private var snapshotsWatch: Int32 = -1
    private var ancestorWatch: Int32 = -1
    public private(set) var waitingFor: String?
    private var locksWatch: Int32 = -1
    /// A file (the quota) watched through its directory, as editors replace files.
    private var fileWatch: Int32 = -1
    private var watchedFileName: ArraySlice<UInt8> = []

    /// Why there is no inotify instance (fd -1): the caller lists on a timer instead.
    public let unavailable: Errno?

    public init(repository: String) {
        fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        unavailable = fd < 0 ? FileSystem.lastErrno : nil
        snapshots = repository + "/snapshots"
    }

    public var isWatchingSnapshots: Bool { snapshotsWatch >= 0 }

    /// Watches `snapshots/` when it exists, else the nearest ancestor; returns whether
    /// `snapshots/` is watched (the caller then lists it).
    public func arm() -> Bool {
        guard fd >= 0 else {
            waitingFor = FileSystem.exists(snapshots) ? nil : snapshots
            return waitingFor == nil
        }
        for wd in [snapshotsWatch, ancestorWatch] where wd >= 0 { inotify_rm_watch(fd, wd) }
        snapshotsWatch = -1
        ancestorWatch = -1
        let wd = inotify_add_watch(fd, snapshots, UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR))
        if wd >= 0 {
            snapshotsWatch = wd
            waitingFor = nil
            if locksWatch >= 0 { inotify_rm_watch(fd, locksWatch) }
            locksWatch = inotify_add_watch(fd, FileSystem.parentDirectory(snapshots) + "/locks", UInt32(IN_DELETE | IN_ONLYDIR))
            return true
        }
        var missing = snapshots
        while true {
            let parent = FileSystem.parentDirectory(missing)
            let watch = inotify_add_watch(fd, parent, UInt32(IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR))
            if watch >= 0 {
                ancestorWatch = watch
                break
            }
            if parent == "/" || parent == "." { break }
            missing = parent
        }
        waitingFor = missing
        // It may have appeared between the failed watch and this one.
        return FileSystem.exists(snapshots) ? arm() : false
    }

    /// Watches `path` (through its directory, which must exist) for `.fileChanged`.
    public func watchFile(_ path: String) {
        guard fd >= 0 else { return }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        watchedFileName = ArraySlice(Array(name.utf8))
        fileWatch = inotify_add_watch(fd, FileSystem.parentDirectory(path),
                                      UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR))
    }

    /// Pending events, in order.
    public func drain() -> [Event] {
        InotifyEvent.drain(fd).compactMap { event in
            if event.has(IN_Q_OVERFLOW) { return .overflow }
            if event.watch == ancestorWatch { return .relist }
            if event.watch == fileWatch { return event.name == watchedFileName ? .fileChanged : nil }
            if event.watch == locksWatch { return event.has(IN_DELETE) ? .repositoryChanged : nil }
            guard event.watch == snapshotsWatch else { return nil }
            if event.has(IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED) { return .relist }
            guard SnapwatchRecord.isSnapshotID(event.name) else { return nil }
            if event.has(IN_DELETE) { return .repositoryChanged }
            return .snapshot(String(decoding: event.name, as: UTF8.self), writtenInPlace: event.has(IN_CLOSE_WRITE))
        }
    }

    /// The snapshot ids in `snapshots/` with their modification times, oldest first.
    public func list() -> [(id: String, time: Int64)] {
        guard let names = try? FileSystem.list(snapshots) else { return [] }
        return names.filter { SnapwatchRecord.isSnapshotID($0.utf8) }
            .map { ($0, modificationTime($0) ?? 0) }
            .sorted { ($0.1, $0.0) < ($1.1, $1.0) }
    }

    public func modificationTime(_ id: String) -> Int64? {
        var st = stat()
        guard stat(snapshots + "/" + id, &st) == 0 else { return nil }
        return Int64(st.st_mtim.tv_sec)
    }
}
