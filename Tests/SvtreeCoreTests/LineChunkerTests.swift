@testable import SvlogDaemon
import Testing

/// svlog's line decisions without a process: splitting, waiting, pieces, selection, formats.
@Suite struct LineChunkerTests {
    /// Every line `chunker` hands out for `text`, as the logger's loop takes them.
    func lines(_ text: String, _ chunker: inout LineChunker, _ limits: LineChunker.Limits) -> [LineChunker.Line] {
        Array(text.utf8).withUnsafeBufferPointer { input in
            var result: [LineChunker.Line] = []
            var start = 0
            while let line = chunker.next(input, from: start, limits) {
                result.append(line)
                start = line.end
            }
            return result
        }
    }

    /// Directory `directory`'s output for `text`, with stamp `@ ` and the given prefix.
    func output(_ text: String, _ chunker: inout LineChunker, _ limits: LineChunker.Limits,
                directory: Int = 0, prefix: String = "") -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        bytes.withUnsafeBufferPointer { input in
            var start = 0
            while let line = chunker.next(input, from: start, limits) {
                chunker.format(line, of: input, directory: directory, stamp: Array("@ ".utf8),
                               prefix: Array(prefix.utf8), into: &out)
                start = line.end
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static let wait = LineChunker.Limits(pieceSize: 4096)

    func chunker(_ rules: [[LogConfig.Rule]] = [[]], lineLength: Int = 1000) -> LineChunker {
        LineChunker(rules: rules.map { $0.map(LineChunker.Rule.init) }, lineLength: lineLength)
    }

    @Test func completeLinesOneByOne() {
        var c = chunker()
        let found = lines("a\nbb\n", &c, Self.wait)
        #expect(found == [
            .init(start: 0, contentEnd: 1, end: 2, complete: true, starting: true),
            .init(start: 2, contentEnd: 4, end: 5, complete: true, starting: true),
        ])
        #expect(!c.midLine)
    }

    @Test func aPartialLineWaitsInTheInput() {
        var c = chunker()
        // The complete line goes, the partial one stays unconsumed for its rest.
        let found = lines("done\npart", &c, Self.wait)
        #expect(found.map(\.end) == [5])
        #expect(!c.midLine)
    }

    @Test func aPartialLineThatWaitedLongEnoughIsWrittenAsAPiece() {
        var c = chunker()
        var limits = Self.wait
        limits.writePartial = true
        #expect(output("part", &c, limits) == "@ part")
        #expect(c.midLine)
        // Its rest continues the line: no second stamp, and the newline ends it.
        #expect(output("ial\nnext\n", &c, Self.wait) == "ial\n@ next\n")
        #expect(!c.midLine)
    }

    @Test func anOverlongLineGoesInPiecesNeverCut() {
        var c = chunker()
        let piece = LineChunker.Limits(pieceSize: 4)
        let first = lines("abcdefgh", &c, piece)
        #expect(first == [.init(start: 0, contentEnd: 8, end: 8, complete: false, starting: true)])
        // A piece is no line end: no size rotation may fall inside the line.
        #expect(first.allSatisfy { !$0.complete })
        let rest = lines("ij\n", &c, piece)
        #expect(rest == [.init(start: 0, contentEnd: 2, end: 3, complete: true, starting: false)])
    }

    @Test func endOfInputCompletesTheLastLine() {
        var c = chunker()
        var limits = Self.wait
        limits.atEOF = true
        #expect(output("a\ntail", &c, limits) == "@ a\n@ tail\n")
        #expect(!c.midLine)
    }

