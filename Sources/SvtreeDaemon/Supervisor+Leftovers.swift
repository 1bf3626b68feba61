import Glibc
import SvBase
import SvSupervision
import SvSystem

extension Supervisor {
    /// Kills what a service's run left behind once it has exited: the rest of its session,
    /// and orphans adopted by this subreaper that its processes started (told by the marker
    /// variable in their environment). Repeats until nothing is left, so no copy outlives it.
    ///
    /// Everything it left is below this subreaper: a process whose parent dies comes to us. So
    /// only our unowned children and what is below them are read, never the whole of /proc (a
    /// root over a thousand clients ends a thousand runs at teardown).
    func killLeftovers(session: Int32, unitPath: String) {
        killRepeatedly(what: unitPath) {
            var roots: [Int32] = []
            for child in ProcessTable.children(of: selfPid) where !children.owns(child) {
                guard let info = ProcessTable.readStat(child), !info.isZombie else { continue }
                if info.session == session {
                    roots.append(child)
                    continue
                }
                guard let marker = ProcessTable.environmentValue(child, ServiceMarker.variable) else { continue }
                let owner = ownerPath(ofMarker: marker)
                // An orphan of a unit that no longer exists belongs to nobody alive: it goes too.
                if owner == unitPath || owner == nil { roots.append(child) }
            }
            return ProcessTable.subtree(of: roots)
        }
    }

    /// At exit: nothing below this process may survive it.
    func sweepDescendants() {
        killRepeatedly(what: directory) { ProcessTable.subtree(of: [selfPid]) }
        reapChildren()
        children.forgetExits()
    }

    private func killRepeatedly(what: String, victims find: () -> Set<Int32>) {
        for round in 0..<200 {
            reapChildren()
            var victims = find()
            victims.remove(selfPid)
            if victims.isEmpty { return }
            for pid in victims { kill(pid, SIGKILL) }
            // SIGKILL is not instant; a short pause lets the killed exit before the next look.
            usleep(UInt32(min(round + 1, 20) * 500))
        }
        Diagnostics.warn("\(what): processes still alive after repeated SIGKILL")
    }

    /// The unit whose path is the longest prefix of a marker (a nested tree marks deeper paths).
    func ownerPath(ofMarker marker: String) -> String? {
        var best: String?
        for entry in entries.values {
            for role in [EntryMachine.Role.main, .log] where role == .main || entry.definition.log != nil {
                let path = entry.path(role)
                if (marker == path || marker.hasPrefix(path + "/")) && path.count > (best?.count ?? -1) {
                    best = path
                }
            }
        }
        return best
    }
}
