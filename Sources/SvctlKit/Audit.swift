import Glibc
import SvFormats
import SvSystem

/// `svctl audit`: restic names every file under data/, index/, snapshots/ and keys/ by the
/// sha256 of its content, so a file whose hash is not its name is damaged. Each run checks
/// one part of a rotating partition (by name), so that N runs cover everything.
public struct Audit {
    public var parts: Int
    public var positionFile: String

    public init(parts: Int, positionFile: String) {
        self.parts = max(1, parts)
        self.positionFile = positionFile
    }

    /// "1/30", "0.5" or "1" as a number of parts (30, 2, 1).
    public static func parts(fromFraction text: String) throws(SvctlError) -> Int {
        let bad = SvctlError.failed("bad fraction \(Names.quoted(text)): write 1/30, 0.1 or 1")
        if let slash = text.firstIndex(of: "/") {
            guard Int(text[..<slash]) == 1, let parts = Int(text[text.index(after: slash)...]), parts >= 1 else { throw bad }
            return parts
        }
        guard let value = Double(text), value > 0, value <= 1 else { throw bad }
        return max(1, Int((1 / value).rounded()))
    }

    public struct Result {
        public var lines: [String]
        public var mismatches: Int
        public var checked: Int
        public var total: Int
    }

    /// Checks the part whose turn it is in each root (the repository, its local replicas),
    /// then moves the position on.
    public func run(client: String, roots: [String]) throws(SvctlError) -> Result {
        let position = FileSystem.readLine(positionFile).flatMap { Int($0) } ?? 0
        let part = position % parts
        var result = Result(lines: [], mismatches: 0, checked: 0, total: 0)
        for root in roots {
            guard FileSystem.exists(root + "/config") else {
                throw SvctlError.failed("\(root) is not a restic repository (no config file)")
            }
            var files: [String] = []
            for folder in ["data", "index", "snapshots", "keys"] { Self.collect(root + "/" + folder, into: &files) }
            result.total += files.count
            let chosen = files.filter { Self.bucket(of: $0, parts: parts) == part }
            for file in chosen where !SnapwatchRecord.isSnapshotID(Self.baseName(file).utf8) {
                result.lines.append("unexpected name: \(file)")
                result.mismatches += 1
            }
            let hashed = chosen.filter { SnapwatchRecord.isSnapshotID(Self.baseName($0).utf8) }
            var start = 0
            while start < hashed.count {
                let batch = Array(hashed[start..<min(start + 256, hashed.count)])
                start += batch.count
                let (status, output) = try Subprocess.capture(["sha256sum", "--"] + batch)
                var seen = Set<String>()
                for line in output.split(separator: UInt8(ascii: "\n")) {
                    let text = String(decoding: line, as: UTF8.self)
                    guard text.count > 66 else { continue }
                    let hash = String(text.prefix(64))
                    let path = String(text.dropFirst(66))
                    seen.insert(path)
                    if hash != Self.baseName(path) {
                        result.lines.append("MISMATCH \(path): its content hashes to \(hash)")
                        result.mismatches += 1
                    }
                }
                for path in batch where !seen.contains(path) {
                    result.lines.append("UNREADABLE \(path)" + (status != 0 ? " (sha256sum failed)" : ""))
                    result.mismatches += 1
                }
                result.checked += batch.count
            }
        }
        try? FileSystem.writeAtomically(positionFile, Array("\(position + 1)\n".utf8))
        result.lines.insert("audit \(client): part \(part + 1) of \(parts): \(result.checked) of \(result.total) files checked"
            + " in \(roots.joined(separator: ", "))", at: 0)
        result.lines.append("audit \(client): \(result.mismatches == 0 ? "no mismatch" : "\(result.mismatches) mismatch\(result.mismatches == 1 ? "" : "es")")")
        return result
    }

    static func baseName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// The part a file belongs to: its name's first 8 hex digits modulo the number of parts.
    static func bucket(of path: String, parts: Int) -> Int {
        Int(UInt32(baseName(path).prefix(8), radix: 16) ?? 0) % parts
    }

    /// Regular files below `directory` (data/ has one level of fan-out folders).
    static func collect(_ directory: String, into files: inout [String]) {
        guard let names = try? FileSystem.list(directory) else { return }
        for name in names.sorted() {
            let path = directory + "/" + name
            guard let info = try? FileSystem.info(path, followLinks: false) else { continue }
            if info.kind == .directory { collect(path, into: &files) } else if info.kind == .file { files.append(path) }
        }
    }

    /// The local directories among a client's replicas (rclone remotes are not audited).
    public static func localReplicas(clientDirectory: String) -> [String] {
        (BackupReport.readReplicas(clientDirectory + "/services/snapwatch/replicas") ?? [])
            .filter { $0.hasPrefix("/") && FileSystem.exists($0 + "/config") }
    }
}
