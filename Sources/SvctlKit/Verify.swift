import Glibc
import SvBase
import SvFormats
import SvSystem
import SystemPackage

/// `svctl verify`, the keyed check of a client's backups: `restic check --read-data-subset
/// K/N` on the primary (K moves on each run, so N runs read every pack), then a restore test:
/// a random sample of the latest snapshot's files restored with `--verify` from the primary
/// and from every replica into a private temporary directory, each compared with the
/// snapshot's listing (size, permissions, mtime), the directory removed.
public struct Verify {
    public var client: String
    public var clientDirectory: String
    public var primary: String
    public var replicas: [String]
    public var rcloneConfig: String
    public var subsets = 12
    public var files = 20
    public var megabytes = 64
    public var lockWaitSeconds: Double = 600

    public static let passwordFileName = "repository-password"

    /// The client's stored key, or the error the keyed commands give without one (exit 3).
    static func passwordFile(client: String, clientDirectory: String) throws(SvctlError) -> String {
        let path = clientDirectory + "/" + passwordFileName
        guard FileSystem.exists(path) else {
            throw SvctlError.unknown("no repository password for \(client): store it with svctl key \(client) --password-file FILE")
        }
        return path
    }

    public init(client: String, clientDirectory: String, primary: String, replicas: [String], rcloneConfig: String) {
        self.client = client
        self.clientDirectory = clientDirectory
        self.primary = primary
        self.replicas = replicas
        self.rcloneConfig = rcloneConfig
    }

    public struct Outcome {
        public var lines: [String]
        public var record: VerifyRecord
        public var exitCode: Int32
    }

    /// A file of the snapshot as `restic ls --json` lists it.
    struct Node {
        var path: String
        var size: Int64
        var permissions: UInt32
        var mtime: Int64
    }

    public func run(now: WallTime) throws(SvctlError) -> Outcome {
        let passwordFile = try Self.passwordFile(client: client, clientDirectory: clientDirectory)
        Helper.forwardTermination()
        let scratch = try Helper.temporaryDirectory("verify-\(client)")
        defer { try? DirectoryTree.remove(scratch) }
        var restic = Restic(passwordFile: passwordFile, rcloneConfig: rcloneConfig, scratch: scratch)
        restic.lockWaitSeconds = lockWaitSeconds
        let statusFile = clientDirectory + "/" + VerifyRecord.fileName
        let previous = (try? FileSystem.readBytes(statusFile)).flatMap { VerifyRecord(parsing: String(decoding: $0, as: UTF8.self)) }
        // A check skipped (locked) did not read its subset: the next run reads it.
        let subset = previous.map { record -> Int in
            guard record.subsets == subsets else { return 1 }
            if case .skipped = record.check { return record.subset }
            return record.subset % subsets + 1
        } ?? 1

        var lines: [String] = []
        var exitCode: Int32 = 0
        var check = VerifyRecord.Check.ok
        switch try restic.run(primary, ["check", "--read-data-subset", "\(subset)/\(subsets)"], stdout: scratch + "/check.out") {
        case .success: lines.append("verify \(client): check of data subset \(subset)/\(subsets): no errors")
        case .failure(.locked(let line)):
            check = .skipped("locked: " + line)
            exitCode = 3
            lines.append("verify \(client): check of data subset \(subset)/\(subsets) not run: \(Restic.Failure.locked(line).text)")
        case .failure(let failure):
            check = .failed(failure.text)
            exitCode = 2
            lines.append("verify \(client): check of data subset \(subset)/\(subsets) FAILED: \(failure.text)")
        }
        var record = VerifyRecord(at: now.unixSeconds, subset: subset, subsets: subsets, check: check)
        if check != .failed(Restic.Failure.wrongPassword.text) {
            exitCode = max(exitCode, try restoreTest(restic: restic, scratch: scratch, record: &record, lines: &lines))
        }
        do throws(Errno) {
            try FileSystem.writeAtomically(statusFile, Array(record.text.utf8))
            ClientFiles.giveToClient(statusFile, clientDirectory: clientDirectory)
        } catch {
            lines.append("verify \(client): cannot write \(statusFile): \(error)")
        }
        return Outcome(lines: lines, record: record, exitCode: exitCode == 3 && record.failed ? 2 : exitCode)
    }

