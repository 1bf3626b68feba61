/// What a logger does with a `current` that its killed predecessor left inside a line. Two
/// deaths leave it so: (a) after it wrote a piece of a long or slow line and took the piece
/// from the pipe (the rest of the line is what the pipe holds: go on in the line), and (b)
/// after a write of lines that the kill cut short, or before the written bytes left the pipe
/// (they are all still at the pipe's head: going on would glue them to the cut line). The
/// pipe's head tells them apart: in (b) it starts with the text of the file's last lines and
/// of the cut line's start; those bytes are taken off the file and written again, once.
enum MidLineResumption: Equatable {
    case continueLine
    /// The last `bytes` of `current` are still in the pipe.
    case dropTail(bytes: Int)

    /// `tail`: the end of `current` (the whole file with `fromStart`, else its first line may
    /// be cut); `headerLength`: the stamp and prefix before each line's text in this
    /// directory; `input`: the pipe's head.
    static func decide(tail: ArraySlice<UInt8>, fromStart: Bool, headerLength: Int, input: ArraySlice<UInt8>) -> MidLineResumption {
        let newline = UInt8(ascii: "\n")
        guard !input.isEmpty, let lastNewline = tail.lastIndex(of: newline) else { return .continueLine }
        // The file's lines after the first newline of the tail (the part before may be cut),
        // as (start index in tail, text without header); the last one is the cut line.
        var lines: [(start: Int, text: ArraySlice<UInt8>)] = []
        var start = fromStart ? tail.startIndex : tail.firstIndex(of: newline).map { $0 + 1 } ?? tail.startIndex
        while start <= lastNewline {
            let end = tail[start...].firstIndex(of: newline)!
            lines.append((start, tail[start..<end]))
            start = end + 1
        }
        lines.append((start, tail[start...]))
        let texts = lines.map { line -> ArraySlice<UInt8>? in
            line.text.count >= headerLength ? line.text.dropFirst(headerLength) : nil
        }
        guard let cut = texts.last!, !cut.isEmpty || headerLength > 0 else { return .continueLine }
        // The pipe's head must be: the texts of the file's last k whole lines, each with its
        // newline, then the cut line's text. The largest k that matches wins (k = 0: the cut
        // line alone is at the head). Only lines equal to the head's first line can begin it.
        let firstLine = input.prefix { $0 != newline }
        let whole = lines.count - 1
        var candidates = [whole]  // k = 0: the cut line begins the head
        if firstLine.count < input.count {
            candidates += (0..<whole).filter { texts[$0].map { $0.elementsEqual(firstLine) } ?? false }
        }
        for first in candidates.sorted() {
            var expected: [UInt8] = []
            guard texts[first..<whole].allSatisfy({ $0 != nil }) else { continue }
            for text in texts[first..<whole] { expected += text!; expected.append(newline) }
            expected += cut
            if input.count >= expected.count && input.prefix(expected.count).elementsEqual(expected) {
                return .dropTail(bytes: tail.endIndex - lines[first].start)
            }
        }
        return .continueLine
    }
}
