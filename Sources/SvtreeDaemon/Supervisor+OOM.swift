import Glibc
import SvSystem

/// OOM kills in an entry's cgroup, noticed as they happen (OOMWatch) and kept in the entry's
/// `supervise/svtree` with the time of the last, so svctl can tell one of the last day.
extension Supervisor {
    func watchOOMKills(_ entry: Entry, _ cgroups: CgroupTree) {
        let file = cgroups.base + "/" + entry.cgroupName + "/memory.events"
        guard let kills = OOMWatch.kills(file) else { return }
        if oomWatch == nil, let watch = OOMWatch() {
            oomWatch = watch
            do { try loop.add(watch.fd, token: Supervisor.oomToken) } catch { Diagnostics.warn("cannot watch OOM kills: \(error)") }
        }
        oomWatch?.watch(file, for: entry.identity)
        entry.oomKills = kills
    }

    func handleOOMEvents() {
        guard let changed = oomWatch?.drain() else { return }
        for identity in changed {
            if let entry = entries[identity] { noteOOMKills(entry) }
        }
    }

    /// Reads the entry's count again: warns of new kills and marks its status to be written.
    /// Also called when the entry goes away, so a kill of its last moments (when the watches
    /// are already removed for the stop) is told too.
    func noteOOMKills(_ entry: Entry) {
        guard let cgroups, let before = entry.oomKills,
              let kills = OOMWatch.kills(cgroups.base + "/" + entry.cgroupName + "/memory.events"), kills != before
        else { return }
        entry.oomKills = kills
        if kills > before {
            entry.lastOOMKill = EventLoop.wallNow
            Diagnostics.warn("\(directory)/\(entry.definition.name): OOM kill in its cgroup (\(kills) since it started)")
        }
        dirtyStatus.insert(StatusKey(identity: entry.identity, role: .main))
    }
}
