import SvBase

/// When a job is due: its schedule, shifted by its spread offset, with catch-up. Pure: the
/// last start (kept on disk by the shell), the time now and the zone come in.
public struct JobTimetable: Sendable, Equatable {
    public var schedule: Schedule
    /// The job's fixed offset in [0, schedule-spread), ns (see `Spread`).
    public var offset: Int64

    public init(schedule: Schedule, offset: Int64 = 0) {
        self.schedule = schedule
        self.offset = offset
    }

    /// The next due time, knowing the last start (nil: never run). A due time that passed
    /// while nothing ran the job (svtree down, the client disabled) is due now, once.
    /// `since`: when this svtree first saw the job (an `every` job never run starts one
    /// offset after it).
    public func due(lastStart: WallTime?, now: WallTime, since: WallTime, zone: any TimeZoneRules) -> WallTime? {
        switch schedule {
        case .every(let interval):
            guard let lastStart else { return since + offset }
            let next = lastStart + interval
            return next <= now ? now : next
        case .calendar:
            guard let lastStart else { return calendarDue(after: now, zone: zone) }
            guard let missed = calendarDue(after: lastStart, zone: zone) else { return nil }
            return missed <= now ? now : missed
        }
    }

    /// The due time after one that was skipped because the job was still running.
    public func due(afterSkipped skipped: WallTime, zone: any TimeZoneRules) -> WallTime? {
        switch schedule {
        case .every(let interval): return skipped + interval
        case .calendar: return calendarDue(after: skipped, zone: zone)
        }
    }

    /// The first calendar time whose shifted instant comes strictly after `time`.
    private func calendarDue(after time: WallTime, zone: any TimeZoneRules) -> WallTime? {
        let base = time - offset
        // The calendar speaks in whole seconds: a base inside a second counts as that second.
        guard let next = schedule.next(after: base.unixNanos / nanosPerSecond, zone: zone) else { return nil }
        return WallTime(unixSeconds: next) + offset
    }
}

/// `schedule-spread`: each job's fixed offset, from a hash of its directory path, so that the
/// audits of a thousand clients do not start in the same second, and a job keeps its slot
/// across restarts (Swift's Hasher is seeded per process; this is not).
public enum Spread {
    public static func offset(path: String, window: Int64) -> Int64 {
        guard window > 0 else { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a 64
        for byte in path.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        // splitmix64's finaliser: neighbouring names (client1, client2) land far apart.
        hash ^= hash >> 30
        hash = hash &* 0xbf58_476d_1ce4_e5b9
        hash ^= hash >> 27
        hash = hash &* 0x94d0_49bb_1331_11eb
        hash ^= hash >> 31
        let milliseconds = UInt64(max(1, window / nanosPerMilli))
        return Int64(hash % milliseconds) * nanosPerMilli
    }
}
