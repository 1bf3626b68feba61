import SvBase

/// The members of one JSON object on one line, as restic's `--json` output prints them:
/// strings unescaped, numbers and literals as their text, nested arrays and objects as their
/// raw text. Enough for restic's node and snapshot lines; nil for anything that is no object.
public enum FlatJSON {
    public static func members(_ line: some StringProtocol) -> [String: String]? {
        let bytes = Array(line.utf8)
        var index = 0
        func skipSpace() { while index < bytes.count, [0x20, 0x09, 0x0d, 0x0a].contains(bytes[index]) { index += 1 } }
        func string() -> String? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            index += 1
            var out: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                guard byte == UInt8(ascii: "\\"), index < bytes.count else { out.append(byte); continue }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count,
                          let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(code) else { return nil }
                    index += 4
                    out += Array(String(Character(scalar)).utf8)
                default: out.append(escaped)
                }
            }
            return nil
        }
        func raw() -> String? {
            let start = index
            var depth = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    guard string() != nil else { return nil }
                    continue
                }
                if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") { depth += 1 }
                if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
                    if depth == 0 { break }
                    depth -= 1
                }
                if byte == UInt8(ascii: ","), depth == 0 { break }
                index += 1
            }
            return String(decoding: bytes[start..<index], as: UTF8.self).trimmingSpaces()
        }
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        var members: [String: String] = [:]
        while true {
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { return members }
            guard let key = string() else { return nil }
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            skipSpace()
            let value = index < bytes.count && bytes[index] == UInt8(ascii: "\"") ? string() : raw()
            guard let value else { return nil }
            members[key] = value
            skipSpace()
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { return members }
            return nil
        }
    }

    /// An RFC 3339 time as restic writes it (`2026-12-07T10:42:29.838660467Z`, or with an
    /// offset such as `+01:00`) as Unix seconds, the fraction dropped.
    public static func unixSeconds(rfc3339 text: String) -> Int64? {
        let chars = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= chars.count else { return nil }
            return Int(String(decoding: chars[from..<from + count], as: UTF8.self))
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2) else { return nil }
        var offset = 0
        if let zoneStart = chars[19...].firstIndex(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }) {
            guard let hours = number(zoneStart + 1, 2), let minutes = number(zoneStart + 4, 2) else { return nil }
            offset = (hours * 3600 + minutes * 60) * (chars[zoneStart] == UInt8(ascii: "-") ? -1 : 1)
        }
        let days = CivilDate.day(year: Int64(year), month: month, day: day)
        return days * 86400 + Int64(hour * 3600 + minute * 60 + second - offset)
    }
}
