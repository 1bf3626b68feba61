import SvBase
@testable import SvctlKit
import Testing

/// `alert-ages` `auto`: thresholds from each client's own cadence, and what a month of
/// alerts looks like with them.
@Suite(.timeLimit(.minutes(10))) struct AutoAgesTests {
    static let hour: Int64 = 3600, day: Int64 = 86400, week: Int64 = 604800

    func auto(_ times: [Int64]) -> BackupReport.AlertAges {
        var ages = BackupReport.AlertAges()
        ages.warningAuto = true
        ages.criticalAuto = true
        ages.resolveAuto(snapshotTimes: times)
        return ages
    }

    @Test func medianOfTheLastTenIntervals() {
        let daily = (0..<20).map { Int64($0) * Self.day }
        #expect(auto(daily).warningSeconds == 36 * Self.hour && auto(daily).criticalSeconds == 72 * Self.hour)
        #expect(auto(daily).source == "auto: median interval 1d00h of the last 10 snapshots")
        // One long gap among ten does not move the median.
        var gap = (0..<10).map { Int64($0) * Self.hour }
        gap.append(gap.last! + 30 * Self.hour)
        #expect(auto(gap).warningSeconds == 90 * 60)
        #expect(auto([0, Self.day]).warningSeconds == 24 * Self.hour && auto([0, Self.day]).criticalSeconds == 28 * Self.hour)
        #expect(auto([]).source.contains("fewer than 3"))
    }

    /// A deterministic jitter of up to ±2 % of the period.
    func jitter(_ k: Int, _ period: Int64) -> Int64 { Int64((k * 7919) % 41 - 20) * period / 1000 }

    /// 30 days at a 5-minute alert cadence for a client backing up every `period` (with ten
    /// snapshots of history), skipping the backup numbered `missed`; returns the alerts
    /// (notifications to a health other than ok), the recoveries, and the time from the last
    /// snapshot before the gap to the first alert.
    func month(period: Int64, missed: Int?) -> (alerts: [String], recoveries: Int, delay: Int64?) {
        let backups = (-10..<Int(30 * Self.day / period) + 1).filter { $0 != missed }.map { Int64($0) * period + jitter($0, period) }
        var policy = AlertPolicy()
        var alerts: [String] = [], recoveries = 0
        var delay: Int64?
        var t: Int64 = 0
        while t <= 30 * Self.day {
            let done = backups.filter { $0 <= t }
            let ages = auto(done)
            let text = "watching_since \(-11 * period)\nlast_snapshot \(String(repeating: "a", count: 64)) \(done.last!)\n"
                + "last_hook \(done.last! * 1000) 10 code 0\nwaiting 0\n"
            let report = BackupReport.parse(text, service: "snapwatch", alertAges: ages, now: WallTime(unixSeconds: t))
            let health = report.judge(now: WallTime(unixSeconds: t)).map(\.0).max() ?? .ok
            for n in policy.observe([(client: "c", health: health.name, problems: [])], now: t) {
                policy.announced(n, now: t)
                if n.new == "ok" { recoveries += 1 } else {
                    alerts.append(n.new)
                    if delay == nil { delay = t - done.last! }
                }
            }
            policy.settleQuiet(now: t)
            t += 300
        }
        return (alerts, recoveries, delay)
    }

    @Test(arguments: [hour, day, week])
    func aMonthOfBackupsOnTimeGivesNoAlert(period: Int64) {
        let result = month(period: period, missed: nil)
        #expect(result.alerts.isEmpty, "period \(period): \(result.alerts)")
    }

    @Test(arguments: [hour, day, week])
    func oneMissedBackupGivesOneAlertWithinOneAndAHalfPeriods(period: Int64) {
        let missed = Int(30 * Self.day / period) / 2
        let result = month(period: period, missed: missed)
        #expect(result.alerts == ["warning"], "period \(period): \(result.alerts)")
        #expect(result.recoveries == 1, "the next backup ends it")
        // 1.5 periods after the last snapshot, plus the jitter and one 5-minute alert cadence.
        #expect((result.delay ?? .max) <= period * 3 / 2 + period / 50 + 300, "period \(period): after \(result.delay ?? -1) s")
    }
}
