import Glibc

/// What snapwatch keeps across restarts (`--state`) and shows (`--status`, read by svctl):
///
///     watching_since UNIX_SECONDS
///     last_hook START_UNIX_MS DURATION_MS code N|signal N
///     last_success UNIX_SECONDS
///     delivered ID                 (state only, one line per delivered snapshot)
///     last_snapshot ID UNIX_SECONDS (status only)
///     waiting N / failures N        (status only)
public struct SnapwatchRecord: Sendable, Equatable {
    public var watchingSince: Int64
    public var lastHook: (startMs: Int64, durationMs: Int64, exit: ExitStatus)?
    public var lastSuccess: Int64?
    public var delivered: Set<String> = []

    public static func == (a: SnapwatchRecord, b: SnapwatchRecord) -> Bool {
        a.watchingSince == b.watchingSince && a.lastHook?.startMs == b.lastHook?.startMs
            && a.lastHook?.durationMs == b.lastHook?.durationMs && a.lastHook?.exit == b.lastHook?.exit
            && a.lastSuccess == b.lastSuccess && a.delivered == b.delivered
    }

    public init(watchingSince: Int64) {
        self.watchingSince = watchingSince
    }

    /// A snapshot id: 64 lowercase hex digits (restic names files by their sha256).
    public static func isSnapshotID<S: Collection>(_ name: S) -> Bool where S.Element == UInt8 {
        name.count == 64 && name.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    public static func parse(_ text: String, now: Int64) -> SnapwatchRecord {
        var record = SnapwatchRecord(watchingSince: now)
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            switch (words.first ?? "", words.count) {
            case ("watching_since", 2): record.watchingSince = Int64(words[1]) ?? now
            case ("last_hook", 5):
                if let start = Int64(words[1]), let duration = Int64(words[2]), let value = Int32(words[4]) {
                    record.lastHook = (start, duration, words[3] == "signal" ? .signaled(value) : .exited(value))
                }
            case ("last_success", 2): record.lastSuccess = Int64(words[1])
            case ("delivered", 2) where isSnapshotID(words[1].utf8): record.delivered.insert(words[1])
            default: break
            }
        }
        return record
    }

    func header() -> String {
        var text = "watching_since \(watchingSince)\n"
        if let hook = lastHook {
            switch hook.exit {
            case .exited(let code): text += "last_hook \(hook.startMs) \(hook.durationMs) code \(code)\n"
            case .signaled(let signal): text += "last_hook \(hook.startMs) \(hook.durationMs) signal \(signal)\n"
            }
        }
        if let success = lastSuccess { text += "last_success \(success)\n" }
        return text
    }

    public func stateText() -> String {
        header() + delivered.sorted().map { "delivered \($0)\n" }.joined()
    }

    public func statusText(lastSnapshot: (id: String, time: Int64)?, waiting: Int, failures: Int) -> String {
        var text = header()
        if let snapshot = lastSnapshot { text += "last_snapshot \(snapshot.id) \(snapshot.time)\n" }
        return text + "waiting \(waiting)\nfailures \(failures)\n"
    }
}
