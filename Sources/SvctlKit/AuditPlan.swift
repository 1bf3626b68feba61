import SvFormats

/// The pure half of `svctl audit`: which repository paths are restic's, which slot a file
/// falls in, and which slots a backend must hash today.
///
/// A file's slot is its sha256 name (a 256-bit number) modulo the cycle N; day d hashes slot
/// d mod N. A slot whose day passed while no audit ran (after the backend's first audit) is
/// caught up at the next run, so every file present on day d is hashed on every backend that
/// can be read by day d+N.
public enum AuditPlan {
    public enum Kind: Equatable {
        /// `config`: not named by its hash, compared byte for byte with the primary's.
        case config
        /// Named by the sha256 of its content.
        case hashed(name: Substring)
        /// Anything restic would not have written.
        case unexpected
    }

    /// Classifies a path relative to the repository (`locks/` is never listed).
    public static func kind(of path: Substring) -> Kind {
        if path == "config" { return .config }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard let name = parts.last, SnapwatchRecord.isSnapshotID(name.utf8) else { return .unexpected }
        switch parts.count {
        case 2 where ["keys", "index", "snapshots"].contains(parts[0]): return .hashed(name: name)
        case 3 where parts[0] == "data" && parts[1] == name.prefix(2): return .hashed(name: name)
        default: return .unexpected
        }
    }

    /// The 64-hex-digit name as a number, modulo `cycle`.
    public static func slot<S: Collection>(ofName name: S, cycle: Int) -> Int where S.Element == UInt8 {
        var remainder = 0
        for digit in name {
            let value = digit <= 0x39 ? Int(digit) - 0x30 : Int(digit) - 0x61 + 10
            remainder = (remainder * 16 + value) % cycle
        }
        return remainder
    }

    /// `day mod cycle`, never negative.
    public static func todaysSlot(day: Int64, cycle: Int) -> Int {
        Int(((day % Int64(cycle)) + Int64(cycle)) % Int64(cycle))
    }

    /// Slots to hash on a backend today: today's, and every slot whose most recent day (on or
    /// after the backend's first audit) passed without it being hashed.
    public static func dueSlots(day: Int64, cycle: Int, previous: AuditRecord.Backend?) -> [Bool] {
        var due = Array(repeating: false, count: cycle)
        due[todaysSlot(day: day, cycle: cycle)] = true
        guard let previous, previous.slotDays.count == cycle else { return due }
        for slot in 0..<cycle {
            let back = Int64(todaysSlot(day: day - Int64(slot), cycle: cycle))
            let mostRecentDay = day - back
            if mostRecentDay >= previous.firstDay, (previous.slotDays[slot] ?? Int64.min) < mostRecentDay {
                due[slot] = true
            }
        }
        return due
    }
}
