import SvBase

/// A job's `schedule` file: `every DURATION`, cron's five fields in local time, or one of
/// `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly` (and cron's `@midnight`, `@annually`).
public enum Schedule: Sendable, Equatable, CustomStringConvertible {
    /// The next run is due one interval (ns) after the last start.
    case every(Int64)
    case calendar(CronFields, text: String)

    public var description: String {
        switch self {
        case .every(let nanos): return "every " + ScheduleDuration.text(nanos)
        case .calendar(_, let text): return text
        }
    }

    /// Parses the file's one line (surrounding blanks and a final newline allowed).
    public static func parse(_ text: String) throws(ScheduleError) -> Schedule {
        let line = text.trimmingSpaces()
        guard !line.isEmpty else { throw .bad("is empty") }
        guard !line.contains("\n") else { throw .bad("has more than one line") }
        guard line.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else { throw .bad("holds characters that are not printable ASCII") }
        if line.hasPrefix("every") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard words.count == 2, words[0] == "every" else { throw .bad("\"\(line)\": say every DURATION, e.g. every 15m") }
            return .every(try ScheduleDuration.parse(String(words[1])))
        }
        if line.hasPrefix("@") {
            let macros = ["@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
                          "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"]
            guard let fields = macros[line] else {
                throw .bad("\"\(line)\" is not one of @hourly, @daily, @weekly, @monthly, @yearly")
            }
            return .calendar(try CronFields.parse(fields), text: line)
        }
        return .calendar(try CronFields.parse(line), text: line)
    }

    /// The first due time (Unix seconds) strictly after `after`, nil if none ever comes.
    /// For `every`, `after` is the last start.
    public func next(after: Int64, zone: any TimeZoneRules) -> Int64? {
        switch self {
        case .every(let nanos): return after + max(1, nanos / nanosPerSecond)
        case .calendar(let fields, _): return fields.next(after: after, zone: zone)
        }
    }
}

public enum ScheduleError: Error, Equatable, CustomStringConvertible {
    case bad(String)

    public var description: String {
        switch self {
        case .bad(let why): return why
        }
    }
}

/// Durations as the job files write them: `90s`, `15m`, `6h`, `1d`, `1h30m`, `500ms`.
public enum ScheduleDuration {
    public static func parse(_ text: String) throws(ScheduleError) -> Int64 {
        let units: [(String, Int64)] = [("ms", nanosPerMilli), ("s", nanosPerSecond), ("m", 60 * nanosPerSecond),
                                        ("h", 3600 * nanosPerSecond), ("d", 86_400 * nanosPerSecond),
                                        ("w", 7 * 86_400 * nanosPerSecond)]
        var rest = Substring(text)
        var total: Int64 = 0
        guard !rest.isEmpty else { throw .bad("no duration given") }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let number = Int64(digits), number < 1_000_000_000 else {
                throw .bad("\"\(text)\" is not a duration: a number and a unit (ms, s, m, h, d, w), e.g. 90s, 6h, 1h30m")
            }
            rest = rest.dropFirst(digits.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) && !(($0.0 == "m") && rest.hasPrefix("ms")) }) else {
                throw .bad("\"\(text)\" has no unit after \(digits) (ms, s, m, h, d, w)")
            }
            rest = rest.dropFirst(unit.0.count)
            total += number * unit.1
        }
        guard total > 0 else { throw .bad("\"\(text)\" is zero: a duration must be positive") }
        return total
    }

    /// `1h30m`, `15m`, `90s`: the largest units first.
    public static func text(_ nanos: Int64) -> String {
        if nanos % nanosPerSecond != 0 { return "\(nanos / nanosPerMilli)ms" }
        var seconds = nanos / nanosPerSecond
        var parts = ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60), ("s", 1)] where seconds >= size {
            parts += "\(seconds / size)\(unit)"
            seconds %= size
        }
        return parts.isEmpty ? "0s" : parts
    }
}

