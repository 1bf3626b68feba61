@testable import SvBase
@testable import SvlogDaemon
import Testing

@Suite(.timeLimit(.minutes(10))) struct LogFormatTests {
    @Test(arguments: [
        ("abc", "abc", true), ("abc", "abd", false), ("a*", "abc", true), ("*c", "abc", true),
        ("*b*", "abc", true), ("a+bc", "abbbc", true), ("a+b", "abbb", true), ("a+b", "ac", false),
        ("", "", true), ("", "x", false), ("*: *: pid *", "tcpsvd: info: pid 1977 from 10.4.1.14", true),
        ("*pid*", "tcpsvd: info: pid 1977", false), ("x*", "", false),
    ])
    func patternsMatchLikeSvlogd(pattern: String, text: String, expected: Bool) {
        #expect(LinePattern.matches(pattern.utf8, text.utf8) == expected)
    }

    @Test func configLines() {
        let config = LogConfig.parse("""
            # a comment
            s4096
            n5
            N2
            t1h
            !gzip
            pclient:\u{20}
            +*error*
            -*debug*
            e*fatal*
            Efatal: ignore*
            u10.0.0.1:514
            zbogus
            sbig
            """)
        #expect(config.maximumSize == 4096 && config.keep == 5 && config.minimumKeep == 2)
        #expect(config.maximumAge == 3600 && config.processor == "gzip" && config.prefix == "client: ")
        #expect(config.rules == [.select("*error*"), .deselect("*debug*"), .toStderr("*fatal*"),
                                 .notToStderr("fatal: ignore*")])
        #expect(config.problems.count == 3)
        #expect(config.problems[0].contains("UDP forwarding"))
        #expect(LogConfig.parse("n1").keep == 2)
        #expect(LogConfig.parse("s2k").maximumSize == 2048 && LogConfig.parse("t2m").maximumAge == 120)
        #expect(LogConfig.parse("").maximumSize == 1_000_000 && LogConfig().keep == 10)
    }

    @Test func stampsHaveSvlogdsShapes() {
        let nanos: Int64 = 1_700_000_000 * nanosPerSecond + 123_456_789
        #expect(String(decoding: LogStamp.text(.utc, unixNanos: nanos), as: UTF8.self) == "2023-11-14_22:13:20.12345 ")
        #expect(String(decoding: LogStamp.text(.utcISO, unixNanos: nanos), as: UTF8.self) == "2023-11-14T22:13:20.12345 ")
        let tai = String(decoding: LogStamp.text(.tai64n, unixNanos: nanos), as: UTF8.self)
        #expect(tai.count == 26 && tai.hasPrefix("@40000000655") && tai.hasSuffix(" "))
        #expect(LogStamp.text(.none, unixNanos: nanos).isEmpty)
    }

    @Test func options() throws {
        let options = try LogOptions.parse(["-tt", "-r", "#", "-R", "ab", "-l", "100", "-b", "50", "-v", "main", "x"])
        #expect(options.stamp == .utc && options.replacement == UInt8(ascii: "#") && options.replaceSet.count == 2)
        #expect(options.lineLength == 100 && options.bufferSize == 101 && options.verbose)
        #expect(options.directories == ["main", "x"])
        #expect(try LogOptions.parse(["-R", "x", "d"]).replacement == UInt8(ascii: "_"))
        for bad in [["-q", "d"], ["-l", "zero", "d"], ["-r", "ab", "d"], [], ["-l"]] {
            #expect(throws: LogError.self, "\(bad) accepted") { try LogOptions.parse(bad) }
            do {
                _ = try LogOptions.parse(bad)
            } catch {
                #expect(error.description.contains("usage: svlog"))
            }
        }
    }
}
