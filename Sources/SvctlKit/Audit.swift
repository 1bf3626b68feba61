import Glibc
import SvBase
import SvFormats
import SvSystem
import SystemPackage

/// `svctl audit`, keyless: restic names every file but `config` by the sha256 of its bytes,
/// so the primary repository and every replica can be checked without the password.
/// Completeness: every file of the primary is on each backend with the same size.
/// Integrity: the files of the day's slot (see `AuditPlan`) are read on every backend and
/// must hash to their names. Listings are sorted into files and merged, so memory does not
/// grow with the repository.
public struct Audit {
    public var client: String
    public var clientDirectory: String
    public var primary: String
    public var replicas: [String]
    public var rcloneConfig: String
    public var statusFile: String
    public var cycle = 30
    public var day: Int64
    /// Bytes a second read for hashing, over the run; nil: as fast as the disks go.
    public var maxRate: Int64?
    /// A primary file younger than this that a replica lacks is pending (a replication or a
    /// backup under way), not missing.
    public var graceSeconds: Int64 = 3600
    /// Completeness only: the listings compared, nothing read (the slots stay as they were).
    public var listingOnly = false
    /// Problems named on the output per backend and kind; the rest are counted.
    public var namedProblems = 50

    public init(client: String, clientDirectory: String, primary: String, replicas: [String], rcloneConfig: String,
                day: Int64) {
        self.client = client
        self.clientDirectory = clientDirectory
        self.primary = primary
        self.replicas = replicas
        self.rcloneConfig = rcloneConfig
        self.statusFile = clientDirectory + "/" + AuditRecord.fileName
        self.day = day
    }

    /// The targets of the client's replicas file (the first service with one) and the
    /// rclone.conf beside it.
    public static func replicas(clientDirectory: String) -> ([String], String) {
        for service in TreeLayout.services(ofClient: clientDirectory) {
            let directory = clientDirectory + "/services/" + service
            if let targets = BackupReport.readReplicas(directory + "/replicas") { return (targets, directory + "/rclone.conf") }
        }
        return ([], clientDirectory + "/rclone.conf")
    }

    /// Why the primary cannot be audited at all, if it cannot.
    func primaryRefusal() -> String? {
        if Self.isMinio(primary: primary, clientDirectory: clientDirectory) {
            return "\(client) keeps its repository in minio, whose on-disk format is minio's, not restic's files: "
                + "it cannot be audited without the key (use the rclone template for audited clients)"
        }
        guard FileSystem.exists(primary + "/config") else { return "not a restic repository (no config file)" }
        return nil
    }

    /// Whether minio keeps the repository: its data directory, or the minio storage template.
    static func isMinio(primary: String, clientDirectory: String) -> Bool {
        if FileSystem.exists(primary + "/.minio.sys") { return true }
        let run = (try? FileSystem.readBytes(clientDirectory + "/services/storage/run", limit: 65536)) ?? []
        return String(decoding: run, as: UTF8.self).contains("exec minio ")
    }

    /// The day number of a time: Unix days.
    public static func day(of time: WallTime) -> Int64 { time.unixSeconds / 86400 }

    public struct Outcome {
        public var lines: [String]
        public var record: AuditRecord
        public var problems: Int
    }

