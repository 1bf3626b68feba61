import SvBase
import SvFormats
import SvSystem

/// What the audit and verify jobs last found (their `audit-status` and `verify-status`), as
/// `svctl status` shows and judges it: text rows, JSON, problems.
public struct Assurance: Sendable, Equatable {
    public var audit: AuditRecord?
    public var verify: VerifyRecord?

    public init(audit: AuditRecord? = nil, verify: VerifyRecord? = nil) {
        self.audit = audit
        self.verify = verify
    }

    public static func read(clientDirectory: String) -> Assurance {
        func text(_ name: String) -> String? {
            (try? FileSystem.readBytes(clientDirectory + "/" + name)).map { String(decoding: $0, as: UTF8.self) }
        }
        return Assurance(audit: text(AuditRecord.fileName).flatMap(AuditRecord.init(parsing:)),
                         verify: text(VerifyRecord.fileName).flatMap(VerifyRecord.init(parsing:)))
    }

    /// An audit older than this is a warning: the daily job has stopped running.
    public static let auditStaleSeconds: Int64 = 2 * 86400

    /// Anything missing, corrupt, unreachable or not restored is critical; an old audit warns.
    public func judge(now: WallTime) -> [(Health, String)] {
        var found: [(Health, String)] = []
        if let audit, now.unixSeconds - audit.at > Self.auditStaleSeconds {
            found.append((.warning, "audit: last run \(AgeText.text(seconds: now.unixSeconds - audit.at)) ago (the daily job has not run)"))
        }
        for backend in audit?.backends ?? [] {
            if let error = backend.error {
                found.append((.critical, "audit: \(backend.location) cannot be audited: \(error)"))
                continue
            }
            let counts = [(backend.missing, "missing"), (backend.corrupt, "corrupt"), (backend.unexpected, "unexpected")]
                .filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }
            if !counts.isEmpty {
                found.append((.critical, "audit: \(backend.location): \(counts.joined(separator: ", "))"
                    + (backend.problems.first.map { " (\($0))" } ?? "")))
            }
        }
        if let verify {
            if case .failed(let why) = verify.check { found.append((.critical, "verify: restic check failed: \(why)")) }
            for backend in verify.backends {
                if let error = backend.error { found.append((.critical, "verify: restore from \(backend.location) failed: \(error)")) }
            }
        }
        return found
    }

    /// The audit's rows (labelled `primary` and `replica`: the job's own row is `audit`) and
    /// verify's (`verified`) of the detailed view.
    public func rows(now: WallTime) -> [(String, String)] {
        var rows: [(String, String)] = []
        if let audit {
            let ago = AgeText.text(seconds: now.unixSeconds - audit.at) + " ago"
            for (index, backend) in audit.backends.enumerated() {
                let label = index == 0 ? "primary" : "replica"
                guard backend.error == nil else {
                    rows.append((label, "\(backend.location): cannot be audited (\(ago))"))
                    continue
                }
                var text = "\(backend.location): \(backend.files) files, \(ByteText.text(backend.bytes)), "
                text += "\(backend.missing) missing, \(backend.corrupt) corrupt"
                if backend.unexpected > 0 { text += ", \(backend.unexpected) unexpected" }
                text += "; cycle \(backend.coveredSlots(day: audit.day))/\(audit.cycle)"
                text += backend.fullCycleAt.map { ", last full \(AgeText.text(seconds: now.unixSeconds - $0)) ago" } ?? ", no full cycle yet"
                rows.append((label, text + "; audited \(ago)"))
            }
        }
        if let verify {
            var text: String
            switch verify.check {
            case .ok: text = "check of data subset \(verify.subset)/\(verify.subsets) ok"
            case .failed: text = "check of data subset \(verify.subset)/\(verify.subsets) FAILED"
            case .skipped(let why): text = "check skipped (\(why))"
            }
            if let snapshot = verify.snapshot {
                let restored = verify.backends.map { backend in
                    backend.location + (backend.error == nil ? ": \(backend.files) files (\(ByteText.text(backend.bytes))) match"
                        : ": FAILED")
                }
                text += "; restored from snapshot \(snapshot.prefix(8)): " + restored.joined(separator: ", ")
            }
            rows.append(("verified", text + " (\(AgeText.text(seconds: now.unixSeconds - verify.at)) ago)"))
        }
        return rows
    }

    public func json() -> [(String, JSON)] {
        let audit = self.audit.map { record in
            JSON.object([
                ("time", .int(record.at)), ("day", .int(record.day)), ("cycle", .int(Int64(record.cycle))),
                ("backends", .array(record.backends.enumerated().map { index, backend in
                    .object([
                        ("location", .string(backend.location)), ("primary", .bool(index == 0)),
                        ("error", .optional(backend.error)), ("files", .int(Int64(backend.files))),
                        ("bytes", .int(backend.bytes)), ("missing", .int(Int64(backend.missing))),
                        ("corrupt", .int(Int64(backend.corrupt))), ("unexpected", .int(Int64(backend.unexpected))),
                        ("hashed", .int(Int64(backend.hashed))), ("read_bytes", .int(backend.readBytes)),
                        ("cycle_covered", .int(Int64(backend.coveredSlots(day: record.day)))),
                        ("full_cycle_at", .optional(backend.fullCycleAt)),
                        ("problems", .array(backend.problems.map(JSON.string))),
                    ])
                })),
            ])
        } ?? .null
        let verify = self.verify.map { record -> JSON in
            let check: (String, String?)
            switch record.check {
            case .ok: check = ("ok", nil)
            case .failed(let why): check = ("failed", why)
            case .skipped(let why): check = ("skipped", why)
            }
            return .object([
                ("time", .int(record.at)), ("subset", .string("\(record.subset)/\(record.subsets)")),
                ("check", .string(check.0)), ("check_error", .optional(check.1)),
                ("snapshot", .optional(record.snapshot)),
                ("backends", .array(record.backends.map {
                    .object([("location", .string($0.location)), ("restored_files", .int(Int64($0.files))),
                             ("restored_bytes", .int($0.bytes)), ("error", .optional($0.error))])
                })),
            ])
        } ?? .null
        return [("audit", audit), ("verify", verify)]
    }
}
