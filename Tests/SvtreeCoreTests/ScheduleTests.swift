import SvBase
import SvSupervision
import Testing

/// `2026-03-29T01:00` read as UTC, in Unix seconds.
func utc(_ text: String) -> Int64 {
    let parts = text.split(whereSeparator: { "-T:".contains($0) }).map { Int($0)! }
    return CivilDate.day(year: Int64(parts[0]), month: parts[1], day: parts[2]) * 86_400
        + Int64(parts[3]) * 3600 + Int64(parts[4]) * 60
}

@Suite struct ScheduleTests {
    static let berlin = try! ZoneFile("Europe/Berlin")
    static let newYork = try! ZoneFile("America/New_York")

    struct Row: Sendable, CustomStringConvertible {
        var schedule: String, zone: String, after: String, next: String
        var description: String { "\(schedule) in \(zone) after \(after)" }
    }

    static let table: [Row] = [
        // Berlin springs forward on 2026-03-29 at 02:00 CET (01:00 UTC): 02:30 does not exist.
        Row(schedule: "30 2 * * *", zone: "Europe/Berlin", after: "2026-03-28T12:00", next: "2026-03-29T01:00"),
        Row(schedule: "30 2 * * *", zone: "Europe/Berlin", after: "2026-03-29T01:00", next: "2026-03-30T00:30"),
        // ... and falls back on 2026-10-25 at 03:00 CEST (01:00 UTC): 02:30 happens twice, runs once.
        Row(schedule: "30 2 * * *", zone: "Europe/Berlin", after: "2026-10-24T12:00", next: "2026-10-25T00:30"),
        Row(schedule: "30 2 * * *", zone: "Europe/Berlin", after: "2026-10-25T00:30", next: "2026-10-26T01:30"),
        Row(schedule: "0 * * * *", zone: "Europe/Berlin", after: "2026-10-25T00:00", next: "2026-10-25T02:00"),
        Row(schedule: "0 3 * * *", zone: "Europe/Berlin", after: "2026-03-28T12:00", next: "2026-03-29T01:00"),
        Row(schedule: "@daily", zone: "Europe/Berlin", after: "2026-07-01T12:00", next: "2026-07-01T22:00"),
        // New York: 2026-03-08 02:00 EST does not exist, 2026-11-01 01:30 EDT repeats.
        Row(schedule: "0 2 * * *", zone: "America/New_York", after: "2026-03-07T12:00", next: "2026-03-08T07:00"),
        Row(schedule: "30 1 * * *", zone: "America/New_York", after: "2026-10-31T12:00", next: "2026-11-01T05:30"),
        Row(schedule: "30 1 * * *", zone: "America/New_York", after: "2026-11-01T05:30", next: "2026-11-02T06:30"),
        // Fields, steps, names, month ends, leap days (UTC).
        Row(schedule: "*/15 * * * *", zone: "UTC", after: "2026-01-01T00:07", next: "2026-01-01T00:15"),
        Row(schedule: "5-10/5 3 * * *", zone: "UTC", after: "2026-01-01T03:05", next: "2026-01-01T03:10"),
        Row(schedule: "0 0 29 2 *", zone: "UTC", after: "2026-01-01T00:00", next: "2028-02-29T00:00"),
        Row(schedule: "0 0 31 * *", zone: "UTC", after: "2026-04-01T00:00", next: "2026-05-31T00:00"),
        Row(schedule: "0 12 * * mon-fri", zone: "UTC", after: "2026-12-05T13:00", next: "2026-12-07T12:00"),
        Row(schedule: "0 0 13 * fri", zone: "UTC", after: "2026-02-01T00:00", next: "2026-02-06T00:00"),
        Row(schedule: "0 0 13 * fri", zone: "UTC", after: "2026-02-07T00:00", next: "2026-02-13T00:00"),
        Row(schedule: "0 0 1 jan,JUL *", zone: "UTC", after: "2026-02-01T00:00", next: "2026-07-01T00:00"),
        Row(schedule: "@monthly", zone: "UTC", after: "2026-01-31T00:00", next: "2026-02-01T00:00"),
        Row(schedule: "@weekly", zone: "UTC", after: "2026-12-07T00:00", next: "2026-12-13T00:00"),
        Row(schedule: "0 0 * * 7", zone: "UTC", after: "2026-12-07T00:00", next: "2026-12-13T00:00"),
        Row(schedule: "@yearly", zone: "UTC", after: "2026-06-01T00:00", next: "2027-01-01T00:00"),
        Row(schedule: "@hourly", zone: "UTC", after: "2026-06-01T00:59", next: "2026-06-01T01:00"),
        Row(schedule: "59 23 31 12 *", zone: "UTC", after: "2026-12-31T23:59", next: "2027-12-31T23:59"),
    ]

    static func zone(_ name: String) -> any TimeZoneRules {
        switch name {
        case "Europe/Berlin": return berlin
        case "America/New_York": return newYork
        default: return UTC()
        }
    }

