extension String {
    /// The text without leading and trailing blanks (space, tab, CR, LF).
    public func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }

    /// The text with every newline a space: one value of a line-per-key record file.
    public var onOneLine: String { String(map { $0 == "\n" ? " " : $0 }) }
}
