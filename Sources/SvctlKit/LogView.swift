import Glibc
import SvBase
import SvFormats
import SvSystem

/// `svctl logs`: the last lines of svlog/svlogd directories with their stamps (TAI64N from
/// `-t`, or UTC from `-tt`) shown in local time, merged by time across services, and `-f`.
public struct LogView {
    public struct Source {
        public var label: String
        public var directory: String
    }

    /// The log directories of a service: the folders under `log/` holding a `current`.
    public static func logDirectories(ofService path: String) -> [String] {
        TreeLayout.entries(path + "/log").map { path + "/log/" + $0 }.filter { FileSystem.exists($0 + "/current") }
    }

    /// A service's logs, or for a bare client its own log and every service's.
    public static func sources(client directory: String, service: String?) -> [Source] {
        if let service {
            return logDirectories(ofService: directory + "/services/" + service).map { Source(label: service, directory: $0) }
        }
        var result = logDirectories(ofService: directory).map { Source(label: "client", directory: $0) }
        for name in TreeLayout.services(ofClient: directory) {
            result += logDirectories(ofService: directory + "/services/" + name).map { Source(label: name, directory: $0) }
        }
        return result
    }

    /// The last `count` lines over all sources, oldest first; labelled when several.
    public static func lastLines(_ sources: [Source], count: Int) -> [String] {
        var stamped: [(Int64, Int, String)] = []
        var order = 0
        for source in sources {
            for line in lastLines(of: source.directory, count: count) {
                let (time, text) = localized(line)
                stamped.append((time ?? 0, order, sources.count > 1 ? source.label + ": " + text : text))
                order += 1
            }
        }
        stamped.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        return stamped.suffix(count).map(\.2)
    }

    /// The last lines of one directory: `current`, then rotated files newest first.
    static func lastLines(of directory: String, count: Int) -> [String] {
        let rotated = TreeLayout.entries(directory).filter { RotatedLogName($0) != nil }.sorted().reversed()
        var lines: [String] = []
        for file in ["current"] + rotated where lines.count < count {
            guard let bytes = try? FileSystem.readBytes(directory + "/" + file, limit: 1 << 30) else { continue }
            let fileLines = bytes.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
            lines = Array(fileLines.suffix(count - lines.count)) + lines
        }
        return lines
    }

    /// The line with its stamp in local time, and the stamp as Unix ns (nil without one).
    public static func localized(_ line: String) -> (Int64?, String) {
        let bytes = Array(line.utf8)
        if bytes.count >= 26, bytes[25] == UInt8(ascii: " "),
           let unix = TAI64N.parseLabel(String(decoding: bytes[0..<25], as: UTF8.self)) {
            return (unix, localTime(unix, digits: 9) + String(decoding: bytes[26...], as: UTF8.self))
        }
        // svlogd -tt / -ttt: 2026-11-22_06:14:03.12345 (or with T), in UTC.
        if bytes.count >= 26, bytes[4] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "_") || bytes[10] == UInt8(ascii: "T"),
           bytes[19] == UInt8(ascii: "."), bytes[25] == UInt8(ascii: " "), let unix = utcStamp(bytes) {
            return (unix, localTime(unix, digits: 5) + String(decoding: bytes[26...], as: UTF8.self))
        }
        return (nil, line)
    }

    static func utcStamp(_ b: [UInt8]) -> Int64? {
        func number(_ range: Range<Int>) -> Int32? { Int32(String(decoding: b[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              let fraction = number(20..<25) else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Int64(timegm(&parts)) * nanosPerSecond + Int64(fraction) * 10_000
    }

    /// `2026-11-22 07:14:03.123456789 ` in the local time zone, as tai64nlocal prints.
    public static func localTime(_ unixNanos: Int64, digits: Int) -> String {
        var seconds = time_t(unixNanos / nanosPerSecond)
        var parts = tm()
        localtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        var fraction = String(unixNanos % nanosPerSecond)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction.prefix(digits)) "
    }

    /// Follows every source's `current` across rotations, printing whole new lines as they
    /// come; runs until killed. A terminal command: it checks the files every 100 ms.
    public static func follow(_ sources: [Source], write: (String) -> Void) -> Never {
        var followers = sources.map { Follower(source: $0) }
        for index in followers.indices { followers[index].openCurrent(atEnd: true) }
        while true {
            for index in followers.indices {
                for line in followers[index].poll() {
                    let text = localized(line).1
                    write(sources.count > 1 ? followers[index].source.label + ": " + text : text)
                }
            }
            usleep(100_000)
        }
    }

    struct Follower {
        var source: Source
        var fd: Int32 = -1
        var inode: UInt64 = 0
        var partial: [UInt8] = []

        mutating func openCurrent(atEnd: Bool) {
            let path = source.directory + "/current"
            let opened = open(path, O_RDONLY | O_CLOEXEC)
            guard opened >= 0 else { return }
            if fd >= 0 { close(fd) }
            fd = opened
            if let info = try? FileSystem.info(path) { inode = info.identity.inode }
            if atEnd { lseek(fd, 0, SEEK_END) }
        }

        /// New whole lines; on rotation, the rest of the old file then the new `current`.
        mutating func poll() -> [String] {
            var lines = drain()
            if let info = try? FileSystem.info(source.directory + "/current"), info.identity.inode != inode {
                openCurrent(atEnd: false)
                lines += drain()
            } else if fd < 0 {
                openCurrent(atEnd: false)
            }
            return lines
        }

        mutating func drain() -> [String] {
            guard fd >= 0 else { return [] }
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                partial += buffer[0..<n]
            }
            guard let last = partial.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
            let whole = partial[...last]
            partial.removeSubrange(...last)
            return whole.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
        }
    }
}
