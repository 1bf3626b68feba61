import SvFormats
import SvSystem

/// A client's quota held against its repository's size: snapwatch's newest measurement (or
/// the audit's, when newer), with the growth of the last week from snapwatch's daily samples.
public struct QuotaReport: Sendable, Equatable {
    public var quota: QuotaFile
    public var problems: [String]
    /// The size and when it was measured; nil when nothing measured it yet.
    public var size: SnapwatchRecord.SizeSample?
    public var perDay: Double?

    /// nil without a quota file.
    public static func read(clientDirectory: String, backup: BackupReport?, assurance: Assurance) -> QuotaReport? {
        guard let bytes = try? FileSystem.readBytes(clientDirectory + "/" + QuotaFile.fileName, limit: 65536) else { return nil }
        let (quota, problems) = QuotaFile.parse(String(decoding: bytes, as: UTF8.self))
        let samples = backup?.record.sizes ?? []
        var size = samples.last
        if let audit = assurance.audit, let primary = audit.backends.first, primary.error == nil,
           audit.at > size?.time ?? Int64.min {
            size = .init(time: audit.at, bytes: primary.bytes)
        }
        return QuotaReport(quota: quota, problems: problems, size: size, perDay: RepositoryGrowth.perDay(samples))
    }

    var limitsText: String {
        [quota.soft.map { "soft \(QuotaFile.sizeText($0))" }, quota.hard.map { "hard \(QuotaFile.sizeText($0))" }]
            .compactMap { $0 }.joined(separator: ", ")
    }

    var growthText: String? {
        guard let perDay else { return nil }
        return (perDay >= 0 ? "+" : "-") + QuotaFile.sizeText(Int64(abs(perDay))) + " a day"
    }

    /// "in 12 days at +1.2G a day" toward `limit`, or nil.
    func untilText(_ limit: Int64?) -> String? {
        guard let limit, let bytes = size?.bytes,
              let days = RepositoryGrowth.daysUntil(limit, from: bytes, perDay: perDay) else { return nil }
        return "in \(Int(days.rounded(.down))) day\(Int(days) == 1 ? "" : "s")"
    }

    /// The detail row.
    public func row() -> String {
        guard let bytes = size?.bytes else { return "\(limitsText); not measured yet" }
        var text = "\(QuotaFile.sizeText(bytes)) of \(limitsText)"
        if let growth = growthText { text += "; \(growth)" }
        if quota.level(of: bytes) < .overSoft, let until = untilText(quota.soft) { text += ", soft reached " + until }
        else if quota.level(of: bytes) < .overHard, let until = untilText(quota.hard) { text += ", hard reached " + until }
        return text
    }

    public func judge() -> [(Health, String)] {
        var found = problems.map { (Health.warning, $0) }
        guard let bytes = size?.bytes else { return found }
        let size = QuotaFile.sizeText(bytes)
        switch quota.level(of: bytes) {
        case .overHard:
            found.append((.critical, "quota: repository \(size) over its hard quota of \(QuotaFile.sizeText(quota.hard ?? 0)): the storage takes no new data"))
        case .overSoft:
            var text = "quota: repository \(size) over its soft quota of \(QuotaFile.sizeText(quota.soft ?? 0))"
            if let until = untilText(quota.hard), let growth = growthText {
                text += "; the hard quota is reached \(until) at the last week's growth (\(growth))"
            } else if quota.hard != nil {
                text += perDay == nil ? "; its growth is not known yet (snapwatch keeps a size a day)"
                    : "; not growing toward the hard quota"
            }
            found.append((.warning, text))
        case .within:
            break
        }
        return found
    }
}