    public func run(now: WallTime) throws(SvctlError) -> Outcome {
        if let refusal = primaryRefusal() {
            var record = AuditRecord(at: now.unixSeconds, day: day, cycle: cycle)
            var backend = AuditRecord.Backend(location: primary, firstDay: day, cycle: cycle)
            backend.error = refusal
            record.backends = [backend]
            _ = save(record)
            return Outcome(lines: ["UNREACHABLE \(primary): \(refusal)", "audit \(client): 1 problem"], record: record, problems: 1)
        }
        Helper.forwardTermination()
        let scratch = try Helper.temporaryDirectory("audit-\(client)")
        defer { try? DirectoryTree.remove(scratch) }
        let previous = (try? FileSystem.readBytes(statusFile)).flatMap { AuditRecord(parsing: String(decoding: $0, as: UTF8.self)) }
        var record = AuditRecord(at: now.unixSeconds, day: day, cycle: cycle)
        var lines = ["audit \(client): day \(day), slot \(AuditPlan.todaysSlot(day: day, cycle: cycle)) (day mod \(cycle))"]
        var pacer = Pacer(bytesPerSecond: maxRate)
        let primaryList = scratch + "/primary.list"
        try AuditBackend(location: primary, place: .directory(primary), rcloneConfig: rcloneConfig)
            .list(into: primaryList, scratch: scratch)
        let primaryConfig = try? FileSystem.readBytes(primary + "/config")

        for (index, location) in ([primary] + replicas).enumerated() {
            let before = previous?.cycle == cycle ? previous?.backends.first { $0.location == location } : nil
            var state = AuditRecord.Backend(location: location, firstDay: before?.firstDay ?? day, cycle: cycle)
            if let before { state.slotDays = before.slotDays; state.fullCycleAt = before.fullCycleAt }
            let due = listingOnly ? Array(repeating: false, count: cycle) : AuditPlan.dueSlots(day: day, cycle: cycle, previous: before)
            var named = NamedProblems(location: location, limit: namedProblems)
            do throws(SvctlError) {
                let backend = try AuditBackend.make(location, rcloneConfig: rcloneConfig).get()
                let hashList = scratch + "/hash.list"
                if index == 0 {
                    try survey(primaryList: primaryList, due: due, hashList: hashList, state: &state, named: &named)
                } else {
                    let list = scratch + "/backend.list"
                    try backend.list(into: list, scratch: scratch)
                    let pending = try compare(primaryList: primaryList, backendList: list, due: due, hashList: hashList,
                                              started: now.unixSeconds, state: &state, named: &named)
                    if pending > 0 {
                        named.lines.append("PENDING \(location): \(pending) file\(pending == 1 ? "" : "s") of the last "
                            + "\(AgeText.text(seconds: graceSeconds)) not there yet (a replication under way)")
                    }
                    unlink(list)
                    if let primaryConfig, let config = backend.readConfig(scratch: scratch), config != primaryConfig {
                        named.add(.corrupt, "config", "differs from the primary's")
                        state.corrupt += 1
                    }
                }
                try hashAll(hashList, on: backend, isPrimary: index == 0, pacer: &pacer, scratch: scratch,
                            state: &state, named: &named)
                for slot in 0..<cycle where due[slot] { state.slotDays[slot] = day }
                if state.coveredSlots(day: day) == cycle { state.fullCycleAt = now.unixSeconds }
            } catch {
                if Helper.stopRequested { throw error }
                state.error = error.description
                named.lines.append("UNREACHABLE \(location): \(error.description)")
            }
            state.problems = named.kept
            if state.error == nil { lines.append(summary(of: state, isPrimary: index == 0)) }
            lines += named.lines
            record.backends.append(state)
            // Saved after each backend (the rest as the last run left them): a run stopped by
            // timeout-run or a TERM keeps the slots it did hash, and the next run goes on.
            let remaining = ([primary] + replicas).dropFirst(index + 1)
            var saved = record
            saved.backends += remaining.compactMap { location in previous?.backends.first { $0.location == location } }
            if let error = save(saved) { lines.append("audit \(client): cannot write \(statusFile): \(error)") }
        }
        let problems = record.backends.reduce(0) { $0 + $1.problemCount }
        lines.append("audit \(client): " + (problems == 0 ? "no problem" : "\(problems) problem\(problems == 1 ? "" : "s")"))
        return Outcome(lines: lines, record: record, problems: problems)
    }

    /// Writes the record atomically; the error, if any.
    private func save(_ record: AuditRecord) -> Errno? {
        do throws(Errno) {
            try FileSystem.writeAtomically(statusFile, Array(record.text.utf8))
            ClientFiles.giveToClient(statusFile, clientDirectory: clientDirectory)
            return nil
        } catch {
            return error
        }
    }

