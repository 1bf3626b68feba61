/// Where local time comes from: the UTC offset in force at an instant. svtree uses the
/// process's zone (`SystemZone`, from TZ or /etc/localtime); tests use zone files directly,
/// so that no test changes the process's TZ under another.
public protocol TimeZoneRules: Sendable {
    /// Seconds east of UTC at Unix time `unix` (seconds).
    func offset(at unix: Int64) -> Int64
}

/// A local date and time, to the minute, with no zone: what a cron line speaks of.
public struct CivilMinute: Comparable, Hashable, Sendable {
    /// Days since 1970-01-01.
    public var day: Int64
    /// Minutes since midnight, 0..<1440.
    public var minute: Int

    public init(day: Int64, minute: Int) {
        self.day = day
        self.minute = minute
    }

    /// The local minute of Unix time `unix` in `zone`, rounded down.
    public init(unix: Int64, zone: any TimeZoneRules) {
        let local = unix + zone.offset(at: unix)
        day = CivilDate.floorDiv(local, 86_400)
        minute = Int((local - day * 86_400) / 60)
    }

    /// Seconds of this minute as if it were UTC.
    var asUTC: Int64 { day * 86_400 + Int64(minute) * 60 }

    public static func < (a: Self, b: Self) -> Bool { (a.day, a.minute) < (b.day, b.minute) }

    /// When this local minute happens in `zone`: its first occurrence when DST repeats it,
    /// and the first moment after it (the end of the gap) when DST skips it.
    public func unix(in zone: any TimeZoneRules) -> Int64 {
        let naive = asUTC
        // Real zones change offset at most once within a day: the offsets half a day either side.
        let offsets = Set([zone.offset(at: naive - 43_200), zone.offset(at: naive + 43_200)])
        let valid = offsets.map { naive - $0 }.filter { zone.offset(at: $0) == naive - $0 }
        if let first = valid.min() { return first }
        // Skipped: the transition lies between the two readings; find its first second.
        let readings = offsets.map { naive - $0 }
        var low = readings.min() ?? naive, high = readings.max() ?? naive
        let after = zone.offset(at: high)
        while low < high {
            let middle = low + (high - low) / 2
            if zone.offset(at: middle) == after { high = middle } else { low = middle + 1 }
        }
        return high
    }
}

/// Calendar arithmetic on day numbers (days since 1970-01-01, proleptic Gregorian).
public enum CivilDate {
    public struct Fields: Equatable, Sendable {
        public var year: Int64
        public var month: Int  // 1...12
        public var day: Int    // 1...31
        /// 0 Sunday ... 6 Saturday.
        public var weekday: Int
    }

    public static func fields(ofDay days: Int64) -> Fields {
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday
        return Fields(year: year, month: month, day: day, weekday: weekday)
    }

    public static func day(year: Int64, month: Int, day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func daysIn(month: Int, year: Int64) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }
}
