import Glibc

/// svlog's decisions, with no descriptor in sight: where the next line (or piece of one) of the
/// input ends, whether a partial line may wait, which log directories select the line and which
/// copy it to stderr, and how the output of each directory is formatted.
///
/// A value: the logger works a chunk on a copy and keeps the copy only once every byte of the
/// chunk is written, so a write that pauses (a full disk) leaves nothing to undo; the retry
/// starts again from the same state and the same input, which is still unconsumed.
public struct LineChunker: Sendable {
    /// One selection rule of a directory's `config` (`+`, `-`, `e`, `E`), its pattern as bytes.
    public struct Rule: Sendable, Equatable {
        public enum Kind: Sendable { case select, deselect, toStderr, notToStderr }
        public var kind: Kind
        public var pattern: [UInt8]

        public init(_ rule: LogConfig.Rule) {
            switch rule {
            case .select(let p): (kind, pattern) = (.select, Array(p.utf8))
            case .deselect(let p): (kind, pattern) = (.deselect, Array(p.utf8))
            case .toStderr(let p): (kind, pattern) = (.toStderr, Array(p.utf8))
            case .notToStderr(let p): (kind, pattern) = (.notToStderr, Array(p.utf8))
            }
        }
    }

    /// What the input allows now.
    public struct Limits: Sendable {
        /// The input ended: a last line without newline is complete.
        public var atEOF = false
        /// A partial line has waited long enough for its rest: write the piece there is.
        public var writePartial = false
        /// TERM came: finish the line in progress, start no new one.
        public var exiting = false
        /// A partial line this long is written as a piece (it must not fill the pipe).
        public var pieceSize: Int

        public init(atEOF: Bool = false, writePartial: Bool = false, exiting: Bool = false, pieceSize: Int) {
            self.atEOF = atEOF
            self.writePartial = writePartial
            self.exiting = exiting
            self.pieceSize = pieceSize
        }
    }

    /// A line, or a piece of one, at the head of what is left of the input.
    public struct Line: Sendable, Equatable {
        /// Input offsets: the text is `start..<contentEnd`, the newline (if any) ends at `end`.
        public var start: Int
        public var contentEnd: Int
        public var end: Int
        /// It ends the line (a newline, or the end of the input): a size rotation may follow.
        public var complete: Bool
        /// It begins a line: stamp and prefix go first, the rules were matched on it.
        public var starting: Bool
    }

    private let rules: [[Rule]]
    /// svlogd's `-l`: rules see at most this much of a line, stderr copies are cut there.
    public let lineLength: Int
    /// The last line handed out was a piece: the next bytes continue it.
    public private(set) var midLine = false
    /// TERM came while the line at the head of the input was read but not begun: that one
    /// line may still start (svlogd's rule: TERM finishes the line in progress).
    public private(set) var mayStartOneLine = false
    /// Per directory: the line in progress goes there (decided at its first byte).
    public private(set) var selected: [Bool]
    /// Per directory: the line in progress is copied to stderr (`e`/`E` rules).
    public private(set) var toStderr: [Bool]

    /// Some directory has rules: lines are matched one by one.
    public var hasRules: Bool { rules.contains { !$0.isEmpty } }

    public init(rules: [[Rule]], lineLength: Int) {
        self.rules = rules
        self.lineLength = lineLength
        selected = Array(repeating: true, count: rules.count)
        toStderr = Array(repeating: false, count: rules.count)
    }

