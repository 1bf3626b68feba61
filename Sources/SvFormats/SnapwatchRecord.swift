import SvBase

/// What snapwatch keeps across restarts (`--state`) and shows (`--status`, read by svctl):
///
///     watching_since UNIX_SECONDS
///     last_hook START_UNIX_MS DURATION_MS code N|signal N
///     last_success UNIX_SECONDS
///     size UNIX_SECONDS BYTES       the repository's size (a stat walk), the last of each day, 8 days
///     delivered ID                  (state only, one line per delivered snapshot)
///     last_snapshot ID UNIX_SECONDS (status only)
///     waiting N / failures N        (status only)
///
/// One type writes and reads both files, so snapwatch and svctl cannot disagree on them.
public struct SnapwatchRecord: Sendable, Equatable {
    public struct Hook: Sendable, Equatable {
        public var startMs: Int64
        public var durationMs: Int64
        public var exit: ExitStatus

        public init(startMs: Int64, durationMs: Int64, exit: ExitStatus) {
            self.startMs = startMs
            self.durationMs = durationMs
            self.exit = exit
        }
    }

    public struct Snapshot: Sendable, Equatable {
        public var id: String
        /// Modification time of its file, Unix seconds.
        public var time: Int64

        public init(id: String, time: Int64) {
            self.id = id
            self.time = time
        }
    }

    /// The repository's size when measured.
    public struct SizeSample: Sendable, Equatable {
        public var time: Int64
        public var bytes: Int64

        public init(time: Int64, bytes: Int64) {
            self.time = time
            self.bytes = bytes
        }
    }

    public static let sizeDaysKept = 8

    public var watchingSince: Int64
    /// Oldest first; the newest is the current size.
    public var sizes: [SizeSample] = []
    public var lastHook: Hook?
    public var lastSuccess: Int64?
    /// Status only: the newest snapshot seen, what waits for delivery, failed runs in a row.
    public var lastSnapshot: Snapshot?
    public var waiting = 0
    public var failures = 0

    public init(watchingSince: Int64) {
        self.watchingSince = watchingSince
    }

    /// A new measurement: it replaces one of the same day (UTC), so a day keeps its last.
    public mutating func noteSize(_ bytes: Int64, at time: Int64) {
        if let last = sizes.last, last.time / 86400 == time / 86400 { sizes.removeLast() }
        sizes.append(SizeSample(time: time, bytes: bytes))
        if sizes.count > Self.sizeDaysKept { sizes.removeFirst(sizes.count - Self.sizeDaysKept) }
    }

    /// A snapshot id: 64 lowercase hex digits (restic names files by their sha256).
    public static func isSnapshotID<S: Collection>(_ name: S) -> Bool where S.Element == UInt8 {
        name.count == 64 && name.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// Either file; `now` stands for a missing `watching_since`. The delivered ids come apart.
    public static func parse(_ text: String, now: Int64) -> (record: SnapwatchRecord, delivered: Set<String>) {
        var record = SnapwatchRecord(watchingSince: now)
        var delivered = Set<String>()
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            switch (words.first ?? "", words.count) {
            case ("watching_since", 2): record.watchingSince = Int64(words[1]) ?? now
            case ("last_hook", 5):
                if let start = Int64(words[1]), let duration = Int64(words[2]),
                   let exit = ExitStatus(recordWords: words[3], words[4]) {
                    record.lastHook = Hook(startMs: start, durationMs: duration, exit: exit)
                }
            case ("last_success", 2): record.lastSuccess = Int64(words[1])
            case ("size", 3):
                if let time = Int64(words[1]), let bytes = Int64(words[2]) { record.sizes.append(.init(time: time, bytes: bytes)) }
            case ("last_snapshot", 3):
                if let time = Int64(words[2]) { record.lastSnapshot = Snapshot(id: words[1], time: time) }
            case ("waiting", 2): record.waiting = Int(words[1]) ?? 0
            case ("failures", 2): record.failures = Int(words[1]) ?? 0
            case ("delivered", 2) where isSnapshotID(words[1].utf8): delivered.insert(words[1])
            default: break
            }
        }
        record.sizes.sort { $0.time < $1.time }
        return (record, delivered)
    }

    func header() -> String {
        var text = "watching_since \(watchingSince)\n"
        if let hook = lastHook {
            text += "last_hook \(hook.startMs) \(hook.durationMs) \(hook.exit.recordText)\n"
        }
        if let success = lastSuccess { text += "last_success \(success)\n" }
        for sample in sizes { text += "size \(sample.time) \(sample.bytes)\n" }
        return text
    }

    public func stateText(delivered: Set<String>) -> String {
        header() + delivered.sorted().map { "delivered \($0)\n" }.joined()
    }

    public func statusText() -> String {
        var text = header()
        if let snapshot = lastSnapshot { text += "last_snapshot \(snapshot.id) \(snapshot.time)\n" }
        return text + "waiting \(waiting)\nfailures \(failures)\n"
    }
}