    @Test(arguments: table)
    func nextDue(row: Row) throws {
        let schedule = try Schedule.parse(row.schedule)
        #expect(schedule.next(after: utc(row.after), zone: Self.zone(row.zone)) == utc(row.next))
    }

    @Test func everyCountsFromTheLastStart() throws {
        #expect(try Schedule.parse("every 90s") == .every(90 * nanosPerSecond))
        #expect(try Schedule.parse("every 1h30m\n") == .every(5400 * nanosPerSecond))
        #expect(try Schedule.parse("every 1d").next(after: 100, zone: UTC()) == 100 + 86_400)
        #expect(try Schedule.parse("every 1h30m").description == "every 1h30m")
    }

    @Test(arguments: ["", "\n", "* * * * * *", "61 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8",
                      "every 0s", "every -1h", "every 5", "every 5x", "every", "every 1h 2h", "@sometimes",
                      "30 2 31 2 *", "*/0 * * * *", "5-1 * * * *", "1,,2 * * * *", "a b c d e", "\u{1}\u{2}\u{ff}",
                      "0 0 * * *\n0 1 * * *"])
    func badSchedules(text: String) {
        #expect(throws: ScheduleError.self) { try Schedule.parse(text) }
    }

    @Test func aMegabyteOfGarbageIsRefusedQuickly() {
        #expect(throws: ScheduleError.self) { try Schedule.parse(String(repeating: "* ", count: 500_000)) }
    }
}

@Suite struct SpreadTests {
    @Test func stableAndDifferentPerPath() {
        let hour = 3600 * nanosPerSecond
        let a = Spread.offset(path: "/srv/svtree/clients/alice/services/audit", window: hour)
        #expect(a == Spread.offset(path: "/srv/svtree/clients/alice/services/audit", window: hour))
        #expect(a != Spread.offset(path: "/srv/svtree/clients/bob/services/audit", window: hour))
        #expect(a >= 0 && a < hour)
        #expect(Spread.offset(path: "/x", window: 0) == 0)
    }

    @Test func aThousandClientsSpreadEvenly() {
        let window = 3600 * nanosPerSecond
        var buckets = [Int](repeating: 0, count: 10)
        for i in 0..<1000 {
            let offset = Spread.offset(path: "/srv/svtree/clients/client\(i)/services/audit", window: window)
            buckets[Int(offset * 10 / window)] += 1
        }
        #expect(buckets.allSatisfy { $0 <= 200 }, "\(buckets)")
        #expect(buckets.allSatisfy { $0 >= 50 }, "\(buckets)")
    }
}

@Suite struct JobTimetableTests {
    let zone = UTC()
    func at(_ text: String) -> WallTime { WallTime(unixSeconds: utc(text)) }

    @Test func everyJob() throws {
        let hourly = JobTimetable(schedule: try Schedule.parse("every 1h"), offset: 7 * nanosPerSecond)
        let now = at("2026-06-01T12:00")
        // Never run: one offset after svtree first saw it.
        #expect(hourly.due(lastStart: nil, now: now, since: now, zone: zone) == now + 7 * nanosPerSecond)
        #expect(hourly.due(lastStart: at("2026-06-01T11:30"), now: now, since: now, zone: zone) == at("2026-06-01T12:30"))
        // Missed while svtree was down: due now, once.
        #expect(hourly.due(lastStart: at("2026-06-01T08:00"), now: now, since: now, zone: zone) == now)
        #expect(hourly.due(afterSkipped: at("2026-06-01T12:30"), zone: zone) == at("2026-06-01T13:30"))
    }

    @Test func calendarJob() throws {
        let daily = JobTimetable(schedule: try Schedule.parse("@daily"), offset: 600 * nanosPerSecond)
        // Ran yesterday at its slot: due at today's 00:10.
        #expect(daily.due(lastStart: at("2026-06-01T00:10"), now: at("2026-06-02T00:05"), since: at("2026-06-02T00:00"),
                          zone: zone) == at("2026-06-02T00:10"))
        // Last ran two days ago: today's slot was missed, run now.
        #expect(daily.due(lastStart: at("2026-05-31T00:10"), now: at("2026-06-02T12:00"), since: at("2026-06-02T12:00"),
                          zone: zone) == at("2026-06-02T12:00"))
        // Never run: nothing was missed, the next slot.
        #expect(daily.due(lastStart: nil, now: at("2026-06-02T12:00"), since: at("2026-06-02T12:00"), zone: zone)
                == at("2026-06-03T00:10"))
        // Started at its slot: the next is tomorrow's, never the same one again.
        #expect(daily.due(lastStart: at("2026-06-03T00:10"), now: at("2026-06-03T00:10"), since: at("2026-06-02T12:00"),
                          zone: zone) == at("2026-06-04T00:10"))
        #expect(daily.due(afterSkipped: at("2026-06-03T00:10"), zone: zone) == at("2026-06-04T00:10"))
    }
}
