@testable import SvlogDaemon
import Testing

/// A `current` left inside a line: go on in it (a piece was taken from the pipe), or take off
/// what the pipe still holds and write it again (a cut write).
@Suite struct MidLineResumptionTests {
    static func decide(_ tail: String, _ input: String, header: Int = 0, fromStart: Bool = true) -> MidLineResumption {
        MidLineResumption.decide(tail: Array(tail.utf8)[...], fromStart: fromStart, headerLength: header, input: Array(input.utf8)[...])
    }

    @Test func aPieceTakenFromThePipeGoesOn() {
        #expect(Self.decide("181557\n181558\n1815", "60\n181561\n") == .continueLine)
        #expect(Self.decide("ab\nab\na", "b\nab\n") == .continueLine, "self-similar lines")
        #expect(Self.decide("whole\nthe start of a li", "ne\nnext\n") == .continueLine)
        #expect(Self.decide("x\n1815", "") == .continueLine, "nothing in the pipe: the rest comes later")
    }

    @Test func aCutWriteIsWrittenAgainOnce() {
        // The last write was "181558\n1815..." and the kill cut it: the pipe still starts there.
        #expect(Self.decide("181557\n181558\n1815", "181558\n181559\n181560\n") == .dropTail(bytes: 11))
        #expect(Self.decide("181557\n1815", "181558\n") == .dropTail(bytes: 4), "the cut line alone")
        #expect(Self.decide("181557\n181558\n1815", "181557\n181558\n181559\n") == .dropTail(bytes: 18), "the longest match")
        // A tail read from inside the file: its first line may be cut, so it never begins a match.
        #expect(Self.decide("57\n181558\n1815", "181557\n181558\n181559\n", fromStart: false) == .dropTail(bytes: 4))
    }

    @Test func stampsAndPrefixesAreNotInThePipe() {
        let stamp = "@400000006b16b1723b85343a "  // 26 bytes: -t
        #expect(Self.decide("\(stamp)181557\n\(stamp)181558\n\(stamp)1815", "181558\n181559\n", header: 26)
            == .dropTail(bytes: 26 + 7 + 26 + 4))
        #expect(Self.decide("\(stamp)a\n\(stamp)", "next\n", header: 26) == .dropTail(bytes: 26), "a stamp with no text yet")
        #expect(Self.decide("\(stamp)181557\n\(stamp)1815", "60\n", header: 26) == .continueLine)
    }
}