    /// The next line or piece of `input` from `start`, nil when what is left must wait (a
    /// partial line under `pieceSize`, or a new line after TERM). Matches the rules when the
    /// line begins.
    public mutating func next(_ input: UnsafeBufferPointer<UInt8>, from start: Int, _ limits: Limits) -> Line? {
        let total = input.count
        guard start < total, !(limits.exiting && !midLine && !mayStartOneLine) else { return nil }
        let newline = UnsafeRawBufferPointer(input).newline(from: start)
        let end: Int
        if let newline {
            end = newline + 1
        } else if total - start >= limits.pieceSize || limits.atEOF || limits.writePartial {
            end = total  // an over-long line, or the last one: written in pieces, never cut
        } else {
            return nil
        }
        let line = Line(start: start, contentEnd: newline ?? end, end: end,
                        complete: newline != nil || limits.atEOF, starting: !midLine)
        if line.starting {
            mayStartOneLine = false
            let shown = UnsafeBufferPointer(rebasing: input[start..<min(line.contentEnd, start + lineLength)])
            for directory in rules.indices { match(directory, shown) }
        }
        midLine = !line.complete
        return line
    }

    /// A killed logger wrote the start of the line in progress to the directories marked: the
    /// input goes on inside it (no stamp, no rule matched again).
    public mutating func continueLine(in directories: [Bool]) {
        midLine = true
        selected = directories
        toStderr = Array(repeating: false, count: directories.count)
    }

    /// The input ended (or the wait after TERM did) inside a line already partly written: it
    /// is over (the caller adds the newline).
    public mutating func endLine() {
        midLine = false
        mayStartOneLine = false
    }

    /// TERM: with input read at the head (`inputPending`) and no line begun, that line is the
    /// one in progress, still to be written; a line already begun is finished anyway.
    public mutating func terminate(inputPending: Bool) {
        mayStartOneLine = !midLine && inputPending
    }

    /// A line is in progress that TERM lets finish (begun, or read and allowed to start).
    public var lineInProgress: Bool { midLine || mayStartOneLine }

    /// Appends directory `directory`'s output for `line` to `output`: stamp and prefix at a
    /// line's start, the text, the newline at its end; nothing when the directory does not select it.
    public func format(_ line: Line, of input: UnsafeBufferPointer<UInt8>, directory: Int,
                       stamp: [UInt8], prefix: [UInt8], into output: inout [UInt8]) {
        guard selected[directory] else { return }
        if line.starting {
            if !stamp.isEmpty { output += stamp }
            if !prefix.isEmpty { output += prefix }
        }
        // A line with its newline goes in one append (two per line were a fifth of svlog's time).
        if line.complete && line.end == line.contentEnd + 1 {
            output.append(contentsOf: UnsafeBufferPointer(rebasing: input[line.start..<line.end]))
            return
        }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: input[line.start..<line.contentEnd]))
        if line.complete { output.append(UInt8(ascii: "\n")) }
    }

    /// The stderr copy of a starting line for one directory (`e` rules): cut at `lineLength`
    /// with `...`; nil when the directory copies nothing.
    public func stderrCopy(_ line: Line, of input: UnsafeBufferPointer<UInt8>, directory: Int,
                           stamp: [UInt8], prefix: [UInt8]) -> [UInt8]? {
        guard line.starting, toStderr[directory] else { return nil }
        let shownEnd = min(line.contentEnd, line.start + lineLength)
        var out = stamp + prefix + Array(UnsafeBufferPointer(rebasing: input[line.start..<shownEnd]))
        if line.contentEnd > shownEnd { out += Array("...".utf8) }
        out.append(UInt8(ascii: "\n"))
        return out
    }

    private mutating func match(_ directory: Int, _ shown: UnsafeBufferPointer<UInt8>) {
        var select = true
        var copy = false
        for rule in rules[directory] where LinePattern.matches(rule.pattern, shown) {
            switch rule.kind {
            case .select: select = true
            case .deselect: select = false
            case .toStderr: copy = true
            case .notToStderr: copy = false
            }
        }
        selected[directory] = select
        toStderr[directory] = copy
    }
}

extension UnsafeRawBufferPointer {
    /// The offset of the first newline at or after `start`, nil without one (memchr).
    func newline(from start: Int) -> Int? {
        guard let base = baseAddress, start < count,
              let found = memchr(base + start, Int32(UInt8(ascii: "\n")), count - start) else { return nil }
        return UnsafeRawPointer(found) - base
    }
}
