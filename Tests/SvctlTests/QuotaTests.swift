import SvBase
import SvFormats
@testable import SvctlKit
import Testing

/// The quota file, the growth from snapwatch's daily sizes, and what status makes of them.
@Suite struct QuotaUnitTests {
    @Test func sizesAndLines() {
        #expect(QuotaFile.size("512") == 512)
        #expect(QuotaFile.size("100K") == 100 << 10)
        #expect(QuotaFile.size("120G") == 120 << 30)
        #expect(QuotaFile.size("1T") == 1 << 40)
        for bad in ["", "G", "1.5G", "-1", "1g", "12 G", "99999999999T"] { #expect(QuotaFile.size(bad) == nil, "\(bad)") }
        let (quota, problems) = QuotaFile.parse("# limits\nsoft 100G\nhard 120G # never more\nhard\nsize 3G\n")
        #expect(quota == QuotaFile(soft: 100 << 30, hard: 120 << 30))
        #expect(problems == ["quota: hard: not \"soft SIZE\" or \"hard SIZE\" (bytes, or with K, M, G, T)",
                             "quota: size 3G: not \"soft SIZE\" or \"hard SIZE\" (bytes, or with K, M, G, T)"])
        #expect(quota.level(of: 100 << 30) == .within)
        #expect(quota.level(of: (100 << 30) + 1) == .overSoft)
        #expect(quota.level(of: (120 << 30) + 1) == .overHard)
        #expect(QuotaFile.sizeText(999) == "999B")
        #expect(QuotaFile.sizeText(120 << 30) == "120G")
        #expect(QuotaFile.sizeText(1536 << 20) == "1.5G")
    }

    @Test func aDayKeepsItsLastSizeAndEightDaysAreKept() {
        var record = SnapwatchRecord(watchingSince: 0)
        record.noteSize(100, at: 86400 * 10 + 5)
        record.noteSize(150, at: 86400 * 10 + 500)  // the same day: replaces
        #expect(record.sizes == [.init(time: 86400 * 10 + 500, bytes: 150)])
        for day in 11...20 { record.noteSize(Int64(day) * 1000, at: Int64(day) * 86400) }
        #expect(record.sizes.count == SnapwatchRecord.sizeDaysKept)
        #expect(record.sizes.first?.time == 13 * 86400 && record.sizes.last?.bytes == 20000)
        let parsed = SnapwatchRecord.parse(record.statusText(), now: 0).record
        #expect(parsed.sizes == record.sizes)
    }

    @Test func growthOfTheLastWeek() {
        let day: Int64 = 86400
        let samples: [SnapwatchRecord.SizeSample] = [.init(time: 0, bytes: 0), .init(time: 2 * day, bytes: 50),
                                                     .init(time: 8 * day, bytes: 110)]
        // The oldest within 7 days of the newest is day 2: 60 bytes in 6 days.
        #expect(RepositoryGrowth.perDay(samples) == 10)
        #expect(RepositoryGrowth.perDay([.init(time: 0, bytes: 1)]) == nil)
        #expect(RepositoryGrowth.perDay([.init(time: 0, bytes: 1), .init(time: 60, bytes: 9)]) == nil, "under an hour")
        #expect(RepositoryGrowth.daysUntil(200, from: 110, perDay: 10) == 9)
        #expect(RepositoryGrowth.daysUntil(200, from: 110, perDay: 0) == nil)
        #expect(RepositoryGrowth.daysUntil(100, from: 110, perDay: 10) == nil)
    }

    static func report(_ sizes: [(Int64, Int64)], soft: Int64?, hard: Int64?) -> QuotaReport {
        QuotaReport(quota: QuotaFile(soft: soft, hard: hard), problems: [],
                    size: sizes.last.map { .init(time: $0.0, bytes: $0.1) },
                    perDay: RepositoryGrowth.perDay(sizes.map { .init(time: $0.0, bytes: $0.1) }))
    }

    @Test func statusSaysHowLongIsLeft() {
        let day: Int64 = 86400
        let G: Int64 = 1 << 30
        let growing = Self.report([(0, 90 * G), (7 * day, 104 * G)], soft: 100 * G, hard: 120 * G)
        #expect(growing.row() == "104G of soft 100G, hard 120G; +2G a day, hard reached in 8 days")
        #expect(growing.judge().map(\.0) == [.warning])
        #expect(growing.judge().first?.1 == "quota: repository 104G over its soft quota of 100G; the hard quota is reached in 8 days at the last week's growth (+2G a day)")
        let within = Self.report([(0, 80 * G), (7 * day, 94 * G)], soft: 100 * G, hard: 120 * G)
        #expect(within.row() == "94G of soft 100G, hard 120G; +2G a day, soft reached in 3 days")
        #expect(within.judge().isEmpty)
        let over = Self.report([(0, 121 * G)], soft: 100 * G, hard: 120 * G)
        #expect(over.judge().map(\.0) == [.critical])
        #expect(over.judge().first?.1 == "quota: repository 121G over its hard quota of 120G: the storage takes no new data")
        let unmeasured = Self.report([], soft: nil, hard: 120 * G)
        #expect(unmeasured.row() == "hard 120G; not measured yet" && unmeasured.judge().isEmpty)
    }
}