    /// The sample restored from every backend; returns the exit code it calls for.
    private func restoreTest(restic: Restic, scratch: String, record: inout VerifyRecord, lines: inout [String]) throws(SvctlError) -> Int32 {
        let listing = scratch + "/ls.json"
        switch try restic.run(primary, ["ls", "--json", "latest"], stdout: listing) {
        case .success: break
        case .failure(let failure):
            let none = failure.text.contains("no snapshot")
            lines.append("verify \(client): " + (none ? "no snapshot yet: nothing to restore" : "cannot list the latest snapshot: \(failure.text)"))
            return none ? 1 : 2
        }
        guard let (snapshot, sample) = Self.sample(listing: listing, files: files, bytes: Int64(megabytes) * 1_000_000) else {
            lines.append("verify \(client): cannot read the latest snapshot's listing")
            return 2
        }
        record.snapshot = snapshot
        guard !sample.isEmpty else {
            lines.append("verify \(client): snapshot \(snapshot.prefix(8)) holds no file to restore")
            return 1
        }
        var exitCode: Int32 = 0
        for location in [primary] + replicas {
            var backend = VerifyRecord.Backend(location: location)
            if case .failure(let error) = AuditBackend.make(location, rcloneConfig: rcloneConfig) {
                backend.error = error.description
            } else {
                let target = scratch + "/restore"
                try? FileSystem.makeDirectory(target, mode: 0o700)
                defer { try? DirectoryTree.remove(target) }
                let includes = sample.flatMap { ["--include", $0.path] }
                switch try restic.run(location, ["restore", snapshot, "--target", target, "--verify"] + includes, stdout: nil) {
                case .success:
                    backend.error = Self.compare(sample, restoredUnder: target)
                    backend.files = sample.count
                    backend.bytes = sample.reduce(0) { $0 + $1.size }
                case .failure(let failure) where failure.text.contains("no matching ID"):
                    backend.error = "it lacks snapshot \(snapshot.prefix(8)) (not replicated yet?)"
                case .failure(let failure):
                    backend.error = "restore failed: " + failure.text
                }
            }
            if let error = backend.error {
                exitCode = 2
                lines.append("verify \(client): restore of snapshot \(snapshot.prefix(8)) from \(location) FAILED: \(error)")
            } else {
                lines.append("verify \(client): \(backend.files) files (\(ByteText.text(backend.bytes))) of snapshot "
                    + "\(snapshot.prefix(8)) restored from \(location): size, permissions and mtime match")
            }
            record.backends.append(backend)
        }
        return exitCode
    }

    /// The snapshot id (the listing's first line) and a uniform random sample of its regular
    /// files (reservoir: memory bounded by `files`), at most `bytes` in all.
    static func sample(listing: String, files: Int, bytes: Int64) -> (String, [Node])? {
        guard var reader = LineReader(path: listing) else { return nil }
        defer { reader.close() }
        guard let first = reader.next(), let snapshot = FlatJSON.members(String(decoding: first, as: UTF8.self))?["id"] else {
            return nil
        }
        var chosen: [Node] = []
        var seen = 0
        while let line = reader.next() {
            guard let members = FlatJSON.members(String(decoding: line, as: UTF8.self)), members["type"] == "file",
                  let path = members["path"], !path.contains(where: { "*?[\\".contains($0) }),
                  let size = members["size"].flatMap({ Int64($0) }), size <= bytes,
                  let mode = members["mode"].flatMap({ UInt64($0) }),
                  let mtime = members["mtime"].flatMap(FlatJSON.unixSeconds(rfc3339:)) else { continue }
            let node = Node(path: path, size: size, permissions: UInt32(mode & 0o777), mtime: mtime)
            seen += 1
            if chosen.count < files {
                chosen.append(node)
            } else {
                let slot = Int.random(in: 0..<seen)
                if slot < files { chosen[slot] = node }
            }
        }
        var total: Int64 = 0
        return (snapshot, chosen.filter { node in
            total += node.size
            return total <= bytes
        })
    }

    /// The first difference between the restored files and the listing, nil when none.
    static func compare(_ sample: [Node], restoredUnder target: String) -> String? {
        var differences: [String] = []
        for node in sample {
            var st = stat()
            guard lstat(target + node.path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
                differences.append("\(node.path) was not restored")
                continue
            }
            if Int64(st.st_size) != node.size { differences.append("\(node.path): \(st.st_size) bytes, the snapshot lists \(node.size)") }
            if UInt32(st.st_mode) & 0o777 != node.permissions {
                differences.append("\(node.path): mode \(String(UInt32(st.st_mode) & 0o777, radix: 8)), the snapshot lists \(String(node.permissions, radix: 8))")
            }
            if Int64(st.st_mtim.tv_sec) != node.mtime { differences.append("\(node.path): mtime \(st.st_mtim.tv_sec), the snapshot lists \(node.mtime)") }
        }
        guard let first = differences.first else { return nil }
        return first + (differences.count > 1 ? " (and \(differences.count - 1) more)" : "")
    }
}
