import Glibc
import SvSystem
import SystemPackage

/// `svctl forget`: `restic forget --prune` on the primary with the keep options of the
/// client's `retention` file, holding the client's repository.lock so that no replication
/// copies from the repository in the middle of the prune (a snapshot that arrives meanwhile is
/// replicated right after). Replicas keep everything.
public struct Forget {
    public var client: String
    public var clientDirectory: String
    public var primary: String
    public var rcloneConfig: String
    public var lockWaitSeconds: Double = 600

    public static let retentionFileName = "retention"
    /// restic 0.14's keep options (`forget --help`), and `group-by`.
    public static let options: [String: OptionValue] = [
        "keep-last": .count, "keep-hourly": .count, "keep-daily": .count, "keep-weekly": .count,
        "keep-monthly": .count, "keep-yearly": .count, "keep-within": .duration, "keep-within-hourly": .duration,
        "keep-within-daily": .duration, "keep-within-weekly": .duration, "keep-within-monthly": .duration,
        "keep-within-yearly": .duration, "keep-tag": .word, "group-by": .word,
    ]

    public enum OptionValue: Sendable { case count, duration, word }

    public init(client: String, clientDirectory: String, primary: String, rcloneConfig: String) {
        self.client = client
        self.clientDirectory = clientDirectory
        self.primary = primary
        self.rcloneConfig = rcloneConfig
    }

    /// A retention file's lines (`keep-daily 7`, `# comments`) as restic's arguments; the
    /// error names the file, the line and what is wrong with it.
    public static func arguments(retention text: String, path: String) throws(SvctlError) -> [String] {
        var arguments: [String] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw).trimmingSpaces()
            if line.isEmpty || line.hasPrefix("#") { continue }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            let name = words[0].hasPrefix("--") ? String(words[0].dropFirst(2)) : words[0]
            let place = "\(path):\(number + 1)"
            guard let kind = options[name] else {
                throw SvctlError.failed("\(place): unknown option \(Names.quoted(name)) (known: \(options.keys.sorted().joined(separator: ", ")))")
            }
            guard words.count == 2 else { throw SvctlError.failed("\(place): write \(name) and one value") }
            let value = words[1]
            switch kind {
            case .count:
                guard (Int(value) ?? 0) >= 1 else { throw SvctlError.failed("\(place): \(name) needs a count of 1 or more") }
            case .duration:
                // restic's form: 1y2m3d4h, each part a number and a unit.
                let valid = !value.isEmpty && value.last.map { "ymdh".contains($0) } == true
                    && value.allSatisfy { $0.isNumber || "ymdh".contains($0) }
                guard valid else { throw SvctlError.failed("\(place): \(name) needs a duration such as 7d or 1y6m") }
            case .word: break
            }
            arguments += ["--" + name, value]
        }
        guard arguments.contains(where: { $0.hasPrefix("--keep-") }) else {
            throw SvctlError.failed("\(path): no keep option: forget would remove every snapshot")
        }
        return arguments
    }

    public struct Outcome {
        public var lines: [String]
        public var exitCode: Int32
    }

    public func run() throws(SvctlError) -> Outcome {
        let passwordFile = try Verify.passwordFile(client: client, clientDirectory: clientDirectory)
        let retentionPath = clientDirectory + "/" + Self.retentionFileName
        guard let bytes = try? FileSystem.readBytes(retentionPath, limit: 65536) else {
            return Outcome(lines: ["forget \(client): no \(retentionPath): every snapshot is kept"], exitCode: 0)
        }
        let keep: [String]
        do throws(SvctlError) {
            keep = try Self.arguments(retention: String(decoding: bytes, as: UTF8.self), path: retentionPath)
        } catch {
            return Outcome(lines: ["forget \(client): nothing forgotten: \(error)"], exitCode: 2)
        }
        Helper.forwardTermination()
        let scratch = try Helper.temporaryDirectory("forget-\(client)")
        defer { try? DirectoryTree.remove(scratch) }
        let lock = try RepositoryLock.take(clientDirectory: clientDirectory, seconds: lockWaitSeconds)
        defer { close(lock) }
        var restic = Restic(passwordFile: passwordFile, rcloneConfig: rcloneConfig, scratch: scratch)
        restic.lockWaitSeconds = lockWaitSeconds
        let output = scratch + "/forget.out"
        switch try restic.run(primary, ["forget", "--prune"] + keep, stdout: output) {
        case .success:
            let kept = TreeLayout.entries(primary + "/snapshots").count
            return Outcome(lines: ["forget \(client): restic forget --prune \(keep.joined(separator: " ")): done, "
                + "\(kept) snapshot\(kept == 1 ? "" : "s") kept"], exitCode: 0)
        case .failure(.locked(let line)):
            return Outcome(lines: ["forget \(client): not run: \(Restic.Failure.locked(line).text); tried for \(Int(lockWaitSeconds)) s"],
                           exitCode: 3)
        case .failure(let failure):
            return Outcome(lines: ["forget \(client): FAILED: \(failure.text)"], exitCode: 2)
        }
    }
}
