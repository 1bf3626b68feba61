import Glibc
import SvBase
import SvSupervision

/// A zone read straight from a TZif file of /usr/share/zoneinfo, for tests: DST tables in
/// Europe/Berlin and America/New_York without touching the process's TZ.
struct ZoneFile: TimeZoneRules {
    let transitions: [Int64]
    let offsetAfter: [Int64]
    let offsetBefore: Int64

    init(_ name: String) throws {
        let fd = open("/usr/share/zoneinfo/" + name, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ZoneError(name: name) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while case let n = read(fd, &buffer, buffer.count), n > 0 { bytes += buffer[0..<n] }
        func u32(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        func i64(_ at: Int) -> Int64 { Int64(bitPattern: bytes[at..<at + 8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }) }
        guard bytes.count > 44, bytes[0..<4] == [0x54, 0x5a, 0x69, 0x66], bytes[4] >= 0x32 else { throw ZoneError(name: name) }
        // Skip the 32-bit block to the 64-bit one (version 2 and later).
        let counts = (0..<6).map { u32(20 + 4 * $0) }  // isut, isstd, leap, time, type, char
        let first = 44 + counts[3] * 5 + counts[4] * 6 + counts[5] + counts[2] * 8 + counts[1] + counts[0]
        let c = (0..<6).map { u32(first + 20 + 4 * $0) }
        let timeCount = c[3], typeCount = c[4]
        var at = first + 44
        transitions = (0..<timeCount).map { i64(at + 8 * $0) }
        at += 8 * timeCount
        let indices = (0..<timeCount).map { Int(bytes[at + $0]) }
        at += timeCount
        let offsets = (0..<typeCount).map { Int64(Int32(truncatingIfNeeded: u32(at + 6 * $0))) }
        offsetAfter = indices.map { offsets[$0] }
        offsetBefore = offsets.first ?? 0
    }

    func offset(at unix: Int64) -> Int64 {
        var low = 0, high = transitions.count
        while low < high {
            let middle = (low + high) / 2
            if transitions[middle] <= unix { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? offsetBefore : offsetAfter[low - 1]
    }

    struct ZoneError: Error { var name: String }
}

/// UTC, for tables that need no zone.
struct UTC: TimeZoneRules {
    func offset(at unix: Int64) -> Int64 { 0 }
}
