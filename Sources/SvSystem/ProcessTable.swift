import Glibc

/// A snapshot of /proc: who is whose parent, in which session, and marked by which service.
///
/// Used to find what a service left behind (its session, orphans adopted by the subreaper)
/// so that teardown leaves nothing and no service runs twice.
public struct ProcessTable {
    public struct Entry: Sendable {
        public var pid: Int32
        public var parent: Int32
        public var session: Int32
        public var isZombie: Bool
    }

    public private(set) var entries: [Int32: Entry] = [:]

    public static func scan() -> ProcessTable {
        var table = ProcessTable()
        guard let names = try? FileSystem.list("/proc") else { return table }
        for name in names {
            guard let pid = Int32(name), let entry = readStat(pid) else { continue }
            table.entries[pid] = entry
        }
        return table
    }

    /// Parses /proc/PID/stat; the command name may hold spaces and parentheses.
    public static func readStat(_ pid: Int32) -> Entry? {
        guard let bytes = try? FileSystem.readBytes("/proc/\(pid)/stat", limit: 1024),
              let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count >= 4 else { return nil }
        func number(_ i: Int) -> Int32 { Int32(String(decoding: fields[i], as: UTF8.self)) ?? 0 }
        let state = fields[0].first ?? 0
        return Entry(pid: pid, parent: number(1), session: number(3),
                     isZombie: state == UInt8(ascii: "Z") || state == UInt8(ascii: "X"))
    }

    /// The first word of a `/proc/PID/status` line ("Uid", "CapEff"); "self" for this process.
    public static func statusField(_ pid: String, _ name: String) -> Substring? {
        guard let bytes = try? FileSystem.readBytes("/proc/\(pid)/status", limit: 16384) else { return nil }
        let prefix = name + ":"
        guard let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first(where: { $0.hasPrefix(prefix) })
        else { return nil }
        return line.dropFirst(prefix.count).split(whereSeparator: { $0 == "\t" || $0 == " " }).first
    }

    /// The value of `name` in the environment the process was started with.
    public static func environmentValue(_ pid: Int32, _ name: String) -> String? {
        guard let bytes = try? FileSystem.readBytes("/proc/\(pid)/environ", limit: 1 << 20) else { return nil }
        let prefix = Array((name + "=").utf8)
        for item in bytes.split(separator: 0) where item.starts(with: prefix) {
            return String(decoding: item.dropFirst(prefix.count), as: UTF8.self)
        }
        return nil
    }

    /// Direct children of `pid` (of all its threads), from /proc/PID/task/*/children: costs the
    /// number of children, not the number of processes on the machine.
    public static func children(of pid: Int32) -> [Int32] {
        guard let threads = try? FileSystem.list("/proc/\(pid)/task") else { return [] }
        var result: [Int32] = []
        for thread in threads {
            let bytes = (try? FileSystem.readBytes("/proc/\(pid)/task/\(thread)/children", limit: 1 << 22)) ?? []
            result += bytes.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") }).compactMap { Int32(String(decoding: $0, as: UTF8.self)) }
        }
        return result
    }

    /// `roots` and every living process below them, walked through the children files.
    public static func subtree(of roots: [Int32]) -> Set<Int32> {
        var found = Set<Int32>()
        var stack = roots
        while let pid = stack.popLast() {
            guard found.insert(pid).inserted else { continue }
            stack += children(of: pid)
        }
        return found.filter { readStat($0).map { !$0.isZombie } ?? false }
    }
}