    /// The primary's own listing: counts, unexpected names, the due files to hash.
    private func survey(primaryList: String, due: [Bool], hashList: String, state: inout AuditRecord.Backend,
                        named: inout NamedProblems) throws(SvctlError) {
        guard var reader = LineReader(path: primaryList), let writer = LineWriter(path: hashList) else {
            throw SvctlError.failed("cannot read the listing")
        }
        defer { reader.close() }
        while let line = reader.next() {
            guard let entry = ListedFile(line) else { continue }
            state.files += 1
            state.bytes += entry.size
            switch AuditPlan.kind(of: entry.path[...]) {
            case .config: break
            case .unexpected:
                state.unexpected += 1
                named.add(.unexpected, entry.path, "not named by the sha256 of its content")
            case .hashed(let name):
                if due[AuditPlan.slot(ofName: name.utf8, cycle: cycle)] { writer.write(String(decoding: line, as: UTF8.self) + "\n") }
            }
        }
        try writer.finish()
    }

    /// Merges the primary's sorted listing with a replica's: what is missing or of another
    /// size there, and the due files present to hash.
    private func compare(primaryList: String, backendList: String, due: [Bool], hashList: String, started: Int64,
                         state: inout AuditRecord.Backend, named: inout NamedProblems) throws(SvctlError) -> Int {
        var pending = 0
        guard var ours = LineReader(path: primaryList), var theirs = LineReader(path: backendList),
              let writer = LineWriter(path: hashList) else { throw SvctlError.failed("cannot read the listings") }
        defer { ours.close(); theirs.close() }
        // A line that does not parse (a name with a newline) is skipped, not taken for the end.
        func nextListed() -> ListedFile? {
            while let line = theirs.next() { if let file = ListedFile(line) { return file } }
            return nil
        }
        var other = nextListed()
        while let line = ours.next() {
            guard let entry = ListedFile(line) else { continue }
            // A stray file is the primary's problem, named there; replicas need not have it.
            if AuditPlan.kind(of: entry.path[...]) == .unexpected { continue }
            while let candidate = other, candidate.path.utf8.lexicographicallyPrecedes(entry.path.utf8) {
                other = nextListed()
            }
            guard let found = other, found.path == entry.path else {
                if let mtime = FileSystem.modificationTime(primary + "/" + entry.path), mtime > started - graceSeconds {
                    pending += 1
                } else {
                    state.missing += 1
                    named.add(.missing, entry.path, nil)
                }
                continue
            }
            state.files += 1
            state.bytes += found.size
            if found.size != entry.size {
                state.corrupt += 1
                named.add(.corrupt, entry.path, "\(found.size) bytes, the primary's has \(entry.size)")
            } else if case .hashed(let name) = AuditPlan.kind(of: entry.path[...]),
                      due[AuditPlan.slot(ofName: name.utf8, cycle: cycle)] {
                writer.write(String(decoding: line, as: UTF8.self) + "\n")
            }
        }
        try writer.finish()
        return pending
    }

    /// Hashes the listed files in batches (by count and bytes), at most `maxRate`.
    private func hashAll(_ hashList: String, on backend: AuditBackend, isPrimary: Bool, pacer: inout Pacer,
                         scratch: String, state: inout AuditRecord.Backend, named: inout NamedProblems) throws(SvctlError) {
        guard var reader = LineReader(path: hashList) else { return }
        defer { reader.close(); unlink(hashList) }
        var batch: [ListedFile] = []
        var batchBytes: Int64 = 0
        func flush() throws(SvctlError) {
            guard !batch.isEmpty else { return }
            let hashes = try backend.hash(batch.map(\.path), scratch: scratch)
            for file in batch {
                let name = String(file.path.split(separator: "/").last ?? "")
                if let hash = hashes[file.path] {
                    state.hashed += 1
                    state.readBytes += file.size
                    if hash != name {
                        state.corrupt += 1
                        named.add(.corrupt, file.path, "its content hashes to \(hash)")
                    }
                } else if !(isPrimary && !FileSystem.exists(primary + "/" + file.path)) {
                    // A primary file gone since the listing was removed by a prune: not a fault.
                    state.corrupt += 1
                    named.add(.corrupt, file.path, "cannot be read")
                }
            }
            try pacer.account(batchBytes)
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
        }
        while let line = reader.next() {
            guard let file = ListedFile(line) else { continue }
            batch.append(file)
            batchBytes += file.size
            if batch.count >= 512 || batchBytes >= pacer.batchBytes { try flush() }
        }
        try flush()
    }

