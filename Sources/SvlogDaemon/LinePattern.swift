/// svlogd's pattern matching (not a regular expression): a character matches itself;
/// `+c` matches one or more `c`; `*` followed by `c` skips to the next `c`; a final `*`
/// matches anything. The whole text must be consumed.
public enum LinePattern {
    public static func matches(_ pattern: some Collection<UInt8>, _ text: some Collection<UInt8>) -> Bool {
        let text = Array(text)
        return text.withUnsafeBufferPointer { matches(Array(pattern), $0) }
    }

    static func matches(_ pattern: [UInt8], _ text: UnsafeBufferPointer<UInt8>) -> Bool {
        var p = pattern.startIndex
        var s = text.startIndex
        while true {
            guard p < pattern.endIndex else { return s == text.endIndex }
            let c = pattern[p]
            p += 1
            switch c {
            case UInt8(ascii: "*"):
                guard p < pattern.endIndex else { return true }
                let next = pattern[p]
                while true {
                    guard s < text.endIndex else { return false }
                    if text[s] == next { break }
                    s += 1
                }
            case UInt8(ascii: "+"):
                guard p < pattern.endIndex else { return false }
                let repeated = pattern[p]
                p += 1
                guard s < text.endIndex, text[s] == repeated else { return false }
                while s < text.endIndex && text[s] == repeated { s += 1 }
                if s == text.endIndex { return true }
            default:
                guard s < text.endIndex, text[s] == c else { return false }
                s += 1
            }
        }
    }
}