    @Test func termWithAPartialLineReadLetsThatLineStartAndNoOther() {
        var c = chunker()
        var exiting = Self.wait
        exiting.exiting = true
        c.terminate(inputPending: true)
        #expect(c.lineInProgress && !c.midLine)
        #expect(lines("hal", &c, exiting).isEmpty)  // waits for its newline, as any partial line
        #expect(output("half\nnext\n", &c, exiting) == "@ half\n")
        #expect(!c.lineInProgress)
        // Its wait over: the piece there is goes out, and the caller ends the line.
        var d = chunker()
        d.terminate(inputPending: true)
        var partial = exiting
        partial.writePartial = true
        #expect(output("cut", &d, partial) == "@ cut")
        #expect(d.midLine)
        d.endLine()
        #expect(!d.lineInProgress)
        // Nothing read at TERM: nothing is in progress, nothing starts.
        var e = chunker()
        e.terminate(inputPending: false)
        #expect(!e.lineInProgress && lines("a\n", &e, exiting).isEmpty)
    }

    @Test func afterTermOnlyTheLineInProgressIsFinished() {
        var c = chunker()
        var exiting = Self.wait
        exiting.exiting = true
        #expect(lines("a\nb\n", &c, exiting).isEmpty)  // nothing in progress: everything stays in the pipe
        var partial = Self.wait
        partial.writePartial = true
        _ = lines("hal", &c, partial)
        #expect(output("f\nnext\n", &c, exiting) == "f\n")
        #expect(!c.midLine)
    }

    @Test func rulesSelectPerDirectoryAndHoldForTheWholeLine() {
        // Directory 0 keeps only errors; directory 1 keeps everything.
        var c = chunker([[.deselect("*"), .select("err*")], []])
        let bytes = Array("err 1\nok\n".utf8)
        var outputs: [[UInt8]] = [[], []]
        bytes.withUnsafeBufferPointer { input in
            var start = 0
            while let line = c.next(input, from: start, Self.wait) {
                for d in 0..<2 { c.format(line, of: input, directory: d, stamp: [], prefix: [], into: &outputs[d]) }
                start = line.end
            }
        }
        #expect(String(decoding: outputs[0], as: UTF8.self) == "err 1\n")
        #expect(String(decoding: outputs[1], as: UTF8.self) == "err 1\nok\n")
        // A piece keeps the choice made at the line's first byte, whatever it holds.
        var partial = Self.wait
        partial.writePartial = true
        #expect(output("err: long", &c, partial) == "@ err: long")
        #expect(output(" ok\n", &c, Self.wait) == " ok\n")
        #expect(output("ok\n", &c, Self.wait) == "")
    }

    @Test func rulesSeeOnlyTheFirstLineLengthBytes() {
        var c = chunker([[.deselect("abc")]], lineLength: 3)
        #expect(output("abcdef\nab\n", &c, Self.wait) == "@ ab\n")
    }

    @Test func stderrCopiesAreCutAtTheLineLength() throws {
        let c0 = chunker([[.toStderr("*"), .notToStderr("qui*")]], lineLength: 4)
        var c = c0
        let bytes = Array("loud line\nquiet\n".utf8)
        var copies: [String] = []
        bytes.withUnsafeBufferPointer { input in
            var start = 0
            while let line = c.next(input, from: start, Self.wait) {
                if let copy = c.stderrCopy(line, of: input, directory: 0, stamp: Array("@ ".utf8), prefix: Array("p:".utf8)) {
                    copies.append(String(decoding: copy, as: UTF8.self))
                }
                start = line.end
            }
        }
        #expect(copies == ["@ p:loud...\n"])
    }

    @Test func aPausedChunkIsRetriedFromTheSameState() {
        // The logger works on a copy and keeps it only when the whole chunk was written: a
        // write that fails (a full disk) retries the same input from the same state.
        let before = chunker([[.deselect("skip*")]])
        var partial = Self.wait
        partial.writePartial = true
        var attempt = before
        let first = output("skip\nkeep\npart", &attempt, partial)
        #expect(attempt.midLine)
        // The write failed: `attempt` is dropped, the input stays unconsumed.
        var retry = before
        #expect(output("skip\nkeep\npart", &retry, partial) == first)
        #expect(first == "@ keep\n@ part")
        #expect(!before.midLine && before.selected == [true])
    }
}
