import Glibc

extension Supervisor {
    /// Kills what a service's run left behind once it has exited: the rest of its session,
    /// and orphans adopted by this subreaper that its processes started (told by the marker
    /// variable in their environment). Repeats until nothing is left, so no copy outlives it.
    func killLeftovers(session: Int32, unitPath: String) {
        killRepeatedly(what: unitPath) { table in
            var roots: [Int32] = []
            for child in table.children(of: selfPid) where owners[child] == nil {
                guard let marker = ProcessTable.environmentValue(child, Entry.markerVariable) else { continue }
                let owner = ownerPath(ofMarker: marker)
                // An orphan of a unit that no longer exists belongs to nobody alive: it goes too.
                if owner == unitPath || owner == nil { roots.append(child) }
            }
            return table.descendants(of: roots).union(table.members(ofSession: session))
        }
    }

    /// At exit: nothing below this process may survive it.
    func sweepDescendants() {
        killRepeatedly(what: directory) { table in table.descendants(of: [selfPid]) }
        reapChildren()
        pendingExits.removeAll()
    }

    private func killRepeatedly(what: String, victims find: (ProcessTable) -> Set<Int32>) {
        for round in 0..<200 {
            reapChildren()
            var victims = find(ProcessTable.scan())
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
