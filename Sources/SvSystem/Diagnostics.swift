import Glibc

/// One line per message on stderr (the log): control characters in a message (a file name
/// with a newline) are escaped as \xNN, so a message is always exactly one line.
public enum Diagnostics {
    nonisolated(unsafe) public static var program = "svtree"

    public static func warn(_ message: String) { emit("warning: " + message) }

    public static func error(_ message: String) { emit("error: " + message) }

    public static func info(_ message: String) { emit(message) }

    static func emit(_ message: String) {
        try? FileSystem.writeAll(2, Array("\(program): \(escaped(message))\n".utf8))
    }

    /// Control characters (a newline in a file name) as \xNN: what is shown stays one line.
    public static func escaped<S: StringProtocol>(_ text: S) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) else { return String(text) }
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 8)
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x7f {
                bytes += [UInt8(ascii: "\\"), UInt8(ascii: "x"), digits[Int(byte >> 4)], digits[Int(byte & 15)]]
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