    private func summary(of state: AuditRecord.Backend, isPrimary: Bool) -> String {
        let name = (isPrimary ? "primary " : "replica ") + state.location
        var text = "audit \(client): \(name): \(state.files) files (\(ByteText.text(state.bytes)))"
        if !isPrimary || state.unexpected > 0 {
            text += ", \(state.missing) missing, \(state.corrupt) corrupt" + (isPrimary ? ", \(state.unexpected) unexpected" : "")
        } else {
            text += ", \(state.corrupt) corrupt"
        }
        text += "; hashed \(state.hashed) (\(ByteText.text(state.readBytes)))"
        text += "; cycle \(state.coveredSlots(day: day))/\(cycle)"
        return text
    }
}

/// A listing line, `PATH\tSIZE`.
struct ListedFile {
    var path: String
    var size: Int64

    init?(_ line: ArraySlice<UInt8>) {
        guard let tab = line.lastIndex(of: UInt8(ascii: "\t")),
              let size = Int64(String(decoding: line[(tab + 1)...], as: UTF8.self)) else { return nil }
        path = String(decoding: line[..<tab], as: UTF8.self)
        self.size = size
    }
}

/// The named problems of one backend: every one up to `limit` per kind on the output, the
/// first ten kept for the status file.
struct NamedProblems {
    enum Kind: String { case missing = "MISSING", corrupt = "CORRUPT", unexpected = "UNEXPECTED" }

    var location: String
    var limit: Int
    var lines: [String] = []
    var kept: [String] = []
    private var counts: [Kind: Int] = [:]

    init(location: String, limit: Int) {
        self.location = location
        self.limit = limit
    }

    mutating func add(_ kind: Kind, _ path: String, _ why: String?) {
        let count = (counts[kind] ?? 0) + 1
        counts[kind] = count
        let text = "\(kind.rawValue.lowercased()) \(path)" + (why.map { ": \($0)" } ?? "")
        if kept.count < AuditRecord.problemsKept { kept.append(text) }
        if count <= limit {
            lines.append("\(kind.rawValue) \(location): \(path)" + (why.map { ": \($0)" } ?? ""))
        } else if count == limit + 1 {
            lines.append("\(kind.rawValue) \(location): more than \(limit); the counts say how many")
        }
    }
}

/// Keeps the reading at or below a rate, averaged over the run.
struct Pacer {
    var bytesPerSecond: Int64?
    private let started = EventLoop.now
    private var total: Int64 = 0

    init(bytesPerSecond: Int64?) { self.bytesPerSecond = bytesPerSecond }

    /// A batch is at most two seconds of reading at the rate (256 MB without one).
    var batchBytes: Int64 { bytesPerSecond.map { max(1 << 16, min(256 << 20, $0 * 2)) } ?? 256 << 20 }

    mutating func account(_ bytes: Int64) throws(SvctlError) {
        guard let rate = bytesPerSecond, rate > 0 else { return }
        let now = EventLoop.now
        total += bytes
        // In Double: bytes times 10^9 overflows Int64 past 9.2 GB.
        let due = started + Int64(Double(total) / Double(rate) * 1e9)
        if due > now { try Helper.pause(nanos: due - now) }
    }
}

/// "512 B", "12.3 kB", "4.5 MB", "1.2 GB" (decimal units, as disks are sold).
public enum ByteText {
    public static func text(_ bytes: Int64) -> String {
        if bytes < 1000 { return "\(bytes) B" }
        let units = ["kB", "MB", "GB", "TB", "PB"]
        var value = Double(bytes) / 1000
        var unit = 0
        while value >= 999.95 && unit < units.count - 1 { value /= 1000; unit += 1 }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}
