import Glibc
import SvBase
import SvFormats
import SvSystem

/// What a previous svtree of the same directory left running when it died by SIGKILL outside
/// systemd (by hand, in a container, under another supervisor): its client svtrees and their
/// services, orphans that hold their `supervise/` locks. Before an entry is first started,
/// what is left of it is ended: its old cgroup (cgroup.kill, then removed), and processes
/// carrying its marker (TERM, then KILL); one line at the end of the first scan says what.
struct Recovery {
    /// Processes outside this svtree carrying a service marker, read once at start (a root
    /// only: a nested svtree's predecessors die with the entry its parent ends).
    var marked: [(pid: Int32, marker: String)]
    /// What was ended, per entry, for the one line.
    var ended: [String] = []

    /// Every process with a marker, except this one and its ancestors.
    static func scanMarked() -> [(pid: Int32, marker: String)] {
        let table = ProcessTable.scan()
        var ancestors: Set<Int32> = [getpid()]
        var pid = getppid()
        while pid > 1, ancestors.insert(pid).inserted { pid = table.entries[pid]?.parent ?? 0 }
        return table.entries.values.compactMap { entry in
            guard !ancestors.contains(entry.pid), !entry.isZombie,
                  let marker = ProcessTable.environmentValue(entry.pid, ServiceMarker.variable) else { return nil }
            return (entry.pid, marker)
        }
    }
}

extension Supervisor {
    /// Ends what a dead predecessor left of this entry, before its first start here.
    func endPredecessor(_ definition: ServiceDefinition) {
        guard let recovery else { return }
        // Cgroup mode: the unit cgroups its supervise/svtree names, when they are not ours.
        var staleEntries: Set<String> = []
        for path in [definition.path, definition.logPath] {
            guard let bytes = try? FileSystem.readBytes(path + "/supervise/svtree", limit: 4096),
                  let cgroup = SupervisorRecord(parsing: String(decoding: bytes, as: UTF8.self)).cgroup,
                  cgroups.map({ !cgroup.hasPrefix($0.base + "/") }) ?? true,
                  FileSystem.exists(cgroup + "/cgroup.procs") else { continue }
            let entry = FileSystem.parentDirectory(cgroup)
            if !CgroupTree.isEmpty(entry) { staleEntries.insert(entry) }
        }
        // Both modes: processes marked with this entry's service (or one below it, for a client).
        let path = definition.path
        let mine = recovery.marked.filter { $0.marker == path || $0.marker.hasPrefix(path + "/") }.map(\.pid)
        // The lock is looked at only when something was found: nothing to end is the usual case.
        guard !staleEntries.isEmpty || !mine.isEmpty, !Self.heldByALiveSupervisor(definition.path) else { return }
        var what: [String] = []
        for stale in staleEntries.sorted() {
            CgroupTree.killAndRemove(stale)
            CgroupTree.removeStale(in: FileSystem.parentDirectory(FileSystem.parentDirectory(stale)))
            what.append("cgroup \(stale)")
        }
        if !mine.isEmpty {
            let left = Self.terminate(mine, marker: path)
            what.append("\(mine.count + left) process\(mine.count + left == 1 ? "" : "es")")
        }
        self.recovery?.ended.append("\(definition.name) (\(what.joined(separator: ", ")))")
    }

    /// Whether another supervisor holds the entry's `supervise/lock` (a second live tree over
    /// the same directory: an operator's mistake that gets the "locked" line, never a kill).
    static func heldByALiveSupervisor(_ path: String) -> Bool {
        let fd = open(path + "/supervise/lock", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK
    }

    /// After the first scan: the one line, and the table let go.
    func finishRecovery() {
        if let ended = recovery?.ended, !ended.isEmpty {
            Diagnostics.warn("\(directory): ended what a previous svtree left running: " + ended.joined(separator: ", "))
        }
        recovery = nil
    }

    /// TERM (a client svtree then stops its services in order), up to 3 s, then KILL to what
    /// still carries the marker, forks made meanwhile included; returns how many were found late.
    private static func terminate(_ pids: [Int32], marker path: String) -> Int {
        for pid in pids { kill(pid, SIGTERM) }
        var waited = 0
        while waited < 3000, pids.contains(where: { kill($0, 0) == 0 && ProcessTable.readStat($0)?.isZombie == false }) {
            usleep(10_000)
            waited += 10
        }
        var late = 0
        for round in 0..<50 {
            let left = Recovery.scanMarked().filter { $0.marker == path || $0.marker.hasPrefix(path + "/") }.map(\.pid)
            if left.isEmpty { break }
            if round == 0 { late = left.filter { !pids.contains($0) }.count }
            for pid in left { kill(pid, SIGKILL) }
            usleep(10_000)
        }
        return late
    }
}
