import Glibc

/// One inotify event as the kernel queued it.
public struct InotifyEvent {
    public var watch: Int32
    public var mask: UInt32
    /// The name within the watched directory (empty for events on the directory itself).
    public var name: ArraySlice<UInt8>

    public func has(_ flags: Int32) -> Bool { mask & UInt32(flags) != 0 }

    /// Every event pending on a non-blocking inotify descriptor, in order.
    public static func drain(_ fd: Int32) -> [InotifyEvent] {
        var events: [InotifyEvent] = []
        guard fd >= 0 else { return events }
        // Room for dozens of events (16 bytes and a name each); the loop reads until none is
        // left. A larger buffer would stay resident in the heap of every svtree after its first use.
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            guard let n = try? SystemCall.retrying({ buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }),
                  n > 0 else { break }
            var offset = 0
            while offset + 16 <= n {
                let wd = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) }
                let mask = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self) }
                let length = Int(buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self) })
                let name = buffer[(offset + 16)..<(offset + 16 + length)].prefix { $0 != 0 }
                events.append(InotifyEvent(watch: wd, mask: mask, name: name))
                offset += 16 + length
            }
        }
        return events
    }
}