/// Cron's five fields: minute, hour, day of month, month, day of week (0 or 7 Sunday), each
/// `*`, a number, a name (months and weekdays), `a-b`, lists `a,b`, steps `*/n` and `a-b/n`.
/// When both day fields are restricted (neither is `*`), a day matching either is due.
public struct CronFields: Sendable, Equatable {
    public var minutes: Set<Int>
    public var hours: Set<Int>
    public var daysOfMonth: Set<Int>
    public var months: Set<Int>
    public var daysOfWeek: Set<Int>
    public var dayOfMonthRestricted: Bool
    public var dayOfWeekRestricted: Bool

    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public static func parse(_ line: String) throws(ScheduleError) -> CronFields {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 5 else {
            throw .bad("\"\(line)\" has \(fields.count) fields; cron's five are: minute hour day-of-month month day-of-week")
        }
        let minutes = try field(fields[0], "minute", 0...59, names: [])
        let hours = try field(fields[1], "hour", 0...23, names: [])
        let days = try field(fields[2], "day of month", 1...31, names: [])
        let months = try field(fields[3], "month", 1...12, names: monthNames, nameBase: 1)
        var weekdays = try field(fields[4], "day of week", 0...7, names: dayNames)
        if weekdays.remove(7) != nil { weekdays.insert(0) }
        let parsed = CronFields(minutes: minutes, hours: hours, daysOfMonth: days, months: months, daysOfWeek: weekdays,
                                dayOfMonthRestricted: fields[2] != "*", dayOfWeekRestricted: fields[4] != "*")
        guard parsed.canMatch else { throw .bad("\"\(line)\" names no day that exists: it would never run") }
        return parsed
    }

    private static func field(_ text: String, _ what: String, _ range: ClosedRange<Int>, names: [String],
                              nameBase: Int = 0) throws(ScheduleError) -> Set<Int> {
        func value(_ word: Substring) throws(ScheduleError) -> Int {
            if let number = Int(word), range.contains(number) { return number }
            if let index = names.firstIndex(of: word.lowercased()) { return index + nameBase }
            throw .bad("\(what) \"\(word)\" is not in \(range.lowerBound)-\(range.upperBound)"
                + (names.isEmpty ? "" : " nor a name (\(names.joined(separator: ",")))"))
        }
        var result = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, !parts[0].isEmpty else { throw .bad("\(what) \"\(item)\" is not a cron field") }
            var step = 1
            if parts.count == 2 {
                guard let n = Int(parts[1]), n > 0, n <= range.upperBound else {
                    throw .bad("\(what) step \"\(parts[1])\" is not a number from 1 to \(range.upperBound)")
                }
                step = n
            }
            let bounds: ClosedRange<Int>
            if parts[0] == "*" {
                bounds = range
            } else if let dash = parts[0].firstIndex(of: "-") {
                let low = try value(parts[0][..<dash]), high = try value(parts[0][parts[0].index(after: dash)...])
                guard low <= high else { throw .bad("\(what) range \"\(parts[0])\" runs backwards") }
                bounds = low...high
            } else {
                let single = try value(parts[0])
                bounds = single...(parts.count == 2 ? range.upperBound : single)
            }
            result.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return result
    }

    /// Whether some real date matches (not `30 2 31 2 *`).
    var canMatch: Bool {
        if dayOfWeekRestricted && !daysOfWeek.isEmpty { return true }
        return months.contains { month in daysOfMonth.contains { $0 <= CivilDate.daysIn(month: month, year: 2000) } }
    }

    func dayMatches(_ date: CivilDate.Fields) -> Bool {
        guard months.contains(date.month) else { return false }
        let byMonthDay = daysOfMonth.contains(date.day), byWeekday = daysOfWeek.contains(date.weekday)
        switch (dayOfMonthRestricted, dayOfWeekRestricted) {
        case (true, true): return byMonthDay || byWeekday
        case (true, false): return byMonthDay
        case (false, true): return byWeekday
        case (false, false): return true
        }
    }

    /// The first matching local minute's instant strictly after `after` (Unix seconds). A
    /// local time that DST skips runs at the end of the gap; one it repeats, at its first
    /// occurrence only.
    public func next(after: Int64, zone: any TimeZoneRules) -> Int64? {
        let start = CivilMinute(unix: after, zone: zone)
        let sortedHours = hours.sorted(), sortedMinutes = minutes.sorted()
        // Eight years cover every leap-day schedule.
        for day in start.day...(start.day + 8 * 366) where dayMatches(CivilDate.fields(ofDay: day)) {
            for hour in sortedHours {
                for minute in sortedMinutes {
                    let candidate = CivilMinute(day: day, minute: hour * 60 + minute)
                    guard candidate > start else { continue }
                    let unix = candidate.unix(in: zone)
                    if unix > after { return unix }
                }
            }
        }
        return nil
    }
}
